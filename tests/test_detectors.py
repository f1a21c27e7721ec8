"""Detectors: the TF-IDF baseline learns what separates and nothing from noise, saves and loads
exactly, refuses tampered or foreign files, reads labelled texts from builds and files, and
train-detector keeps every story on one side of its held-out split."""

from __future__ import annotations

import json
import os
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import sample_rows, write_jsonl
from datafactory import schema
from datafactory.cli import app
from datafactory.errors import ConfigError, ModelNotFoundError, ModelRefusedError, NotEnoughDataError
from datafactory.output import OutputDir
from detectors.data import load_labelled_data, load_labelled_texts
from datafactory.model_store import CARD_FILE, MODEL_FILE, dump_skops, load_detector, load_skops, sha256_file
from detectors.tfidf import TfidfDetector
from pipelines.generation.discriminators import SklearnClassifier, load_classifier


def topics(a: str, b: str) -> tuple[list[str], list[str]]:
    rows = [r for r in sample_rows() if r["category"] in (a, b)]
    return [r["text"] for r in rows], [r["category"] for r in rows]


def held_out_accuracy(texts: list[str], labels: list[str], train: int, **options) -> float:
    detector = TfidfDetector(**options).fit(texts[:train], labels[:train])
    return float(np.mean(detector.predict(texts[train:]) == np.asarray(labels[train:])))


def generated_body(index: int) -> str:
    """What a weak generator writes: fluent-ish and formulaic, unlike the sample corpus."""
    return (f"Officials said on Monday that the plan number {index} would go ahead as planned. "
            "Officials said the plan was going ahead and officials said more would follow soon.")


def write_build(root: Path, real_rows: list[dict], *, generated: int, missing_text: int = 0) -> Path:
    """A finished output folder: every real item, and for the first ``generated`` of them a
    generated child sharing its parent_id; the last ``missing_text`` real items have no body."""
    records = []
    for index, row in enumerate(real_rows):
        text = None if index >= len(real_rows) - missing_text else row["text"]
        real = schema.real_record(id=row["id"], dataset="sample_news", title=row["title"], text=text)
        records.append(real)
        if index < generated:
            records.append({**real, "id": f"{row['id']}:generate_article", "falsified": True,
                            "text": generated_body(index), "manipulations": ["generate_article"]})
    out = OutputDir(root)
    out.start({"fake": True})
    out.write_shard(0, schema.to_table(records), schema.to_table([], schema.REJECT_SCHEMA))
    out.merge_rejects()
    out.finish({"format": "datafactory-manifest/1", "status": "complete", "name": "fake"}, "# fake\n")
    return root


# -- the TF-IDF detector ---------------------------------------------------------------------


def test_separable_topics_are_learnt_and_shuffled_labels_stay_near_chance():
    texts, labels = topics("sports", "science")
    order = random.Random(0).sample(range(len(texts)), len(texts))
    texts, labels = [texts[i] for i in order], [labels[i] for i in order]
    assert held_out_accuracy(texts, labels, train=50) >= 0.9

    everything = [r["text"] for r in sample_rows()]
    rng = random.Random(1)
    noise = [rng.choice(["a", "b"]) for _ in everything]
    assert 0.35 <= held_out_accuracy(everything, noise, train=200) <= 0.65


def test_save_and_load_give_identical_probabilities_and_a_card(tmp_path):
    texts, labels = topics("sports", "politics")
    detector = TfidfDetector(min_df=2).fit(texts, labels, field="text", label="category")
    folder = detector.save(tmp_path / "topics", extra={"note": "from the test"})
    assert sorted(p.name for p in folder.iterdir()) == [CARD_FILE, MODEL_FILE]
    card = json.loads((folder / CARD_FILE).read_text())
    assert card["format"] == "datafactory-detector/1" and card["kind"] == "tfidf"
    assert card["classes"] == ["politics", "sports"] and card["field"] == "text" and card["label"] == "category"
    assert card["rows_per_class"] == {"politics": 38, "sports": 38} and card["training_accuracy"] == 1.0
    assert card["model_sha256"] == sha256_file(folder / MODEL_FILE) and card["note"] == "from the test"
    assert card["params"]["min_df"] == 2 and card["created_at"] and card["versions"]["scikit-learn"]

    loaded = TfidfDetector.load(folder)
    probe = [r["text"] for r in sample_rows()[:40]]
    assert np.array_equal(loaded.predict_proba(probe), detector.predict_proba(probe))
    assert list(loaded.classes_) == ["politics", "sports"] and loaded.card == card
    assert isinstance(load_detector(folder), TfidfDetector)


def test_a_model_file_changed_after_training_is_refused(tmp_path):
    texts, labels = topics("sports", "politics")
    folder = TfidfDetector().fit(texts, labels).save(tmp_path / "det")
    other = TfidfDetector().fit(texts, labels[::-1])  # a valid skops file, other weights
    dump_skops(other.pipeline, folder / MODEL_FILE)
    with pytest.raises(ModelRefusedError, match=r"model.skops has sha256 .* changed after training") as caught:
        TfidfDetector.load(folder)
    assert caught.value.code == "E105"
    with pytest.raises(ModelRefusedError, match="changed after training"):
        load_classifier(str(folder), "sports")


def test_folders_that_are_not_detectors_are_refused_with_the_reason(tmp_path):
    texts, labels = topics("sports", "politics")
    good = TfidfDetector().fit(texts, labels).save(tmp_path / "good")
    card = json.loads((good / CARD_FILE).read_text())

    random_file = tmp_path / "random"
    random_file.mkdir()
    (random_file / MODEL_FILE).write_bytes(os.urandom(2048))
    with pytest.raises(ModelNotFoundError, match=r"not a detector folder \(no detector_card.json; it holds model.skops"):
        TfidfDetector.load(random_file)
    # Even with a card whose hash matches, random bytes are not a skops file.
    (random_file / CARD_FILE).write_text(json.dumps({**card, "model_sha256": sha256_file(random_file / MODEL_FILE)}))
    with pytest.raises(ModelRefusedError, match=r"model.skops is not a readable skops file"):
        TfidfDetector.load(random_file)

    (good / CARD_FILE).write_text(json.dumps({**card, "format": "something-else/3"}))
    with pytest.raises(ModelRefusedError, match=r"detector_card.json has format 'something-else/3'"):
        TfidfDetector.load(good)
    (good / CARD_FILE).write_text("{not json")
    with pytest.raises(ModelRefusedError, match="not valid JSON"):
        load_detector(good)
    (good / CARD_FILE).write_text(json.dumps({**card, "kind": "quantum"}))
    with pytest.raises(ModelRefusedError, match=r"names detector kind 'quantum'.*Known kinds: clip, tfidf, transformer"):
        load_detector(good)
    with pytest.raises(ModelRefusedError, match="holds a 'quantum' detector"):
        TfidfDetector.load(good)


def test_skops_files_with_types_outside_the_allow_list_are_refused(tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    texts, labels = topics("sports", "politics")
    trojan = TfidfDetector().fit(texts, labels)
    # A pipeline that would call os.system on its input: what a malicious model file looks like.
    trojan.pipeline = make_pipeline(FunctionTransformer(func=os.system), trojan.pipeline)
    folder = trojan.save(tmp_path / "trojan")  # the card's hash matches: only the types betray it
    with pytest.raises(ModelRefusedError, match=r"outside the allow-list: posix.system"):
        TfidfDetector.load(folder)
    dump_skops({"weights": Fraction(1, 3)}, tmp_path / "odd.skops")
    with pytest.raises(ModelRefusedError, match=r"outside the allow-list: fractions.Fraction"):
        load_skops(tmp_path / "odd.skops")
    with pytest.raises(ModelRefusedError, match="fractions.Fraction"):
        load_classifier(str(tmp_path / "odd.skops"), "x")


def test_too_little_to_learn_from_is_a_clear_error():
    with pytest.raises(NotEnoughDataError, match="two classes"):
        TfidfDetector().fit(["one text", "another"], ["a", "a"])
    with pytest.raises(NotEnoughDataError, match="lower --min-df"):
        TfidfDetector(min_df=5).fit(["alpha beta", "gamma delta"], ["a", "b"])


# -- labelled data -------------------------------------------------------------------------------


def test_labelled_texts_from_a_build(tmp_path):
    build = write_build(tmp_path / "out", sample_rows()[:10], generated=6, missing_text=2)
    data = load_labelled_data(build)
    assert data.labels.count("real") == 8 and data.labels.count("falsified") == 6
    assert dict(data.skipped) == {"no text": 2}
    assert data.groups[:3] == ["news-0001", "news-0001", "news-0002"]
    texts, labels = load_labelled_texts(build, field="title", limit=5)
    assert len(texts) == 5 and labels == ["real", "falsified", "real", "falsified", "real"]
    with pytest.raises(ConfigError, match="'body' is not a column of a datafactory build"):
        load_labelled_texts(build, field="body")


def test_labelled_texts_from_a_file_with_a_column_mapping(tmp_path):
    rows = [{"story": r["id"], "body": r["text"], "verdict": r["category"]} for r in sample_rows()[:12]]
    rows[3]["verdict"] = None
    rows[4]["body"] = "   "
    path = write_jsonl(tmp_path / "labelled.jsonl", rows)
    data = load_labelled_data(path, columns={"text": "body"}, label="verdict")
    assert len(data.texts) == 10 and dict(data.skipped) == {"no label": 1, "no text": 1}
    assert data.groups == [None] * 10  # no parent_id column
    same = load_labelled_data(path, columns={"text": "body", "label": "verdict"})  # --label left at its default
    assert same.labels == data.labels
    with pytest.raises(ConfigError, match=r"no column 'falsified'.*Columns: body, story, verdict"):
        load_labelled_texts(path, columns={"text": "body"})


# -- train-detector --------------------------------------------------------------------------


def test_train_detector_cli_keeps_every_story_on_one_side(tmp_path):
    build = write_build(tmp_path / "out", sample_rows()[:80], generated=50)
    output = tmp_path / "real-vs-generated"
    result = CliRunner().invoke(app, ["train-detector", str(build), "--field", "text", "--output", str(output),
                                      "--holdout", "0.25", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "rows: falsified 50, real 80" in result.output and "grouped by parent_id" in result.output
    assert "held-out accuracy: 1.0000" in result.output

    card = json.loads((output / CARD_FILE).read_text())
    held_groups = set((output / "held_out_groups.txt").read_text().split())
    table = (build / "data" / "part-00000.parquet")
    import pyarrow.parquet as pq

    parents = pq.read_table(table, columns=["parent_id"]).column("parent_id").to_pylist()
    assert 0 < len(held_groups) < 80
    # If any story straddled the split, the rows of held-out stories would not be the held-out rows.
    assert card["split"]["held_out_rows"] == sum(p in held_groups for p in parents)
    assert card["split"]["train_rows"] == sum(p not in held_groups for p in parents)
    assert card["holdout"]["rows"] == card["split"]["held_out_rows"] and card["holdout"]["accuracy"] == 1.0
    # One name per metric across train-detector, crosseval and augment-eval (detectors.metrics).
    assert card["holdout"]["macro_f1"] == 1.0 and card["holdout"]["roc_auc"] == 1.0
    assert "f1_macro" not in card["holdout"] and "macro F1 1.0000, ROC AUC 1.0000" in result.output
    assert card["data"][0]["kind"] == "build" and card["rows_per_class_all"] == {"falsified": 50, "real": 80}

    judge = load_classifier(str(output), "real")
    assert isinstance(judge, SklearnClassifier) and judge.classes == ["falsified", "real"]
    assert judge.score([generated_body(999)])[0] < 0.5 < judge.score([sample_rows()[200]["text"]])[0]


def test_train_detector_refuses_to_overwrite_and_to_learn_one_class(tmp_path):
    build = write_build(tmp_path / "out", sample_rows()[:30], generated=20)
    runner = CliRunner()
    args = ["train-detector", str(build), "-o", str(tmp_path / "det"), "--holdout", "0"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "error[E200]" in again.output and "--overwrite" in again.output
    assert runner.invoke(app, args + ["--overwrite"]).exit_code == 0
    assert not (tmp_path / "det" / "held_out_groups.txt").exists()  # --holdout 0: nothing held out

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    foreign = runner.invoke(app, ["train-detector", str(build), "-o", str(tmp_path / "mine")])
    assert foreign.exit_code == 1 and "not a detector" in foreign.output

    only_real = write_build(tmp_path / "real-only", sample_rows()[:30], generated=0)
    single = runner.invoke(app, ["train-detector", str(only_real), "-o", str(tmp_path / "det2")])
    assert single.exit_code == 1 and "error[E302]" in single.output and "real': 30" in single.output
    unknown = runner.invoke(app, ["train-detector", str(build), "-o", str(tmp_path / "det3"), "--detector", "bert"])
    assert unknown.exit_code == 2 and "Known detectors: clip, tfidf, transformer" in unknown.output


def test_detector_kinds_come_from_the_registry(tmp_path):
    """Each shipped class is registered under its name; a kind registered by a plug-in is
    trained, scored, saved and loaded back with no list of kinds to edit."""
    from datafactory import registry
    from detectors.train import train_detector

    assert {name: registry.detectors.require(name).name for name in ("tfidf", "transformer", "clip")} == {
        "tfidf": "tfidf", "transformer": "transformer", "clip": "clip"}

    class LowercaseDetector(TfidfDetector):  # a plug-in kind: TF-IDF on lower-cased text
        name = "lowercase_tfidf"

        @classmethod
        def read_rows(cls, path, **kwargs):
            rows = super().read_rows(path, **kwargs)
            rows.texts = [t.lower() for t in rows.texts]
            return rows

    registry.detectors.register(LowercaseDetector)
    try:
        build = write_build(tmp_path / "out", sample_rows()[:40], generated=30)
        card = train_detector([build], tmp_path / "det", detector="lowercase_tfidf", holdout=0.25)
        assert card["kind"] == "lowercase_tfidf" and set(card["holdout"]) >= {"accuracy", "macro_f1", "roc_auc"}
        assert type(load_detector(tmp_path / "det")) is LowercaseDetector
        assert "lowercase_tfidf" in CliRunner().invoke(app, ["train-detector", str(build), "-o", str(tmp_path / "x"),
                                                             "--detector", "nope"]).output
    finally:
        registry.detectors.unregister("lowercase_tfidf")
    with pytest.raises(ModelRefusedError, match="names detector kind 'lowercase_tfidf'"):
        load_detector(tmp_path / "det")
    with pytest.raises(ConfigError, match="the transformer detector needs a model"):
        train_detector([build], tmp_path / "det4", detector="transformer")


def test_train_detector_help_has_an_example():
    result = CliRunner().invoke(app, ["train-detector", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
    assert "datafactory train-detector out/swap_and_generate" in result.output
