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
from detectors.data import FALSIFIED, LabelledData, load_labelled_data
from detectors.store import is_detector_folder

DETECTORS = ("tfidf", "transformer", "clip")
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


def pair_rows(path: str | Path, max_rows: int | None) -> LabelledData:
    """A build's (caption, image bytes) pairs, as labelled rows for the clip detector."""
    from detectors.clip_pairs import load_pairs
    from detectors.data import is_build

    if not is_build(Path(path)):
        raise ConfigError("train-detector", None, f"{path} is not a datafactory build",
                          "The clip detector reads image-caption pairs from builds (e.g. of repurpose_images.yaml)")
    pairs = load_pairs(path, max_rows)
    return LabelledData(texts=pairs.items, labels=pairs.labels, groups=pairs.groups, skipped=pairs.skipped,
                        sources=[{"path": str(path), "rows": len(pairs.labels), "kind": "image-caption pairs"}])


def fit_detector(detector: str, model: str | None, options: dict[str, Any], texts: list[Any], labels: list[str],
                 val_texts: list[Any], val_labels: list[str], *, field: str, label: str, min_df: int, seed: int,
                 source: str = "train-detector") -> Any:
    """A trained detector of kind ``detector``; transformer and clip need ``model``, and the
    transformer stops early on the validation rows. ``options`` are the transformer's
    (epochs, batch_size, ...); clip reads only its ``device``, tfidf none."""
    if detector != "tfidf" and not model:
        raise ConfigError(source, "--model", f"the {detector} detector needs a model",
                          "Give --model: a sequence-classifier (transformer) or CLIPModel (clip) folder or hub id")
    if detector == "transformer":
        from detectors.transformer import TransformerDetector

        return TransformerDetector(model, seed=seed, **options).fit(texts, labels, val_texts, val_labels,
                                                                   field=field, label=label)
    if detector == "clip":
        from detectors.clip_pairs import ClipPairDetector

        return ClipPairDetector(model, device=options.get("device", "auto")).fit(texts, labels)
    from detectors.tfidf import TfidfDetector

    return TfidfDetector(min_df=min_df).fit(texts, labels, field=field, label=label)


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


def _evaluate(detector: Any, texts: list[str], labels: list[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score

    predicted = detector.predict(texts)
    return {"rows": len(labels), "accuracy": float(accuracy_score(labels, predicted)),
            "f1_macro": float(f1_score(labels, predicted, average="macro")),
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
    transformer_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a ``detector`` on ``field`` -> ``label`` of every ``data`` path (the first
    ``max_rows`` usable rows of each), score it on a grouped held-out share, save it to
    ``output``. Returns the card (classes, counts, training and held-out scores) with
    ``output`` and ``held_out_groups`` (also written to ``output/held_out_groups.txt``).
    An ``output`` that holds a detector is replaced only with ``overwrite``; one that holds
    other files, never."""
    if detector not in DETECTORS:
        raise ConfigError("train-detector", "--detector", f"unknown detector {detector!r}",
                          f"Known detectors: {', '.join(DETECTORS)}")
    if not 0 <= holdout < 1:
        raise ConfigError("train-detector", "--holdout", f"{holdout} is not in [0, 1)", "Use e.g. 0.2, or 0 for none")
    _check_output(Path(output), overwrite)
    rows = LabelledData()
    for path in data:
        rows.extend(pair_rows(path, max_rows) if detector == "clip"
                    else load_labelled_data(path, field, label, columns, max_rows))
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
    if detector == "transformer":  # early stopping on a tenth of the training stories
        fit_pos, val_pos = grouped_split(pick(rows.groups, train_idx), 0.1, seed)
        train_idx, val_idx = train_idx[fit_pos], train_idx[val_pos]
    trained = fit_detector(detector, model, transformer_options or {}, pick(rows.texts, train_idx), pick(rows.labels, train_idx),
                           pick(rows.texts, val_idx), pick(rows.labels, val_idx), field=field, label=label,
                           min_df=min_df, seed=seed)
    held = _evaluate(trained, pick(rows.texts, held_idx), pick(rows.labels, held_idx)) if len(held_idx) else None
    held_groups = sorted({g for g in pick(rows.groups, held_idx) if g is not None})
    extra = {
        "data": rows.sources,
        "skipped": dict(rows.skipped),
        "rows_per_class_all": dict(sorted(counts.items())),
        "split": {"holdout": holdout, "seed": seed, "grouped_by": "parent_id" if any(rows.groups) else None,
                  "train_rows": len(train_idx), "held_out_rows": len(held_idx)},
        "holdout": held,
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
