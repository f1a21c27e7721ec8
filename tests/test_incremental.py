"""Scheduled, incremental builds: a corpus that grows run by run, a run that fails, exit codes,
the JSON run summary and `datafactory runs`."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import SAMPLE, sample_rows, swap_stage, write_config, write_jsonl
from datafactory import schema
from datafactory.cli import app
from datafactory.config import load_config
from datafactory.errors import ConfigError, OutputError
from datafactory.lock import BuildLock
from datafactory.output import OutputDir
from datafactory.runner import build

ROWS = sample_rows()[:150]


def run(config_path, **kwargs):
    return build(load_config(config_path), progress=False, **kwargs)


def grown_config(folder, rows, **top):
    """Swap title entities of ``rows``, with the entity bank read from the whole sample corpus,
    so that the bank does not grow with the input and runs can equal one build."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus = write_jsonl(folder / "news.jsonl", rows)
    stages = [swap_stage(bank_input={"path": str(SAMPLE)})]
    return write_config(folder, input_path=corpus, stages=stages, shard_size=40, **top)


def dataset(out):
    """Records and rejects of a build, in id order, whatever shards they sit in."""
    records = pq.read_table(out / "data").sort_by("id").to_pylist()
    rejects = sorted(pq.read_table(out / "rejects.parquet").drop_columns(["row", "source"]).to_pylist(),
                     key=lambda r: (r["parent_id"] or "", r["stage"] or ""))
    return records, rejects


def files(out):
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in [*sorted((out / "data").iterdir()), out / "manifest.json", out / "README.md", out / "rejects.parquet"]}


def test_a_corpus_grown_in_three_steps_gives_what_one_build_over_the_final_corpus_gives(tmp_path):
    one = run(grown_config(tmp_path / "one", ROWS))

    config = grown_config(tmp_path, ROWS[:50])
    first = run(config, incremental=True)
    shards_of_run_1 = {name: data for name, data in files(first.output).items() if name.startswith("data/")}
    grown = []
    for size in (110, 150):
        write_jsonl(tmp_path / "news.jsonl", ROWS[:size])
        grown.append(run(config, incremental=True))

    assert [first.status, *(g.status for g in grown)] == ["built", "appended", "appended"]
    assert dataset(first.output) == dataset(one.output)
    # Earlier shards are never rewritten: run 1's files are still there, byte for byte.
    assert {n: d for n, d in files(first.output).items() if n in shards_of_run_1} == shards_of_run_1
    manifest = json.loads((first.output / "manifest.json").read_text())
    assert [r["run"] for r in manifest["runs"]] == [1, 2, 3]
    assert [r["new_input_rows"] for r in manifest["runs"]] == [50, 60, 40]
    assert [r["mode"] for r in manifest["runs"]] == ["build", "incremental", "incremental"]
    assert sum(r["rows_added"] for r in manifest["runs"]) == manifest["totals"]["rows"] == one.rows
    assert manifest["totals"] == json.loads((one.output / "manifest.json").read_text())["totals"]
    assert [s["file"] for s in manifest["shards"]] == [f"data/part-{i:05d}.parquet" for i in range(5)]
    assert manifest["runs"][1]["shards_added"] == ["data/part-00002.parquet", "data/part-00003.parquet"]
    # The manifest's checksums are the files'.
    from datafactory.output import sha256_file
    assert all(sha256_file(first.output / s["file"]) == s["sha256"] for s in manifest["shards"])
    assert manifest["rejects"]["total"] == pq.read_metadata(first.output / "rejects.parquet").num_rows


def test_no_new_input_is_a_no_op_that_touches_nothing(tmp_path):
    config = grown_config(tmp_path, ROWS[:60])
    built = run(config, incremental=True)
    before = files(built.output)
    again = run(config, incremental=True)
    assert again.status == "unchanged" and again.run is None
    # Same ids in another order: the fingerprint differs, yet nothing is new.
    write_jsonl(tmp_path / "news.jsonl", list(reversed(ROWS[:60])))
    reordered = run(config, incremental=True)
    assert reordered.status == "unchanged"
    assert files(built.output) == before
    assert not (built.output / ".datafactory" / "state.json").exists()


def test_a_failing_run_leaves_the_dataset_as_it_was_and_the_next_run_catches_up(tmp_path, monkeypatch):
    config = grown_config(tmp_path, ROWS[:50])
    built = run(config, incremental=True)
    before = files(built.output)
    write_jsonl(tmp_path / "news.jsonl", ROWS[:150])

    write_shard = OutputDir.write_shard
    calls = []

    def dies_on_the_second_shard(self, index, records, rejects, **options):
        calls.append(index)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return write_shard(self, index, records, rejects, **options)

    monkeypatch.setattr(OutputDir, "write_shard", dies_on_the_second_shard)
    with pytest.raises(RuntimeError, match="disk full"):
        run(config, incremental=True)
    monkeypatch.setattr(OutputDir, "write_shard", write_shard)
    assert files(built.output) == before  # readers see the dataset of run 1, nothing staged
    assert pq.read_table(built.output / "data").num_rows == json.loads(before["manifest.json"])["totals"]["rows"]

    done = run(config, incremental=True)
    assert done.status == "appended" and done.run["resumed"]  # the staged shard was kept
    assert dataset(done.output) == dataset(run(grown_config(tmp_path / "one", ROWS[:150])).output)


def test_a_commit_cut_short_is_finished_by_the_next_build(tmp_path, monkeypatch):
    config = grown_config(tmp_path, ROWS[:50])
    run(config, incremental=True)
    write_jsonl(tmp_path / "news.jsonl", ROWS[:120])
    finish = OutputDir.finish

    def crash(self, manifest, card):
        raise KeyboardInterrupt("killed between moving the shards and writing the manifest")

    monkeypatch.setattr(OutputDir, "finish", crash)
    with pytest.raises(KeyboardInterrupt):
        run(config, incremental=True)
    monkeypatch.setattr(OutputDir, "finish", finish)
    out = tmp_path / "out"
    assert json.loads((out / "manifest.json").read_text())["runs"][-1]["run"] == 1

    again = run(config, incremental=True)  # finishes run 2's commit, then finds nothing new
    assert again.status == "unchanged"
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["run"] for r in manifest["runs"]] == [1, 2]
    assert dataset(out) == dataset(run(grown_config(tmp_path / "one", ROWS[:120])).output)


def test_a_run_killed_before_its_commit_plan_is_saved_is_redone_cleanly(tmp_path, monkeypatch):
    """Killed after the commit wrote the merged rejects but before it saved its plan: the next
    run must neither take the merged file for a shard's rejects nor count its rows twice."""
    from datafactory import output

    config = grown_config(tmp_path, ROWS[:50])
    run(config, incremental=True)
    write_jsonl(tmp_path / "news.jsonl", ROWS[:120])
    write_text = output.write_text_atomic

    def dies_saving_the_plan(text, path):
        if path.name == "state.json" and '"phase": "commit"' in text:
            raise KeyboardInterrupt("killed")
        return write_text(text, path)

    monkeypatch.setattr(output, "write_text_atomic", dies_saving_the_plan)
    with pytest.raises(KeyboardInterrupt):
        run(config, incremental=True)
    monkeypatch.setattr(output, "write_text_atomic", write_text)

    again = run(config, incremental=True)
    assert again.status == "appended" and again.run["resumed"]
    assert dataset(again.output) == dataset(run(grown_config(tmp_path / "one", ROWS[:120])).output)
    assert again.manifest["rejects"]["total"] == pq.read_metadata(again.output / "rejects.parquet").num_rows
    assert not list((again.output / ".datafactory").glob("*rejects*"))


def test_bad_rows_are_rejected_once_not_on_every_run(tmp_path):
    rows = [dict(r) for r in ROWS[:40]]
    rows[3]["title"] = ""            # refused: title is required
    rows[5] = {"title": "no id"}    # refused before it has an id (the id column is named)
    corpus = write_jsonl(tmp_path / "news.jsonl", rows)
    config = write_config(tmp_path, input_path=corpus, input_options={"columns": {"id": "id"}, "required": ["title"]},
                          stages=[swap_stage(bank_input={"path": str(SAMPLE)})], shard_size=40)
    first = run(config, incremental=True)
    assert first.partial and first.run["rejects_added"]["invalid"] == 2
    (tmp_path / "news.jsonl").open("a").write(json.dumps(ROWS[40]) + "\n")
    second = run(config, incremental=True)
    assert second.status == "appended" and second.run["new_input_rows"] == 1
    assert not second.partial and second.run["rejects_added"]["invalid"] == 0
    kinds = pq.read_table(tmp_path / "out" / "rejects.parquet").column("kind").to_pylist()
    assert kinds.count(schema.INVALID) == 2


def test_what_incremental_runs_refuse(tmp_path):
    config = grown_config(tmp_path, ROWS[:40])
    run(config, incremental=True)
    write_jsonl(tmp_path / "news.jsonl", ROWS[:60])
    with pytest.raises(OutputError, match="--incremental"):
        run(config)  # a plain build points at --incremental when only the input changed
    other = grown_config(tmp_path / "other", ROWS[:60], seed=99, output=str(tmp_path / "out"))
    with pytest.raises(OutputError, match="another config"):
        run(other, incremental=True)
    (tmp_path / "repurpose").mkdir()
    pool = write_config(tmp_path / "repurpose", stages=[{"stage": "repurpose_image", "strategy": "random"}])
    with pytest.raises(ConfigError, match="repurpose_image.*whole corpus"):
        run(pool, incremental=True)


def _cli(*args):
    return CliRunner().invoke(app, list(map(str, args)))


def test_exit_codes_and_the_json_run_summary(tmp_path):
    config = grown_config(tmp_path, ROWS[:40])
    first = _cli("build", config, "--incremental", "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["status"] == "success" and summary["run"] == 1 and summary["rows_added"] > 0
    assert summary["outcome"] == "built" and summary["error"] is None

    noop = _cli("build", config, "--incremental", "--json")
    assert noop.exit_code == 0 and json.loads(noop.stdout.strip())["outcome"] == "unchanged"

    rows = ROWS[:60] + [{"id": "bad-1", "title": 42, "text": "x"}]
    write_jsonl(tmp_path / "news.jsonl", rows)
    report = tmp_path / "logs" / "last-run.json"
    partial = _cli("build", config, "--incremental", "--summary", report)
    assert partial.exit_code == 3, partial.output
    assert "run 2 added" in partial.stdout
    written = json.loads(report.read_text())
    assert written["status"] == "partial" and written["rejects_added"]["invalid"] == 1
    assert written["new_input_rows"] == 21

    with BuildLock(tmp_path / "out" / ".datafactory"):
        locked = _cli("build", config, "--incremental", "--json")
    assert locked.exit_code == 75
    failed = json.loads(locked.stdout.strip())
    assert failed["status"] == "failure" and failed["exit_code"] == 75 and failed["error"]["code"] == "E201"

    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ninput: {path: nowhere.jsonl}\noutput: out\nstages: []\n")
    bad = _cli("build", broken, "--incremental", "--summary", report)
    assert bad.exit_code == 2 and json.loads(report.read_text())["status"] == "failure"


def test_runs_lists_the_recorded_runs(tmp_path):
    config = grown_config(tmp_path, ROWS[:40])
    run(config, incremental=True)
    write_jsonl(tmp_path / "news.jsonl", ROWS[:70])
    run(config, incremental=True)
    listing = _cli("runs", tmp_path / "out")
    assert listing.exit_code == 0, listing.output
    lines = listing.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["run", "mode", "executor"]
    assert lines[1].split()[:3] == ["1", "build", "local"] and lines[2].split()[:3] == ["2", "incremental", "local"]
    as_json = json.loads(_cli("runs", tmp_path / "out", "--json").stdout)
    assert [r["new_input_rows"] for r in as_json["runs"]] == [40, 30] and as_json["unfinished"] is None
    missing = _cli("runs", tmp_path / "nowhere")
    assert missing.exit_code != 0 and "not a folder" in missing.output


def test_dry_run_says_what_an_incremental_run_would_do_and_address_needs_ray(tmp_path):
    config = grown_config(tmp_path, ROWS[:40])
    run(config, incremental=True)
    write_jsonl(tmp_path / "news.jsonl", ROWS[:60])
    plan = run(config, incremental=True, dry_run=True)
    assert plan.status == "dry-run" and "run 2" in plan.plan["would"]
    assert "refuse" in run(config, dry_run=True).plan["would"]
    wrong = _cli("build", config, "--address", "auto")
    assert wrong.exit_code == 1 and "--executor ray" in wrong.output
