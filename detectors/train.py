"""Train a detector with an honest held-out score, and save it as a detector folder.

The held-out split is grouped by story (``parent_id``): a real article and its manipulated
children land on the same side, so the score measures detecting manipulations, not
recognising a story seen in training. Rows without a group are split one by one. The model
saved is the one scored (trained on the training side only); ``holdout=0`` trains on all.

Example::

    from detectors.train import train_detector

    report = train_detector(["out/swap_and_generate"], "out/real-vs-generated", field="text")
    print(report["holdout"]["accuracy"], report["rows_per_class"])
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from datafactory.errors import ConfigError, NotEnoughDataError, OutputError
from datafactory.model_store import is_detector_folder
from detectors.base import detector_class
from detectors.data import FALSIFIED, LabelledData
from detectors.labels import apply_label_map
from detectors.metrics import evaluate

#: parent_id of every held-out story, one a line: the split can be checked and reused.
HELD_OUT_FILE = "held_out_groups.txt"


def grouped_split(groups: Sequence[str | None], holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, held_out)`` with every group wholly on one side; ``None`` is a group
    of its own row. Roughly ``holdout`` of the groups (not rows) are held out."""
    from sklearn.model_selection import GroupShuffleSplit

    keys = [group if group is not None else f"\x00row-{i}" for i, group in enumerate(groups)]
    splitter = GroupShuffleSplit(n_splits=1, test_size=holdout, random_state=seed)
    train, held_out = next(splitter.split(np.zeros(len(keys)), groups=keys))
    return np.sort(train), np.sort(held_out)


def dataset_names(paths: Sequence[str | Path]) -> list[str]:
    """Folder name or file stem of each path; repeats get ``-2``, ``-3``, ..."""
    names: list[str] = []
    for path in paths:
        path = Path(path).expanduser()
        base = path.name if path.is_dir() else path.stem
        name, n = base or str(path), 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        names.append(name)
    return names


def _read_test(kind: Any, path: str | Path, field: str, label: str, columns: dict[str, str] | None,
               label_map: dict[Any, str | None] | None, max_rows: int | None) -> LabelledData:
    data = kind.read_rows(path, field=field, label=label, columns=columns, max_rows=max_rows, source="train-detector")
    apply_label_map(data, label_map, source="train-detector", option="--test-label-map", name=str(path))
    if not data.labels:
        raise NotEnoughDataError(f"--test {path}: no usable row (skipped: {dict(data.skipped) or 'none'}); check "
                                 "--test-label and --test-columns")
    return data


def _check_output(folder: Path, overwrite: bool) -> None:
    """Before any work: never write over a detector unless asked, nor into someone's folder."""
    if not folder.exists() or (folder.is_dir() and not any(folder.iterdir())):
        return
    if not folder.is_dir():
        raise OutputError(f"--output {folder} is a file; give a folder for the detector")
    if not is_detector_folder(folder):
        raise OutputError(f"--output {folder} holds files that are not a detector; give a new or empty folder")
    if not overwrite:
        raise OutputError(f"--output {folder} already holds a detector; pass --overwrite to replace it")


def pick(values: Sequence[Any], indices: Sequence[int]) -> list[Any]:
    return [values[i] for i in indices]


def _evaluate(detector: Any, texts: list[Any], labels: list[str]) -> dict[str, Any]:
    return {"rows": len(labels), **evaluate(detector, texts, labels),
            "rows_per_class": dict(sorted(Counter(labels).items()))}


def train_detector(
    data: Sequence[str | Path],
    output: str | Path,
    *,
    detector: str = "tfidf",
    field: str = "text",
    label: str = FALSIFIED,
    columns: dict[str, str] | None = None,
    min_df: int = 1,
    max_rows: int | None = None,
    holdout: float = 0.2,
    seed: int = 0,
    overwrite: bool = False,
    model: str | None = None,
    detector_options: dict[str, Any] | None = None,
    label_map: dict[Any, str | None] | None = None,
    tests: Sequence[str | Path] = (),
    test_label: str | None = None,
    test_columns: dict[str, str] | None = None,
    test_label_map: dict[Any, str | None] | None = None,
) -> dict[str, Any]:
    """Train a ``detector`` on ``field`` -> ``label`` of every ``data`` path (the first
    ``max_rows`` usable rows of each), score it on a grouped held-out share, save it to
    ``output``. Returns the card (classes, counts, training and held-out scores) with
    ``output`` and ``held_out_groups`` (also written to ``output/held_out_groups.txt``).
    An ``output`` that holds a detector is replaced only with ``overwrite``; one that holds
    other files, never. ``detector`` is a kind of :data:`datafactory.registry.detectors`;
    ``model`` and ``detector_options`` go to its ``train`` (see :class:`detectors.base.Detector`).

    ``label_map`` maps the data's labels onto classes (``None`` drops a row, see
    :mod:`detectors.labels`). Every path of ``tests`` (outside test sets, never trained on) is
    scored whole; its labels are read from ``test_label`` through ``test_columns`` and
    ``test_label_map`` (each defaulting to the training data's) and reported under ``tests``."""
    kind = detector_class(detector, source="train-detector")
    kind.check_model(model, source="train-detector")
    if not 0 <= holdout < 1:
        raise ConfigError("train-detector", "--holdout", f"{holdout} is not in [0, 1)", "Use e.g. 0.2, or 0 for none")
    _check_output(Path(output), overwrite)
    rows = LabelledData()
    for path in data:
        rows.extend(kind.read_rows(path, field=field, label=label, columns=columns, max_rows=max_rows,
                                   source="train-detector"))
    apply_label_map(rows, label_map, source="train-detector", option="--label-map", name="DATA")
    test_sets = {name: _read_test(kind, path, field, test_label or label, test_columns or columns,
                                  test_label_map if test_label_map is not None else label_map, max_rows)
                 for name, path in zip(dataset_names(tests), tests)}
    counts = Counter(rows.labels)
    if len(counts) < 2 or min(counts.values()) < 2:
        raise NotEnoughDataError(
            f"{len(rows.labels)} usable row(s) with classes {dict(counts) or 'none'} "
            f"(skipped: {dict(rows.skipped) or 'none'}); a detector needs at least two rows of each of two "
            "classes. Check --field and --label, or add data")
    if holdout == 0:
        train_idx, held_idx = np.arange(len(rows.labels)), np.array([], dtype=int)
    else:
        train_idx, held_idx = grouped_split(rows.groups, holdout, seed)
    train_labels = pick(rows.labels, train_idx)
    if len(set(train_labels)) < len(counts):
        raise NotEnoughDataError(f"the training side of the split lacks class(es) "
                                 f"{sorted(set(counts) - set(train_labels))}; give more rows or a smaller --holdout")
    val_idx = np.array([], dtype=int)
    if kind.early_stopping:  # validation rows: a tenth of the training stories
        fit_pos, val_pos = grouped_split(pick(rows.groups, train_idx), 0.1, seed)
        train_idx, val_idx = train_idx[fit_pos], train_idx[val_pos]
    trained = kind.train(pick(rows.texts, train_idx), pick(rows.labels, train_idx), pick(rows.texts, val_idx),
                         pick(rows.labels, val_idx), model=model, field=field, label=label, min_df=min_df, seed=seed,
                         options=dict(detector_options or {}))
    held = _evaluate(trained, pick(rows.texts, held_idx), pick(rows.labels, held_idx)) if len(held_idx) else None
    known = {str(c) for c in trained.classes_}
    for name, test in test_sets.items():
        unknown = sorted(set(test.labels) - known)
        if unknown:
            raise ConfigError("train-detector", "--test", f"{name} has class(es) {unknown} the detector does not know "
                              f"(its classes: {sorted(known)})", "Map them with --test-label-map, e.g. "
                              "'true=real,false=falsified,half-true=null'")
    held_groups = sorted({g for g in pick(rows.groups, held_idx) if g is not None})
    extra = {
        "data": rows.sources,
        "skipped": dict(rows.skipped),
        "rows_per_class_all": dict(sorted(counts.items())),
        "split": {"holdout": holdout, "seed": seed, "grouped_by": "parent_id" if any(rows.groups) else None,
                  "train_rows": len(train_idx), "held_out_rows": len(held_idx)},
        "holdout": held,
        "tests": {name: {"path": str(path), **_evaluate(trained, test.texts, test.labels),
                         "skipped": dict(test.skipped)}
                  for (name, test), path in zip(test_sets.items(), tests)} or None,
        "held_out_groups_file": HELD_OUT_FILE if held_groups else None,
    }
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / HELD_OUT_FILE).unlink(missing_ok=True)
    if held_groups:
        # Beside the card, not in it: one id per story can run to megabytes. Written before
        # the card, whose presence marks a whole folder.
        (folder / HELD_OUT_FILE).write_text("".join(g + "\n" for g in held_groups), encoding="utf-8")
    trained.save(folder, extra)
    return {**trained.card, "output": str(folder), "held_out_groups": held_groups}
