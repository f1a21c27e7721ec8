"""Detector scores under one set of names, for train-detector, crosseval and augment-eval.

- ``accuracy``: share of rows whose predicted class is the true one;
- ``macro_f1``: F1 averaged over the classes present in truth or prediction (0 for a class
  never predicted nor present, without a warning);
- ``roc_auc``: of the positive class against the rest (see :func:`positive_class`), ranked by
  its probability; ``None`` when the rows hold a single class.

The predicted class of a row is the one of highest probability, so a detector is run once::

    from detectors.metrics import evaluate

    evaluate(detector, texts, labels)   # {"accuracy": 0.93, "macro_f1": 0.92, "roc_auc": 0.97}
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

METRICS = ("accuracy", "macro_f1", "roc_auc")
TITLES = {"accuracy": "Accuracy", "macro_f1": "Macro F1", "roc_auc": "ROC AUC"}
FALSIFIED = "falsified"


def positive_class(classes: Sequence[Any]) -> str:
    """The class ROC AUC ranks by: ``falsified`` when the classes are ``real`` and
    ``falsified``, otherwise the second of them in sorted order."""
    ordered = sorted(str(c) for c in classes)
    return FALSIFIED if set(ordered) == {"real", FALSIFIED} else ordered[1]


def scores(labels: Sequence[str], predicted: Sequence[str], positive_proba: Sequence[float] | None = None,
           positive: str | None = None) -> dict[str, float | None]:
    """``accuracy``, ``macro_f1`` and, given the ``positive`` class's probabilities, ``roc_auc``."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    labels, predicted = [str(y) for y in labels], [str(y) for y in predicted]
    auc = None
    if positive_proba is not None and positive is not None:
        truth = np.asarray(labels) == positive
        if 0 < truth.sum() < len(truth):
            auc = float(roc_auc_score(truth, np.asarray(positive_proba, dtype=np.float64)))
    return {"accuracy": float(accuracy_score(labels, predicted)),
            "macro_f1": float(f1_score(labels, predicted, average="macro", zero_division=0)), "roc_auc": auc}


def evaluate(detector: Any, texts: Sequence[Any], labels: Sequence[str]) -> dict[str, float | None]:
    """:func:`scores` of a detector (``classes_``, ``predict_proba``) on ``texts``."""
    classes = [str(c) for c in detector.classes_]
    if not len(texts):
        raise ValueError("no rows to score the detector on")
    proba = np.asarray(detector.predict_proba(list(texts)), dtype=np.float64)
    predicted = [classes[i] for i in proba.argmax(axis=1)]
    positive = positive_class(classes)
    return scores(labels, predicted, proba[:, classes.index(positive)], positive)
