"""The experiment's answer in words, from the paired intervals, for each arm and test set.

An arm is ``better`` / ``worse`` than a reference when the whole interval of the difference
is above / below zero, else ``unclear``. Judged on ROC AUC (macro-F1 where a test set has a
single class). The control decides where a gain comes from: an arm that beats the baseline
but not the control gains from the builds' extra real rows, not from their manipulations.
A shift of the predicted-falsified share is named too, since accuracy can rise while
macro-F1 falls when a detector predicts one class far more often.
"""

from __future__ import annotations

from typing import Any

from detectors.evaluation.experiment_config import BASELINE, CONTROL

#: A change of the share of rows predicted falsified worth naming (10 points).
SHARE_SHIFT = 0.10


def judge(comparison: dict[str, Any] | None) -> str | None:
    if comparison is None or comparison.get("difference") is None:
        return None
    if comparison["low"] > 0:
        return "better"
    if comparison["high"] < 0:
        return "worse"
    return "unclear"


def _metric(result: dict[str, Any], test: str) -> str:
    mean = result["results"][test][BASELINE]["roc_auc"]["mean"]
    return "roc_auc" if mean is not None else "macro_f1"


def verdicts(result: dict[str, Any], confidence: float) -> dict[str, list[dict[str, Any]]]:
    """``{test: [{arm, metric, vs_base, vs_control, text}, ...]}``."""
    out: dict[str, list[dict[str, Any]]] = {}
    pct = f"{confidence:.0%}"
    for test in result["tests"]:
        metric = _metric(result, test)
        by_ref = result["comparisons"][test]
        lines = []
        for arm in result["arms"]:
            if arm == BASELINE:
                continue
            to_base = by_ref.get(BASELINE, {}).get(arm, {}).get(metric)
            to_control = by_ref.get(CONTROL, {}).get(arm, {}).get(metric) if arm != CONTROL else None
            vs_base, vs_control = judge(to_base), judge(to_control)
            text = _sentence(arm, metric, to_base, to_control, vs_base, vs_control, pct, CONTROL in result["arms"])
            share = _share_shift(result, test, arm)
            if share:
                text += " " + share
            lines.append({"arm": arm, "metric": metric, "vs_base": vs_base, "vs_control": vs_control, "text": text})
        out[test] = lines
    return out


def _points(comparison: dict[str, Any]) -> str:
    return (f"{comparison['difference'] * 100:+.1f} points ({comparison['low'] * 100:+.1f} to "
            f"{comparison['high'] * 100:+.1f}), wins {comparison['wins']}/{comparison['splits']}")


def _sentence(arm: str, metric: str, to_base: Any, to_control: Any, vs_base: str | None, vs_control: str | None,
              pct: str, has_control: bool) -> str:
    name = {"roc_auc": "ROC AUC", "macro_f1": "macro-F1"}[metric]
    if vs_base is None:
        return f"{arm}: no {name} to compare."
    head = f"{arm} vs base: {name} {_points(to_base)}"
    if arm == CONTROL:
        meaning = {"better": "extra real rows alone help", "worse": "extra real rows alone hurt",
                   "unclear": "extra real rows alone make no clear difference"}[vs_base]
        return f"{head}; {meaning}."
    if vs_control is None:
        tail = "" if has_control else " (no control arm: a gain cannot be told apart from more real rows)"
        return f"{head}: {vs_base} at {pct}{tail}."
    vs = f"vs control: {_points(to_control)}"
    if vs_control == "better":
        meaning = "the manipulated rows help beyond the real rows the builds add"
    elif vs_control == "worse":
        meaning = "the manipulated rows cost against adding the builds' real rows alone"
    elif vs_base == "better":
        meaning = ("the gain over the baseline is no larger than the control's: it comes from the extra real "
                   "rows, not from the manipulations")
    else:
        meaning = "no clear difference from the baseline or the control"
    return f"{head}; {vs}: {meaning}."


def _share_shift(result: dict[str, Any], test: str, arm: str) -> str:
    base = result["results"][test][BASELINE]["share_falsified"]["mean"]
    mine = result["results"][test][arm]["share_falsified"]["mean"]
    if base is None or mine is None or abs(mine - base) < SHARE_SHIFT:
        return ""
    return f"It predicts falsified for {mine:.0%} of rows (baseline {base:.0%}): check macro-F1 and the confusion matrix."
