"""Discriminators: classifiers that score a batch of texts for a target class.

Guided decoding (PPL-MCTS, FUDGE-style reranking) steers a generator towards texts a
classifier assigns to a target class: "real" for a real-vs-generated detector, a topic, a
polarity. Every classifier behind it offers the same small interface, :class:`TextClassifier`::

    from pipelines.generation.discriminators import load_classifier

    judge = load_classifier("out/real-vs-generated", target="real")   # a detector folder
    judge.classes, judge.target_index      # ["falsified", "real"], 1
    judge.proba(["A body ...", "Another ..."])   # float64 [2, 2], rows sum to 1
    judge.score(["A body ...", "Another ..."])   # float64 [2]: proba[:, target_index]

What loads (``kind``):

- ``sklearn``: a detector folder written by ``datafactory train-detector``, or a ``.skops``
  file, loaded without unpickling (see :mod:`datafactory.model_store`); or, in Python, any object with
  ``predict_proba`` and ``classes_`` wrapped in :class:`SklearnClassifier`.
- ``hf``: a transformers ``*ForSequenceClassification`` folder or cached hub id.
- ``causal``: the same with a decoder-only architecture (GPT-2, Llama, ...); its ``model``,
  ``tokenizer`` and ``device`` are public so that tree search can reuse its key/value cache.
- ``auto`` (default): decides from the folder; decoder-only classifiers load as ``causal``.

Nothing is downloaded: a hub id must already be in the local Hugging Face cache.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from datafactory.errors import ModelNotFoundError
# Recognising what a name points at, without loading it, lives beside: config validation
# needs it cheaply. Re-exported, so that callers import everything from here.
from pipelines.generation.classifier_lookup import (  # noqa: F401
    DECODER_FAMILIES,
    KINDS,
    Found,
    check_classifier,
    find_classifier,
    is_causal_architecture,
    resolve_target,
)


@runtime_checkable
class TextClassifier(Protocol):
    classes: list[str]
    """Class names in output column order."""
    target_index: int
    """Index of the target class in ``classes``."""

    def proba(self, texts: list[str]) -> np.ndarray:
        """``[len(texts), len(classes)]`` float64 probabilities."""

    def score(self, texts: list[str]) -> np.ndarray:
        """``proba(texts)[:, target_index]``."""

    def info(self) -> dict[str, Any]:
        """``{"kind", "name", "version", "classes", "target"}``, for manifests."""


class _Classifier:
    """What every classifier shares: ``score`` from ``proba``, the target's name, ``info``."""

    kind: str
    classes: list[str]
    target_index: int
    name: str
    version: str | None

    def proba(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def score(self, texts: list[str]) -> np.ndarray:
        return self.proba(texts)[:, self.target_index]

    @property
    def target(self) -> str:
        return self.classes[self.target_index]

    def info(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "version": self.version, "classes": list(self.classes),
                "target": self.target}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, target={self.target!r})"


class SklearnClassifier(_Classifier):
    """Any object with ``predict_proba`` and ``classes_``, e.g. a fitted scikit-learn
    ``Pipeline(TfidfVectorizer(), LogisticRegression())`` or a detector from
    :func:`datafactory.model_store.load_detector`.
    Class names are ``str(c)`` of ``classes_`` (``False``/``True`` become ``"False"``/``"True"``)."""

    kind = "sklearn"

    def __init__(self, estimator: Any, target: str | int, name: str = "<python>", *, version: str | None = None,
                 source: str = "<python>", field: str | None = None):
        if not hasattr(estimator, "predict_proba") or not hasattr(estimator, "classes_"):
            raise ModelNotFoundError(source, field, f"{name} ({type(estimator).__name__}) has no predict_proba "
                                     "and classes_, so it is not a fitted probabilistic classifier",
                                     "Fit it first, or use a classifier with predict_proba")
        self.estimator, self.name, self.version = estimator, name, version
        self.classes = [str(c) for c in estimator.classes_]
        self.target_index = resolve_target(self.classes, target, source=source, field=field)

    def proba(self, texts: list[str]) -> np.ndarray:
        if not len(texts):  # scikit-learn refuses zero samples
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        return np.asarray(self.estimator.predict_proba(list(texts)), dtype=np.float64)


class HFSequenceClassifier(_Classifier):
    """A transformers sequence classifier (``AutoModelForSequenceClassification``), in eval
    mode on ``device``, scoring ``batch_size`` texts per forward pass, each cut to
    ``max_length`` tokens (or the model's context, if shorter). Classes come from
    ``config.id2label`` in index order."""

    kind = "hf"

    def __init__(self, folder_or_cached_id: str, target: str | int, device: str = "auto", batch_size: int = 32,
                 max_length: int = 512, *, source: str = "<python>", field: str | None = None):
        from datafactory.lm import context_length, require_torch, resolve_device

        require_torch()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.name, self.batch_size = str(folder_or_cached_id), batch_size
        self.device = resolve_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.name)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.name).to(self.device).eval()
        if self.tokenizer.pad_token is None:
            if self.tokenizer.eos_token is None:
                raise ModelNotFoundError(source, field, f"the tokenizer of {self.name} has neither a pad nor an "
                                         "end token to pad batches with", "Add a pad token to the tokenizer")
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # Causal classifiers (GPT2ForSequenceClassification) read the last token that is not
        # padding, and need to know which id pads; without it they refuse batches.
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        # Right padding: a causal model counts positions from the first token, so left pads
        # would shift them; on the right they sit after everything the head reads.
        self.tokenizer.padding_side = "right"
        self.max_length = min(max_length, context_length(self.model, self.tokenizer))
        labels = self.model.config.id2label
        self.classes = [str(labels[i]) for i in range(self.model.config.num_labels)]
        self.target_index = resolve_target(self.classes, target, source=source, field=field)
        self.version = _folder_version(self.name)

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text, truncated; an empty text gets one start (or end) token, since a
        sequence needs at least one position to classify."""
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        filler = next(t for t in (self.tokenizer.bos_token_id, self.tokenizer.eos_token_id,
                                  self.tokenizer.pad_token_id) if t is not None)
        return [row if row else [filler] for row in ids]

    def proba(self, texts: list[str]) -> np.ndarray:
        from datafactory.lm import require_torch

        torch = require_torch()
        encoded = self.encode(texts)
        out = np.zeros((len(encoded), len(self.classes)), dtype=np.float64)
        # Longest first, so a batch pads little and a batch too large for memory fails at once.
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        with torch.inference_mode():
            for begin in range(0, len(order), self.batch_size):
                rows = order[begin:begin + self.batch_size]
                batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in rows]}, return_tensors="pt")
                batch = {k: v.to(self.device) for k, v in batch.items()}
                logits = self.model(**batch).logits
                out[rows] = torch.softmax(logits.double(), dim=-1).cpu().numpy()
        return out


class CausalClassifier(HFSequenceClassifier):
    """A sequence classifier with a decoder-only architecture (GPT-2, Llama, ...). Its head
    reads the last token's hidden state, computed left to right, so tree search can score a
    path with the key/value cache of its prefix: ``model``, ``tokenizer`` (right padding,
    pad token set) and ``device`` are public for that."""

    kind = "causal"


def _folder_version(name_or_path: str) -> str:
    from datafactory.lm import read_card

    return read_card(name_or_path)[1]


def _file_version(path: Path) -> str:
    from datafactory.model_store import sha256_file

    return sha256_file(path)[:16]


@functools.lru_cache(maxsize=8)
def load_classifier(name_or_path: str, target: str | int, *, kind: str = "auto", device: str = "auto",
                    batch_size: int = 32, source: str = "<python>", field: str | None = None,
                    max_length: int = 512) -> TextClassifier:
    """Load a classifier once per process (later calls with the same arguments share it).

    ``name_or_path``: a detector folder, a ``.skops`` file, a ``*ForSequenceClassification``
    folder or a cached hub id; ``target``: the class to score, by name or index. ``source``
    and ``field`` name where the value came from in errors (a config file and option)."""
    found = find_classifier(name_or_path, kind, source=source, field=field)
    if found.kind == "sklearn":
        return _load_sklearn(found, target, source=source, field=field)
    cls = CausalClassifier if found.kind == "causal" else HFSequenceClassifier
    classifier = cls(found.location, target, device=device, batch_size=batch_size, max_length=max_length,
                     source=source, field=field)
    classifier.name = str(name_or_path)  # a hub id, not the cache folder it was loaded from
    return classifier


def _load_sklearn(found: Found, target: str | int, *, source: str, field: str | None) -> SklearnClassifier:
    from datafactory.model_store import load_detector, load_skops

    path = Path(found.location)
    if path.is_dir():
        detector = load_detector(path, source=source, field=field)
        version = str(detector.card.get("model_sha256", ""))[:16] or None
        return SklearnClassifier(detector, target, str(path), version=version, source=source, field=field)
    estimator = load_skops(path, source=source, field=field)
    return SklearnClassifier(estimator, target, str(path), version=_file_version(path), source=source, field=field)


__all__ = ["KINDS", "DECODER_FAMILIES", "TextClassifier", "SklearnClassifier", "HFSequenceClassifier", "CausalClassifier",
           "load_classifier", "check_classifier", "is_causal_architecture", "resolve_target"]
