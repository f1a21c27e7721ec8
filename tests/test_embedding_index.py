"""The embedding index: exact chunked top-k, and a vector cache that never embeds twice."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.images.embedding_index import EmbeddingCache, content_key, normalise, top_k


def random_rows(n: int, d: int, seed: int) -> np.ndarray:
    return normalise(np.random.default_rng(seed).standard_normal((n, d)))


def brute_force(queries: np.ndarray, pool: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ pool.T
    # lexsort: last key first, so score descending, then the lower index.
    order = np.lexsort((np.broadcast_to(np.arange(len(pool)), scores.shape), -scores), axis=1)[:, :k]
    return np.take_along_axis(scores, order, axis=1), order


# -- top_k ----------------------------------------------------------------------------------

@pytest.mark.parametrize("chunk_size", [1, 7, 64, 100, 1000])
@pytest.mark.parametrize("k", [1, 5, 40, 150])  # 40 takes the argpartition path; 150 > pool
def test_top_k_equals_brute_force(chunk_size, k):
    queries, pool = random_rows(53, 16, seed=1), random_rows(120, 16, seed=2)
    scores, index = top_k(queries, pool, k, chunk_size=chunk_size)
    want_scores, want_index = brute_force(queries, pool, min(k, len(pool)))
    assert index.shape == (53, min(k, len(pool)))
    np.testing.assert_array_equal(index, want_index)
    np.testing.assert_allclose(scores, want_scores, atol=1e-6)


@pytest.mark.parametrize("chunk_size", [3, 8, 1000])
@pytest.mark.parametrize("k", [1, 4, 40])
def test_ties_go_to_the_lower_pool_index(chunk_size, k):
    # Few distinct vectors, many copies: nearly every score is tied with others.
    rng = np.random.default_rng(3)
    basis = np.eye(4, dtype=np.float32)
    pool = basis[rng.integers(0, 4, size=90)]
    queries = basis[rng.integers(0, 4, size=20)]
    scores, index = top_k(queries, pool, k, chunk_size=chunk_size)
    want_scores, want_index = brute_force(queries, pool, k)
    np.testing.assert_array_equal(index, want_index)
    np.testing.assert_array_equal(scores, want_scores)
    np.testing.assert_array_equal(top_k(queries, pool, k, chunk_size=chunk_size)[1], index)


def test_known_nearest_neighbours_are_found():
    # Each pool row is a basis vector plus small noise; query i is basis vector perm[i].
    rng = np.random.default_rng(4)
    d = 32
    pool = normalise(np.eye(d) + 0.05 * rng.standard_normal((d, d)))
    perm = rng.permutation(d)
    queries = normalise(np.eye(d)[perm] + 0.05 * rng.standard_normal((d, d)))
    _, index = top_k(queries, pool, 1, chunk_size=5)
    np.testing.assert_array_equal(index[:, 0], perm)


def test_top_k_rejects_bad_input():
    rows = random_rows(4, 8, seed=5)
    with pytest.raises(ValueError, match="float32"):
        top_k(rows.astype(np.float64), rows, 1)
    with pytest.raises(ValueError, match="dimension"):
        top_k(rows, random_rows(4, 6, seed=5), 1)
    with pytest.raises(ValueError, match="2-D"):
        top_k(rows[0], rows, 1)
    with pytest.raises(ValueError, match="k must"):
        top_k(rows, rows, 0)
    with pytest.raises(ValueError, match="NaN"):
        top_k(np.full((1, 8), np.nan, np.float32), rows, 1)


def test_normalise_keeps_zero_rows_zero():
    out = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_top_k_memory_is_flat_in_pool_size():
    queries = random_rows(300, 32, seed=6)

    def peak_extra(pool: np.ndarray) -> int:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            top_k(queries, pool, 5, chunk_size=256)
            return tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()

    small, large = random_rows(2_000, 32, seed=7), random_rows(8_000, 32, seed=8)
    assert peak_extra(large) <= 1.3 * peak_extra(small)


# -- EmbeddingCache ---------------------------------------------------------------------------

class CountingEncoder:
    """A deterministic fake model: vector from the payload's hash; counts what it encodes."""

    def __init__(self, dim: int = 8):
        self.dim, self.seen = dim, []

    def __call__(self, payloads: list) -> np.ndarray:
        self.seen += payloads
        return np.stack([np.random.default_rng(int(content_key(p)[:8], 16)).standard_normal(self.dim)
                         for p in payloads]).astype(np.float32)


def texts(n: int) -> tuple[list[str], list[str]]:
    payloads = [f"caption {i}" for i in range(n)]
    return [content_key(p) for p in payloads], payloads


def test_second_embed_computes_nothing(tmp_path):
    keys, payloads = texts(10)
    cache, encode = EmbeddingCache(tmp_path, "fake-model"), CountingEncoder()
    first = cache.embed(keys, payloads, encode, batch_size=3)
    assert (cache.computed, cache.reused) == (10, 0)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-6)

    cache.computed = cache.reused = 0
    again = cache.embed(keys, payloads, encode, batch_size=3)
    assert (cache.computed, cache.reused) == (0, 10)
    np.testing.assert_array_equal(again, first)
    assert len(encode.seen) == 10


def test_only_new_keys_are_computed_and_duplicates_once(tmp_path):
    keys, payloads = texts(6)
    cache, encode = EmbeddingCache(tmp_path, "fake-model"), CountingEncoder()
    cache.embed(keys[:5], payloads[:5], encode)
    encode.seen.clear()
    out = cache.embed([keys[5], keys[0], keys[5]], [payloads[5], payloads[0], payloads[5]], encode)
    assert encode.seen == [payloads[5]]
    assert (cache.computed, cache.reused) == (6, 2)
    np.testing.assert_array_equal(out[0], out[2])


def test_cache_survives_reopening(tmp_path):
    keys, payloads = texts(7)
    first = EmbeddingCache(tmp_path, "fake-model").embed(keys, payloads, CountingEncoder(), flush_rows=2)
    reopened, encode = EmbeddingCache(tmp_path, "fake-model"), CountingEncoder()
    np.testing.assert_array_equal(reopened.embed(keys, payloads, encode), first)
    assert reopened.computed == 0 and encode.seen == []


def test_model_ids_do_not_share_vectors(tmp_path):
    keys, payloads = texts(3)
    EmbeddingCache(tmp_path, "model-a").embed(keys, payloads, CountingEncoder())
    other, encode = EmbeddingCache(tmp_path, "model-b"), CountingEncoder()
    other.embed(keys, payloads, encode)
    assert other.computed == 3 and len(encode.seen) == 3


def test_dimension_mismatch_is_a_clear_error(tmp_path):
    keys, payloads = texts(3)
    EmbeddingCache(tmp_path, "fake-model").embed(keys[:2], payloads[:2], CountingEncoder(dim=8))
    with pytest.raises(ValueError, match="dimension 4.*says 8"):
        EmbeddingCache(tmp_path, "fake-model").embed(keys, payloads, CountingEncoder(dim=4))


def test_leftover_tmp_from_a_crash_is_ignored(tmp_path):
    keys, payloads = texts(4)
    cache = EmbeddingCache(tmp_path, "fake-model")
    first = cache.embed(keys[:2], payloads[:2], CountingEncoder())
    # A writer that died before its rename leaves a hidden, half-written .tmp behind.
    (cache.root / ".segment-999-dead.tmp").write_bytes(b"PAR1 half a segment")
    pq.write_table(pa.table({"key": [keys[2]], "vector": [[1.0] * 8]}), cache.root / ".segment-998-x.tmp")
    reopened, encode = EmbeddingCache(tmp_path, "fake-model"), CountingEncoder()
    out = reopened.embed(keys, payloads, encode)
    assert encode.seen == payloads[2:]
    np.testing.assert_array_equal(out[:2], first)


def test_list_column_segments_are_read(tmp_path):
    cache = EmbeddingCache(tmp_path, "fake-model")
    cache.put_many(["a"], np.ones((1, 3), np.float32))
    # Another writer may store list<float32>; it reads the same.
    pq.write_table(pa.table({"key": ["b"], "vector": pa.array([[0.0, 1.0, 0.0]], pa.list_(pa.float32()))}),
                   cache.root / "segment-00007.parquet")
    reopened = EmbeddingCache(tmp_path, "fake-model")
    np.testing.assert_allclose(reopened.get_many(["b"]), [[0.0, 1.0, 0.0]])
    assert len(reopened) == 2
