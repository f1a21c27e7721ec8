"""Label maps: a dataset's own labels onto the classes ``real`` and ``falsified``.

Outside datasets name their classes in their own way: six-way truth ratings, ``true`` /
``false``, 0 / 1. A label map names each of them; ``null`` (``None``) drops the row, so that
an undecided rating (``half-true``) is neither class. A label the map does not name is an
error that lists the labels found, rather than a silently lost class. Example::

    from detectors.labels import apply_label_map

    data = load_labelled_data("politifact.jsonl", label="rating")
    dropped = apply_label_map(data, {"true": "real", "pants-fire": "falsified", "half-true": None})

Keys and labels are compared after :func:`label_key`: YAML reads ``true:`` as a boolean and
``1:`` as an integer, a CSV column gives ``"True"`` or ``"1.0"``; all of them are one key.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping

from datafactory.errors import ConfigError

CLASSES = ("real", "falsified")


def label_key(value: Any) -> str:
    """``True`` / ``"TRUE "`` -> ``"true"``, ``1`` / ``1.0`` / ``"1.0"`` -> ``"1"``: how a label
    looks in a map does not depend on which reader or YAML parser saw it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    if text.endswith(".0") and text[:-2].lstrip("-").isdigit():
        text = text[:-2]
    return text


def check_label_map(label_map: Mapping[Any, Any], source: str, option: str) -> dict[str, str | None]:
    """The map with normalised keys; every value is a class of :data:`CLASSES` or ``None``."""
    checked: dict[str, str | None] = {}
    for key, value in label_map.items():
        if value is not None and value not in CLASSES:
            raise ConfigError(source, f"{option}.{key}", f"{value!r} is not a class",
                              "Map each label to real, falsified, or null to drop its rows")
        checked[label_key(key)] = value
    return checked


def apply_label_map(data: Any, label_map: Mapping[Any, Any] | None, *, source: str = "<python>",
                    option: str = "label_map", name: str | None = None) -> Counter[str]:
    """Rewrite ``data.labels`` (a :class:`detectors.data.LabelledData`) through ``label_map``
    in place, dropping the rows mapped to ``None``; returns the dropped rows by original label.
    An empty or missing map changes nothing."""
    if not label_map:
        return Counter()
    checked = check_label_map(label_map, source, option)
    found = Counter(label_key(y) for y in data.labels)
    unknown = sorted(set(found) - set(checked))
    if unknown:
        raise ConfigError(source, option, f"{name or 'the data'} has label(s) {unknown} that the label map does not "
                          f"name (labels found: {dict(sorted(found.items()))})",
                          "Map each to real or falsified, or to null to drop its rows")
    rows = len(data.labels)
    keep, dropped = [], Counter()
    for i, label in enumerate(data.labels):
        target = checked[label_key(label)]
        if target is None:
            dropped[label] += 1
        else:
            keep.append(i)
            data.labels[i] = target
    if dropped:
        for attribute in ("texts", "labels", "groups", "titles"):
            values = getattr(data, attribute, None)
            if values is not None and len(values) == rows:
                setattr(data, attribute, [values[i] for i in keep])
        data.skipped.update({f"label {label!r} mapped to null": n for label, n in dropped.items()})
    return dropped
