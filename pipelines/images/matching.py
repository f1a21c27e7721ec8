"""Choosing another story's image for a caption: candidates by similarity, then the rules.

Pure functions over L2-normalised embeddings, so that the rules are testable on vectors whose
neighbours are known::

    rules = MatchRules(min_similarity=0.2, max_similarity=0.9, max_uses=2)
    matches = assign(query_vecs, pool_vecs, queries, pool, rules)   # one Match or reason per query

A candidate is refused when it belongs to the query's own story, has the same bytes as the
query's own image, is a near-duplicate of it (image embeddings at least
``duplicate_threshold`` alike), has been used ``max_uses`` times already, or lies outside the
similarity window (too similar often means the same event; too far is an easy fake).
Queries are served in a fixed order (by story id), so the usage cap gives the same result
on every run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pipelines.images.embedding_index import top_k


@dataclass(frozen=True)
class MatchRules:
    min_similarity: float | None = None
    max_similarity: float | None = None
    max_uses: int = 3
    duplicate_threshold: float = 0.97
    candidates: int = 50


@dataclass(frozen=True)
class PoolItem:
    id: str
    story: str
    key: str
    eligible: bool = True  # e.g. for the person strategy: its caption names a person


@dataclass(frozen=True)
class QueryItem:
    story: str
    key: str | None = None  # content key of the query's own image, if it has one
    seed: int = 0


@dataclass(frozen=True)
class Match:
    pool_index: int
    similarity: float | None  # None for the random strategy


def assign(query_vectors: np.ndarray | None, pool_vectors: np.ndarray | None, queries: Sequence[QueryItem],
           pool: Sequence[PoolItem], rules: MatchRules, *, own_image_vectors: np.ndarray | None = None,
           pool_image_vectors: np.ndarray | None = None, chunk_size: int = 4096) -> list[Match | str]:
    """For each query, the best allowed pool item, or the reason there is none.

    ``query_vectors``/``pool_vectors`` are the similarity space of the strategy (None: random
    order from each query's seed). ``own_image_vectors`` (rows of zeros where a query has no
    image) and ``pool_image_vectors`` detect near-duplicates of the query's own image."""
    if not pool:
        return ["no candidate images in the pool"] * len(queries)
    uses: dict[str, int] = {}  # per picture (content key): two items may share the same bytes
    k = min(len(pool), rules.candidates)
    if query_vectors is not None:
        scores, indices = top_k(query_vectors, pool_vectors, k, chunk_size=chunk_size)
    order = sorted(range(len(queries)), key=lambda i: queries[i].story)
    results: list[Match | str] = [""] * len(queries)
    for i in order:
        query = queries[i]
        if query_vectors is None:
            candidates = _random_order(len(pool), query.seed)[:k]
            sims: Sequence[float | None] = [None] * len(candidates)
        else:
            candidates, sims = indices[i].tolist(), scores[i].tolist()
        results[i] = _first_allowed(query, candidates, sims, pool, uses, rules,
                                    own_image_vectors[i] if own_image_vectors is not None else None,
                                    pool_image_vectors)
        if isinstance(results[i], Match):
            key = pool[results[i].pool_index].key
            uses[key] = uses.get(key, 0) + 1
    return results


def _first_allowed(query: QueryItem, candidates: list[int], sims: Sequence[float | None],
                   pool: Sequence[PoolItem], uses: dict[str, int], rules: MatchRules, own_image: np.ndarray | None,
                   pool_images: np.ndarray | None) -> Match | str:
    refused: dict[str, int] = {}

    def refuse(why: str) -> None:
        refused[why] = refused.get(why, 0) + 1

    for j, sim in zip(candidates, sims):
        item = pool[j]
        if item.story == query.story:
            refuse("own story")
        elif not item.eligible:
            refuse("not eligible")
        elif query.key is not None and item.key == query.key:
            refuse("same image bytes")
        elif (own_image is not None and pool_images is not None and own_image.any()
              and float(own_image @ pool_images[j]) >= rules.duplicate_threshold):
            refuse("near-duplicate image")
        elif uses.get(item.key, 0) >= rules.max_uses:
            refuse("usage cap")
        elif sim is not None and rules.max_similarity is not None and sim > rules.max_similarity:
            refuse("above max_similarity")
        elif sim is not None and rules.min_similarity is not None and sim < rules.min_similarity:
            refuse("below min_similarity")
            break  # candidates come in descending similarity: the rest are lower still
        else:
            return Match(j, sim)
    detail = ", ".join(f"{why} {n}" for why, n in sorted(refused.items()))
    return f"no allowed image among the {len(candidates)} candidates ({detail or 'none'})"


def _random_order(n: int, seed: int) -> list[int]:
    digest = hashlib.sha256(str(seed).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return rng.permutation(n).tolist()
