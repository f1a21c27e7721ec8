"""Edits rewrite a record's fields and every span, earlier stages' included, keeps pointing at its words."""

from __future__ import annotations

import pytest

from datafactory import schema
from datafactory.errors import StageError
from datafactory.spans import Edit, rewrite, touches_span


def record(title, spans=()):
    r = schema.real_record(id="r", dataset="t", title=title, text="body")
    r["spans"] = list(spans)
    return r


def words_of(fields, field="title"):
    return [fields[field][s["start"]:s["end"]] for s in fields["spans"] if s["field"] == field]


def test_edits_are_applied_and_recorded_with_both_offsets():
    r = record("Unemployment rose 2% in Chile")
    out = rewrite(r, [Edit("title", 18, 20, "20%", "PERCENT", "percent"), Edit("title", 24, 29, "Peru", "GPE")],
                  stage="numeric_edit")
    assert out["title"] == "Unemployment rose 20% in Peru"
    assert words_of(out) == ["20%", "Peru"]
    first, second = out["spans"]
    assert (first["orig_start"], first["orig_end"], first["original"]) == (18, 20, "2%")
    assert r["title"][second["orig_start"]:second["orig_end"]] == "Chile"
    assert first["kind"] == "percent" and second["kind"] is None
    assert first["stage"] == second["stage"] == "numeric_edit"


def test_spans_of_an_earlier_stage_move_with_a_later_edit():
    # entity_swap wrote "Peru" (was "Chile"); a later stage lengthens a number before it.
    earlier = {"field": "title", "start": 24, "end": 28, "orig_start": 24, "orig_end": 29, "original": "Chile",
               "replacement": "Peru", "label": "GPE", "kind": "country", "similarity": None, "stage": "entity_swap"}
    r = record("Unemployment rose 2% in Peru", [earlier])
    out = rewrite(r, [Edit("title", 18, 20, "200%", "PERCENT", "percent")], stage="numeric_edit")
    assert out["title"] == "Unemployment rose 200% in Peru"
    assert words_of(out) == ["Peru", "200%"]
    # The earlier span still locates its original in its own parent, unchanged.
    assert (out["spans"][0]["orig_start"], out["spans"][0]["orig_end"]) == (24, 29)
    assert r["spans"][0]["start"] == 24, "the parent's spans are not modified in place"


def test_spans_of_other_fields_stay_where_they_are():
    earlier = {"field": "text", "start": 0, "end": 4, "orig_start": 0, "orig_end": 4, "original": "body",
               "replacement": "body", "label": "X", "kind": None, "similarity": None, "stage": "entity_swap"}
    out = rewrite(record("Prices fell 5%", [earlier]), [Edit("title", 0, 6, "Wages", "NOUN")], stage="polarity_flip")
    assert out["spans"][0] == earlier and "text" not in out


@pytest.mark.parametrize("edits", [
    [Edit("title", 0, 6, "Wages", "NOUN"), Edit("title", 3, 8, "x", "NOUN")],  # overlapping
    [Edit("title", 10, 40, "x", "NOUN")],  # outside the field
])
def test_broken_edits_are_a_contract_error(edits):
    with pytest.raises(StageError):
        rewrite(record("Prices fell 5%"), edits, stage="polarity_flip")


def test_an_edit_through_an_earlier_span_is_refused():
    earlier = {"field": "title", "start": 0, "end": 6, "orig_start": 0, "orig_end": 5, "original": "Costs",
               "replacement": "Prices", "label": "X", "kind": None, "similarity": None, "stage": "entity_swap"}
    r = record("Prices fell 5%", [earlier])
    assert touches_span(r, "title", 4, 8) and not touches_span(r, "title", 7, 11)
    assert not touches_span(r, "text", 0, 6)
    with pytest.raises(StageError, match="earlier stage"):
        rewrite(r, [Edit("title", 4, 8, "x", "NOUN")], stage="numeric_edit")
