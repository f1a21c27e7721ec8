"""The rules of image choice, on embeddings whose nearest neighbours are known."""

from __future__ import annotations

import numpy as np

from pipelines.images.matching import Match, MatchRules, PoolItem, QueryItem, assign


def unit(*values):
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


# Pool: four images along (mostly) different axes; queries point near known ones.
POOL_VECS = np.stack([unit(1, 0, 0, 0), unit(0, 1, 0, 0), unit(0, 0, 1, 0), unit(0.9, 0.1, 0, 0)])
POOL = [PoolItem("a", "a", "ka"), PoolItem("b", "b", "kb"), PoolItem("c", "c", "kc"), PoolItem("d", "d", "kd")]


def test_each_query_gets_its_nearest_allowed_neighbour():
    queries = [QueryItem("q1"), QueryItem("q2")]
    vecs = np.stack([unit(0, 0.2, 1, 0), unit(0, 1, 0.1, 0)])
    (m1, m2) = assign(vecs, POOL_VECS, queries, POOL, MatchRules())
    assert (m1.pool_index, m2.pool_index) == (2, 1)
    assert m1.similarity == np.float32(vecs[0] @ POOL_VECS[2])


def test_own_story_same_bytes_and_near_duplicates_are_never_chosen():
    # Query "a" is the story of pool item a: its nearest (a itself) and d (a near-duplicate of
    # its own image) are refused; so is any item with the same bytes.
    own = np.stack([POOL_VECS[0]])
    (match,) = assign(np.stack([unit(1, 0.05, 0, 0)]), POOL_VECS, [QueryItem("a", key="ka")], POOL,
                      MatchRules(duplicate_threshold=0.95), own_image_vectors=own, pool_image_vectors=POOL_VECS)
    assert match.pool_index not in (0, 3)
    same_bytes = [PoolItem("x", "x", "kq"), *POOL[1:]]
    (match,) = assign(np.stack([unit(1, 0, 0, 0)]), POOL_VECS, [QueryItem("q", key="kq")], same_bytes, MatchRules())
    assert match.pool_index == 3  # x has the query's bytes; d is next


def test_usage_cap_spreads_images_in_a_fixed_order():
    queries = [QueryItem(f"q{i}") for i in range(3)]
    vecs = np.stack([unit(0, 0, 1, 0.1)] * 3)
    results = assign(vecs, POOL_VECS, queries, POOL, MatchRules(max_uses=1))
    assert [r.pool_index for r in results][0] == 2
    assert len({r.pool_index for r in results}) == 3
    # The same inputs in another order give each story the same image.
    again = assign(vecs[::-1], POOL_VECS, queries[::-1], POOL, MatchRules(max_uses=1))
    assert [r.pool_index for r in again[::-1]] == [r.pool_index for r in results]


def test_the_similarity_window_refuses_too_close_and_too_far():
    query = np.stack([unit(1, 0.3, 0, 0)])  # ~0.96 to a, ~0.98 to d, ~0.29 to b, 0 to c
    (match,) = assign(query, POOL_VECS, [QueryItem("q")], POOL, MatchRules(max_similarity=0.9))
    assert match.pool_index == 1 and match.similarity <= 0.9
    (none,) = assign(query, POOL_VECS, [QueryItem("q")], POOL, MatchRules(max_similarity=0.9, min_similarity=0.5))
    assert isinstance(none, str) and "above max_similarity 2" in none and "below min_similarity" in none


def test_random_is_seeded_per_story_and_follows_the_rules():
    queries = [QueryItem(s, seed=i) for i, s in enumerate("abcd")]
    first = assign(None, None, queries, POOL, MatchRules(max_uses=1))
    assert first == assign(None, None, queries, POOL, MatchRules(max_uses=1))
    assert all(isinstance(m, Match) and POOL[m.pool_index].story != q.story for m, q in zip(first, queries))
    assert len({m.pool_index for m in first}) == 4


def test_ineligible_items_and_an_empty_pool():
    pool = [PoolItem("a", "a", "ka", eligible=False), *POOL[1:]]
    (match,) = assign(np.stack([unit(1, 0, 0, 0)]), POOL_VECS, [QueryItem("q")], pool, MatchRules())
    assert match.pool_index == 3
    assert assign(np.stack([unit(1, 0, 0, 0)]), POOL_VECS[:0], [QueryItem("q")], [], MatchRules()) == \
        ["no candidate images in the pool"]
