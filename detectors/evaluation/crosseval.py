"""Cross-dataset evaluation: train one detector per dataset, test each on every dataset.

Each dataset is split by story (:func:`detectors.splits.split_by_story`); a detector is
trained on each dataset's train split and scored on every dataset's *test* split. The
diagonal is a dataset's own held-out test split; off the diagonal the other dataset's test
split is used too, so every column is scored on the same rows. The validation split
stops the transformer detector's training early; TF-IDF and CLIP-feature detectors have
nothing to tune on it. ``detector="clip"`` reads each build's image–caption pairs.

Metrics per (trained on, tested on) cell, as :mod:`detectors.metrics` defines them:

- ``accuracy`` and ``macro_f1`` (F1 averaged over the classes present in truth or prediction);
- ``roc_auc`` of the positive class against the rest: ``"falsified"`` when the detector's
  classes are ``real`` / ``falsified``, otherwise the second of its classes in sorted order.
  It is ``None`` (NaN in the matrices) when the test split holds a single class.

Test labels are matched to the detector's classes by name; a test class the detector never
saw is an error that names it. Example::

    from detectors.evaluation.crosseval import cross_evaluate

    result = cross_evaluate(["out/a", "out/b"], output="out/crosseval")
    result["matrices"]["accuracy"]   # {"a": {"a": 0.93, "b": 0.61}, "b": {...}}

writes ``crosseval.csv`` (one row per cell), ``crosseval.md`` (a matrix per metric, rows =
trained on, columns = tested on), ``crosseval.json`` and ``crosseval.png`` (heatmaps).
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from datafactory.errors import ConfigError, NotEnoughDataError, OutputError
from detectors.base import detector_class
from detectors.data import FALSIFIED, LabelledData
from detectors.metrics import METRICS, evaluate, positive_class
from detectors.metrics import TITLES as METRIC_TITLES
from detectors.splits import DEFAULT_FRACTIONS, check_fractions, split_by_story
from detectors.train import dataset_names, pick

FILES = {"csv": "crosseval.csv", "md": "crosseval.md", "json": "crosseval.json", "png": "crosseval.png"}


def score(detector: Any, texts: list[Any], labels: list[str]) -> dict[str, Any]:
    """``n_test`` and the :mod:`detectors.metrics` scores (``roc_auc`` None with one class) of ``detector``."""
    return {"n_test": len(labels), **evaluate(detector, texts, labels)}


def _split(name: str, data: LabelledData, fractions: tuple[float, float, float], seed: int) -> dict[str, Any]:
    train, val, test = split_by_story(data.groups, fractions, seed)
    train_labels = pick(data.labels, train)
    if len(set(train_labels)) < 2 or not len(test):
        raise NotEnoughDataError(
            f"dataset {name!r}: {len(data.labels)} usable row(s) with classes {dict(Counter(data.labels)) or 'none'} "
            f"split into {len(train)} train (classes {sorted(set(train_labels))}) and {len(test)} test rows; "
            "cross-evaluation needs two classes to train on and a non-empty test split. Add rows or raise --max-rows")
    return {"train": train, "val": val, "test": test}


def cross_evaluate(
    datasets: Sequence[str | Path],
    *,
    output: str | Path,
    detector: str = "tfidf",
    field: str = "text",
    label: str = FALSIFIED,
    columns: dict[str, str] | None = None,
    seed: int = 0,
    max_rows: int | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    min_df: int = 1,
    model: str | None = None,
    detector_options: dict[str, Any] | None = None,
    repeats: int = 1,
) -> dict[str, Any]:
    """Train a ``detector`` on each dataset's train split and score it on every test split.

    ``repeats`` K > 1: K story splits (seeds ``seed`` .. ``seed + K - 1``); each cell then holds
    every metric's mean over them, with ``METRIC_sd``.

    ``datasets``: builds or labelled files (see :func:`detectors.data.load_labelled_data`;
    ``columns`` maps file columns); ``max_rows``: the first usable rows of each;
    ``fractions``: (train, val, test) shares of stories. Returns ``{"datasets": {name: {...}},
    "cells": [{train, test, n_test, accuracy, macro_f1, roc_auc}, ...], "matrices": {metric:
    {train: {test: value}}}, "files": {...}, ...}`` and writes the files named in ``files``.
    ``detector`` is a kind of :data:`datafactory.registry.detectors`; ``model`` and
    ``detector_options`` go to its ``train`` (see :class:`detectors.base.Detector`)."""
    kind = detector_class(detector, source="crosseval")
    fractions = check_fractions(fractions, "crosseval", "fractions")
    if not datasets:
        raise ConfigError("crosseval", "--datasets", "no dataset given", "Give one or more builds or labelled files")
    output = Path(output).expanduser()
    if output.exists() and not output.is_dir():
        raise OutputError(f"--output {output} is a file; give a folder for the cross-evaluation files")
    kind.check_model(model, source="crosseval")
    if repeats < 1:
        raise ConfigError("crosseval", "--repeats", f"{repeats} is not a number of splits", "Use 1 or more")

    names = dataset_names(datasets)
    loaded = {name: kind.read_rows(path, field=field, label=label, columns=columns, max_rows=max_rows,
                                   source="crosseval") for name, path in zip(names, datasets)}
    runs = []
    for k in range(repeats):  # split k uses seed + k: one repeat is the single split of earlier versions
        splits = {name: _split(name, data, fractions, seed + k) for name, data in loaded.items()}
        models, cells = _run(kind, loaded, splits, model=model, field=field, label=label, min_df=min_df,
                             seed=seed + k, detector_options=detector_options)
        runs.append(cells)
    cells = runs[0] if repeats == 1 else _mean_cells(runs)
    result = {
        "detector": detector, "field": field, "label": label, "seed": seed, "max_rows": max_rows,
        "fractions": list(fractions), "repeats": repeats,
        "datasets": {name: {"path": str(path), "rows": len(loaded[name].labels),
                            "rows_per_class": dict(sorted(Counter(loaded[name].labels).items())),
                            "skipped": dict(loaded[name].skipped),
                            "grouped_by": "parent_id" if any(loaded[name].groups) else None,
                            **{f"{side}_rows": len(idx) for side, idx in splits[name].items()},
                            "classes": [str(c) for c in models[name].classes_],
                            "positive_class": positive_class(models[name].classes_)}
                     for name, path in zip(names, datasets)},
        "cells": cells,
        "matrices": matrices(cells, names),
    }
    result["files"] = write_outputs(result, names, output)
    return result


def _run(kind: Any, loaded: dict[str, LabelledData], splits: dict[str, dict[str, Any]], *, model: str | None,
         field: str, label: str, min_df: int, seed: int,
         detector_options: dict[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One repeat: a detector per dataset, each scored on every test split."""
    # The validation split, kept aside for exactly this, stops a transformer's training early.
    models = {name: kind.train(pick(data.texts, splits[name]["train"]), pick(data.labels, splits[name]["train"]),
                               pick(data.texts, splits[name]["val"]), pick(data.labels, splits[name]["val"]),
                               model=model, field=field, label=label, min_df=min_df, seed=seed,
                               options=dict(detector_options or {}))
              for name, data in loaded.items()}
    cells = []
    for trained, model in models.items():
        known = {str(c) for c in model.classes_}
        for tested, data in loaded.items():
            test = splits[tested]["test"]
            labels = pick(data.labels, test)
            unknown = sorted(set(labels) - known)
            if unknown:
                raise ConfigError("crosseval", "--label", f"dataset {tested!r} has class(es) {unknown} that the "
                                  f"detector trained on {trained!r} does not know (its classes: {sorted(known)})",
                                  "Classes are matched by name: label every dataset with the same class names")
            cells.append({"train": trained, "test": tested, **score(model, pick(data.texts, test), labels)})
    return models, cells


def _mean_cells(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per (train, test) cell: each metric's mean over the repeats, its sd (``METRIC_sd``) and
    the repeats' values (``METRIC_runs``); ``n_test`` is the mean test split size."""
    import numpy as np

    cells = []
    for group in zip(*runs):
        cell: dict[str, Any] = {"train": group[0]["train"], "test": group[0]["test"],
                                "n_test": float(np.mean([c["n_test"] for c in group]))}
        for metric in METRICS:
            values = [c[metric] for c in group if c[metric] is not None]
            cell[metric] = float(np.mean(values)) if values else None
            cell[f"{metric}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
        cells.append(cell)
    return cells


def matrices(cells: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, dict[str, float | None]]]:
    """``{metric: {trained on: {tested on: value}}}`` in dataset order."""
    found = {(c["train"], c["test"]): c for c in cells}
    return {metric: {t: {s: found[t, s][metric] for s in names} for t in names} for metric in METRICS}


def markdown_matrix(matrix: dict[str, dict[str, float | None]], metric: str) -> str:
    """A Markdown table: rows = trained on, columns = tested on; the diagonal in bold."""
    names = list(matrix)
    lines = [f"| trained on \\ tested on | {' | '.join(names)} |", "|---" * (len(names) + 1) + "|"]
    for trained in names:
        values = []
        for tested in names:
            value = matrix[trained][tested]
            text = "n/a" if value is None or math.isnan(value) else f"{value:.3f}"
            values.append(f"**{text}**" if trained == tested else text)
        lines.append(f"| {trained} | {' | '.join(values)} |")
    return "\n".join(lines)


def write_outputs(result: dict[str, Any], names: list[str], output: Path) -> dict[str, str]:
    from datafactory.output import write_text_atomic
    from detectors.evaluation.heatmap import plot_matrices

    output.mkdir(parents=True, exist_ok=True)
    paths = {kind: output / name for kind, name in FILES.items()}
    with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
        sd = [f"{m}_sd" for m in METRICS] if result.get("repeats", 1) > 1 else []
        writer = csv.DictWriter(handle, fieldnames=["train", "test", "n_test", *METRICS, *sd])
        writer.writeheader()
        for cell in result["cells"]:
            writer.writerow({k: "" if v is None else v for k, v in cell.items()})
    sections = [f"# Cross-dataset evaluation: {result['detector']} on {result['field']} -> {result['label']}\n",
                "Rows: the dataset a detector was trained on; columns: the dataset whose test split it was "
                f"scored on (the diagonal, in bold, is held out). Splits by story, seed {result['seed']}, "
                f"fractions {result['fractions']}" + (f", mean of {result['repeats']} splits (seeds from {result['seed']}; sd in "
                "crosseval.csv)" if result.get("repeats", 1) > 1 else "") +
                ". ROC AUC is n/a where a test split has one class.\n"]
    for metric in METRICS:
        sections.append(f"## {METRIC_TITLES[metric]}\n\n{markdown_matrix(result['matrices'][metric], metric)}\n")
    write_text_atomic("\n".join(sections), paths["md"])
    plot_matrices(result["matrices"], names, paths["png"], title=f"{result['detector']} detector")
    files = {kind: str(path) for kind, path in paths.items()}
    write_text_atomic(json.dumps({**result, "files": files}, indent=2, ensure_ascii=False) + "\n", paths["json"])
    return files
