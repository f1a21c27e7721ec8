"""Image repurposing: give a caption the image of another story (NewsCLIPpings, Luo et al. 2021).

Most viral misinformation is a real photo with a false caption. For each record with a
caption (or, without one, a title) this stage picks an image of another story from the pool
(the corpus's own images) and emits the out-of-context pair: ``falsified=True``, the new
``image``, ``scores.retrieval_similarity``, and in provenance ``stats`` the strategy and the
id of the story the image came from. Strategies:

* ``clip_text_image``: the caption's CLIP text embedding against the pool's image embeddings;
* ``clip_text_text``: against the pool items' captions (CLIP text tower);
* ``person``: captions naming a person (spaCy NER), matched by sentence embedding to other
  captions naming a person: someone else, in a similar setting;
* ``scene``: the record's own image against the pool's images (CLIP vision);
* ``random``: the uniform baseline.

Rules (own story, same or near-identical image, usage cap, similarity window) live in
:mod:`pipelines.images.matching`. Every assignment is made in ``fit`` over the whole corpus in
a fixed order, so a record's image does not depend on its batch, shard or a resume.
Images that are missing, unreadable, outside ``image_root`` or too large send their record to
rejects with the reason (:mod:`datafactory.images`).
"""

from __future__ import annotations

import json

from typing import Any, ClassVar, Iterable, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from datafactory.config import InputConfig
from datafactory.stage import Stage, StageConfig
from pipelines.images.matching import Match, MatchRules, PoolItem, QueryItem, assign

STRATEGIES = ("clip_text_image", "clip_text_text", "person", "scene", "random")


class RepurposeImageConfig(StageConfig):
    path_fields: ClassVar[tuple[str, ...]] = ("clip_model", "text_model", "ner_model", "image_root",
                                               "embedding_cache")

    strategy: Literal["clip_text_image", "clip_text_text", "person", "scene", "random"] = "clip_text_image"
    """How the image is chosen (see the module docstring)."""
    clip_model: str = "openai/clip-vit-base-patch32"
    """Any CLIPModel folder or cached hub id."""
    text_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    """Sentence-transformers model (folder or cached id), for strategy: person."""
    ner_model: str = "en_core_web_sm"
    """spaCy pipeline finding PERSON mentions, for strategy: person."""
    device: str = "auto"
    pool_input: InputConfig | None = None
    """Images to hand out instead of the corpus's own: a folder of image files, or a JSONL, CSV
    or Parquet file with an image column (bytes or paths under image_root), e.g. {path: photos/}."""
    image_root: str | None = None
    """Folder that relative image paths resolve against (paths may not leave it)."""
    max_pixels: int = Field(89_478_485, gt=0)
    """Larger images are refused (decompression-bomb guard)."""
    store: Literal["bytes", "path", "both"] = "bytes"
    """What the output's image field holds."""
    min_similarity: float | None = None
    """Refuse candidates less similar than this (an easy fake)."""
    max_similarity: float | None = None
    """Refuse candidates more similar than this (often the same event)."""
    max_uses: int = Field(3, ge=1)
    """Most times one image may be given to other captions."""
    duplicate_threshold: float = Field(0.97, gt=0, le=1)
    """Image embeddings at least this alike count as the same picture."""
    candidates: int = Field(50, ge=1)
    """Nearest candidates examined per caption before giving up."""
    embedding_cache: str | None = None
    """Folder caching embeddings by content hash and model, so re-runs embed only new items."""
    batch_size: int = Field(32, ge=1)
    """Images or texts per embedding forward."""


class RepurposeImage(Stage):
    name = "repurpose_image"
    version = "1"
    Config = RepurposeImageConfig
    scores = ("retrieval_similarity",)
    worker_resources = ("clip", "sbert", "nlp")
    corpus_wide = True  # pictures are shared out under max_uses across the whole corpus
    needs_corpus = True
    config: RepurposeImageConfig

    def __init__(self, config: RepurposeImageConfig, *, seed: int):
        super().__init__(config, seed=seed)
        self.clip: Any = None
        self.sbert: Any = None
        self.nlp: Any = None
        self.assignments: dict[str, Match | str] = {}
        self.pool: list[dict[str, Any]] = []
        self.side_pool: list[dict[str, Any]] | None = None
        self.embedded = {"computed": 0, "reused": 0}

    # -- set-up ----------------------------------------------------------------------------

    def check(self, source: str, field: str) -> None:
        from pipelines.images.encoders import check_model

        if self.config.strategy != "random":
            check_model(self.config.clip_model, what="CLIP model", source=source, field=f"{field}.clip_model")
        if self.config.strategy == "person":
            from datafactory.spacy_models import check_spacy_model

            check_model(self.config.text_model, what="sentence-embedding model", source=source,
                        field=f"{field}.text_model")
            check_spacy_model(self.config.ner_model, source=source, field=f"{field}.ner_model")

    def setup(self) -> None:
        from pipelines.images.encoders import load_clip, load_sentence_encoder

        if self.clip is None and self.config.strategy != "random":
            self.clip = load_clip(self.config.clip_model, self.config.device)
        if self.config.strategy == "person" and self.sbert is None:
            from datafactory.spacy_models import load_spacy_ner

            self.sbert = load_sentence_encoder(self.config.text_model, self.config.device)
            self.nlp = load_spacy_ner(self.config.ner_model)

    def models(self) -> list[dict[str, Any]]:
        self.setup()
        found = []
        for encoder, kind in ((self.clip, "clip"), (self.sbert, "sentence_encoder")):
            if encoder is not None:
                found.append({"kind": kind, "name": encoder.name, "version": encoder.version})
        if self.nlp is not None:
            found.append({"kind": "spacy", "name": self.config.ner_model,
                          "version": self.nlp.meta.get("version")})
        return found

    def side_inputs(self) -> dict[str, Any]:
        if self.config.pool_input is None:
            return {}
        # Pool rows need an image only; titles and bodies are optional there.
        return {"pool": self.config.pool_input.model_copy(update={"required": []})}

    def fit_side(self, name: str, batches: Iterable[pa.Table]) -> None:
        stories = self._read_stories(batches)
        for story in stories:
            story["story"] = f"pool:{story['id']}"  # another dataset: its ids are not our stories
        self.side_pool = [s for s in stories if s["image"] is not None]

    def run_stats(self) -> dict[str, Any]:
        return dict(self.embedded)

    # -- the corpus: pool and assignments ---------------------------------------------------

    def fit(self, batches: Iterable[pa.Table]) -> None:
        stories = self._read_stories(batches)
        own_images = [s for s in stories if s["image"] is not None]
        pool = self.side_pool if self.side_pool is not None else own_images
        # store: path can only hand out images that came with a path.
        self.pool = [s for s in pool if self.config.store != "path" or s["image"]["path"]]
        queries = [s for s in stories if s["error"] is None and s["text"]
                   and (self.config.strategy != "scene" or s["image"] is not None)]
        results = self._match(queries)
        self.assignments = {s["story"]: r for s, r in zip(queries, results)}
        for s in stories:
            if s["error"] is not None:
                self.assignments[s["story"]] = s["error"]
            elif s["story"] not in self.assignments:
                self.assignments[s["story"]] = ("no image of its own to match scenes with"
                                                if s["text"] else "no caption or title to match")

    def _read_stories(self, batches: Iterable[pa.Table]) -> list[dict[str, Any]]:
        """Each record's story, text and decoded image (or the reason its image is unusable)."""
        from datafactory.images import ImageError, ImageSource, load_image

        self.setup()
        source = ImageSource(root=_path(self.config.image_root) if self.config.image_root else None,
                             max_pixels=self.config.max_pixels)
        stories: list[dict[str, Any]] = []
        for batch in batches:
            for record in batch.to_pylist():
                story = {"id": record["id"], "story": record["parent_id"],
                         "text": record["caption"] or record["title"], "image": None, "error": None}
                if record["image"] is not None and (record["image"]["bytes"] or record["image"]["path"]):
                    try:
                        # Decoded once here to refuse bad images; decoded again batch by batch
                        # when embedded, so that only a batch of pictures is ever held.
                        data, _, key = load_image(record["image"], source)
                        story["image"] = {"bytes": data, "path": record["image"]["path"], "key": key}
                    except ImageError as exc:
                        story["error"] = str(exc)
                stories.append(story)
        return stories

    def _match(self, queries: list[dict[str, Any]]) -> list[Match | str]:
        strategy = self.config.strategy
        rules = MatchRules(self.config.min_similarity, self.config.max_similarity, self.config.max_uses,
                           self.config.duplicate_threshold, self.config.candidates)
        eligible = [True] * len(self.pool)
        if strategy == "person":
            pool_person = self._mentions_person([p["text"] or "" for p in self.pool])
            eligible = pool_person
        items = [PoolItem(p["id"], p["story"], p["image"]["key"], ok) for p, ok in zip(self.pool, eligible)]
        query_items = [QueryItem(q["story"], q["image"]["key"] if q["image"] else None, self.row_seed(q["story"]))
                       for q in queries]
        if strategy == "random":
            return assign(None, None, query_items, items, rules)
        pool_images = self._embed_images(self.pool)
        own = np.zeros((len(queries), pool_images.shape[1] if len(self.pool) else 1), np.float32)
        with_image = [i for i, q in enumerate(queries) if q["image"] is not None]
        if with_image and len(self.pool):
            own[with_image] = self._embed_images([queries[i] for i in with_image])
        if strategy == "clip_text_image":
            query_vecs, pool_vecs = self._embed_texts([q["text"] for q in queries], self.clip), pool_images
        elif strategy == "clip_text_text":
            query_vecs = self._embed_texts([q["text"] for q in queries], self.clip)
            pool_vecs = self._embed_texts([p["text"] or "" for p in self.pool], self.clip)
        elif strategy == "scene":
            query_vecs, pool_vecs = own, pool_images
        else:  # person
            mentions = self._mentions_person([q["text"] for q in queries])
            query_vecs = self._embed_texts([q["text"] for q in queries], self.sbert)
            pool_vecs = self._embed_texts([p["text"] or "" for p in self.pool], self.sbert)
            results = assign(query_vecs, pool_vecs, query_items, items, rules, own_image_vectors=own,
                             pool_image_vectors=pool_images)
            return [r if named else "caption names no person" for r, named in zip(results, mentions)]
        return assign(query_vecs, pool_vecs, query_items, items, rules, own_image_vectors=own,
                      pool_image_vectors=pool_images)

    def _mentions_person(self, texts: list[str]) -> list[bool]:
        return [any(ent.label_ == "PERSON" for ent in doc.ents) for doc in self.nlp.pipe(texts)]

    def _embed_images(self, items: list[dict[str, Any]]) -> np.ndarray:
        keys = [item["image"]["key"] for item in items]
        from datafactory.images import ImageSource, open_image

        data = {item["image"]["key"]: item["image"]["bytes"] for item in items}
        source = ImageSource(max_pixels=self.config.max_pixels)
        return self._cached(self.clip.model_id + ":image", keys, keys,
                            lambda ks: self.clip.encode_images([open_image(data[k], source) for k in ks]))

    def _embed_texts(self, texts: list[str], encoder: Any) -> np.ndarray:
        from pipelines.images.embedding_index import content_key

        keys = [content_key(t) for t in texts]
        by_key = dict(zip(keys, texts))
        return self._cached(encoder.model_id + ":text", keys, keys, lambda ks: encoder.encode_texts([by_key[k] for k in ks]))

    def _cached(self, model_id: str, keys: list[str], payloads: list[Any], encode: Any) -> np.ndarray:
        from pipelines.images.embedding_index import EmbeddingCache, normalise

        if self.config.embedding_cache is None:
            unique = list(dict.fromkeys(keys))
            size = self.config.batch_size
            vectors = {k: v for start in range(0, len(unique), size)
                       for k, v in zip(unique[start:start + size], encode(unique[start:start + size]))}
            self.embedded["computed"] += len(unique)
            if not keys:
                return np.zeros((0, 1), np.float32)
            return normalise(np.stack([vectors[k] for k in keys]))  # float32 unit rows, as the cache gives
        cache = EmbeddingCache(_path(self.config.embedding_cache), model_id)
        vectors = cache.embed(keys, payloads, encode, batch_size=self.config.batch_size)
        self.embedded["computed"] += cache.computed
        self.embedded["reused"] += cache.reused
        return vectors

    # -- the work --------------------------------------------------------------------------

    def __call__(self, batch: pa.Table) -> pa.Table:
        from datafactory.images import stored_image

        out = []
        for record in batch.to_pylist():
            result = self.assignments.get(record["parent_id"], "not in the corpus the pool was built from")
            if not isinstance(result, Match):
                out.append(self.skip(record, result))
                continue
            item = self.pool[result.pool_index]
            stats = {"strategy": self.config.strategy, "image_origin": item["id"], "similarity": result.similarity}
            if self.side_pool is not None:
                stats["image_pool"] = str(self.config.pool_input.path)
            out.append(self.child(
                record, seed=self.row_seed(record["parent_id"]), stats=stats,
                model=None if self.clip is None else self.clip.name,
                model_version=None if self.clip is None else self.clip.version,
                scores={"retrieval_similarity": result.similarity},
                image=stored_image(item["image"]["bytes"], item["image"]["path"], self.config.store)))
        return self.output(out)

    @classmethod
    def describe(cls, record: dict[str, Any]) -> list[tuple[str, str]]:
        entry = next((p for p in reversed(record["provenance"]) if p["stage"] == cls.name), None)
        stats = json.loads(entry["stats"] or "{}") if entry else {}
        similarity = (record["scores"] or {}).get("retrieval_similarity")
        shown = "" if similarity is None else f", similarity {similarity:.3f}"
        return [("image (repurposed)", f"the photo of {stats.get('image_origin', '?')} "
                 f"({stats.get('strategy', '?')}{shown})")]


def _path(value: str) -> Any:
    from pathlib import Path

    return Path(value).expanduser()
