"""Run the stages on Ray Data: each stage is a ``map_batches`` over a pool of actors that load
the stage's models once; the driver reads and checks the input, writes the shards and the
manifest exactly as the local executor does.

Same rows as the local executor, whatever the number of workers: the driver cuts each shard
into the same batches (one Ray block each), every actor call works on whole batches, and
every random choice is seeded by the row id. Rows travel between stages as Arrow, with
columns saying where they belong (``_shard``, ``_row``, ``_batch``) and, for a row a stage
skipped or failed on, why (``_reject_*``): later stages pass such rows through untouched.

Ray is optional (``pip install 'datafactory[ray]'``) and imported only here. Without
``address`` a private Ray instance starts on this machine with every process on loopback;
with one, the build joins that cluster, where every node needs datafactory installed.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from datafactory.errors import DatafactoryError, ExecutorError, StageError
from datafactory.executor import ShardWork, merge_stats, subtract_stats
from datafactory.pipeline import StageResult, apply_stage, record_layout
from datafactory.stage import Stage

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install -c constraints.txt 'datafactory[ray]' (or pip install 'ray[data]')"
_EXTRA = [("_shard", pa.int64()), ("_row", pa.int64()), ("_batch", pa.int64()),
          ("_reject_stage", pa.string()), ("_reject_kind", pa.string()), ("_reject_reason", pa.string())]
#: Rows between stages: the record columns (nullable, so a reject row carries only its ids)
#: and where the row belongs.


def carrier_schema(layout: pa.Schema) -> pa.Schema:
    """Rows between stages: the pipeline's record columns (nullable, so that a reject row
    carries only its ids) and where the row belongs."""
    return pa.schema([field.with_nullable(True) for field in layout] + [pa.field(name, kind) for name, kind in _EXTRA])


def _nullable(layout: pa.Schema) -> pa.Schema:
    return pa.schema([field.with_nullable(True) for field in layout])


def import_ray(local: bool = True) -> Any:
    """Import Ray, or say how to install it. ``local``: keep a Ray started here on loopback."""
    if local:
        # Ray's single-node mode: every server binds 127.0.0.1 (otherwise gRPC servers listen on
        # all interfaces). Read when ray is imported, and inherited by Ray's own processes.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ExecutorError(f"--executor ray needs Ray Data, which is not installed here ({exc}); "
                            f"install it with: {INSTALL_HINT}") from None
    if local and os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0":
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False  # in case ray was imported before the variable was set
    return ray


class RayExecutor:
    """``workers`` actors per stage, each reserving ``cpus_per_worker`` CPUs (fractions leave room
    for Ray's own tasks on small machines) and, for a stage with ``device: cuda``,
    ``gpus_per_worker`` GPUs."""

    name = "ray"

    def __init__(self, *, address: str | None = None, workers: int = 2, cpus_per_worker: float = 0.5,
                 gpus_per_worker: float = 1.0, progress: bool | None = None):
        self.ray = import_ray(local=address is None)
        self.address, self.workers = address, workers
        self.cpus_per_worker, self.gpus_per_worker = cpus_per_worker, gpus_per_worker
        self.progress = progress
        self._started = False
        self._reporter: Any = None

    @classmethod
    def from_options(cls, *, address: str | None = None, workers: int = 2, cpus_per_worker: float = 0.5,
                     gpus_per_worker: float = 1.0, progress: bool | None = None) -> "RayExecutor":
        return cls(address=address, workers=workers, cpus_per_worker=cpus_per_worker,
                   gpus_per_worker=gpus_per_worker, progress=progress)

    def sets_up_on_driver(self, stage: Stage) -> bool:
        # Only stages that fit on the corpus need their models here; the others load theirs in
        # the actors (on a GPU node, say), not on the driver.
        return stage.needs_corpus

    def connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        if self.address is None:
            ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, configure_logging=False)
            self._started = True
            log.info("started a local Ray instance (%s CPUs, loopback only)", ray.cluster_resources().get("CPU"))
        else:
            try:
                ray.init(address=self.address, configure_logging=False)
            except Exception as exc:
                raise ExecutorError(f"cannot join the Ray cluster at {self.address!r}: {exc}") from None
            log.info("joined the Ray cluster at %s (%s CPUs, %s GPUs)", self.address,
                     ray.cluster_resources().get("CPU"), ray.cluster_resources().get("GPU", 0))

    def run(self, stages: list[Stage], works: Iterable[ShardWork], batch_size: int
            ) -> Iterator[tuple[ShardWork, list[StageResult]]]:
        self.connect()
        ray = self.ray
        self._check_resources(stages)
        # The driver holds each shard's intake results until its rows come back.
        works = list(works)
        layout = record_layout(stages)
        refs, number = [], 0
        for work in works:
            row_of = work.row_of()
            for batch in work.batches(batch_size):
                refs.append(ray.put(_carrier(batch, work.index, number, row_of, layout)))
                number += 1
        if not refs:
            yield from ((work, []) for work in works)
            return
        from ray.data import DataContext

        context = DataContext.get_current()
        saved = context.execution_options.preserve_order, context.enable_progress_bars
        context.execution_options.preserve_order = True  # shards come back whole and in order
        context.enable_progress_bars = bool(self.progress)
        try:
            yield from self._stream(stages, works, refs, layout)
        finally:  # a notebook's own Ray Data settings are left as they were
            context.execution_options.preserve_order, context.enable_progress_bars = saved

    def _stream(self, stages: list[Stage], works: list[ShardWork], refs: list[Any], layout: pa.Schema
                ) -> Iterator[tuple[ShardWork, list[StageResult]]]:
        ray = self.ray
        from ray.data import ActorPoolStrategy

        if self._reporter is not None:  # an earlier build's
            ray.kill(self._reporter)
        self._reporter = ray.remote(num_cpus=0)(_Reporter).remote(len(stages))
        dataset = ray.data.from_arrow_refs(refs)
        for position, stage in enumerate(stages):
            dataset = dataset.map_batches(
                StageActor, fn_constructor_args=(stage, position, self._reporter), batch_size=None,
                batch_format="pyarrow", compute=ActorPoolStrategy(size=self.workers), num_cpus=self.cpus_per_worker,
                num_gpus=self.gpus_per_worker if stage.wants_gpu() else 0)
        pending: dict[int, list[pa.Table]] = {}
        position = 0
        for block in _blocks(dataset):
            shards = block.column("_shard")
            for shard in pc.unique(shards).to_pylist():
                pending.setdefault(shard, []).append(block.filter(pc.equal(shards, shard)))
            newest = pc.max(shards).as_py()
            # Blocks arrive in input order: a shard is whole once a later shard shows up.
            while position < len(works) and works[position].index < newest:
                yield works[position], _results(pending.pop(works[position].index, []), layout)
                position += 1
        for work in works[position:]:
            yield work, _results(pending.pop(work.index, []), layout)

    def stage_info(self, stages: list[Stage]) -> list[dict[str, Any]]:
        reported = self.ray.get(self._reporter.report.remote()) if self._reporter is not None else None
        info = []
        for position, stage in enumerate(stages):
            models, stats = (reported[position] if reported else (None, None))
            info.append({"models": models if models is not None else stage.models(),
                         "run_stats": merge_stats([stage.run_stats(), stats])})
        return info

    def close(self) -> None:
        if self._reporter is not None and self.ray.is_initialized():
            self.ray.kill(self._reporter)  # on a long-lived cluster it would outlive the build
            self._reporter = None
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
            self._started = False

    def _check_resources(self, stages: list[Stage]) -> None:
        available = self.ray.cluster_resources()
        cpus = self.workers * len(stages) * self.cpus_per_worker
        gpus = self.workers * self.gpus_per_worker * sum(stage.wants_gpu() for stage in stages)
        problems = []
        if cpus > available.get("CPU", 0):
            problems.append(f"{len(stages)} stage(s) × {self.workers} worker(s) × {self.cpus_per_worker} CPU = {cpus:g} "
                            f"CPUs, the cluster has {available.get('CPU', 0):g}: lower --workers or --cpus-per-worker")
        if gpus > available.get("GPU", 0):
            problems.append(f"stages with device: cuda need {gpus:g} GPUs, the cluster has {available.get('GPU', 0):g}: "
                            "use device: auto or cpu, or lower --workers or --gpus-per-worker")
        if problems and self.address is None:
            raise ExecutorError("; ".join(problems))
        for problem in problems:  # an autoscaling cluster may still grow to fit
            log.warning("%s", problem)


class StageActor:
    """One stage in a Ray actor: loads its models once, then maps blocks of carrier rows."""

    def __init__(self, stage: Stage, position: int, reporter: Any):
        import ray

        self.stage, self.position, self.reporter = stage, position, reporter
        self.layout = stage.record_schema
        self.carrier = carrier_schema(self.layout)
        try:
            stage.setup()
        except Exception as exc:
            raise StageError(f"stage {stage.name!r} failed to set up on a Ray worker: {exc}") from None
        self.last = stage.run_stats()
        ray.get(reporter.describe.remote(position, stage.models()))

    def __call__(self, block: pa.Table) -> pa.Table:
        import ray

        batches = block.column("_batch")
        out = [self._batch(block.filter(pc.equal(batches, number))) for number in pc.unique(batches).to_pylist()]
        now = self.stage.run_stats()
        ray.get(self.reporter.add.remote(self.position, subtract_stats(now, self.last)))
        self.last = now
        return pa.concat_tables(out).cast(self.carrier)

    def _batch(self, rows: pa.Table) -> pa.Table:
        waiting = pc.is_null(rows.column("_reject_kind"))
        done, todo = rows.filter(pc.invert(waiting)), rows.filter(waiting)
        if todo.num_rows == 0:
            return rows
        made, rejects = apply_stage(self.stage, todo.select(self.layout.names).cast(self.layout))
        place = {pid: (shard, row, batch) for pid, shard, row, batch in zip(
            *(todo.column(name).to_pylist() for name in ("parent_id", "_shard", "_row", "_batch")))}
        where = [place[pid] for pid in made.column("parent_id").to_pylist()]
        made = made.cast(_nullable(self.layout))
        for index, name in enumerate(("_shard", "_row", "_batch")):
            made = made.append_column(self.carrier.field(name), pa.array([w[index] for w in where], pa.int64()))
        for name in ("_reject_stage", "_reject_kind", "_reject_reason"):
            made = made.append_column(self.carrier.field(name), pa.nulls(made.num_rows, pa.string()))
        refused = pa.Table.from_pylist([
            {"id": r["id"], "parent_id": r["parent_id"], "_shard": place[r["parent_id"]][0],
             "_row": place[r["parent_id"]][1], "_batch": place[r["parent_id"]][2], "_reject_stage": r["stage"],
             "_reject_kind": r["kind"], "_reject_reason": r["reason"]} for r in rejects], schema=self.carrier)
        # Earlier stages' rejects first: the order the local executor reports them in.
        return pa.concat_tables([done, made, refused])


class _Reporter:
    """Collects what the actors measured and which models they loaded, for the manifest."""

    def __init__(self, stages: int):
        self.models: list[Any] = [None] * stages
        self.stats: list[list[dict[str, Any]]] = [[] for _ in range(stages)]

    def describe(self, position: int, models: list[dict[str, Any]]) -> None:
        if self.models[position] is None:
            self.models[position] = models

    def add(self, position: int, stats: dict[str, Any] | None) -> None:
        if stats is not None:
            self.stats[position].append(stats)

    def report(self) -> list[tuple[Any, dict[str, Any] | None]]:
        return [(models, merge_stats(stats)) for models, stats in zip(self.models, self.stats)]


def _blocks(dataset: Any) -> Iterator[pa.Table]:
    """The dataset's output blocks; a worker's failure surfaces as the error it raised (a
    datafactory error as itself), not as Ray's wrapper. Only Ray's own iteration is guarded:
    an error in the driver's writing passes through unchanged."""
    iterator = iter(dataset.iter_batches(batch_size=None, batch_format="pyarrow"))
    while True:
        try:
            block = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            raise _worker_error(exc) from None
        yield block


def _worker_error(exc: Exception) -> DatafactoryError:
    cause = exc
    while getattr(cause, "cause", None) is not None and cause.cause is not cause:
        cause = cause.cause
    if isinstance(cause, DatafactoryError):
        return cause
    # An actor that died in its constructor comes back as text ending with the original error.
    last = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
    prefix = f"{StageError.__module__}.{StageError.__name__}: "
    if last.startswith(prefix):
        return StageError(last[len(prefix):])
    return ExecutorError(f"a Ray worker failed: {type(cause).__name__}: {last}")


def _carrier(batch: list[dict[str, Any]], shard: int, number: int, row_of: dict[str, int], layout: pa.Schema
             ) -> pa.Table:
    rows = [{**record, "_shard": shard, "_row": row_of[record["id"]], "_batch": number} for record in batch]
    return pa.Table.from_pylist(rows, schema=carrier_schema(layout))


def _results(blocks: list[pa.Table], layout: pa.Schema) -> list[StageResult]:
    if not blocks:
        return []
    rows = pa.concat_tables(blocks)
    refused = pc.is_valid(rows.column("_reject_kind"))
    records = rows.filter(pc.invert(refused)).select(layout.names).cast(layout)
    rejects = [{"id": r["id"], "parent_id": r["parent_id"], "stage": r["_reject_stage"], "kind": r["_reject_kind"],
                "reason": r["_reject_reason"]}
               for r in rows.filter(refused).select(["id", "parent_id", "_reject_stage", "_reject_kind",
                                                     "_reject_reason"]).to_pylist()]
    return [StageResult(records, rejects)]
