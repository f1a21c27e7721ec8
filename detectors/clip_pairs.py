"""The image–text detector: out-of-context pairs from frozen CLIP features.

A caption and its photo are embedded by a frozen CLIP; a logistic regression reads their
element-wise product and difference (and cosine), so it learns which agreements between text
and picture a genuine pair shows. Reads the pairs of any build whose records carry image bytes
(e.g. ``pipelines/repurpose_images.yaml``)::

    from detectors.clip_pairs import ClipPairDetector, load_pairs

    pairs = load_pairs("out/repurpose_images")
    detector = ClipPairDetector("openai/clip-vit-base-patch32").fit(pairs.items, pairs.labels)
    detector.save("out/clip-detector")
    ClipPairDetector.load("out/clip-detector").predict_proba(pairs.items[:4])

Saved as ``model.skops`` (the regression; loaded from allow-listed types only) and a card that
names the CLIP model, whose weights are not copied.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np
import pyarrow.parquet as pq

from datafactory.errors import ConfigError, ModelRefusedError, NotEnoughDataError
from datafactory.images import image_bytes, image_source_of
from datafactory.model_store import (CARD_FORMAT, MODEL_FILE, check_model_hash, dump_skops, load_skops, now_iso,
                                     read_card, versions, write_card)
from datafactory.output import OutputDir
from detectors.base import Detector

if TYPE_CHECKING:
    from detectors.data import LabelledData


@dataclass
class Pairs:
    items: list[tuple[str, bytes]] = field(default_factory=list)  # (caption, image bytes)
    labels: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def load_pairs(build: str | Path, limit: int | None = None) -> Pairs:
    """Caption (else title) and image bytes of every record of a build, labelled real/falsified
    (images stored as paths are read from under the build's image root)."""
    pairs = Pairs()
    out = OutputDir(Path(build))
    source = image_source_of(out)
    for path in out.shard_files():
        for row in pq.read_table(path, columns=["parent_id", "caption", "title", "image", "falsified"]).to_pylist():
            text, image = row["caption"] or row["title"], image_bytes(row["image"], source)
            if not text or not image or not _decodes(image, source):
                pairs.skipped["no caption" if not text else "no readable image"] += 1
                continue
            pairs.items.append((text, image))
            pairs.labels.append("falsified" if row["falsified"] else "real")
            pairs.groups.append(row["parent_id"])
            if limit is not None and len(pairs.labels) >= limit:
                return pairs
    return pairs


def _decodes(data: bytes, source: Any) -> bool:
    from datafactory.images import ImageError, open_image

    try:
        open_image(data, source)
        return True
    except ImageError:
        return False


class ClipPairDetector(Detector):
    name: ClassVar[str] = "clip"
    needs_model: ClassVar[bool] = True
    model_hint: ClassVar[str] = "Give --model: a CLIPModel folder or cached hub id"

    def __init__(self, clip_model: str, *, C: float = 1.0, device: str = "auto", classifier: Any = None,
                 card: dict[str, Any] | None = None):
        self.clip_model, self.C, self.device = clip_model, C, device
        self.classifier = classifier
        self.card: dict[str, Any] = card or {}

    @classmethod
    def read_rows(cls, path: str | Path, *, field: str = "caption", label: str = "falsified",
                  columns: dict[str, str] | None = None, max_rows: int | None = None,
                  source: str = "<python>") -> "LabelledData":
        """A build's (caption, image bytes) pairs as labelled rows (``field``, ``label`` and
        ``columns`` do not apply: see :func:`load_pairs`)."""
        from detectors.data import LabelledData, is_build

        if not is_build(Path(path)):
            raise ConfigError(source, None, f"{path} is not a datafactory build",
                              "The clip detector reads image-caption pairs from builds (e.g. of repurpose_images.yaml)")
        pairs = load_pairs(path, max_rows)
        return LabelledData(texts=pairs.items, labels=pairs.labels, groups=pairs.groups, skipped=pairs.skipped,
                            sources=[{"path": str(path), "rows": len(pairs.labels), "kind": "image-caption pairs"}])

    @classmethod
    def train(cls, texts: Sequence[tuple[str, bytes]], labels: Sequence[str], val_texts: Sequence[Any] = (),
              val_labels: Sequence[str] = (), *, model: str | None = None, field: str = "caption",
              label: str = "falsified", min_df: int = 1, seed: int = 0,
              options: dict[str, Any] | None = None) -> "ClipPairDetector":
        """Fit the regression on frozen ``model`` features; of ``options`` only ``device`` applies."""
        cls.check_model(model)
        return cls(model, device=(options or {}).get("device", "auto")).fit(texts, labels)

    @property
    def classes_(self) -> np.ndarray:
        return self.classifier.classes_

    def features(self, items: Sequence[tuple[str, bytes]]) -> np.ndarray:
        from datafactory.images import ImageSource, open_image
        from pipelines.images.encoders import load_clip

        clip = load_clip(self.clip_model, self.device)
        images = clip.encode_images([open_image(data, ImageSource()) for _, data in items])
        texts = clip.encode_texts([text for text, _ in items])
        cosine = (images * texts).sum(axis=1, keepdims=True)
        return np.hstack([images * texts, images - texts, cosine]).astype(np.float64)

    def fit(self, items: Sequence[tuple[str, bytes]], labels: Sequence[str]) -> "ClipPairDetector":
        from sklearn.linear_model import LogisticRegression

        counts = Counter(labels)
        if len(counts) < 2:
            raise NotEnoughDataError(f"a detector needs two classes; the pairs have only {dict(counts)}")
        self.classifier = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced")
        features = self.features(items)
        self.classifier.fit(features, list(labels))
        self.card = {"format": CARD_FORMAT, "kind": self.name, "clip_model": self.clip_model,
                     "classes": [str(c) for c in self.classes_], "rows": len(labels),
                     "rows_per_class": dict(sorted(counts.items())), "params": {"C": self.C},
                     "training_accuracy": float(np.mean(self.classifier.predict(features) == np.asarray(labels)))}
        return self

    def predict_proba(self, items: Sequence[tuple[str, bytes]]) -> np.ndarray:
        return self.classifier.predict_proba(self.features(items))

    def predict(self, items: Sequence[tuple[str, bytes]]) -> np.ndarray:
        return self.classifier.predict(self.features(items))

    def save(self, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        digest = dump_skops(self.classifier, folder / MODEL_FILE)
        self.card.update({"model_file": MODEL_FILE, "model_sha256": digest, "created_at": now_iso(),
                          "versions": versions(), **(extra or {})})
        write_card(folder, self.card)
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, source: str = "<python>", field: str | None = None,
             device: str = "auto") -> "ClipPairDetector":
        folder = Path(folder)
        card = read_card(folder, source=source, field=field)
        if card.get("kind") != cls.name:
            raise ModelRefusedError(source, field, f"{folder} holds a {card.get('kind')!r} detector, not a clip one",
                                    "Point it at a folder written with --detector clip")
        classifier = load_skops(check_model_hash(folder, card, source=source, field=field), source=source, field=field)
        return cls(card["clip_model"], C=card.get("params", {}).get("C", 1.0), device=device, classifier=classifier,
                   card=card)
