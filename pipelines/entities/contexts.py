"""What the texts around an entity talk about, to draw a replacement from the same field of news.

A name says little of what a body does or what a person is known for: "Shell" and "VinFast" are
both companies, "Boston Celtics" and "Edmonton Oilers" both clubs, but oil results are not
reported by a carmaker and a hockey club does not reach the NBA finals. The words a corpus
writes around a name do say it (oil, prices, refinery; nba, finals, points). Each entity gets a
profile: the TF-IDF weights of the content words within a window around its mentions, its
strongest words only, normalised. An item's own words around the original (plus the original's
profile) are compared with the candidates' profiles by cosine similarity: distributional
similarity, cheap enough to run on every item (sparse vectors and an inverted index per pool).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Callable, Hashable, Iterable

import numpy as np
from spacy.lang.en.stop_words import STOP_WORDS

#: Characters either side of a mention in a body whose words count as its context.
WINDOW_CHARS = 200
#: Words kept per profile: the strongest, so that profiles stay small on large corpora.
PROFILE_WORDS = 48
#: Words of a query (an item's words around the original and the original's profile) kept.
QUERY_WORDS = 32
_WORD = re.compile(r"[a-z][a-z-]{2,}")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z-]{2,}")
#: A window with fewer lower-case words than this share is in capitals or title case: its
#: capitals say nothing about names.
_LOWER_SHARE = 0.4

Vector = dict[str, float]


def context_words(text: str, start: int, end: int, *, whole: bool, names: bool = True) -> list[str]:
    """The content words around ``text[start:end]`` (all of a short text when ``whole``), the
    mention's own words left out. Without ``names``, and unless the window is written in
    capitals or title case, capitalised words are left out too: for a person, other names say
    whom they are written about with (a debate moderator beside the candidates), common words
    what they are and do (moderator, debate). For a club or a firm the names beside it (its
    league, its rivals) are the best clue."""
    window = text if whole else text[max(0, start - WINDOW_CHARS):end + WINDOW_CHARS]
    own = set(_WORD.findall(text[start:end].lower()))
    tokens = _TOKEN.findall(window)
    if not names and sum(t[0].islower() for t in tokens) >= _LOWER_SHARE * len(tokens):
        tokens = [t for t in tokens if t[0].islower()]
    words = (t.lower() for t in tokens)
    return [w for w in words if w not in STOP_WORDS and w not in own]


class ContextProfiles:
    def __init__(self) -> None:
        self._counts: dict[Hashable, Counter[str]] = {}
        self._df: Counter[str] = Counter()
        self._idf_table: dict[str | None, float] = {None: 0.0}
        self._windows = 0
        self._profiles: dict[Hashable, Vector] = {}
        self._postings: dict[Hashable, dict[str, tuple[np.ndarray, np.ndarray]]] = {}

    def add(self, key: Hashable, words: list[str]) -> None:
        """One window of ``words`` around a mention of the entity ``key``."""
        self._counts.setdefault(key, Counter()).update(words)
        self._df.update(set(words))
        self._windows += 1

    def finish(self, keep: Iterable[Hashable]) -> None:
        """Turn the counts of the entities in ``keep`` into profiles; forget the rest."""
        keep = set(keep)
        total = max(self._windows, 1)
        # Document frequencies are only needed as weights from now on (and travel to workers).
        self._idf_table = {w: math.log((1 + total) / (1 + n)) for w, n in self._df.items()}
        self._idf_table[None] = math.log(1 + total)
        self._df = Counter()
        self._profiles = {key: self._weigh(counts) for key, counts in self._counts.items() if key in keep}
        self._profiles = {key: vector for key, vector in self._profiles.items() if vector}
        self._counts = {}
        self._postings = {}

    def __getstate__(self) -> dict:
        # The inverted indexes are rebuilt where they are used: they need not travel to workers.
        return {**self.__dict__, "_postings": {}}

    def profile(self, key: Hashable) -> Vector:
        return self._profiles.get(key, {})

    def query(self, words: list[str], key: Hashable | None = None) -> Vector:
        """The vector of an item's words around the original, joined to the original's profile."""
        vector = self._weigh(Counter(words), limit=None)
        for word, weight in self.profile(key).items():
            vector[word] = vector.get(word, 0.0) + weight
        if len(vector) > QUERY_WORDS:  # the strongest words make the cosine; the rest cost time
            vector = dict(sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:QUERY_WORDS])
        return _normalised(vector)

    def similarities(self, pool: Hashable, size: int, keys: Callable[[], Iterable[Hashable]], query: Vector
                     ) -> np.ndarray:
        """Cosine similarity of ``query`` with the profile of each of the ``size`` entities of
        ``pool`` (0 without one). ``keys()`` lists them; it is called once per pool, when the
        pool's inverted index is built."""
        postings = self._postings.get(pool)
        if postings is None:
            lists: dict[str, tuple[list[int], list[float]]] = {}
            for i, key in enumerate(keys()):
                for word, weight in self.profile(key).items():
                    rows, weights = lists.setdefault(word, ([], []))
                    rows.append(i)
                    weights.append(weight)
            postings = {w: (np.array(r, dtype=np.int64), np.array(v)) for w, (r, v) in lists.items()}
            self._postings[pool] = postings
        rows, values = [], []
        for word, weight in query.items():
            hit = postings.get(word)
            if hit is not None:
                rows.append(hit[0])
                values.append(weight * hit[1])
        if not rows:
            return np.zeros(size)
        return np.bincount(np.concatenate(rows), weights=np.concatenate(values), minlength=size)

    def __len__(self) -> int:
        return len(self._profiles)

    def _weigh(self, counts: Counter[str], limit: int | None = PROFILE_WORDS) -> Vector:
        idf = self._idf_table  # each word's inverse document frequency (None: a word never seen)
        unseen = idf.get(None, 0.0)
        weights = {w: (1 + math.log(n)) * idf.get(w, unseen) for w, n in counts.items()}
        weights = {w: v for w, v in weights.items() if v > 0}
        if limit is not None and len(weights) > limit:
            weights = dict(sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])
        return _normalised(weights)


def _normalised(vector: Vector) -> Vector:
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {w: v / norm for w, v in vector.items()} if norm else {}
