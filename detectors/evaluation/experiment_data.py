"""The rows of an experiment: every dataset read, its labels mapped onto real / falsified, each
row given a story in one id space (:mod:`detectors.stories`), and the leak guards that do not
depend on the split applied.

Guards (the report counts the rows each removed):

- ``base_in_test``: base rows whose story is in an outside test set (the same headline in
  both) leave the base data: no split may train on a test story;
- ``factory_in_test``: factory rows whose story is in an outside test set are dropped;
- ``factory_in_split_test`` (per split, see :mod:`detectors.evaluation.experiment`): factory
  rows whose parent story is among that split's held-out base stories are left out of it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Any

import numpy as np

from datafactory.errors import ConfigError, NotEnoughDataError
from datafactory.model_store import sha256_file
from datafactory.output import MANIFEST
from detectors.base import detector_class
from detectors.data import LabelledData, is_build
from detectors.train import dataset_names
from detectors.evaluation.experiment_config import DatasetConfig, ExperimentConfig
from detectors.labels import CLASSES, apply_label_map
from detectors.stories import story_ids


@dataclass
class Dataset:
    name: str
    role: str  # base | factory | test
    paths: list[Path]
    rows: LabelledData
    stories: list[str]
    sha256: str | list[str]
    dropped: Counter = dataclass_field(default_factory=Counter)  # by label map, by guard

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.rows.labels)

    def keep(self, mask: np.ndarray, reason: str) -> None:
        """Keep the rows where ``mask`` is true, counting the others under ``reason``."""
        gone = int((~mask).sum())
        if not gone:
            return
        self.dropped[reason] += gone
        index = np.flatnonzero(mask)
        for attribute in ("texts", "labels", "groups", "titles"):
            values = getattr(self.rows, attribute)
            if len(values) == len(mask):
                setattr(self.rows, attribute, [values[i] for i in index])
        self.stories = [self.stories[i] for i in index]

    def summary(self) -> dict[str, Any]:
        return {"role": self.role, "path": [str(p) for p in self.paths] if len(self.paths) > 1 else str(self.paths[0]),
                "sha256": self.sha256, "rows": len(self.rows.labels),
                "rows_per_class": dict(sorted(Counter(self.rows.labels).items())),
                "stories": len(set(self.stories)), "skipped": dict(self.rows.skipped),
                "dropped": dict(self.dropped)}


def input_sha256(path: Path) -> str:
    """A file's sha256; a build's manifest's (it lists every shard's checksum); for another
    folder, the sha256 of its files' names and hashes."""
    if path.is_file():
        return sha256_file(path)
    if is_build(path) and (path / MANIFEST).is_file():
        return sha256_file(path / MANIFEST)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path)}\0{sha256_file(file)}\n".encode())
    return digest.hexdigest()


def _read(entry: DatasetConfig, name: str, role: str, config: ExperimentConfig, source: str) -> Dataset:
    kind = detector_class(config.detector.kind, source=source, field="detector.kind")
    rows = LabelledData()
    for path in entry.paths:
        rows.extend(kind.read_rows(path, field=config.field, label=entry.label, columns=entry.columns or None,
                                   max_rows=entry.max_rows, source=source))
    dropped = apply_label_map(rows, entry.label_map, source=source, option=f"{role}: {name}: label_map", name=name)
    unknown = sorted(set(rows.labels) - set(CLASSES))
    if unknown:
        raise ConfigError(source, f"{role}: {name}", f"labels {unknown} are not real / falsified: every dataset "
                          "must name the same classes", "Map them with label_map, e.g. {true: real, false: "
                          "falsified, half-true: null} (null drops the row)")
    if not rows.labels:
        raise NotEnoughDataError(f"{source}: {role} {name!r} has no usable row "
                                 f"(skipped: {dict(rows.skipped) or 'none'}); check field, label and columns")
    sha = [input_sha256(p) for p in entry.paths]
    data = Dataset(name, role, entry.paths, rows, [], sha[0] if len(sha) == 1 else sha)
    data.dropped.update({f"label map: {label!r} -> null": n for label, n in dropped.items()})
    return data


def load_datasets(config: ExperimentConfig, source: str = "experiment") -> dict[str, list[Dataset]]:
    """``{"base": [...], "factory": [...], "test": [...]}``, labels mapped, stories assigned,
    the outside-test guards applied."""
    roles = [(role, entry) for role in ("base", "factory", "test") for entry in getattr(config, role)]
    names = dataset_names([entry.paths[0] for _, entry in roles])
    names = [entry.name or name for (_, entry), name in zip(roles, names)]
    if len(set(names)) != len(names):
        raise ConfigError(source, "name", f"dataset names repeat: {names}", "Give each dataset its own name: key")
    loaded = [_read(entry, name, role, config, source) for (role, entry), name in zip(roles, names)]
    # A build's manipulated titles are new headlines; only its real rows' titles name stories.
    stories = story_ids([(d.name, d.rows, "real" if is_build(d.paths[0]) else None) for d in loaded])
    for data in loaded:
        data.stories = stories[data.name]
    by_role = {role: [d for d in loaded if d.role == role] for role in ("base", "factory", "test")}
    test_stories = {s for d in by_role["test"] for s in d.stories}
    for data in by_role["base"]:
        data.keep(np.array([s not in test_stories for s in data.stories], dtype=bool), "guard: story in a test set")
    for data in by_role["factory"]:
        data.keep(np.array([s not in test_stories for s in data.stories], dtype=bool), "guard: story in a test set")
    return by_role
