"""Bad rows go to rejects.parquet with their origin and a reason; good rows are still written."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import sample_rows, write_config
from datafactory.config import load_config
from datafactory.runner import build


def run(config):
    return build(load_config(config), progress=False)


def rejects_of(out):
    return {r["row"]: r for r in pq.read_table(out / "rejects.parquet").to_pylist()}


def good(i):
    row = sample_rows()[i]
    return {k: row[k] for k in ("id", "title", "text", "caption")}


def test_each_kind_of_bad_jsonl_row_is_rejected_with_its_reason(tmp_path):
    lines = [
        json.dumps(good(0)),
        json.dumps({**good(1), "title": None}),                       # 1 missing title
        json.dumps({**good(2), "text": "   "}),                        # 2 empty text
        json.dumps({**good(3), "title": 12345}),                       # 3 wrong type
        json.dumps({**good(4), "text": ["a", "list"]}),                # 4 wrong type
        '{"id": "broken", "title": "Unclosed',                         # 5 not JSON
        json.dumps({**good(5), "text": "x" * 300_001}),                # 6 oversize
        json.dumps({**good(6), "id": good(0)["id"]}),                  # 7 duplicate id
        json.dumps([1, 2, 3]),                                         # 8 not an object
        json.dumps(good(7)),                                           # 9 good
        json.dumps({**good(8), "caption": "nul\u0000inside"}),         # 10 NUL character
    ]
    data = "\n".join(lines).encode() + b'\n{"id": "bad-utf8", "title": "Caf\xe9 in Paris", "text": "x"}\n'  # 11
    data += (json.dumps(good(9)) + "\n").encode()                                                             # 12
    (tmp_path / "bad.jsonl").write_bytes(data)
    result = run(write_config(tmp_path, input_path=tmp_path / "bad.jsonl", limits={"max_text_chars": 300_000}))
    rejects = rejects_of(result.output)
    invalid = {row: r["reason"] for row, r in rejects.items() if r["kind"] == "invalid"}
    expected = {
        1: "title is missing", 2: "text is empty", 3: "title must be text, got int",
        4: "text must be text, got list", 5: "not valid JSON", 6: "text is oversize",
        7: "duplicate id", 8: "not a JSON object", 10: "caption contains NUL", 11: "not valid UTF-8",
    }
    assert set(invalid) == set(expected)
    for row, fragment in expected.items():
        assert fragment in invalid[row], (row, invalid[row])
    assert "line 6" in invalid[5] and rejects[5]["raw"].startswith('{"id": "broken"')
    assert rejects[7]["id"] == good(0)["id"] and "first seen at row 0" in invalid[7]
    assert all(r["source"] == str(tmp_path / "bad.jsonl") for r in rejects.values())
    written = set(pq.read_table(result.output / "data", columns=["parent_id"]).column("parent_id").to_pylist())
    assert written == {good(0)["id"], good(7)["id"], good(9)["id"]}
    assert result.rejects == len(expected)
    assert result.manifest["rejects"]["by_kind"]["invalid"] == len(expected)


def test_bad_csv_rows_are_rejected_and_the_rest_read(tmp_path):
    header = b"id,title,text\n"
    rows = [b'a1,Floods hit Peru as rivers rise,Rain fell for days in Lima.\n',
            b'a2,Caf\xe9 owners in Paris protest,Owners marched.\n',
            b'a3,Kenya bank holds rates,The bank met.,unexpected\n',
            b'a4,"Quoted, with comma: Brazil votes","Body with\nnewline in Brasilia."\n']
    (tmp_path / "in.csv").write_bytes(header + b"".join(rows))
    result = run(write_config(tmp_path, input_path=tmp_path / "in.csv"))
    rejects = rejects_of(result.output)
    assert "not valid UTF-8" in rejects[1]["reason"]
    assert "more field(s) than the header" in rejects[2]["reason"]
    written = pq.read_table(result.output / "data").to_pylist()
    assert {r["parent_id"] for r in written} == {"a1", "a4"}
    assert next(r for r in written if r["id"] == "a4")["text"] == "Body with\nnewline in Brasilia."


def test_wrong_typed_parquet_columns_reject_rows_not_the_build(tmp_path):
    table = pa.table({"id": ["p1", "p2"], "title": ["Floods hit Peru", "Kenya holds rates"],
                      "text": [b"Rain in Lima.", b"\xff\xfe not utf-8"]})
    pq.write_table(table, tmp_path / "in.parquet")
    result = run(write_config(tmp_path, input_path=tmp_path / "in.parquet"))
    invalid = {row: r for row, r in rejects_of(result.output).items() if r["kind"] == "invalid"}
    assert list(invalid) == [1] and "text is not valid UTF-8" in invalid[1]["reason"]
    assert pq.read_table(result.output / "data").column("parent_id").to_pylist()[0] == "p1"
