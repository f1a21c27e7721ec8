"""Assemble a config's stages and push batches of real records through them.

Executor-agnostic: :func:`run_stages` takes and returns Arrow tables, so the local runner
calls it per batch and a distributed executor can call it per block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datafactory import registry, schema
from datafactory.config import PipelineConfig
from datafactory.errors import StageError
from datafactory.stage import Stage


def assemble(config: PipelineConfig) -> list[Stage]:
    """Instantiate the stages, check their models and their output schema; no heavy loading."""
    stages = []
    for index, spec in enumerate(config.stages):
        stage_cls = registry.get(spec.name)
        stage = stage_cls(spec.options, seed=config.seed)
        stage.check(source=config.source, field=f"stages[{index}]({spec.name})")
        if not stage_cls.output_schema.equals(schema.STAGE_OUTPUT_SCHEMA, check_metadata=False):
            raise StageError(f"stage {spec.name!r} declares an output schema other than the record schema")
        stages.append(stage)
    return stages


@dataclass
class StageResult:
    records: pa.Table
    """Records that went through every stage (RECORD_SCHEMA)."""
    skipped: list[dict[str, Any]]
    """``{"id", "parent_id", "stage", "reason"}`` for each record a stage could not manipulate."""


def run_stages(stages: list[Stage], batch: pa.Table) -> StageResult:
    """Apply the stages in order to a RECORD_SCHEMA batch of real records."""
    skipped: list[dict[str, Any]] = []
    current = batch
    for stage in stages:
        if current.num_rows == 0:
            break
        output = stage(current)
        try:
            schema.check_table(output, schema.STAGE_OUTPUT_SCHEMA, f"output of stage {stage.name!r}")
        except ValueError as exc:
            raise StageError(str(exc)) from None
        rejected = pc.is_valid(output.column(schema.REJECT_REASON))
        for row in output.filter(rejected).select(["id", "parent_id", schema.REJECT_REASON]).to_pylist():
            skipped.append({"id": row["id"], "parent_id": row["parent_id"], "stage": stage.name,
                            "reason": row[schema.REJECT_REASON]})
        current = output.filter(pc.invert(rejected)).drop_columns([schema.REJECT_REASON])
    return StageResult(current.cast(schema.RECORD_SCHEMA), skipped)
