"""Labelled texts for detectors, from a datafactory build or any corpus file.

- A build folder (``manifest.json`` + ``data/*.parquet``): ``field`` is a record column
  (``title``, ``text``, ``caption``), ``label`` a record column; the default ``falsified``
  becomes the classes ``"real"`` and ``"falsified"``. Rows are grouped by ``parent_id``.
- A ``.jsonl``, ``.csv``, ``.parquet`` or ``datasets`` folder, read with
  :mod:`datafactory.readers`: ``field`` and ``label`` are column names, or names mapped to
  columns by ``columns`` (``{"text": "body", "label": "verdict"}``; a ``label`` mapping
  applies when ``label`` is left at its default); a ``parent_id`` column, if present,
  groups rows.

Rows without text or label are skipped and counted by reason. Example::

    from detectors.data import load_labelled_texts

    texts, labels = load_labelled_texts("out/swap_and_generate")   # labels: "real" / "falsified"
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from datafactory import readers, schema
from datafactory.config import InputConfig
from datafactory.errors import ConfigError, InputNotFoundError
from datafactory.summary import load_summary
from datafactory.output import MANIFEST, STATE_DIR, OutputDir

#: The build's label column, and the class names its False / True become.
FALSIFIED = "falsified"
BOOL_CLASSES = {False: "real", True: "falsified"}
GROUP_COLUMN = "parent_id"
_SNIFF_ROWS = 100


@dataclass
class LabelledData:
    texts: list[str] = dataclass_field(default_factory=list)
    labels: list[str] = dataclass_field(default_factory=list)
    #: The story each row belongs to (``parent_id``), or None where the data has none.
    groups: list[str | None] = dataclass_field(default_factory=list)
    #: Rows left out, by reason ("no text", "no label", "unreadable row").
    skipped: Counter[str] = dataclass_field(default_factory=Counter)
    sources: list[dict[str, Any]] = dataclass_field(default_factory=list)
    #: Each row's title where the data has one (a build's ``title``, a file's title column):
    #: experiments tie rows of different datasets to one story by it.
    titles: list[str | None] = dataclass_field(default_factory=list)

    def extend(self, other: "LabelledData") -> None:
        self.texts += other.texts
        self.labels += other.labels
        self.groups += other.groups
        self.titles += other.titles or [None] * len(other.texts)
        self.skipped.update(other.skipped)
        self.sources += other.sources


def is_build(path: Path) -> bool:
    """A datafactory output folder, finished or not (an unfinished one is refused on load)."""
    return path.is_dir() and any((path / name).exists() for name in (MANIFEST, STATE_DIR))


def load_labelled_texts(path: str | Path, field: str = "text", label: str = FALSIFIED,
                        columns: dict[str, str] | None = None, limit: int | None = None) -> tuple[list[str], list[str]]:
    """``(texts, labels)``: the first ``limit`` usable rows of a build or corpus file."""
    data = load_labelled_data(path, field, label, columns, limit)
    return data.texts, data.labels


def load_labelled_data(path: str | Path, field: str = "text", label: str = FALSIFIED,
                       columns: dict[str, str] | None = None, limit: int | None = None) -> LabelledData:
    """Like :func:`load_labelled_texts`, with the groups, the skipped rows and the source."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputNotFoundError(str(path), None, "does not exist",
                                 "Give a datafactory output folder or a .jsonl, .csv or .parquet file")
    if is_build(path):
        return _from_build(path, field, label, limit)
    return _from_file(path, field, label, columns or {}, limit)


def _label_value(value: Any, column: str) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) and column == FALSIFIED:
        return BOOL_CLASSES[value]
    text = str(value).strip()
    return text or None


def fields_of(field: str) -> list[str]:
    """``"title+text"`` -> ``["title", "text"]``: several fields are read and joined."""
    return [f.strip() for f in field.split("+") if f.strip()]


def joined(row: dict[str, Any], columns: list[str]) -> Any:
    """The non-empty values of ``columns`` joined by a blank line (the one value when single)."""
    if len(columns) == 1:
        return row.get(columns[0])
    parts = [row.get(c) for c in columns]
    return "\n\n".join(p.strip() for p in parts if isinstance(p, str) and p.strip()) or None


def _take(data: LabelledData, text: Any, label: Any, group: Any, label_column: str, title: Any = None) -> None:
    if not isinstance(text, str) or not text.strip():
        data.skipped["no text"] += 1
        return
    name = _label_value(label, label_column)
    if name is None:
        data.skipped["no label"] += 1
        return
    data.texts.append(text)
    data.labels.append(name)
    data.groups.append(None if group is None else str(group))
    data.titles.append(title if isinstance(title, str) and title.strip() else None)


def _from_build(path: Path, field: str, label: str, limit: int | None) -> LabelledData:
    load_summary(path, examples=0)  # NotADatasetError for an unfinished build
    known = schema.RECORD_SCHEMA.names
    fields = fields_of(field)
    for option, name in [*(("--field", f) for f in fields), ("--label", label)]:
        if name not in known:
            raise ConfigError(str(path), option, f"{name!r} is not a column of a datafactory build",
                              f"Use one of: {', '.join(n for n in known if n not in ('spans', 'scores', 'provenance', 'image'))}")
    data = LabelledData(sources=[{"path": str(path), "kind": "build", "field": field, "label": label}])
    read = 0
    for shard in OutputDir(path).shard_files():
        table = pq.read_table(shard, columns=list(dict.fromkeys([*fields, label, GROUP_COLUMN, "title"])))
        for row in table.to_pylist():
            read += 1
            _take(data, joined(row, fields), row[label], row[GROUP_COLUMN], label, row["title"])
            if limit is not None and len(data.texts) >= limit:
                break
        if limit is not None and len(data.texts) >= limit:
            break
    data.sources[0]["rows_read"] = read
    return data


def _from_file(path: Path, field: str, label: str, columns: dict[str, str], limit: int | None) -> LabelledData:
    text_columns = [columns.get(f, f) for f in fields_of(field)]
    text_column, label_column = "+".join(text_columns), columns.get(label, label)
    title_column = columns.get("title", "title")
    if label == FALSIFIED and "label" in columns and FALSIFIED not in columns:
        label_column = columns["label"]  # --columns label=verdict, --label left at its default
    input_cfg = InputConfig(path=path, columns=columns)
    data = LabelledData(sources=[{"path": str(path), "kind": readers.detect_format(input_cfg),
                                  "field": text_column, "label": label_column}])
    read, seen_columns = 0, set()
    for raw in readers.iter_rows(input_cfg):
        read += 1
        if raw.data is None:
            data.skipped["unreadable row"] += 1
            continue
        if read <= _SNIFF_ROWS:
            seen_columns.update(raw.data)
            if read == _SNIFF_ROWS:  # a misspelt column fails now, not after the whole file
                _check_columns(path, seen_columns, text_columns, label_column)
        _take(data, joined(raw.data, text_columns), raw.data.get(label_column), raw.data.get(GROUP_COLUMN), label_column,
              raw.data.get(title_column))
        if limit is not None and len(data.texts) >= limit:
            break
    if seen_columns:
        _check_columns(path, seen_columns, text_columns, label_column)
    data.sources[0]["rows_read"] = read
    return data


def _check_columns(path: Path, seen: set[str], text_columns: list[str], label_column: str) -> None:
    for option, column, target in [*(("--field", c, "text") for c in text_columns), ("--label", label_column, "label")]:
        if column not in seen:
            raise ConfigError(str(path), option, f"no column {column!r}",
                              f"Columns: {', '.join(sorted(seen))}; pass {option} COLUMN or map it with "
                              f"--columns {target}=COLUMN")
