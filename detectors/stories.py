"""One story id space across datasets, so that a story is never on both sides of a split.

A row belongs to a story through two kinds of keys:

- its ``parent_id`` (a build's real item and its manipulated children share it), kept apart
  per dataset, since two files may both number their rows from 1;
- its normalised title (lower case, accents and punctuation removed, spaces collapsed), for
  real rows: the same headline in two datasets is one story, whichever dataset holds it.

Rows that share a key are one story, transitively (union-find), so a build's swapped child
joins, through its parent_id, the story of its real parent, and through the parent's title the
same headline in a base or test file. Example::

    stories = story_ids([("base", base_data, None), ("build", build_data, "real")])
    stories["base"][0] == stories["build"][3]   # the same headline: one story
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Sequence

_NON_WORD = re.compile(r"[^0-9a-z]+")
_APOSTROPHES = re.compile(r"['’`´]")


def normalise_title(title: str | None) -> str | None:
    """``"Kenya’s  parliament: approves budget!"`` -> ``"kenyas parliament approves budget"``;
    None when nothing is left."""
    if not title:
        return None
    # Apostrophes go before the rest: "Kenya's" and "Kenya’s" are one word, not "kenya s".
    text = _APOSTROPHES.sub("", title)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    text = _NON_WORD.sub(" ", text).strip()
    return text or None


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        root = key
        while self.parent.setdefault(root, root) != root:
            root = self.parent[root]
        while self.parent[key] != root:  # path compression: later finds are one step
            self.parent[key], key = root, self.parent[key]
        return root

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the smaller name wins, so that ids do not depend on the order of joins
            self.parent[max(ra, rb)] = min(ra, rb)


def story_ids(datasets: Sequence[tuple[str, Any, str | None]]) -> dict[str, list[str]]:
    """``{dataset name: [story id per row]}`` for ``(name, LabelledData, real_label)`` triples.

    Titles count only for rows whose label is ``real_label`` (``None``: every row): a build's
    manipulated title is a new headline, not a story of its own, and stays tied to its parent
    by ``parent_id``. A row with neither key is a story of its own."""
    union = _Union()
    keys: dict[str, list[list[str]]] = {}
    for name, data, real_label in datasets:
        titles = list(getattr(data, "titles", None) or [])
        titles += [None] * (len(data.labels) - len(titles))
        per_row = []
        for i, (group, label, title) in enumerate(zip(data.groups, data.labels, titles)):
            row_keys = []
            if group is not None:
                row_keys.append(f"p\x00{name}\x00{group}")
            normal = normalise_title(title) if real_label is None or label == real_label else None
            if normal:
                row_keys.append(f"t\x00{normal}")
            if not row_keys:
                row_keys.append(f"r\x00{name}\x00{i}")
            for key in row_keys[1:]:
                union.join(row_keys[0], key)
            union.find(row_keys[0])
            per_row.append(row_keys)
        keys[name] = per_row
    return {name: [union.find(row[0]) for row in rows] for name, rows in keys.items()}
