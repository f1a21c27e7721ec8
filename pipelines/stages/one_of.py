"""One of several stages per item: each row gets the first of them that can manipulate it.

    - stage: one_of
      stages:
        - {stage: numeric_edit, model: en_core_web_sm}
        - {stage: polarity_flip, model: en_core_web_sm}
        - {stage: misattribute, model: en_core_web_sm}

Stages in a pipeline's list are chained: an item must pass every one of them. ``one_of`` makes
one child per item with a single kind of manipulation instead, so a dataset mixes the kinds and
each row says which one made it (its ``manipulations`` and provenance name the inner stage). The
inner stages are tried in an order drawn for each row (or as listed); a row goes on to the next
when one skips it, and is skipped with every inner stage's reason when none can change it.
"""

from __future__ import annotations

import random
from typing import Any, Iterable, Literal

import pyarrow as pa
from pydantic import Field

from datafactory import registry, schema
from datafactory.errors import ConfigError
from datafactory.stage import Stage, StageConfig


class OneOfConfig(StageConfig):
    stages: list[dict[str, Any]] = Field(min_length=2)
    """The stages to choose from, each ``{stage: NAME, ...options}`` as in the pipeline's list."""
    order: Literal["random", "listed"] = "random"
    """``random``: an order drawn for each row from the build seed and the row id, so every
    kind gets its share of the items several stages could change; ``listed``: as written, the
    first stage taking every item it can change."""


class OneOf(Stage):
    name = "one_of"
    version = "1"
    Config = OneOfConfig
    config: OneOfConfig
    #: Its inner stages' own options are validated and resolved with the pipeline's config.
    nested = True

    def __init__(self, config: OneOfConfig, *, seed: int):
        super().__init__(config, seed=seed)
        self.inner: list[Stage] = []
        for entry in config.stages:
            stage_cls = registry.stages.require(entry["stage"])
            options = stage_cls.Config.model_validate({k: v for k, v in entry.items() if k != "stage"})
            self.inner.append(stage_cls(options, seed=seed))
        self.scores = tuple(dict.fromkeys(name for stage in self.inner for name in stage.scores))
        self.record_schema = schema.record_schema(self.scores)
        self.needs_corpus = any(stage.needs_corpus for stage in self.inner)
        self.corpus_wide = any(stage.corpus_wide for stage in self.inner)

    # -- lifecycle: each inner stage's, in turn ------------------------------------------------

    def check(self, source: str, field: str) -> None:
        for index, stage in enumerate(self.inner):
            stage.check(source, f"{field}.stages[{index}]({stage.name})")
        corpora = {repr(stage.corpus_input()) for stage in self.inner if stage.needs_corpus}
        if len(corpora) > 1:
            raise ConfigError(source, f"{field}.stages", "its stages learn from different corpora",
                              "Give them the same corpus (e.g. the same bank_input), or use separate pipelines")

    def corpus_input(self) -> Any:
        return next((stage.corpus_input() for stage in self.inner if stage.needs_corpus), None)

    def side_inputs(self) -> dict[str, Any]:
        return {f"{index}.{name}": side for index, stage in enumerate(self.inner)
                for name, side in stage.side_inputs().items()}

    def fit_side(self, name: str, batches: Iterable[pa.Table]) -> None:
        index, _, own = name.partition(".")
        self.inner[int(index)].fit_side(own, batches)

    def setup(self) -> None:
        for stage in self.inner:
            stage.setup()

    def fit(self, batches: Iterable[pa.Table]) -> None:
        learners = [stage for stage in self.inner if stage.needs_corpus]
        if len(learners) > 1:
            batches = list(batches)  # each learner reads the corpus in full
        for stage in learners:
            stage.fit(batches)

    def wants_gpu(self) -> bool:
        return any(stage.wants_gpu() for stage in self.inner)

    def models(self) -> list[dict[str, Any]]:
        return [{**model, "stage": stage.name} for stage in self.inner for model in stage.models()]

    def run_stats(self) -> dict[str, Any] | None:
        stats = {stage.name: s for stage in self.inner if (s := stage.run_stats()) is not None}
        return stats or None

    # -- the work ------------------------------------------------------------------------------

    def __call__(self, batch: pa.Table) -> pa.Table:
        records = batch.to_pylist()
        index_of = {record["id"]: i for i, record in enumerate(records)}
        orders = [self._order(record["id"]) for record in records]
        made: dict[int, list[dict[str, Any]]] = {}
        reasons: dict[int, dict[int, str]] = {i: {} for i in range(len(records))}
        for turn in range(len(self.inner)):
            for position, stage in enumerate(self.inner):
                rows = [i for i in range(len(records)) if i not in made and orders[i][turn] == position]
                if not rows:
                    continue
                stage.record_schema = self.record_schema
                for row in stage(schema.to_table((records[i] for i in rows), self.record_schema)).to_pylist():
                    if row[schema.REJECT_REASON] is None:  # a child: its id is its input's, ":STAGE" added
                        made.setdefault(index_of[row["id"].rsplit(f":{stage.name}", 1)[0]], []).append(row)
                    else:
                        reasons[index_of[row["id"]]][position] = f"{stage.name}: {row[schema.REJECT_REASON]}"
        # Reasons in the listed order, whatever order a row drew, so that the same causes count together.
        return self.output(row for i in range(len(records)) for row in made.get(i) or [
            self.skip(records[i], "; ".join(reason for _, reason in sorted(reasons[i].items())))])

    def _order(self, record_id: str) -> list[int]:
        order = list(range(len(self.inner)))
        if self.config.order == "random":
            random.Random(self.row_seed(record_id)).shuffle(order)
        return order
