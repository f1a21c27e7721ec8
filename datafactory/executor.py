"""Where the stages run: the seam between the runner (what to build, when to commit) and the
machinery that pushes batches through the stages.

The runner cuts the input into :class:`ShardWork` (one output shard each: its input rows as
the intake left them) and hands them to an executor, which yields each shard's
:class:`~datafactory.pipeline.StageResult` per batch, in shard order. The local executor runs
them in this process; :mod:`datafactory.ray_executor` runs them on Ray Data actors. Both cut a
shard into the same batches, so their rows are the same.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Iterator, Protocol, runtime_checkable

import pyarrow as pa

from datafactory import schema
from datafactory.pipeline import StageResult, record_layout, run_stages
from datafactory.stage import Stage


@dataclass
class ShardWork:
    index: int
    """The shard file this work becomes (``data/part-{index:05d}.parquet``)."""
    rows: list[tuple[int, dict[str, Any] | None, dict[str, Any] | None]]
    """``(input row, record, reject)`` per input row, as the intake returned them."""

    def row_of(self) -> dict[str, int]:
        """Input row of each valid record, by id."""
        return {record["id"]: row for row, record, _ in self.rows if record is not None}

    def records(self) -> list[dict[str, Any]]:
        return [record for _, record, _ in self.rows if record is not None]

    def batches(self, size: int) -> list[list[dict[str, Any]]]:
        """The shard's valid records cut into batches: every executor uses these same batches,
        so a stage whose output depends on its batch-mates (padding) still gives the same rows."""
        return list(chunks(self.records(), size))


@runtime_checkable
class Executor(Protocol):
    """What the runner needs from an executor. Executors register by name in
    ``datafactory.registry.executors`` (``datafactory build --executor NAME``)."""

    name: ClassVar[str]

    @classmethod
    def from_options(cls, *, address: str | None, workers: int, cpus_per_worker: float, gpus_per_worker: float,
                     progress: bool | None) -> "Executor":
        """An executor from ``datafactory build``'s options (ignoring those that do not apply)."""

    def sets_up_on_driver(self, stage: Stage) -> bool:
        """Whether the runner loads ``stage``'s models in this process before the first shard."""

    def run(self, stages: list[Stage], works: Iterable[ShardWork], batch_size: int
            ) -> Iterator[tuple[ShardWork, list[StageResult]]]:
        """Each shard with its batches' results, in shard order (batches cut by ``ShardWork.batches``)."""

    def stage_info(self, stages: list[Stage]) -> list[dict[str, Any]]:
        """Per stage: ``{"models": [...], "run_stats": {...}}`` as the workers measured them, for the manifest."""

    def close(self) -> None:
        """Release workers (called once the build is over, also after a failure)."""


class LocalExecutor:
    """Runs the stages in this process, one batch at a time."""

    name = "local"

    @classmethod
    def from_options(cls, *, address: str | None = None, **_: Any) -> "LocalExecutor":
        return cls()

    def sets_up_on_driver(self, stage: Stage) -> bool:
        return True

    def run(self, stages: list[Stage], works: Iterable[ShardWork], batch_size: int
            ) -> Iterator[tuple[ShardWork, list[StageResult]]]:
        layout = record_layout(stages)
        for work in works:
            yield work, [run_stages(stages, schema.to_table(batch, layout)) for batch in work.batches(batch_size)]

    def stage_info(self, stages: list[Stage]) -> list[dict[str, Any]]:
        return [{"models": stage.models(), "run_stats": stage.run_stats()} for stage in stages]

    def close(self) -> None:
        pass


def assemble_shard(work: ShardWork, results: list[StageResult], *, emit_real: bool, source: str,
                   layout: pa.Schema = schema.RECORD_SCHEMA) -> tuple[pa.Table, pa.Table]:
    """A shard's records (each input row's real record, then its children in stage order)
    and its rejects (input rows the intake refused, rows a stage skipped or failed on)."""
    reals = work.records()
    row_of = work.row_of()
    rejects = [reject for _, _, reject in work.rows if reject is not None]
    children = []
    for result in results:
        children.append(result.records)
        rejects.extend({**reject, "source": source, "row": row_of[reject["parent_id"]], "raw": None}
                       for reject in result.rejects)
    parts = ([schema.to_table(reals, layout)] if emit_real else []) + children
    records = pa.concat_tables(parts) if parts else layout.empty_table()
    rows = pa.array([row_of[pid] for pid in records.column("parent_id").to_pylist()], pa.int64())
    keyed = records.append_column("_row", rows).append_column("_seq", pa.array(range(records.num_rows), pa.int64()))
    records = keyed.sort_by([("_row", "ascending"), ("_seq", "ascending")]).drop_columns(["_row", "_seq"])
    rejects.sort(key=lambda r: r["row"])
    return records, schema.to_table(rejects, schema.REJECT_SCHEMA)


def merge_stats(parts: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Add up run statistics measured in several processes: numbers are summed, anything
    else (a strategy name) is taken from the first process that reported it."""
    merged: dict[str, Any] | None = None
    for part in parts:
        if part is None:
            continue
        merged = {} if merged is None else merged
        for key, value in part.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                merged[key] = merged.get(key, 0) + value
            else:
                merged.setdefault(key, value)
    if merged is not None:
        merged = {k: round(v, 3) if isinstance(v, float) else v for k, v in merged.items()}
    return merged


def subtract_stats(now: dict[str, Any] | None, before: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a process measured since ``before`` (numbers only differ; the rest is kept)."""
    if now is None:
        return None
    before = before or {}
    return {k: (v - before.get(k, 0) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
            for k, v in now.items()}


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
