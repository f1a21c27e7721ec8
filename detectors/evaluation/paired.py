"""Scores of predictions under row weights, and paired comparisons of two arms over K splits.

One function scores many weightings at once (a row of ``weights`` each): all ones gives the
plain scores; bootstrap resamples give row counts. The scores match :mod:`detectors.metrics`
for real / falsified: accuracy, macro-F1 over the classes present in truth or prediction,
ROC AUC of ``falsified`` (ties count a half; NaN with one class), and the share of rows
predicted falsified. Example::

    scored = weighted_scores(np.ones((1, 4)), truth=[0, 1, 1, 0], predicted=[0, 1, 0, 0],
                             score=[0.1, 0.9, 0.4, 0.3])
    scored["accuracy"]   # array([0.75])

:func:`paired_bootstrap` resamples splits, then rows within each drawn split, the same draws
for both arms (paired), and returns the resampled differences of the mean over splits.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

METRICS = ("accuracy", "macro_f1", "roc_auc", "share_falsified")
TITLES = {"accuracy": "Accuracy", "macro_f1": "Macro F1", "roc_auc": "ROC AUC",
          "share_falsified": "Share predicted falsified"}
#: Weight rows scored at once in the bootstrap: bounds memory on large test sets.
_CHUNK = 512


def weighted_scores(weights: np.ndarray, truth: Sequence[int], predicted: Sequence[int],
                    score: Sequence[float]) -> dict[str, np.ndarray]:
    """``weights``: ``[m, n]`` row weights; ``truth``, ``predicted``: 1 for falsified, 0 for
    real; ``score``: the probability of falsified. Returns ``{metric: [m] values}``."""
    w = np.asarray(weights, dtype=np.float64)
    truth, predicted = np.asarray(truth, dtype=bool), np.asarray(predicted, dtype=bool)
    total = w.sum(axis=1)
    tp, fp = w @ (truth & predicted), w @ (~truth & predicted)
    fn, tn = w @ (truth & ~predicted), w @ (~truth & ~predicted)
    f1 = []
    for hit, false_pos, false_neg in ((tp, fp, fn), (tn, fn, fp)):  # falsified, then real
        denominator = 2 * hit + false_pos + false_neg
        with np.errstate(invalid="ignore", divide="ignore"):
            f1.append(np.where(denominator > 0, 2 * hit / np.where(denominator > 0, denominator, 1), np.nan))
    present = np.stack([~np.isnan(v) for v in f1])
    macro = np.where(present.any(axis=0), np.nansum(np.stack(f1), axis=0) / np.maximum(present.sum(axis=0), 1), 0.0)
    return {"accuracy": (tp + tn) / total, "macro_f1": macro, "roc_auc": _auc(w, truth, np.asarray(score, float)),
            "share_falsified": (tp + fp) / total, "confusion": np.stack([tn, fp, fn, tp], axis=1)}


def _auc(w: np.ndarray, truth: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUC: for each positive, the weight of negatives scored below it
    plus half of those tied with it, over all positive x negative weight."""
    order = np.argsort(score, kind="stable")
    ranked = score[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    positive = np.add.reduceat(w[:, order] * truth[order], starts, axis=1)
    negative = np.add.reduceat(w[:, order] * ~truth[order], starts, axis=1)
    below = np.cumsum(negative, axis=1) - negative
    pairs = positive.sum(axis=1) * negative.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, (positive * (below + 0.5 * negative)).sum(axis=1) / np.where(pairs > 0, pairs, 1),
                        np.nan)


def resample_weights(rng: np.random.Generator, rows: int, draws: int) -> np.ndarray:
    """``[draws, rows]`` counts of each row in a bootstrap sample of ``rows`` rows."""
    picks = rng.integers(0, rows, size=(draws, rows)) + rows * np.arange(draws)[:, None]
    return np.bincount(picks.ravel(), minlength=draws * rows).reshape(draws, rows).astype(np.float64)


def paired_bootstrap(splits: Sequence[dict[str, np.ndarray]], arms: Sequence[str], resamples: int,
                     seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Resampled mean-over-splits scores of every arm, with paired draws.

    ``splits``: per split, ``{"truth": [n], arm: (predicted [n], score [n]) ...}``. Each
    resample draws K splits with replacement and, for each drawn split, its rows with
    replacement; every arm is scored on the same draws. Returns ``{arm: {metric: [resamples]}}``;
    the difference of two arms' arrays is the paired bootstrap of their difference."""
    rng = np.random.default_rng(seed)
    k = len(splits)
    drawn = rng.integers(0, k, size=(resamples, k))  # which split fills slot j of resample b
    values = {arm: {m: np.zeros((resamples, k)) for m in METRICS} for arm in arms}
    for index, split in enumerate(splits):
        slots = np.argwhere(drawn == index)
        truth = split["truth"]
        for start in range(0, len(slots), _CHUNK):
            chunk = slots[start:start + _CHUNK]
            weights = resample_weights(rng, len(truth), len(chunk))
            for arm in arms:
                predicted, score = split[arm]
                scored = weighted_scores(weights, truth, predicted, score)
                for metric in METRICS:
                    values[arm][metric][chunk[:, 0], chunk[:, 1]] = scored[metric]
    with warnings.catch_warnings():  # a resample whose every split has one class has no AUC: NaN, said so
        warnings.simplefilter("ignore", RuntimeWarning)
        return {arm: {m: np.nanmean(v, axis=1) for m, v in by_metric.items()} for arm, by_metric in values.items()}


def compare(per_split: dict[str, Sequence[float | None]], resampled: dict[str, np.ndarray], arm: str,
            reference: str, confidence: float) -> dict[str, float | int | None]:
    """``arm`` against ``reference`` on one metric: the mean of the per-split differences, its
    paired-bootstrap interval, and in how many of the K splits ``arm`` scored higher."""
    a = np.array([np.nan if v is None else v for v in per_split[arm]], dtype=float)
    b = np.array([np.nan if v is None else v for v in per_split[reference]], dtype=float)
    differences = a - b
    if np.isnan(differences).all():
        return {"difference": None, "low": None, "high": None, "wins": 0, "splits": len(differences)}
    boot = resampled[arm] - resampled[reference]
    boot = boot[~np.isnan(boot)]
    tail = (1 - confidence) / 2
    low, high = (np.quantile(boot, [tail, 1 - tail]) if len(boot) else (np.nan, np.nan))
    return {"difference": float(np.nanmean(differences)), "low": float(low), "high": float(high),
            "wins": int(np.nansum(differences > 0)), "splits": int((~np.isnan(differences)).sum())}
