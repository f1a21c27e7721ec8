"""The baseline detector: TF-IDF word uni- and bigrams into a logistic regression.

Fast, transparent and strong enough to expose what a dataset leaks (a topic, a style, a
generator's tics); it is also the discriminator guided decoding can be steered with::

    from detectors.tfidf import TfidfDetector

    detector = TfidfDetector(min_df=2).fit(texts, labels)      # labels: ["real", "falsified", ...]
    detector.predict_proba(["Some article ..."])               # [n, len(classes_)]
    detector.save("out/real-vs-generated")                     # model.skops + detector_card.json
    same = TfidfDetector.load("out/real-vs-generated")         # hash-checked, no pickle
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from datafactory.errors import ModelRefusedError, NotEnoughDataError
from datafactory.model_store import (
    CARD_FORMAT,
    MODEL_FILE,
    check_model_hash,
    dump_skops,
    load_skops,
    now_iso,
    read_card,
    require_sklearn,
    versions,
    write_card,
)
from detectors.base import Detector


TRAINING_ACCURACY_SAMPLE = 10_000


class TfidfDetector(Detector):
    """A scikit-learn ``Pipeline(TfidfVectorizer, LogisticRegression)`` with a card.

    ``min_df``: drop n-grams seen in fewer documents (an int) or a smaller share of them (a
    float); ``C``: inverse regularisation strength; classes are weighted by inverse frequency
    (``class_weight="balanced"``) so that a 1:3 real:generated build is not won by majority."""

    name: ClassVar[str] = "tfidf"

    def __init__(self, *, min_df: int | float = 1, C: float = 1.0, max_iter: int = 1000, pipeline: Any = None,
                 card: dict[str, Any] | None = None):
        require_sklearn()
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        self.params = {"min_df": min_df, "C": C, "max_iter": max_iter, "ngram_range": [1, 2], "sublinear_tf": True}
        self.pipeline = pipeline if pipeline is not None else Pipeline([
            # sublinear_tf: a word said ten times is not ten times the evidence.
            ("tfidf", TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=min_df)),
            ("logreg", LogisticRegression(C=C, max_iter=max_iter, class_weight="balanced")),
        ])
        self.card: dict[str, Any] = card or {}

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], val_texts: Sequence[str] = (),
              val_labels: Sequence[str] = (), *, model: str | None = None, field: str = "text",
              label: str = "falsified", min_df: int = 1, seed: int = 0,
              options: dict[str, Any] | None = None) -> "TfidfDetector":
        """Fit on ``texts`` with ``min_df``; nothing to tune on validation rows, no model, no options."""
        return cls(min_df=min_df).fit(texts, labels, field=field, label=label)

    @property
    def classes_(self) -> np.ndarray:
        return self.pipeline.classes_

    def fit(self, texts: Sequence[str], labels: Sequence[str], *, field: str = "text",
            label: str = "falsified") -> "TfidfDetector":
        """Fit on ``texts`` and their class names; ``field`` and ``label`` (what the texts and
        labels were read from) go on the card."""
        counts = Counter(labels)
        if len(counts) < 2:
            raise NotEnoughDataError(f"a detector needs two classes; the training rows have only "
                                     f"{dict(counts) or 'none'}. Check --label, or add data of the other class")
        try:
            self.pipeline.fit(list(texts), list(labels))
        except ValueError as exc:
            if "empty vocabulary" in str(exc) or "min_df" in str(exc):
                raise NotEnoughDataError(f"no n-gram is left to learn from ({exc}); lower --min-df "
                                         f"(now {self.params['min_df']}) or give more rows") from None
            raise
        # On a large set, a fixed sample tells training accuracy as well as every row, for a
        # fraction of a second instead of a second scoring pass over all of them.
        step = max(1, len(labels) // TRAINING_ACCURACY_SAMPLE)
        sample_texts, sample_labels = list(texts)[::step], np.asarray(labels)[::step]
        accuracy = float(np.mean(self.pipeline.predict(sample_texts) == sample_labels))
        self.card = {
            "format": CARD_FORMAT,
            "kind": self.name,
            "classes": [str(c) for c in self.classes_],
            "field": field,
            "label": label,
            "rows": len(labels),
            "rows_per_class": dict(sorted(counts.items())),
            "training_accuracy": accuracy,
            "vocabulary": len(self.pipeline.named_steps["tfidf"].vocabulary_),
            "params": self.params,
        }
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``[len(texts), len(classes_)]`` probabilities."""
        return self.pipeline.predict_proba(list(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.pipeline.predict(list(texts))

    def save(self, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write ``model.skops``, then ``detector_card.json`` (last: its presence marks a whole
        folder). ``extra`` adds to the card, e.g. the training data and held-out scores."""
        if not self.card:
            raise ValueError("fit the detector before saving it")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        digest = dump_skops(self.pipeline, folder / MODEL_FILE)
        self.card = {**self.card, **(extra or {}), "model_file": MODEL_FILE, "model_sha256": digest,
                     "created_at": now_iso(), "versions": versions()}
        write_card(folder, self.card)
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, source: str = "<python>", field: str | None = None) -> "TfidfDetector":
        """A saved detector, refused unless its card is a tfidf card and the model file's
        sha256 matches it (see :mod:`datafactory.model_store`)."""
        folder = Path(folder).expanduser()
        card = read_card(folder, source=source, field=field)
        if card.get("kind") != cls.name:
            raise ModelRefusedError(source, field, f"{folder} holds a {card.get('kind')!r} detector, not {cls.name!r}",
                                    "Load it with datafactory.model_store.load_detector")
        pipeline = load_skops(check_model_hash(folder, card, source=source, field=field), source=source, field=field)
        classes = [str(c) for c in getattr(pipeline, "classes_", [])]
        if not hasattr(pipeline, "predict_proba") or classes != card.get("classes"):
            raise ModelRefusedError(source, field, f"{folder / MODEL_FILE} is not the classifier its card describes "
                                    f"(classes {classes}, card {card.get('classes')})", "Retrain the detector")
        params = card.get("params", {})
        return cls(min_df=params.get("min_df", 1), C=params.get("C", 1.0), max_iter=params.get("max_iter", 1000),
                   pipeline=pipeline, card=card)
