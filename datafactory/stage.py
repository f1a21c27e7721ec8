"""What a stage is: a typed config and an object that maps an Arrow batch of records to records.

A stage never knows about files or executors. The same object runs in the local runner, in
``datasets.Dataset.map(batched=True)`` and in Ray ``map_batches``::

    stage = EntitySwap(EntitySwapConfig(), seed=13)
    stage.check(source, field) # cheap: do the models exist?
    stage.setup()              # load models once per worker
    stage.fit(real_batches)    # only stages with needs_corpus = True
    out = stage(batch)         # pa.Table in RECORD_SCHEMA -> pa.Table in STAGE_OUTPUT_SCHEMA
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Iterable

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from datafactory import schema


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
    output_schema: ClassVar[pa.Schema] = schema.STAGE_OUTPUT_SCHEMA

    def __init__(self, config: StageConfig, *, seed: int):
        self.config = config
        self.seed = seed

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

    def params_json(self) -> str:
        """The stage's config as canonical JSON, for provenance (computed once: configs are frozen)."""
        if getattr(self, "_params_json", None) is None:
            self._params_json = schema.canonical_json(self.config.model_dump(mode="json"))
        return self._params_json
