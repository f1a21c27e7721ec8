"""Rewrite a record's text by edits, keeping every span of every stage pointing at its text.

A stage that changes words of a field describes each change as an :class:`Edit` on the
record it was given (offsets in that record's field) and calls :func:`rewrite`: the fields
come back rewritten, the spans earlier stages recorded on those fields are moved to where
their words now stand, and one span per edit is appended (``orig_*`` locating the original
in the parent's field, ``start``/``end`` the replacement in the child's)::

    edits = [Edit("title", 17, 19, "20%", label="PERCENT", kind="percent")]
    fields = rewrite(record, edits, stage=stage.name)     # {"title": ..., "spans": [...]}
    child = stage.child(record, seed=..., **fields)

Edits never overlap each other nor cut through an earlier span: :func:`touches_span` tells a
stage where it must not edit, and :func:`rewrite` raises StageError if it does anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from datafactory.errors import StageError


@dataclass(frozen=True)
class Edit:
    field: str
    start: int
    """Where the replaced text begins in the record's field."""
    end: int
    replacement: str
    label: str
    """What was replaced, in the stage's own words (an NER label, ``VERB``, ``PERCENT``...)."""
    kind: str | None = None
    """The finer kind of the edit (``country``, ``antonym``, ``percent``...), or None."""
    similarity: float | None = None


def touches_span(record: Mapping[str, Any], field: str, start: int, end: int) -> bool:
    """Whether ``[start, end)`` of ``field`` overlaps a span an earlier stage recorded there."""
    return any(s["field"] == field and s["start"] < end and start < s["end"] for s in record["spans"] or ())


def rewrite(record: Mapping[str, Any], edits: Iterable[Edit], *, stage: str) -> dict[str, Any]:
    """The changed fields of ``record`` and its spans after ``edits`` made by ``stage``: pass
    them to ``Stage.child``."""
    by_field: dict[str, list[Edit]] = {}
    for edit in edits:
        by_field.setdefault(edit.field, []).append(edit)
    out: dict[str, Any] = {}
    spans = [dict(s) for s in record["spans"] or ()]
    new_spans: list[dict[str, Any]] = []
    for field, mine in by_field.items():
        text = record[field]
        if text is None:
            raise StageError(f"an edit of field {field!r}, which the record does not have")
        mine.sort(key=lambda e: e.start)
        _check(text, field, mine, spans)
        pieces, cursor, shift = [], 0, 0
        for edit in mine:
            pieces += [text[cursor:edit.start], edit.replacement]
            start = edit.start + shift
            new_spans.append({"field": field, "start": start, "end": start + len(edit.replacement),
                              "orig_start": edit.start, "orig_end": edit.end, "original": text[edit.start:edit.end],
                              "replacement": edit.replacement, "label": edit.label, "kind": edit.kind,
                              "similarity": edit.similarity, "stage": stage})
            shift += len(edit.replacement) - (edit.end - edit.start)
            cursor = edit.end
        pieces.append(text[cursor:])
        out[field] = "".join(pieces)
        for span in spans:
            if span["field"] == field:
                moved = _shift(span["start"], mine)
                span["end"] = moved + span["end"] - span["start"]
                span["start"] = moved
    out["spans"] = spans + new_spans
    return out


def _shift(position: int, edits: list[Edit]) -> int:
    return position + sum(len(e.replacement) - (e.end - e.start) for e in edits if e.end <= position)


def _check(text: str, field: str, edits: list[Edit], spans: list[dict[str, Any]]) -> None:
    previous_end = 0
    for edit in edits:
        if not 0 <= edit.start <= edit.end <= len(text):
            raise StageError(f"edit {edit.start}..{edit.end} lies outside field {field!r} ({len(text)} characters)")
        if edit.start < previous_end:
            raise StageError(f"edits overlap in field {field!r} at {edit.start}")
        previous_end = edit.end
        for span in spans:
            if span["field"] == field and span["start"] < edit.end and edit.start < span["end"]:
                raise StageError(f"edit {edit.start}..{edit.end} of {field!r} cuts through the span "
                                 f"{span['original']!r} -> {span['replacement']!r} an earlier stage made")
