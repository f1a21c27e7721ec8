"""The entity bank: entities seen in a corpus, by NER label, with their frequencies.

Replacements are drawn from it. Sampling is deterministic for a given ``random.Random``: the
entities of a label are kept in sorted order, so the same seed draws the same entity whatever
order the corpus was seen in.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
import re
from collections import Counter
from typing import Literal

Weighting = Literal["uniform", "frequency"]

_LEADING_ARTICLE = re.compile(r"^(?:the|The|THE)\s+")
_ARTICLE_BEFORE = re.compile(r"(?:^|(?<=\s))(?:the|The|THE)\s+$")
_TRAILING_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
_MAX_ENTITY_CHARS = 80


def clean_span(text: str, start: int, end: int) -> tuple[int, int, int | None] | None:
    """Trim an NER span to the name worth replacing: ``(start, end, article_start)``, or None.

    "Kenya's" swaps "Kenya" and keeps the possessive. "the United Nations" gives the span of
    "United Nations" and, as ``article_start``, where its article begins, so a replacement
    that takes no article can replace the article too.
    """
    span = text[start:end]
    article_start = None
    lead = _LEADING_ARTICLE.match(span)
    if lead:
        article_start = start
        start += lead.end()
    elif _ARTICLE_BEFORE.search(text[:start]):
        article_start = _ARTICLE_BEFORE.search(text[:start]).start()
    span = text[start:end]
    trail = _TRAILING_POSSESSIVE.search(span)
    if trail:
        end -= len(trail.group())
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not (text[end - 1].isalnum() or text[end - 1] in ".)"):
        end -= 1
    span = text[start:end]
    if not span or "\n" in span or len(span) > _MAX_ENTITY_CHARS or not any(c.isalpha() for c in span):
        return None
    return start, end, article_start


class EntityBank:
    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {}
        self._with_article: Counter[tuple[str, str]] = Counter()
        self._index: dict[str, tuple[list[str], list[int]]] | None = None

    def add(self, label: str, entity: str, *, with_article: bool = False) -> None:
        self._counts.setdefault(label, Counter())[entity] += 1
        if with_article:
            self._with_article[label, entity] += 1
        self._index = None

    def takes_article(self, label: str, entity: str) -> bool:
        """Whether the corpus mostly writes this entity with "the" before it."""
        count = self.count(label, entity)
        return count > 0 and 2 * self._with_article[label, entity] >= count

    def prune(self, min_count: int) -> None:
        """Keep each entity under its majority label only, then drop entities seen fewer than
        ``min_count`` times. Both remove NER noise: "Kharkiv" tagged NORP once and GPE five
        times is a GPE, and never replaces "Chinese"."""
        for entity, label in self._majority_labels().items():
            for other in list(self._counts):
                if other != label and entity in self._counts[other]:
                    del self._counts[other][entity]
        for label in list(self._counts):
            kept = Counter({e: c for e, c in self._counts[label].items() if c >= min_count})
            if kept:
                self._counts[label] = kept
            else:
                del self._counts[label]
        self._index = None

    def _majority_labels(self) -> dict[str, str]:
        best: dict[str, tuple[int, str]] = {}
        for label in sorted(self._counts):
            for entity, count in self._counts[label].items():
                if entity not in best or count > best[entity][0]:
                    best[entity] = (count, label)
        return {entity: label for entity, (_, label) in best.items()}

    def label_of(self, entity: str) -> str | None:
        """The label the bank files ``entity`` under, if it holds it."""
        for label in sorted(self._counts):
            if entity in self._counts[label]:
                return label
        return None

    def labels(self) -> list[str]:
        return sorted(self._counts)

    def count(self, label: str, entity: str) -> int:
        return self._counts.get(label, Counter())[entity]

    def size(self, label: str | None = None) -> int:
        if label is not None:
            return len(self._counts.get(label, ()))
        return sum(len(c) for c in self._counts.values())

    def stats(self) -> dict[str, int]:
        return {label: len(self._counts[label]) for label in self.labels()}

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for label in self.labels():
            for entity, count in sorted(self._counts[label].items()):
                digest.update(f"{label}\x1f{entity}\x1f{count}\x1e".encode())
        return digest.hexdigest()[:16]

    def sample(self, label: str, rng: random.Random, *, exclude: set[str], weighting: Weighting) -> str | None:
        """Draw an entity of ``label`` whose lowercase form is not in ``exclude``; None if none is left."""
        if self._index is None:
            self._index = self._build_index()
        entities, cumulative = self._index.get(label, ([], []))
        if not entities:
            return None
        # A few random draws usually succeed; the fallback keeps the result exact when the
        # exclusions cover most of a small bank.
        for _ in range(8):
            entity = self._draw(entities, cumulative, rng, weighting)
            if entity.lower() not in exclude:
                return entity
        allowed = [i for i, e in enumerate(entities) if e.lower() not in exclude]
        if not allowed:
            return None
        if weighting == "uniform":
            return entities[rng.choice(allowed)]
        weights = [self._counts[label][entities[i]] for i in allowed]
        return entities[rng.choices(allowed, weights=weights)[0]]

    @staticmethod
    def _draw(entities: list[str], cumulative: list[int], rng: random.Random, weighting: Weighting) -> str:
        if weighting == "uniform":
            return entities[rng.randrange(len(entities))]
        return entities[bisect.bisect_right(cumulative, rng.randrange(cumulative[-1]))]

    def _build_index(self) -> dict[str, tuple[list[str], list[int]]]:
        index = {}
        for label, counts in self._counts.items():
            entities = sorted(counts)
            index[label] = (entities, list(itertools.accumulate(counts[e] for e in entities)))
        return index
