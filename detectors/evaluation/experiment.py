"""Does factory data help? Arms compared on K story-grouped splits, with a control arm.

For each of K splits of the base data's stories (the same splits for every arm), every arm
(see :mod:`detectors.evaluation.experiment_config`) trains the same detector on the base
training stories plus its factory rows, and is scored on the base's held-out stories (``in
domain``) and on every outside test set. Factory rows whose parent story is held out in the
split are left out of it (the split's leak guard; the others are in
:mod:`detectors.evaluation.experiment_data`). Scores are given as mean ± sd over splits;
every arm is compared with the baseline and with the control by the mean paired difference,
its paired-bootstrap interval and wins k/K. Example::

    from detectors.evaluation.experiment import run_experiment
    from detectors.evaluation.experiment_config import load_experiment

    result = run_experiment(load_experiment("experiment.yaml"))
    result["comparisons"]["in_domain"]["base"]["augmented"]["roc_auc"]   # {difference, low, high, wins, splits}

The same config and seed give the same numbers.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np

from datafactory.errors import NotEnoughDataError
from datafactory.model_store import versions
from detectors.base import detector_class
from detectors.evaluation.experiment_arms import arm_rows, cap_rows
from detectors.evaluation.experiment_config import BASELINE, CONTROL, ExperimentConfig
from detectors.evaluation.experiment_data import load_datasets
from detectors.evaluation.paired import METRICS, compare, paired_bootstrap, weighted_scores
from detectors.evaluation.verdict import verdicts
from detectors.splits import split_by_story
from detectors.train import grouped_split, pick

FORMAT = "datafactory-experiment/1"
IN_DOMAIN = "in_domain"
MIN_STORIES = 5


def split_seed(seed: int, *parts: int) -> int:
    """A seed per split (and per draw within it) that does not overlap the next run's seeds."""
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0])


def _concat(datasets: list[Any]) -> dict[str, Any]:
    texts, labels, stories = [], [], []
    for data in datasets:
        texts += data.rows.texts
        labels += data.rows.labels
        stories += data.stories
    return {"texts": texts, "labels": np.asarray(labels), "stories": stories}


def _scored(detector: Any, texts: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(predicted falsified, probability of falsified) per row."""
    classes = [str(c) for c in detector.classes_]
    proba = np.asarray(detector.predict_proba(texts), dtype=np.float64)
    predicted = np.asarray([classes[i] == "falsified" for i in proba.argmax(axis=1)], dtype=bool)
    return predicted, proba[:, classes.index("falsified")]


def run_experiment(config: ExperimentConfig, *, source: str = "experiment",
                   log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every arm on every split; returns the result that
    :func:`detectors.evaluation.experiment_report.write_report` writes (every number, the
    config, versions and the sha256 of each input)."""
    started = time.perf_counter()
    say = log or (lambda _line: None)
    kind = detector_class(config.detector.kind, source=source, field="detector.kind")
    kind.check_model(config.detector.model, source=source)
    loaded = load_datasets(config, source)
    base, factory = _concat(loaded["base"]), _concat(loaded["factory"])
    factory["real"] = factory["labels"] == "real"
    tests = {IN_DOMAIN: None, **{d.name: d for d in loaded["test"]}}
    counts = Counter(base["labels"].tolist())
    if len(counts) < 2 or len(set(base["stories"])) < MIN_STORIES:
        raise NotEnoughDataError(f"{source}: the base data has {len(base['labels'])} usable rows, classes "
                                 f"{dict(counts)}, {len(set(base['stories']))} stories; an experiment needs both "
                                 "classes and enough stories to hold some out. Add base data or check its labels")
    arms = config.arm_names()
    fractions = (1 - config.splits.test_fraction, 0.0, config.splits.test_fraction)
    per_split: dict[str, dict[str, list[dict[str, Any]]]] = {t: {a: [] for a in arms} for t in tests}
    boot_input: dict[str, list[dict[str, Any]]] = {t: [] for t in tests}
    splits, train_rows = [], {a: [] for a in arms}
    options = dict(config.detector.options)
    if getattr(kind, "caches_tokens", False):
        options["token_cache"] = {}  # one for every arm and split: the test sets are tokenised once
    for k in range(config.splits.repeats):
        seed_k = split_seed(config.seed, k)
        train_idx, _, test_idx = split_by_story(base["stories"], fractions, seed_k)
        held = {base["stories"][i] for i in test_idx}
        allowed = np.array([s not in held for s in factory["stories"]], dtype=bool)
        splits.append({"seed": seed_k, "base_train_rows": len(train_idx), "base_test_rows": len(test_idx),
                       "guard_factory_in_split_test": int((~allowed).sum())})
        truth = {IN_DOMAIN: base["labels"][test_idx] == "falsified",
                 **{n: d.labels == "falsified" for n, d in tests.items() if d is not None}}
        texts = {IN_DOMAIN: pick(base["texts"], test_idx), **{n: d.rows.texts for n, d in tests.items() if d}}
        for name in tests:
            boot_input[name].append({"truth": truth[name]})
        for a, arm in enumerate(arms):
            rows = arm_rows(arm, config, base, factory, train_idx, allowed, split_seed(config.seed, k, a, 1))
            rows = cap_rows(rows, config.max_train_rows, split_seed(config.seed, k, a, 2))
            fit_texts = [*pick(base["texts"], rows["base"]), *pick(factory["texts"], rows["factory"])]
            fit_labels = [*base["labels"][rows["base"]].tolist(), *factory["labels"][rows["factory"]].tolist()]
            fit_stories = [*pick(base["stories"], rows["base"]), *pick(factory["stories"], rows["factory"])]
            if len(set(fit_labels)) < 2:
                raise NotEnoughDataError(f"{source}: arm {arm!r}, split {k + 1}: the training rows hold only "
                                         f"{dict(Counter(fit_labels)) or 'no rows'}; a detector needs both classes. "
                                         "Check the builds' labels or drop the arm")
            val_pos = np.array([], dtype=int)
            fit_pos = np.arange(len(fit_labels))
            if kind.early_stopping and config.splits.val_fraction > 0:
                fit_pos, val_pos = grouped_split(fit_stories, config.splits.val_fraction, seed_k)
            detector = kind.train(pick(fit_texts, fit_pos), pick(fit_labels, fit_pos), pick(fit_texts, val_pos),
                                  pick(fit_labels, val_pos), model=config.detector.model, field=config.field,
                                  label="falsified", min_df=config.detector.min_df, seed=seed_k, options=options)
            train_rows[arm].append({"rows": len(fit_labels), **{c: int(n) for c, n in
                                                                 sorted(Counter(fit_labels).items())}})
            for name in tests:
                predicted, score = _scored(detector, texts[name])
                boot_input[name][k][arm] = (predicted, score)
                scored = weighted_scores(np.ones((1, len(score))), truth[name], predicted, score)
                per_split[name][arm].append({m: _number(scored[m][0]) for m in METRICS} |
                                            {"confusion": scored["confusion"][0].astype(int).tolist(),
                                             "n_test": len(score)})
            say(f"split {k + 1}/{config.splits.repeats}, arm {arm}: {len(fit_labels)} training rows")
    results, comparisons = {}, {}
    references = [r for r in (BASELINE, CONTROL) if r in arms]
    for name in tests:
        results[name] = {arm: summarise(per_split[name][arm]) for arm in arms}
        resampled = paired_bootstrap(boot_input[name], arms, config.bootstrap, split_seed(config.seed, 999_983))
        comparisons[name] = {
            reference: {arm: {metric: compare({a: [s[metric] for s in per_split[name][a]] for a in arms},
                                              {a: resampled[a][metric] for a in arms}, arm, reference,
                                              config.confidence)
                              for metric in METRICS}
                        for arm in arms if arm != reference}
            for reference in references}
    result = {
        "format": FORMAT, "name": config.name, "config": config.model_dump(mode="json"), "versions": versions(),
        "detector": config.detector.kind, "field": config.field, "arms": arms, "tests": list(tests),
        "inputs": {d.name: d.summary() for role in ("base", "factory", "test") for d in loaded[role]},
        "guards": _guards(loaded, splits), "splits": splits,
        "train_rows": {arm: _train_summary(rows) for arm, rows in train_rows.items()},
        "results": results, "comparisons": comparisons,
    }
    result["verdicts"] = verdicts(result, config.confidence)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _number(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and sd (ddof 1; 0 with one split) over splits of each score and of the confusion
    matrix ``[[real→real, real→falsified], [falsified→real, falsified→falsified]]``."""
    out: dict[str, Any] = {}
    for metric in METRICS:
        values = [r[metric] for r in rows]
        found = np.array([v for v in values if v is not None], dtype=float)
        out[metric] = {"mean": float(found.mean()) if len(found) else None,
                       "sd": float(found.std(ddof=1)) if len(found) > 1 else (0.0 if len(found) else None),
                       "per_split": values}
    confusion = np.array([r["confusion"] for r in rows], dtype=float)
    out["confusion"] = {"mean": confusion.mean(axis=0).reshape(2, 2).round(2).tolist(),
                        "sd": (confusion.std(axis=0, ddof=1) if len(rows) > 1 else confusion[0] * 0).reshape(2, 2)
                        .round(2).tolist(), "rows": "truth real, falsified", "columns": "predicted real, falsified"}
    out["n_test"] = [r["n_test"] for r in rows]
    return out


def _train_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts = np.array([r["rows"] for r in rows], dtype=float)
    return {"mean": float(counts.mean()), "per_split": rows}


def _guards(loaded: dict[str, list[Any]], splits: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows each leak guard removed: the outside-test guards once, the split guard per split."""
    def total(role: str) -> int:
        return sum(n for d in loaded[role] for reason, n in d.dropped.items() if reason.startswith("guard"))

    per_split = [s["guard_factory_in_split_test"] for s in splits]
    return {"base_rows_in_test_sets": total("base"), "factory_rows_in_test_sets": total("factory"),
            "factory_rows_in_split_test": {"per_split": per_split,
                                           "mean": float(np.mean(per_split)) if per_split else 0.0}}


def output_folder(config: ExperimentConfig, output: str | Path | None) -> Path:
    """``output`` if given, else the config's; one of them is needed."""
    from datafactory.errors import ConfigError

    folder = output if output is not None else config.output
    if folder is None:
        raise ConfigError(config.name or "experiment", "output", "no output folder",
                          "Add output: DIR to the experiment file or pass --output DIR")
    return Path(folder).expanduser()
