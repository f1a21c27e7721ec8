"""Assemble a config's stages and push batches of real records through them.

Executor-agnostic: :func:`apply_stage` and :func:`run_stages` take and return Arrow tables,
so the local executor calls them per batch and the Ray executor per block, in its actors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datafactory import registry, schema
from datafactory.config import PipelineConfig
from datafactory.errors import StageError
from datafactory.stage import Stage

log = logging.getLogger(__name__)


def assemble(config: PipelineConfig) -> list[Stage]:
    """Instantiate the stages, check their models, and give each the pipeline's record layout;
    no heavy loading."""
    stages = []
    for index, spec in enumerate(config.stages):
        stage = registry.stages.require(spec.name)(spec.options, seed=config.seed)
        stage.check(source=config.source, field=f"stages[{index}]({spec.name})")
        stages.append(stage)
    layout = record_schema(stages)
    for stage in stages:
        stage.record_schema = layout
    return stages


def record_schema(stages: list[Stage]) -> pa.Schema:
    """The layout of a pipeline's records: the shared one, with the scores its stages declare."""
    try:
        return schema.record_schema(name for stage in stages for name in stage.scores)
    except ValueError as exc:
        raise StageError(f"a stage declares a bad score name: {exc}") from None


def record_layout(stages: list[Stage]) -> pa.Schema:
    """The record layout ``assemble`` gave the stages (the shared one for no stages)."""
    return stages[0].record_schema if stages else schema.RECORD_SCHEMA


@dataclass
class StageResult:
    records: pa.Table
    """Records that went through every stage (RECORD_SCHEMA)."""
    rejects: list[dict[str, Any]]
    """``{"id", "parent_id", "stage", "kind", "reason"}`` for each record a stage skipped
    (kind ``skipped``) or raised on (kind ``error``)."""


def run_stages(stages: list[Stage], batch: pa.Table) -> StageResult:
    """Apply the stages in order to a RECORD_SCHEMA batch of real records."""
    rejects: list[dict[str, Any]] = []
    current = batch
    for stage in stages:
        if current.num_rows == 0:
            break
        current, rejected = apply_stage(stage, current)
        rejects.extend(rejected)
    return StageResult(current.cast(record_layout(stages)), rejects)


def apply_stage(stage: Stage, batch: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
    """One stage on a RECORD_SCHEMA batch: the records it made, and a reject per row it skipped
    or failed on. A stage that raises on the batch is retried row by row, so one bad row
    cannot stop the build; a broken contract (StageError) still stops it."""
    try:
        return _split(stage, stage(batch))
    except StageError:
        raise
    except Exception:
        log.warning("stage %r failed on a batch of %d rows; retrying them one by one",
                    stage.name, batch.num_rows, exc_info=True)
    outputs, rejects = [], []
    for index in range(batch.num_rows):
        row = batch.slice(index, 1)
        try:
            records, skipped = _split(stage, stage(row))
        except StageError:
            raise
        except Exception as exc:
            record_id, parent_id = row.column("id")[0].as_py(), row.column("parent_id")[0].as_py()
            rejects.append({"id": record_id, "parent_id": parent_id, "stage": stage.name,
                            "kind": schema.ERROR, "reason": f"{type(exc).__name__}: {exc}"})
            continue
        outputs.append(records)
        rejects.extend(skipped)
    records = pa.concat_tables(outputs) if outputs else stage.record_schema.empty_table()
    return records, rejects


def _split(stage: Stage, output: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
    try:
        schema.check_table(output, schema.stage_output_schema(stage.record_schema), f"output of stage {stage.name!r}")
    except ValueError as exc:
        raise StageError(str(exc)) from None
    rejected = pc.is_valid(output.column(schema.REJECT_REASON))
    skipped = [{"id": row["id"], "parent_id": row["parent_id"], "stage": stage.name, "kind": schema.SKIPPED,
                "reason": row[schema.REJECT_REASON]}
               for row in output.filter(rejected).select(["id", "parent_id", schema.REJECT_REASON]).to_pylist()]
    records = output.filter(pc.invert(rejected)).drop_columns([schema.REJECT_REASON])
    return records.cast(stage.record_schema), skipped
