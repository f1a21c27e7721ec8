"""``datafactory eval-generation``: the metrics on hand-computable inputs, then a whole report
on a fake build with generated articles, rejects and a tiny random GPT-2 as the oracle."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import sample_rows, write_jsonl
from datafactory import schema
from datafactory.cli import app
from datafactory.config import InputConfig
from datafactory.errors import ModelNotFoundError, NoGeneratedRowsError, NotADatasetError
from detectors.evaluation.generation import (
    distinct_n,
    evaluate_generation,
    length_stats,
    oracle_perplexity,
    self_bleu,
    tokenize,
)
from datafactory.output import OutputDir

STAGE = "generate_article"
GENERATED = 12  # parents with a generated child
SKIPPED = 5  # generate_article could not run on them
FAILED = 3  # generate_article raised on them



# -- metrics -----------------------------------------------------------------------------------


def test_tokenize_splits_words_and_punctuation_lower_cased():
    assert tokenize("U.S. wins, again!") == ["u", ".", "s", ".", "wins", ",", "again", "!"]


def test_distinct_n_counts_unique_over_total_ngrams_across_texts():
    texts = ["a b a b", "a c"]  # unigrams a b a b a c; bigrams ab ba ab ac
    assert distinct_n(texts, 1) == pytest.approx(3 / 6)
    assert distinct_n(texts, 2) == pytest.approx(3 / 4)
    assert distinct_n(texts, 5) == 0.0  # no 5-grams at all
    assert distinct_n(["x y z"], 1) == 1.0


def test_self_bleu_of_identical_texts_is_one():
    assert self_bleu(["the cat sat on the mat ."] * 4) == pytest.approx(1.0)


def test_self_bleu_of_disjoint_texts_is_near_zero():
    texts = ["alpha beta gamma delta", "one two three four", "red green blue yellow"]
    # Every order unmatched: smoothed precisions 0.1/4, 0.1/3, 0.1/2, 0.1/1.
    expected = (0.1 / 4 * 0.1 / 3 * 0.1 / 2 * 0.1 / 1) ** 0.25
    assert self_bleu(texts) == pytest.approx(expected)
    assert self_bleu(texts) < 0.05
    long_disjoint = [" ".join(f"w{i}x{j}" for j in range(30)) for i in range(5)]
    assert self_bleu(long_disjoint) < 0.01


def test_self_bleu_by_hand_with_clipping_and_brevity():
    # Each against the other: 1-grams 3/4, 2-grams 2/3, 3-grams 1/2, 4-grams none (0.1/1).
    assert self_bleu(["a b c d", "a b c e"]) == pytest.approx((3 / 4 * 2 / 3 * 1 / 2 * 0.1) ** 0.25)
    # "the the the the" against "the cat": 'the' clipped to 1 of 4; then ["the cat"] against
    # the 4-token text: p1 = 1/2, p2..p4 smoothed, brevity exp(1 - 4/2).
    first = (1 / 4 * 0.1 / 3 * 0.1 / 2 * 0.1 / 1) ** 0.25
    second = math.exp(1 - 4 / 2) * (1 / 2 * 0.1 / 1 * 0.1 * 0.1) ** 0.25
    assert self_bleu(["the the the the", "the cat"]) == pytest.approx((first + second) / 2)


def test_self_bleu_sample_is_seeded_and_needs_two_texts():
    texts = [f"story {i} about the council vote {i % 3}" for i in range(40)]
    assert self_bleu(texts, sample=10, seed=1) == self_bleu(texts, sample=10, seed=1)
    assert 0 < self_bleu(texts, sample=10) < 1
    assert math.isnan(self_bleu(["only one"]))


def test_length_stats_in_words():
    stats = length_stats(["one", "one two", "one  two three", "one two three\nfour"])
    assert stats == {"mean": 2.5, "median": 2.5, "min": 1.0, "max": 4.0,
                     "p10": pytest.approx(1.3), "p90": pytest.approx(3.7)}
    assert math.isnan(length_stats([])["mean"])


# -- a fake build --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oracle(tmp_path_factory) -> Path:
    from pipelines.generation.tiny_generator import build_tiny_gpt2

    texts = [row["text"] for row in sample_rows()]
    # A short context so that the longest sample bodies are truncated.
    return build_tiny_gpt2(texts, tmp_path_factory.mktemp("oracle") / "tiny", vocab_size=400, n_layer=1,
                           n_embd=32, n_head=2, n_positions=96)


def _generated_body(i: int) -> str:
    # Deliberately repetitive, so its diversity is below the real news'.
    return (f"Officials said the plan would go ahead. Officials said the vote {i % 2} was close. " * 3).strip()


@pytest.fixture
def built(tmp_path) -> Path:
    """A finished output: 20 real items, 12 of them with an entity_swap+generate_article child,
    8 generate_article rejects (5 skipped, 3 errors), and rejects of other stages."""
    rows = sample_rows()[:20]
    records, rejects = [], []
    for index, row in enumerate(rows):
        real = schema.real_record(id=row["id"], dataset="sample_news", title=row["title"], text=row["text"])
        records.append(real)
        if index < GENERATED:
            child = {**real, "id": f"{row['id']}:{STAGE}", "falsified": True, "text": _generated_body(index),
                     "manipulations": ["entity_swap", STAGE],
                     "scores": {**schema.empty_scores(), "generator_logprob": -2.0 - index},
                     "provenance": [{"stage": s, "version": "1", "model": None, "model_version": None,
                                     "params": "{}", "seed": 1} for s in ("entity_swap", STAGE)]}
            records.append(child)
        elif index < GENERATED + SKIPPED:
            rejects.append({"row": index, "id": row["id"], "stage": STAGE, "kind": schema.SKIPPED,
                            "reason": f"title too short ({index} words)"})
        else:
            rejects.append({"row": index, "id": row["id"], "stage": STAGE, "kind": schema.ERROR,
                            "reason": "RuntimeError: out of memory"})
    rejects.append({"row": 0, "id": rows[0]["id"], "stage": "entity_swap", "kind": schema.SKIPPED,
                    "reason": "no entity to swap"})
    rejects.append({"row": 20, "id": None, "stage": None, "kind": schema.INVALID, "reason": "title is missing"})
    for reject in rejects:
        reject["source"] = "news.jsonl"
    out = OutputDir(tmp_path / "out")
    out.start({"fake": True})
    out.write_shard(0, schema.to_table(records), schema.to_table(rejects, schema.REJECT_SCHEMA))
    out.merge_rejects()
    out.finish({"format": "datafactory-manifest/1", "status": "complete", "name": "fake-generated",
                "totals": {"rows": len(records)}}, "# fake\n")
    return out.root


@pytest.fixture
def reference(tmp_path) -> Path:
    """Real news with the body under another column name."""
    rows = [{"id": r["id"], "headline": r["title"], "body": r["text"]} for r in sample_rows()[20:60]]
    return write_jsonl(tmp_path / "reference.jsonl", rows)


def test_perplexity_ignores_padding_and_truncates_to_the_context(oracle):
    texts = [row["text"] for row in sample_rows()[:6]] + ["Short one.", "A bit longer, but still short."]
    one = oracle_perplexity(texts, str(oracle), batch_size=1)
    four = oracle_perplexity(texts, str(oracle), batch_size=4)
    assert four["perplexity"] == pytest.approx(one["perplexity"], rel=1e-4)
    assert four["tokens"] == one["tokens"]
    assert one["truncated"] > 0  # sample bodies are longer than 96 tokens
    assert 1 < one["perplexity"] < 10 * 400  # a random model: around the vocabulary size


def test_evaluate_generation_writes_the_report(built, reference, oracle):
    ref_cfg = InputConfig(path=reference, columns={"title": "headline", "text": "body"}, required=["text"])
    report = evaluate_generation(built, ref_cfg, oracle=str(oracle))

    assert report["samples"] == {"generated": GENERATED, "generated_total": GENERATED, "reference": 40}
    rejection = report["rejection"]
    assert rejection["rejected"] == SKIPPED + FAILED
    assert rejection["generated_parents"] == GENERATED
    assert rejection["rate"] == (SKIPPED + FAILED) / (SKIPPED + FAILED + GENERATED)  # 8 / 20
    assert rejection["by_kind"] == {"error": FAILED, "skipped": SKIPPED}
    assert rejection["top_reasons"] == [{"reason": "title too short", "count": SKIPPED},
                                        {"reason": "RuntimeError: out of memory", "count": FAILED}]

    metrics = report["metrics"]
    assert set(metrics) == {"distinct_1", "distinct_2", "distinct_3", "self_bleu", "length_words_mean",
                            "length_words_median", "length_words_min", "length_words_max", "length_words_p10",
                            "length_words_p90", "oracle_perplexity"}
    assert metrics["distinct_2"]["generated"] < metrics["distinct_2"]["reference"]
    assert metrics["self_bleu"]["generated"] > 0.9 > metrics["self_bleu"]["reference"]
    assert metrics["length_words_mean"]["generated"] == len(_generated_body(0).split())
    assert all(0 < metrics["oracle_perplexity"][side] < math.inf for side in ("generated", "reference"))
    assert report["generator_logprob_mean"] == pytest.approx(-2.0 - (GENERATED - 1) / 2)

    written = json.loads((built / "eval" / "generation.json").read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(report))
    markdown = (built / "eval" / "generation.md").read_text(encoding="utf-8")
    assert "| metric" in markdown and "| self_bleu" in markdown and "| oracle_perplexity" in markdown
    assert "rejection rate 40.0%" in markdown and "| title too short | 5 |" in markdown

    # --max-samples takes the first N of each side; the rejection rate still covers the whole build.
    capped = evaluate_generation(built, ref_cfg, max_samples=5)
    assert capped["samples"] == {"generated": 5, "generated_total": GENERATED, "reference": 5}
    assert capped["rejection"]["rate"] == report["rejection"]["rate"]
    assert "oracle_perplexity" not in capped["metrics"]


def test_cli_prints_the_table_and_writes_the_files(built, reference, oracle):
    result = CliRunner().invoke(app, ["eval-generation", str(built), "--reference", str(reference),
                                      "--columns", "text=body,title=headline", "--oracle", str(oracle),
                                      "--max-samples", "8"])
    assert result.exit_code == 0, result.output
    assert "| metric" in result.output and "| distinct_1" in result.output and "| oracle_perplexity" in result.output
    assert "rejection rate 40.0%" in result.output
    assert (built / "eval" / "generation.json").is_file() and (built / "eval" / "generation.md").is_file()
    assert json.loads((built / "eval" / "generation.json").read_text())["samples"]["generated"] == 8


def test_help_has_an_example():
    result = CliRunner().invoke(app, ["eval-generation", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_errors_say_what_is_wrong(tmp_path, built, reference):
    ref_cfg = InputConfig(path=reference, columns={"text": "body"}, required=["text"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotADatasetError, match="no manifest.json"):
        evaluate_generation(tmp_path / "empty", ref_cfg)
    with pytest.raises(NoGeneratedRowsError, match=r"'repurpose_image'.*entity_swap\+generate_article \(12\).*none \(20\)"):
        evaluate_generation(built, ref_cfg, stage="repurpose_image")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        evaluate_generation(built, ref_cfg, oracle=str(tmp_path / "no-such-model"))

    runner = CliRunner()
    missing_oracle = runner.invoke(app, ["eval-generation", str(built), "-r", str(reference), "-c", "text=body",
                                         "--oracle", "./no-such-model"])
    assert missing_oracle.exit_code == 2 and "error[E103]" in missing_oracle.output
    no_rows = runner.invoke(app, ["eval-generation", str(built), "-r", str(reference), "-c", "text=body",
                                  "--stage", "repurpose_image"])
    assert no_rows.exit_code == 1 and "error[E301]" in no_rows.output
    bad_columns = runner.invoke(app, ["eval-generation", str(built), "-r", str(reference), "-c", "body"])
    assert bad_columns.exit_code == 2 and "FIELD=COLUMN" in bad_columns.output
    no_reference = runner.invoke(app, ["eval-generation", str(built), "-r", str(tmp_path / "nope.jsonl")])
    assert no_reference.exit_code == 2 and "does not exist" in no_reference.output


# -- judge, guiding discriminator and cost per token ---------------------------------------------


def _topic_rows(category: str) -> list[dict]:
    return [r for r in sample_rows() if r["category"] == category]


@pytest.fixture(scope="module")
def topic_judge(tmp_path_factory) -> Path:
    """A sports-vs-politics TF-IDF detector trained on every body of the two categories, so it
    classifies each of them correctly: the target accuracy of any mix of them is known."""
    from detectors.tfidf import TfidfDetector

    rows = _topic_rows("sports") + _topic_rows("politics")
    detector = TfidfDetector().fit([r["text"] for r in rows], [r["category"] for r in rows], label="category")
    assert detector.card["training_accuracy"] == 1.0
    return detector.save(tmp_path_factory.mktemp("judges") / "topics")


RUN_STATS = {"rows": 8, "tokens": 400, "seconds": 2.0, "lm_forwards": 1200, "discriminator_calls": 300}


def write_guided_build(root: Path, *, guide: str, run_stats: dict | None = RUN_STATS,
                       models: list[dict] | None = None) -> Path:
    """8 generated bodies, 6 of them sports stories and 2 politics ones, each with a guiding
    discriminator score; its manifest names ``guide`` as the generate stage's discriminator, in
    a config at ROOT/config/pipeline.yaml, and carries ``run_stats``."""
    bodies = [r["text"] for r in _topic_rows("sports")[:6] + _topic_rows("politics")[:2]]
    records = []
    for index, (row, body) in enumerate(zip(sample_rows()[100:108], bodies)):
        real = schema.real_record(id=row["id"], dataset="sample_news", title=row["title"], text=row["text"])
        records += [real, {**real, "id": f"{row['id']}:{STAGE}", "falsified": True, "text": body,
                           "manipulations": [STAGE], "scores": {**schema.empty_scores(), "discriminator": index / 10}}]
    out = OutputDir(root)
    out.start({"fake": True})
    out.write_shard(0, schema.to_table(records), schema.to_table([], schema.REJECT_SCHEMA))
    out.merge_rejects()
    stage_entry = {"name": STAGE, "version": "3", "models": models or []}
    if run_stats is not None:
        stage_entry["run_stats"] = run_stats
    out.finish({"format": "datafactory-manifest/1", "status": "complete", "name": "guided",
                "config_source": str(root.parent / "config" / "pipeline.yaml"),
                "config": {"stages": [{"stage": STAGE, "model": "/models/generator", "discriminator": guide,
                                       "target_class": "sports"}]},
                "stages": [stage_entry]}, "# fake\n")
    return root


@pytest.fixture
def topic_reference(tmp_path) -> InputConfig:
    """2 sports bodies and 6 politics ones."""
    rows = _topic_rows("sports")[-2:] + _topic_rows("politics")[-6:]
    return InputConfig(path=write_jsonl(tmp_path / "topic-reference.jsonl", rows), required=["text"])


def test_judge_target_accuracy_on_known_texts_and_cost_per_token(tmp_path, topic_judge, topic_reference):
    from pipelines.generation.discriminators import load_classifier

    build = write_guided_build(tmp_path / "out", guide="/models/another-discriminator")
    report = evaluate_generation(build, topic_reference, judge=str(topic_judge), target="Sports")
    assert report["format"] == "datafactory-generation-eval/2"
    metrics = report["metrics"]
    assert metrics["target_accuracy"] == {"generated": 6 / 8, "reference": 2 / 8}
    judge = load_classifier(str(topic_judge), "sports")
    generated = [r["text"] for r in _topic_rows("sports")[:6] + _topic_rows("politics")[:2]]
    assert metrics["judge_target_probability"]["generated"] == pytest.approx(float(judge.score(generated).mean()))
    assert 0.5 < metrics["judge_target_probability"]["generated"] < 1
    assert report["judge"]["judge_is_guide"] is False and report["judge"]["guide"] is None
    assert report["judge"]["target"] == "sports" and report["judge"]["kind"] == "sklearn"
    assert report["judge"]["classes"] == ["politics", "sports"] and report["judge"]["path"] == str(topic_judge)
    assert report["discriminator_score_mean"] == pytest.approx(sum(range(8)) / 80)
    assert report["speed"] == {"seconds_per_token": 2.0 / 400, "lm_forwards_per_token": 3.0,
                               "discriminator_calls_per_token": 0.75, "rows": 8, "tokens": 400, "seconds": 2.0,
                               "partial": False}

    markdown = (build / "eval" / "generation.md").read_text(encoding="utf-8")
    assert "| target_accuracy" in markdown and "0.7500 |" in markdown and "0.2500 |" in markdown
    assert "| discriminator_score_mean" in markdown and "target class `sports`" in markdown
    assert "## Cost per generated token" in markdown and "| seconds | 0.005 |" in markdown
    assert "| LM forward passes | 3 |" in markdown and "Warning" not in markdown
    assert json.loads((build / "eval" / "generation.json").read_text())["metrics"]["target_accuracy"] == \
        {"generated": 0.75, "reference": 0.25}


def test_a_judge_that_guided_the_build_is_flagged(tmp_path, topic_judge, topic_reference):
    import shutil

    # The config (ROOT/config/pipeline.yaml) named the judge by a path relative to itself.
    shutil.copytree(topic_judge, tmp_path / "judges" / "topics")
    relative = write_guided_build(tmp_path / "out", guide="../judges/topics")
    result = CliRunner().invoke(app, ["eval-generation", str(relative), "-r", str(topic_reference.path),
                                      "--judge", str(tmp_path / "judges" / "topics"), "--target", "sports"])
    assert result.exit_code == 0, result.output
    assert "is the discriminator that guided generate_article (same path)" in stderr_of(result)
    assert "**Warning: the judge is the discriminator that guided" in result.output
    report = json.loads((relative / "eval" / "generation.json").read_text())
    assert report["judge"]["judge_is_guide"] is True
    assert report["judge"]["guide"] == {"stage": STAGE, "discriminator": "../judges/topics", "by": "path"}

    # A copy elsewhere is still the same model: the manifest's model versions tell.
    from pipelines.generation.discriminators import load_classifier

    version = load_classifier(str(topic_judge), "sports").info()["version"]
    (tmp_path / "elsewhere").mkdir()
    copied = write_guided_build(tmp_path / "elsewhere" / "out", guide="/models/guide",
                                models=[{"name": "/models/guide", "version": version, "kind": "sklearn"}])
    report = evaluate_generation(copied, topic_reference, judge=str(topic_judge), target="sports")
    assert report["judge"]["guide"] == {"stage": STAGE, "discriminator": "/models/guide", "by": "version"}


def test_cost_per_token_is_null_without_run_stats_and_marked_after_a_resume(tmp_path, built, reference,
                                                                             topic_reference):
    ref_cfg = InputConfig(path=reference, columns={"text": "body"}, required=["text"])
    report = evaluate_generation(built, ref_cfg)
    assert report["speed"]["seconds_per_token"] is None and report["speed"]["lm_forwards_per_token"] is None
    assert report["judge"] is None and report["discriminator_score_mean"] is None
    markdown = (built / "eval" / "generation.md").read_text(encoding="utf-8")
    assert "Cost per generated token" not in markdown and "judge: none" in markdown

    resumed = write_guided_build(tmp_path / "resumed", guide="/models/guide",
                                 run_stats={**RUN_STATS, "tokens": 100, "resumed": True})
    report = evaluate_generation(resumed, topic_reference)
    assert report["speed"]["seconds_per_token"] == 0.02 and report["speed"]["partial"] is True
    assert "after a resume" in (resumed / "eval" / "generation.md").read_text(encoding="utf-8")


def stderr_of(result) -> str:
    try:
        return result.stderr
    except ValueError:  # a runner that mixes the streams
        return result.output


def test_judge_options_say_what_is_wrong(tmp_path, topic_judge, topic_reference):
    build = write_guided_build(tmp_path / "out", guide="/models/guide")
    runner = CliRunner()
    base = ["eval-generation", str(build), "-r", str(topic_reference.path)]
    no_judge = runner.invoke(app, base + ["--target", "sports"])
    assert no_judge.exit_code == 2 and "error[E100]" in no_judge.output and "no --judge" in no_judge.output
    no_target = runner.invoke(app, base + ["--judge", str(topic_judge)])
    assert no_target.exit_code == 2 and "needs --target" in no_target.output and "politics, sports" in no_target.output
    unknown = runner.invoke(app, base + ["--judge", str(topic_judge), "--target", "weather"])
    assert unknown.exit_code == 2 and "error[E104]" in unknown.output and "0=politics, 1=sports" in unknown.output
    missing = runner.invoke(app, base + ["--judge", str(tmp_path / "nope"), "--target", "sports"])
    assert missing.exit_code == 2 and "error[E103]" in missing.output and "--judge" in missing.output
