"""A fine-tuned transformer classifier: any ``AutoModelForSequenceClassification`` checkpoint.

Trained in batches with AdamW and a linear schedule, scored on a validation set after every
epoch, stopped early when validation accuracy stops improving (the best epoch's weights are
kept); GPU when present. Saved as safetensors weights, tokenizer and ``detector_card.json``
(classes, label mapping, field, scores, the sha256 of the weights), and loaded back without
executing any code from the folder::

    from detectors.transformer import TransformerDetector

    detector = TransformerDetector("sentence-transformers/all-MiniLM-L6-v2", epochs=3)
    detector.fit(texts, labels, val_texts, val_labels)
    detector.save("out/minilm-detector")
    TransformerDetector.load("out/minilm-detector").predict_proba(["Some article ..."])
"""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from datafactory.errors import ModelRefusedError, NotEnoughDataError
from datafactory.model_store import CARD_FORMAT, now_iso, read_card, sha256_file, versions, write_card
from detectors.base import Detector

WEIGHTS = "model.safetensors"


class TransformerDetector(Detector):
    name: ClassVar[str] = "transformer"
    needs_model: ClassVar[bool] = True
    model_hint: ClassVar[str] = ("Give --model: an AutoModelForSequenceClassification folder or cached hub id "
                                 "to fine-tune")
    early_stopping: ClassVar[bool] = True
    caches_tokens: ClassVar[bool] = True
    """Takes ``token_cache`` (a dict) among its options: an experiment gives every arm and split
    one cache, so each text is tokenised once, not once per arm and split."""

    def __init__(self, model: str, *, epochs: int = 3, batch_size: int = 16, learning_rate: float = 5e-5,
                 max_length: int = 256, patience: int = 1, device: str = "auto", seed: int = 0,
                 progress: bool = False, token_cache: dict[str, Any] | None = None):
        self.model_name = model
        self.params = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                       "max_length": max_length, "patience": patience, "seed": seed}
        self.device_preference = device
        self.progress = progress
        self.token_cache = token_cache
        self.model: Any = None
        self.tokenizer: Any = None
        self.classes: list[str] = []
        self.card: dict[str, Any] = {}

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], val_texts: Sequence[str] = (),
              val_labels: Sequence[str] = (), *, model: str | None = None, field: str = "text",
              label: str = "falsified", min_df: int = 1, seed: int = 0,
              options: dict[str, Any] | None = None) -> "TransformerDetector":
        """Fine-tune ``model`` with ``options`` (epochs, batch_size, learning_rate, max_length,
        patience, device, progress), stopping early on the validation rows."""
        cls.check_model(model)
        return cls(model, seed=seed, **(options or {})).fit(texts, labels, val_texts, val_labels, field=field,
                                                            label=label)

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)

    # -- training ------------------------------------------------------------------------

    def fit(self, texts: Sequence[str], labels: Sequence[str], val_texts: Sequence[str] = (),
            val_labels: Sequence[str] = (), *, field: str = "text", label: str = "falsified") -> "TransformerDetector":
        from datafactory.lm import require_torch, resolve_device

        torch = require_torch()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

        counts = Counter(labels)
        if len(counts) < 2:
            raise NotEnoughDataError(f"a detector needs two classes; the training rows have only {dict(counts)}")
        self.classes = sorted(counts)
        index = {c: i for i, c in enumerate(self.classes)}
        device = resolve_device(self.device_preference)
        torch.manual_seed(self.params["seed"])
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_name)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            self.model_name, num_labels=len(self.classes), id2label=dict(enumerate(self.classes)),
            label2id=index, ignore_mismatched_sizes=True).to(device)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        targets = torch.tensor([index[y] for y in labels])
        size, epochs = self.params["batch_size"], self.params["epochs"]
        steps = epochs * ((len(texts) + size - 1) // size)
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.params["learning_rate"])
        schedule = get_linear_schedule_with_warmup(optimizer, max(1, steps // 10), steps)
        generator = torch.Generator().manual_seed(self.params["seed"])
        history, best, best_state, waited = [], -1.0, None, 0
        from tqdm import tqdm

        for epoch in range(epochs):
            self.model.train()
            order = torch.randperm(len(texts), generator=generator).tolist()
            losses = []
            for start in tqdm(range(0, len(order), size), desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                              disable=not self.progress):
                rows = order[start:start + size]
                batch = self._encode([texts[i] for i in rows], device)
                out = self.model(**batch, labels=targets[rows].to(device))
                out.loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                losses.append(float(out.loss.detach()))
            val_accuracy = self._accuracy(val_texts, val_labels) if len(val_texts) else None
            history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_accuracy": val_accuracy})
            if val_accuracy is None:
                continue
            if val_accuracy > best:
                best, best_state, waited = val_accuracy, copy.deepcopy(self.model.state_dict()), 0
            else:
                waited += 1
                if waited >= self.params["patience"]:
                    break  # validation stopped improving: keep the best epoch
        if best_state is not None:
            self.model.load_state_dict(best_state)
        self.model.eval()
        step = max(1, len(labels) // 2000)  # a sample tells training accuracy well enough
        training_accuracy = self._accuracy(list(texts)[::step], list(labels)[::step])
        self.card = {"format": CARD_FORMAT, "kind": self.name, "base_model": self.model_name,
                     "classes": self.classes, "field": field, "label": label, "rows": len(labels),
                     "rows_per_class": dict(sorted(counts.items())), "params": self.params, "history": history,
                     "training_accuracy": training_accuracy, "best_val_accuracy": best if best >= 0 else None}
        return self

    def _encode(self, texts: Sequence[str], device: str) -> dict[str, Any]:
        if self.token_cache is None:
            enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.params["max_length"],
                                 return_tensors="pt")
        else:
            # The cache holds unpadded ids of one tokenizer and max_length: padding depends on
            # the batch, so it is done per batch, as the uncached call does.
            cache = self.token_cache.setdefault((self.model_name, self.params["max_length"]), {})
            missing = [t for t in dict.fromkeys(texts) if t not in cache]
            if missing:
                fresh = self.tokenizer(missing, truncation=True, max_length=self.params["max_length"])
                for i, text in enumerate(missing):
                    cache[text] = {key: fresh[key][i] for key in fresh.keys()}
            enc = self.tokenizer.pad([cache[t] for t in texts], padding=True, return_tensors="pt")
        return {k: v.to(device) for k, v in enc.items()}

    def _accuracy(self, texts: Sequence[str], labels: Sequence[str]) -> float:
        predicted = self.classes_[self.predict_proba(texts).argmax(axis=1)]
        return float(np.mean(predicted == np.asarray(labels)))

    # -- scoring -------------------------------------------------------------------------

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        from datafactory.lm import require_torch

        torch = require_torch()
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()
        out = np.zeros((len(texts), len(self.classes)), dtype=np.float64)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # little padding per batch
        with torch.inference_mode():
            for start in range(0, len(order), self.params["batch_size"] * 2):
                rows = order[start:start + self.params["batch_size"] * 2]
                logits = self.model(**self._encode([texts[i] for i in rows], str(device))).logits
                out[rows] = torch.softmax(logits.double(), dim=-1).cpu().numpy()
        self.model.train(was_training)
        return out

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    # -- storage -------------------------------------------------------------------------

    def save(self, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        self.card.update({"model_file": WEIGHTS, "model_sha256": sha256_file(folder / WEIGHTS),
                          "created_at": now_iso(), "versions": versions(), **(extra or {})})
        write_card(folder, self.card)
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, source: str = "<python>", field: str | None = None,
             device: str = "auto") -> "TransformerDetector":
        from datafactory.lm import require_torch, resolve_device

        require_torch()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = Path(folder)
        card = read_card(folder, source=source, field=field)
        weights = folder / WEIGHTS
        if card.get("kind") != cls.name or not weights.is_file() or sha256_file(weights) != card.get("model_sha256"):
            raise ModelRefusedError(source, field, f"{folder} is not an intact transformer detector (kind "
                                    f"{card.get('kind')!r}, {WEIGHTS} missing or changed since training)",
                                    "Restore the folder or retrain it with datafactory train-detector")
        detector = cls(str(folder), **{k: v for k, v in card.get("params", {}).items()}, device=device)
        detector.tokenizer = AutoTokenizer.from_pretrained(folder)
        # use_safetensors: only the hash-checked weights file is read, never a pickle.
        detector.model = AutoModelForSequenceClassification.from_pretrained(
            folder, use_safetensors=True).to(resolve_device(device)).eval()
        detector.classes, detector.card = list(card["classes"]), card
        return detector
