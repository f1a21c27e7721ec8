"""augment-eval: the same detector with and without factory data, scored in and out of domain."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from conftest import sample_rows, write_jsonl
from datafactory.cli import app

FAKE_TOPICS = {"politics", "world"}


def _labelled(path, rows, topics=FAKE_TOPICS):
    return write_jsonl(path, [{"id": r["id"], "title": r["title"], "text": r["text"],
                               "falsified": r["category"] in topics} for r in rows])


def test_both_runs_are_scored_in_and_out_of_domain(tmp_path):
    rows = sample_rows()
    base = _labelled(tmp_path / "base.jsonl", rows[:120])
    factory = _labelled(tmp_path / "factory.jsonl", rows[120:200])
    test = _labelled(tmp_path / "test.jsonl", rows[200:])
    result = CliRunner().invoke(app, ["augment-eval", "--base", str(base), "--factory", str(factory), "--test",
                                      str(test), "--output", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "real data alone" in result.output and "real + factory data" in result.output
    report = json.loads((tmp_path / "out" / "augment.json").read_text())
    base_run, augmented = report["runs"]["base"], report["runs"]["augmented"]
    assert report["factory_rows"] == 80 and augmented["train_rows"] == base_run["train_rows"] + 80
    assert base_run["out_of_domain"]["n_test"] == 100
    # Topics decide the label here: more labelled topic text must not make it worse by much.
    assert augmented["out_of_domain"]["accuracy"] >= base_run["out_of_domain"]["accuracy"] - 0.05
    assert (tmp_path / "out" / "augment.md").is_file()


def test_classes_that_do_not_match_are_refused(tmp_path):
    rows = sample_rows()
    base = _labelled(tmp_path / "base.jsonl", rows[:100])
    test = write_jsonl(tmp_path / "test.jsonl", [{"id": r["id"], "title": r["title"], "text": r["text"],
                                                  "falsified": "pants-on-fire"} for r in rows[100:150]])
    result = CliRunner().invoke(app, ["augment-eval", "--base", str(base), "--factory", str(base), "--test",
                                      str(test), "--output", str(tmp_path / "out")])
    assert result.exit_code != 0 and "pants-on-fire" in result.output and "same classes" in result.output
