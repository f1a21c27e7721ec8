"""Entity-bias audit: counts, Wilson intervals and the extreme flag on a constructed corpus
tagged by the real en_core_web_sm pipeline, and the audit command end to end on a build."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from conftest import SPACY_MODEL, sample_rows, write_config, write_jsonl
from datafactory.cli import app
from detectors.evaluation.audit import ExtremeRule, entity_bias, normalise, wilson_interval

# Hong Kong: 18 of 20 falsified; Huawei: 0 of 20; Germany: 10 of 20 (the base rate is 28/60).
HK = ["Officials in Hong Kong announced new trade rules on Monday.",
      "Hong Kong police said Hong Kong protests were planned."]  # twice in one item: counted once
HUAWEI = ["Huawei released a new phone on Tuesday, analysts said.", "A spokesman for Huawei declined to comment."]
GERMANY = ["Germany raised its forecast for growth, the ministry said.", "Farmers in Germany protested against fuel costs."]


def corpus() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for templates, n_fake in ((HK, 18), (HUAWEI, 0), (GERMANY, 10)):
        for i in range(20):
            texts.append(templates[i % 2])
            labels.append("falsified" if i < n_fake else "real")
    texts += ["Reporters in Paris said a storm hit the coast."] * 3  # below min_count
    labels += ["real"] * 3
    return texts, labels


@pytest.fixture(scope="module")
def stats():
    texts, labels = corpus()
    return {s.entity: s for s in entity_bias(texts, labels, nlp=SPACY_MODEL, min_count=5)}


def test_skewed_entities_are_flagged_and_the_neutral_one_is_not(stats):
    hk, huawei, germany = stats["Hong Kong"], stats["Huawei"], stats["Germany"]
    assert (hk.label, hk.items, hk.positive, hk.extreme, hk.direction) == ("GPE", 20, 18, True, "above")
    assert (huawei.label, huawei.positive, huawei.extreme, huawei.direction) == ("ORG", 0, True, "below")
    assert germany.share == 0.5 and not germany.extreme and germany.direction is None
    assert hk.base_rate == pytest.approx(28 / 63)


def test_an_entity_is_counted_once_per_item(stats):
    # Half the Hong Kong items name it twice; still 20 items, not 30.
    assert stats["Hong Kong"].items == 20


def test_min_count_leaves_rare_entities_out(stats):
    assert "Paris" not in stats
    texts, labels = corpus()
    assert "Paris" in {s.entity for s in entity_bias(texts, labels, nlp=SPACY_MODEL, min_count=3)}


def test_sorted_by_items_then_name(stats):
    assert list(stats) == ["Germany", "Hong Kong", "Huawei"]


def test_wilson_interval_matches_the_formula():
    k, n, z = 18, 20, 1.959963984540054
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert wilson_interval(k, n) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(18, 20) == pytest.approx((0.6990, 0.9721), abs=1e-4)  # published value
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(7, 7)[1] == 1.0  # exact: the plot's whiskers
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_the_rule_needs_both_a_confident_and_a_large_difference():
    rule = ExtremeRule()
    assert rule.direction(0.52, 0.515, 0.525, 0.5) is None  # confident but small
    assert rule.direction(1.0, 0.34, 1.0, 0.5) is None  # large but 2 of 2: the interval holds 0.5
    assert rule.direction(0.85, 0.7, 0.95, 0.5) == "above"  # 35 points from the base rate
    assert rule.direction(0.05, 0.01, 0.2, 0.3) == "below"  # <= 10%
    assert ExtremeRule(gap=0.5).direction(0.85, 0.7, 0.95, 0.5) is None


def test_normalise():
    assert normalise("the  Hong\nKong's") == "Hong Kong"


# -- end to end -------------------------------------------------------------------------------


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_audit_a_build_end_to_end(tmp_path):
    from PIL import Image

    rows = write_jsonl(tmp_path / "news.jsonl", sample_rows()[:80])
    config = write_config(tmp_path, input_path=rows, emit_real=True)
    assert _invoke("build", config, "--no-progress").exit_code == 0
    out = tmp_path / "out"
    result = _invoke("audit", out, "--field", "title", "--min-count", "2", "--top", "10")
    assert result.exit_code == 0, result.output
    assert "| entity | type | items | falsified share | 95% interval | flag |" in result.stdout
    audit = out / "eval" / "audit"
    for name in ("audit.csv", "audit.md", "audit.json", "audit.png"):
        assert f"wrote {audit / name}" in result.stdout
    report = json.loads((audit / "audit.json").read_text())
    assert report["model"] == SPACY_MODEL and report["positive"] == "falsified" and report["items"] > 100
    assert report["entity_count"] == len(report["entities"]) > 0
    assert "base rate" in (audit / "audit.md").read_text()
    assert len((audit / "audit.csv").read_text().splitlines()) == report["entity_count"] + 1
    with Image.open(audit / "audit.png") as image:
        assert image.format == "PNG" and image.size[0] > 500


def test_audit_a_file_with_a_positive_class(tmp_path):
    texts, labels = corpus()
    data = write_jsonl(tmp_path / "c.jsonl", [{"body": t, "verdict": "fake" if l == "falsified" else "true"}
                                              for t, l in zip(texts, labels)])
    result = _invoke("audit", data, "--columns", "text=body,label=verdict", "--positive", "fake",
                     "--model", SPACY_MODEL, "--output", tmp_path / "audit")
    assert result.exit_code == 0, result.output
    assert "| Huawei | ORG | 20 | 0% |" in result.stdout and "extreme (below)" in result.stdout
    assert (tmp_path / "audit" / "audit.png").is_file()


def test_a_file_needs_an_output_and_a_known_positive_class(tmp_path):
    data = write_jsonl(tmp_path / "c.jsonl", [{"text": "Huawei said so.", "label": "fake"}])
    result = _invoke("audit", data, "--model", SPACY_MODEL)
    assert result.exit_code == 2 and "error[E100]" in result.output and "--output" in result.output
    result = _invoke("audit", data, "--label", "label", "--model", SPACY_MODEL, "--output", tmp_path / "a",
                     "--positive", "nope")
    assert result.exit_code == 2 and "error[E104]" in result.output and "0=fake" in result.output


def test_help_has_an_example():
    result = _invoke("audit", "--help")
    assert result.exit_code == 0 and "datafactory audit out/quickstart --field title" in result.output
