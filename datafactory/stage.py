"""What a stage is: a typed config and an object that maps an Arrow batch of records to records.

A stage never knows about files or executors. The same object runs in the local runner, in
``datasets.Dataset.map(batched=True)`` and in Ray ``map_batches``::

    stage = EntitySwap(EntitySwapConfig(), seed=13)
    stage.check(source, field) # cheap: do the models exist?
    stage.setup()              # load models once per worker
    stage.fit(real_batches)    # only stages with needs_corpus = True
    out = stage(batch)         # pa.Table of records -> pa.Table of children and skips

Inside ``__call__`` a stage builds each output row with :meth:`Stage.child` (the manipulated
record: id, label, manipulations, provenance and scores filled in) or :meth:`Stage.skip` (the
record back, with why), and returns ``self.output(rows)``. It declares the scores it sets
(``scores``) and may say what it changed for the card and ``inspect`` (``describe``). A stage
is found by name through the entry points of ``datafactory.stages`` (ARCHITECTURE.md).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Iterable

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from datafactory import schema
from datafactory.errors import StageError


class StageConfig(BaseModel):
    """Base of every stage's options: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    #: Options that name a model by package/hub id or by folder; folders written relative
    #: to the config file resolve against its folder.
    path_fields: ClassVar[tuple[str, ...]] = ("model",)


class Stage(ABC):
    #: Name used in pipeline YAML (``stage: entity_swap``) and in ``manipulations``.
    name: ClassVar[str]
    #: Bumped whenever the same config and seed would give different output.
    version: ClassVar[str]
    Config: ClassVar[type[StageConfig]]
    #: True when the stage must see the real corpus before processing (``fit``).
    needs_corpus: ClassVar[bool] = False
    #: True when a row's output depends on which other rows the corpus holds, beyond what
    #: ``fit`` learns (e.g. pictures shared out under a cap): such a stage cannot add rows to
    #: a built dataset, so ``--incremental`` refuses it.
    corpus_wide: ClassVar[bool] = False
    #: Attributes ``setup`` fills with loaded models: left out when the stage is pickled to a
    #: worker (which calls ``setup`` itself), so only the config and what ``fit`` learnt travel.
    worker_resources: ClassVar[tuple[str, ...]] = ()
    #: Names of the scores the stage sets on its children (``scores.NAME`` in the records). The
    #: shared ones are in ``schema.CORE_SCORES``; any other name adds a field to the scores of
    #: the pipelines that use the stage. Setting an undeclared score is a broken contract.
    scores: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: StageConfig, *, seed: int):
        self.config = config
        self.seed = seed
        #: The layout of the records the stage reads and writes: the shared one, plus the scores
        #: the pipeline's stages declare (set by ``pipeline.assemble``).
        self.record_schema: pa.Schema = schema.record_schema(self.scores)

    def check(self, source: str, field: str) -> None:
        """Raise a ConfigError naming ``source`` (the config file) and the option at fault if the
        stage cannot run, e.g. its model is not installed. ``field`` is where the stage sits in the
        config (``stages[1](generate_article)``): append the option, ``f"{field}.model"``. Must
        be cheap: no model loading."""

    def corpus_input(self) -> Any:
        """An ``InputConfig`` to ``fit`` on instead of the pipeline's input, or None."""
        return None

    def side_inputs(self) -> dict[str, Any]:
        """Other inputs (name -> ``InputConfig``) the stage reads before ``fit``, e.g. a pool of
        images; the runner streams each to ``fit_side`` as RECORD_SCHEMA batches."""
        return {}

    def fit_side(self, name: str, batches: Iterable[pa.Table]) -> None:
        """See the side input ``name`` (before ``fit``)."""

    def setup(self) -> None:
        """Load heavy resources once per worker."""

    def fit(self, batches: Iterable[pa.Table]) -> None:
        """See the real corpus (RECORD_SCHEMA batches) before any row is processed."""

    @abstractmethod
    def __call__(self, batch: pa.Table) -> pa.Table:
        """Map a RECORD_SCHEMA batch to a STAGE_OUTPUT_SCHEMA batch."""

    def wants_gpu(self) -> bool:
        """True when the config asks for a GPU by name (``device: cuda``); ``auto`` does not."""
        return str(getattr(self.config, "device", "") or "").startswith("cuda")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in self.worker_resources:
            state[name] = None
        return state

    def models(self) -> list[dict[str, Any]]:
        """Models the stage uses, for the manifest: ``[{"name", "version", "kind"}]``."""
        return []

    def run_stats(self) -> dict[str, Any] | None:
        """What this process measured while running the stage (e.g. tokens, seconds), for the
        manifest; unlike rows, these may differ between runs."""
        return None

    def row_seed(self, record_id: str) -> int:
        """A seed for one row, derived from the build seed, the stage and the row id only,
        so a row gets the same randomness whatever batch, shard or worker it lands in."""
        digest = hashlib.sha256(f"{self.seed}\x1f{self.name}\x1f{record_id}".encode()).digest()
        return int.from_bytes(digest[:8], "little")

    # -- making records ---------------------------------------------------------------------

    def child(self, parent: dict[str, Any], *, seed: int, model: str | None = None,
              model_version: str | None = None, stats: dict[str, Any] | None = None,
              scores: dict[str, float | None] | None = None, suffix: str = "", **fields: Any) -> dict[str, Any]:
        """The manipulated child of ``parent``: id ``PARENT_ID:STAGE`` (+ ``suffix``), labelled
        falsified, this stage appended to its manipulations and provenance (``seed`` it drew
        from, the ``model`` and its version, per-row ``stats``), ``scores`` merged over the
        parent's, and ``fields`` (title, text, spans, image...) replacing the parent's."""
        undeclared = sorted(set(scores or ()) - set(self.scores))
        if undeclared:
            raise StageError(f"stage {self.name!r} sets score(s) {', '.join(undeclared)} that it does not declare "
                             "in its `scores` class attribute")
        merged = dict(parent["scores"] or {})
        merged.update(scores or {})
        return {
            **parent,
            **fields,
            "id": f"{parent['id']}:{self.name}{suffix}",
            "falsified": True,
            "manipulations": [*parent["manipulations"], self.name],
            "scores": merged,
            "provenance": [*parent["provenance"], self.provenance(seed=seed, model=model, model_version=model_version,
                                                                   stats=stats)],
            schema.REJECT_REASON: None,
        }

    def skip(self, record: dict[str, Any], reason: str) -> dict[str, Any]:
        """``record`` handed back unchanged, with why the stage could not manipulate it (the
        runner lists it in the rejects as ``skipped`` and keeps the real item)."""
        return {**record, schema.REJECT_REASON: reason}

    def provenance(self, *, seed: int, model: str | None = None, model_version: str | None = None,
                   stats: dict[str, Any] | None = None) -> dict[str, Any]:
        """How this stage made one row: the provenance entry ``child`` appends."""
        return {"stage": self.name, "version": self.version, "model": model, "model_version": model_version,
                "params": self.params_json(), "seed": seed,
                "stats": schema.canonical_json(stats) if stats else None}

    def output(self, rows: Iterable[dict[str, Any]]) -> pa.Table:
        """The stage's return value from its children and skips, in the pipeline's record layout."""
        return schema.to_table(rows, schema.stage_output_schema(self.record_schema))

    @classmethod
    def describe(cls, record: dict[str, Any]) -> list[tuple[str, str]]:
        """What this stage changed in ``record`` beyond its spans (which every view shows), as
        ``(label, text)`` lines for the dataset card, ``inspect`` and reports; e.g. a generated
        body. Texts are given whole: each view shortens them its own way."""
        return []

    def params_json(self) -> str:
        """The stage's config as canonical JSON, for provenance (computed once: configs are frozen)."""
        if getattr(self, "_params_json", None) is None:
            self._params_json = schema.canonical_json(self.config.model_dump(mode="json"))
        return self._params_json
