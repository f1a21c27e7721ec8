"""Turn raw input rows into real records, or into rejects that say what is wrong with them.

Checks, in order: the row parsed; id present and unique; each text field is text (not a
number or a list), valid UTF-8, without NUL characters, within its size limit; required
fields are non-empty; the label and image have usable types.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from datafactory import schema
from datafactory.config import InputConfig, LimitsConfig
from datafactory.readers import RawRow

_RAW_PREVIEW = 2_000


class RowRejected(Exception):
    """Raised inside the intake to abandon a row with a reason."""


@dataclass
class Intake:
    input_cfg: InputConfig
    limits: LimitsConfig
    dataset: str
    source: str
    _first_row_of_id: dict[str, int] = field(default_factory=dict)

    @classmethod
    def reading(cls, input_cfg: InputConfig, limits: LimitsConfig | None = None) -> "Intake":
        """A fresh intake for one pass over ``input_cfg``: it remembers the ids it has seen, so
        each pass needs its own. Records are named after the input (``input.name``, else the
        file's stem); ``limits`` default to the shipped ones."""
        return cls(input_cfg, limits or LimitsConfig(), input_cfg.name or input_cfg.path.stem, str(input_cfg.path))

    def __call__(self, raw: RawRow) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Return ``(record, None)`` for a good row and ``(None, reject)`` for a bad one."""
        if raw.error is not None:
            return None, self._reject(raw, None, raw.error, raw.raw)
        record_id = None
        try:
            record = self._record(raw.data)
            record_id = record["id"]
            first = self._first_row_of_id.setdefault(record_id, raw.index)
            if first != raw.index:
                raise RowRejected(f"duplicate id {record_id!r} (first seen at row {first})")
        except RowRejected as exc:
            return None, self._reject(raw, record_id, str(exc), _preview(raw.data))
        return record, None

    def _column(self, name: str) -> str:
        return self.input_cfg.columns.get(name, name)

    def _record(self, data: dict[str, Any]) -> dict[str, Any]:
        texts = {name: self._text(data, name) for name in schema.TEXT_FIELDS}
        for name in self.input_cfg.required:
            if not texts[name]:
                state = "missing" if data.get(self._column(name)) is None else "empty"
                raise RowRejected(f"{name} is {state} (column {self._column(name)!r}; input.required lists it)")
        return schema.real_record(
            id=self._id(data, texts),
            dataset=self.dataset,
            title=texts["title"],
            text=texts["text"],
            caption=texts["caption"],
            image=self._image(data),
            source_label=self._label(data),
            metadata=self._metadata(data),
        )

    def _text(self, data: dict[str, Any], name: str) -> str | None:
        column = self._column(name)
        value = _missing_to_none(data.get(column))
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray)):
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RowRejected(f"{name} is not valid UTF-8 (byte {exc.start})") from None
        if not isinstance(value, str):
            raise RowRejected(f"{name} must be text, got {type(value).__name__} (column {column!r})")
        try:
            # Lone surrogates are undecodable bytes kept by surrogateescape; encoding finds
            # the first in C instead of a Python loop over every character.
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise RowRejected(f"{name} is not valid UTF-8 (undecodable byte at character {exc.start})") from None
        if "\x00" in value:
            raise RowRejected(f"{name} contains NUL characters")
        value = value.strip()
        limit = getattr(self.limits, f"max_{name}_chars")
        if len(value) > limit:
            raise RowRejected(f"{name} is oversize ({len(value)} characters > limits.max_{name}_chars={limit})")
        return value or None

    def _id(self, data: dict[str, Any], texts: dict[str, str | None]) -> str:
        column = self._column("id")
        value = _missing_to_none(data.get(column))
        if value is None:
            if "id" in self.input_cfg.columns:
                raise RowRejected(f"id is missing (column {column!r})")
            # No id column: a content hash is stable across reruns and corpus growth.
            content = "\x1f".join(texts[name] or "" for name in schema.TEXT_FIELDS)
            return "sha256-" + hashlib.sha256(content.encode()).hexdigest()[:20]
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise RowRejected(f"id must be text or an integer, got {type(value).__name__}")
        value = str(value).strip()
        if not value:
            raise RowRejected("id is empty")
        return value

    def _label(self, data: dict[str, Any]) -> str | None:
        value = _missing_to_none(data.get(self._column("label")))
        if value is None:
            return None
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (str, int, float)):
            return str(value)
        raise RowRejected(f"label must be text or a number, got {type(value).__name__}")

    def _image(self, data: dict[str, Any]) -> dict[str, Any] | None:
        value = _missing_to_none(data.get(self._column("image")))
        if value is None:
            return None
        if isinstance(value, str):
            return {"bytes": None, "path": value}
        if isinstance(value, (bytes, bytearray)):
            return {"bytes": bytes(value), "path": None}
        if isinstance(value, dict) and set(value) <= {"bytes", "path"}:
            if value.get("bytes") is None and value.get("path") is None:
                return None
            if value.get("path") is not None and not isinstance(value["path"], str):
                raise RowRejected("image.path must be text")
            if value.get("bytes") is not None and not isinstance(value["bytes"], (bytes, bytearray)):
                raise RowRejected("image.bytes must be binary")
            return {"bytes": value.get("bytes"), "path": value.get("path")}
        raise RowRejected(f"image must be a path, bytes or {{bytes, path}}, got {type(value).__name__}")

    def _metadata(self, data: dict[str, Any]) -> dict[str, Any] | None:
        if not self.input_cfg.keep_columns:
            return None
        kept = {name: _missing_to_none(data.get(name)) for name in self.input_cfg.keep_columns}
        try:
            schema.canonical_json(kept)
        except (TypeError, ValueError) as exc:
            raise RowRejected(f"a kept column cannot be stored as JSON ({exc})") from None
        return kept

    def _reject(self, raw: RawRow, record_id: str | None, reason: str, preview: str | None) -> dict[str, Any]:
        return {"source": self.source, "row": raw.index, "id": record_id, "parent_id": record_id, "stage": None,
                "kind": schema.INVALID, "reason": reason, "raw": preview}


def _missing_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _preview(data: dict[str, Any] | None) -> str | None:
    if data is None:
        return None
    text = json.dumps(data, ensure_ascii=False, default=lambda v: f"<{type(v).__name__}>")
    # Lone surrogates from undecodable input cannot be written as UTF-8: make them visible.
    return text[:_RAW_PREVIEW].encode("utf-8", "backslashreplace").decode("utf-8")
