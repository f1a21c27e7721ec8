"""The record schema holds the data contract, and tables are checked against it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from datafactory import schema


def test_the_record_carries_the_data_contract():
    names = set(schema.RECORD_SCHEMA.names)
    assert {"id", "parent_id", "title", "text", "caption", "image", "falsified", "source_label",
            "manipulations", "spans", "scores", "provenance"} <= names
    assert set(schema.SPAN_TYPE.names) >= {"field", "start", "end", "original", "replacement", "label"}
    assert set(schema.PROVENANCE_TYPE.names) >= {"stage", "version", "model", "model_version", "params", "seed"}
    assert schema.RECORD_SCHEMA.field("image").type == schema.IMAGE_TYPE
    assert schema.STAGE_OUTPUT_SCHEMA.names[-1] == schema.REJECT_REASON


def test_a_real_record_is_its_own_parent_and_not_falsified():
    record = schema.real_record(id="n1", dataset="d", title="T", text="B", metadata={"b": 1, "a": "x"})
    table = schema.to_table([record])
    schema.check_table(table, schema.RECORD_SCHEMA, "real")
    (row,) = table.to_pylist()
    assert row["parent_id"] == "n1" and row["falsified"] is False and row["manipulations"] == []
    assert row["metadata"] == '{"a":"x","b":1}'


def test_check_table_names_what_differs():
    table = schema.to_table([schema.real_record(id="n1", dataset="d", title="T", text="B")])
    with pytest.raises(ValueError, match="missing column 'caption'"):
        schema.check_table(table.drop_columns(["caption"]), schema.RECORD_SCHEMA, "t")
    wrong = table.set_column(table.schema.get_field_index("title"), "title", pa.array([1], pa.int64()))
    with pytest.raises(ValueError, match="column 'title' is int64"):
        schema.check_table(wrong, schema.RECORD_SCHEMA, "t")
    with pytest.raises(ValueError, match="unexpected column 'extra'"):
        schema.check_table(table.append_column("extra", pa.array([1])), schema.RECORD_SCHEMA, "t")
