"""Embedding index for image repurposing: an on-disk vector cache and a chunked exact top-k.

The repurposing stage (NewsCLIPpings-style) gives each caption the most similar image of
*another* story. It needs two things, both here:

- :class:`EmbeddingCache`: vectors keyed by content (sha256 of image bytes or text) and model
  id, so that a re-run, or a second pipeline over the same images, embeds nothing twice.
- :func:`top_k`: the k most similar pool rows per query, exact, in memory that does not grow
  with the pool (chunked matrix products with a running top-k).

Every stored vector is L2-normalised on the way in, so cosine similarity is a dot product::

    cache = EmbeddingCache(Path("cache/embeddings"), "clip-ViT-B-32")
    images = cache.embed(image_keys, image_bytes, encode_images)    # (n_images, d) float32
    captions = cache.embed(text_keys, captions_text, encode_texts)  # (n_captions, d) float32
    scores, index = top_k(captions, images, k=10)                   # (n_captions, 10) each

numpy only: an exact search over ~10^5 rows is a few matrix products, no faiss needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datafactory.output import write_text_atomic

MODEL_JSON = "model.json"
SEGMENT_GLOB = "segment-*.parquet"
# top_k selects a chunk's best k by k passes of argmax below this k (each pass is a fast
# linear scan, and argmax returns the first maximum, i.e. our tie rule), by argpartition above.
_ARGMAX_PASSES_MAX_K = 32


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, as float32; all-zero rows stay zero (no NaN).

    >>> normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]], dtype=float32)
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"normalise expects a 2-D array (rows, dim), got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def content_key(data: bytes | str) -> str:
    """The cache key of an image's bytes or a text: its sha256 hex digest, as
    :func:`datafactory.images.image_key` gives for images."""
    from datafactory.images import image_key

    return image_key(data.encode("utf-8") if isinstance(data, str) else data)


class EmbeddingCache:
    """Append-only on-disk cache of L2-normalised float32 vectors for one model.

    Layout: ``folder/<sha256(model_id)[:16]>/model.json`` (``{"model_id", "dim"}``) and
    ``segment-NNNNN.parquet`` files with columns ``key: string`` and
    ``vector: fixed_size_list<float32>[dim]`` (``list<float32>`` is read too). Each write is one
    new segment, written to a hidden ``.tmp`` file, fsynced and then linked into place, so a
    crash never leaves half a segment and readers only ever see whole ones; leftover ``.tmp``
    files are ignored. Segments are read once, lazily, on first use; :meth:`refresh` picks up
    segments that other processes wrote since.

    ``computed`` and ``reused`` count keys embedded and keys served from the cache by
    :meth:`embed`, so a caller (or a test) can check that a re-run embeds nothing new.
    """

    def __init__(self, folder: Path, model_id: str):
        self.model_id = model_id
        self.root = Path(folder) / hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:16]
        self.computed = 0
        self.reused = 0
        self.dim: int | None = None
        self._blocks: list[np.ndarray] = []
        self._where: dict[str, tuple[int, int]] = {}  # key -> (block, row)
        self._seen: set[str] = set()  # segment file names already loaded
        self._loaded = False

    def __len__(self) -> int:
        self._load()
        return len(self._where)

    def __contains__(self, key: str) -> bool:
        self._load()
        return key in self._where

    def refresh(self) -> None:
        """Read segments written (by anyone) since the last load."""
        self._loaded = False
        self._load()

    def get_many(self, keys: Sequence[str]) -> np.ndarray:
        """Cached vectors of ``keys`` in order, shape (len(keys), dim); KeyError if one is missing."""
        self._load()
        if self.dim is None:
            raise KeyError(f"{keys[0]!r}: cache {self.root} is empty" if keys else "empty cache")
        out = np.empty((len(keys), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            block, row = self._where[key]
            out[i] = self._blocks[block][row]
        return out

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Normalise and store ``vectors`` (n, dim) under ``keys`` as one new segment."""
        vectors = normalise(vectors)
        if len(keys) != len(vectors):
            raise ValueError(f"put_many got {len(keys)} keys but {len(vectors)} vectors")
        if not len(keys):
            return
        self._load()
        self._check_dim(vectors.shape[1], f"vectors passed to put_many for model {self.model_id!r}")
        if self.dim is None:
            self.root.mkdir(parents=True, exist_ok=True)
            write_text_atomic(json.dumps({"model_id": self.model_id, "dim": vectors.shape[1]}),
                              self.root / MODEL_JSON)
            self.dim = vectors.shape[1]
        column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), self.dim)
        name = self._write_segment(pa.table({"key": pa.array(list(keys), pa.string()), "vector": column}))
        self._seen.add(name)
        self._add(list(keys), vectors)

    def embed(self, keys: Sequence[str], payloads: Sequence, encode: Callable[[list], np.ndarray],
              batch_size: int = 64, progress: bool = False, flush_rows: int = 4096) -> np.ndarray:
        """Vectors of ``keys`` in order, (len(keys), dim) float32, unit norm (or zero).

        Only keys not cached are encoded, each once even if repeated, by ``encode(payloads)``
        in batches of ``batch_size``; new vectors are stored every ``flush_rows`` rows (a crash
        loses at most that much work) and at the end.

        >>> cache.embed(["k1", "k2"], ["a caption", "another"], model.encode).shape
        (2, 512)
        """
        if len(keys) != len(payloads):
            raise ValueError(f"embed got {len(keys)} keys but {len(payloads)} payloads")
        self._load()
        missing: dict[str, object] = {}  # first payload of each uncached key, in first-seen order
        for key, payload in zip(keys, payloads):
            if key not in self._where and key not in missing:
                missing[key] = payload
        self.reused += len(keys) - len(missing)
        todo = list(missing)
        pending_keys: list[str] = []
        pending: list[np.ndarray] = []
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            vectors = np.asarray(encode([missing[key] for key in batch]), dtype=np.float32)
            if vectors.ndim != 2 or len(vectors) != len(batch):
                raise ValueError(f"encode returned shape {vectors.shape} for a batch of {len(batch)}; "
                                 f"expected ({len(batch)}, dim)")
            self._check_dim(vectors.shape[1], f"encode output for model {self.model_id!r}")
            pending_keys += batch
            pending.append(vectors)
            self.computed += len(batch)
            if len(pending_keys) >= flush_rows or start + batch_size >= len(todo):
                self.put_many(pending_keys, np.concatenate(pending))
                pending_keys, pending = [], []
            if progress:
                print(f"embed {self.model_id}: {min(start + batch_size, len(todo))}/{len(todo)} new",
                      file=sys.stderr)
        return self.get_many(keys) if len(keys) else np.zeros((0, self.dim or 0), np.float32)

    # -- storage ------------------------------------------------------------------------------

    def _check_dim(self, dim: int, what: str) -> None:
        if self.dim is not None and dim != self.dim:
            raise ValueError(f"{what} has dimension {dim}, but {self.root / MODEL_JSON} says {self.dim}; "
                             f"a different model needs a different model_id")

    def _add(self, keys: list[str], vectors: np.ndarray) -> None:
        block = len(self._blocks)
        self._blocks.append(vectors)
        for row, key in enumerate(keys):  # a later segment wins; both hold the same vector anyway
            self._where[key] = (block, row)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        meta_path = self.root / MODEL_JSON
        if not meta_path.exists():
            return
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("model_id") != self.model_id:
            raise ValueError(f"{meta_path} names model {meta.get('model_id')!r}, not {self.model_id!r}")
        self.dim = int(meta["dim"])
        for path in sorted(self.root.glob(SEGMENT_GLOB)):  # the glob never matches hidden .tmp files
            if path.name in self._seen:
                continue
            table = pq.read_table(path)
            self._add(table.column("key").to_pylist(), self._read_vectors(table.column("vector"), path))
            self._seen.add(path.name)

    def _read_vectors(self, column: pa.ChunkedArray, path: Path) -> np.ndarray:
        column = column.combine_chunks()
        if len(column) and pa.types.is_list(column.type):
            lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
            if (lengths != self.dim).any():
                raise ValueError(f"{path}: vector lengths {sorted(set(lengths.tolist()))} != dim {self.dim} "
                                 f"in {MODEL_JSON}")
        elif pa.types.is_fixed_size_list(column.type) and column.type.list_size != self.dim:
            raise ValueError(f"{path}: vector dimension {column.type.list_size} != dim {self.dim} in {MODEL_JSON}")
        flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        return flat.reshape(len(column), self.dim)

    def _write_segment(self, table: pa.Table) -> str:
        tmp = self.root / f".segment-{os.getpid()}-{uuid.uuid4().hex}.tmp"
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        # os.link fails if the name is taken, where os.replace would silently overwrite another
        # writer's segment: two processes appending at once each get their own number.
        number = 1 + max((int(p.stem.split("-")[1]) for p in self.root.glob(SEGMENT_GLOB)), default=-1)
        try:
            while True:
                name = f"segment-{number:05d}.parquet"
                try:
                    os.link(tmp, self.root / name)
                    return name
                except FileExistsError:
                    number += 1
        finally:
            tmp.unlink()


def top_k(queries: np.ndarray, pool: np.ndarray, k: int, *,
          chunk_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` pool rows most similar to each query: ``(scores, indices)``, each (n_queries, k).

    ``queries`` (n_queries, d) and ``pool`` (n_pool, d) are L2-normalised float32 rows, so the
    score is the cosine similarity. Per query, scores descend; equal scores are ordered by the
    lower pool index, so results are deterministic. ``k`` above ``n_pool`` returns the whole
    pool, sorted (``k`` columns become ``n_pool``).

    Queries and pool are both taken ``chunk_size`` rows at a time; each chunk pair's score
    block is reduced to its best k and merged into a running top-k, so the extra memory is
    O(chunk_size² + n_queries·k) whatever the pool size.

    >>> scores, index = top_k(captions, images, k=1)   # index[i, 0]: the image for caption i
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    _check_rows("queries", queries, chunk_size)
    _check_rows("pool", pool, chunk_size)
    if queries.shape[1] != pool.shape[1]:
        raise ValueError(f"queries have dimension {queries.shape[1]} but pool has {pool.shape[1]}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    n_queries, n_pool = len(queries), len(pool)
    k = min(int(k), n_pool)
    scores = np.empty((n_queries, k), dtype=np.float32)
    indices = np.empty((n_queries, k), dtype=np.int64)
    for q0 in range(0, n_queries, chunk_size):
        q = queries[q0:q0 + chunk_size]
        best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
        best_i = np.empty((len(q), 0), dtype=np.int64)
        for p0 in range(0, n_pool, chunk_size):
            block = q @ pool[p0:p0 + chunk_size].T  # (queries chunk, pool chunk)
            s, i = _block_top_k(block, k)
            # Running best first: on equal scores, its (lower) pool indices stay ahead.
            best_s, best_i = _merge(best_s, best_i, s, i + p0, k)
            del block
        scores[q0:q0 + len(q)] = best_s
        indices[q0:q0 + len(q)] = best_i
    return scores, indices


def _check_rows(name: str, array: np.ndarray, chunk_size: int) -> None:
    if not isinstance(array, np.ndarray) or array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D numpy array (rows, dim), got "
                         f"{getattr(array, 'shape', type(array).__name__)}")
    if array.dtype != np.float32:
        raise ValueError(f"{name} must be float32 (normalise() gives that), got {array.dtype}")
    # NaN scores would make the order meaningless; checked by chunks, as a whole-array
    # isfinite would allocate in proportion to the pool.
    for start in range(0, len(array), max(chunk_size, 1)):
        if not np.isfinite(array[start:start + chunk_size]).all():
            raise ValueError(f"{name} contains NaN or infinite values (from row {start})")


def _block_top_k(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``min(k, columns)`` of each row, sorted by (score desc, column asc). Overwrites block."""
    rows = np.arange(len(block))
    k = min(k, block.shape[1])
    if k <= _ARGMAX_PASSES_MAX_K:
        # k linear scans; argmax picks the first (lowest-column) maximum, which is the tie rule.
        # Finite inputs make -inf a safe "taken" mark.
        cols = np.empty((len(block), k), dtype=np.int64)
        vals = np.empty((len(block), k), dtype=np.float32)
        for j in range(k):
            cols[:, j] = c = block.argmax(axis=1)
            vals[:, j] = block[rows, c]
            block[rows, c] = -np.inf
        return vals, cols
    if k < block.shape[1]:
        np.negative(block, out=block)  # argpartition selects smallest; in place saves a copy
        cols = np.argpartition(block, k - 1, axis=1)[:, :k]
        vals = -np.take_along_axis(block, cols, axis=1)
        kth = vals.min(axis=1)
        # argpartition picks arbitrarily among scores equal to the k-th; redo rows where that
        # choice existed (more scores >= the k-th than k) with a stable sort: rare on real data.
        for r in np.flatnonzero((block <= -kth[:, None]).sum(axis=1) > k):
            cols[r] = np.argsort(block[r], kind="stable")[:k]
            vals[r] = -block[r, cols[r]]
    else:
        cols = np.broadcast_to(np.arange(k), (len(block), k))
        vals = block
    order = np.lexsort((cols, -vals), axis=1)
    return np.take_along_axis(vals, order, axis=1), np.take_along_axis(cols, order, axis=1)


def _merge(best_s: np.ndarray, best_i: np.ndarray, s: np.ndarray, i: np.ndarray,
           k: int) -> tuple[np.ndarray, np.ndarray]:
    both_s = np.concatenate([best_s, s], axis=1)
    both_i = np.concatenate([best_i, i], axis=1)
    order = np.lexsort((both_i, -both_s), axis=1)[:, :k]
    return np.take_along_axis(both_s, order, axis=1), np.take_along_axis(both_i, order, axis=1)
