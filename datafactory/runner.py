"""Run a build: read, check rows, apply stages (through an executor), write shards, finish
with a manifest. A full build writes every input row; an incremental run adds the rows the
dataset has not seen, staged and committed at once, and is recorded in ``manifest.runs``.

Determinism: shard *k* holds exactly the output of input rows ``[k*shard_size, (k+1)*shard_size)``
and every random choice is seeded by the build seed and the row id, so the same config and
input give byte-identical shards whether the build runs in one go or is killed and resumed.

    >>> from datafactory.config import load_config
    >>> result = build(load_config("pipelines/quickstart.yaml"))   # doctest: +SKIP
    >>> result.rows, result.rejects                                  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa

from datafactory import readers, schema
from datafactory.config import InputConfig, LimitsConfig, PipelineConfig
from datafactory.errors import OutputError, StageError
from datafactory.card import render_card
from datafactory.executor import Executor, LocalExecutor, ShardWork, assemble_shard, chunks
from datafactory.incremental import check_incremental, input_key, known_inputs
from datafactory.intake import Intake
from datafactory.lock import BuildLock
from datafactory.manifest import add_totals, build_manifest, run_record, runs_of, shard_entries
from datafactory.output import OutputDir
from datafactory.pipeline import assemble, record_layout
from datafactory.plan import Plan, build_fingerprint, inputs_fingerprint, plan
from datafactory.progress import bar as progress_bar
from datafactory.stage import Stage

log = logging.getLogger(__name__)


@dataclass
class BuildResult:
    output: Path
    status: str
    """``built``, ``resumed``, ``appended`` (an incremental run added rows), ``unchanged``
    (nothing new to do) or ``dry-run``."""
    rows: int = 0
    rejects: int = 0
    skipped: int = 0
    shards: int = 0
    manifest: dict[str, Any] | None = None
    plan: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] | None = None
    """This run's record as the manifest lists it (None when nothing was written)."""

    @property
    def partial(self) -> bool:
        """True when this run wrote its dataset but refused or failed on some input rows."""
        added = (self.run or {}).get("rejects_added", {})
        return added.get(schema.INVALID, 0) + added.get(schema.ERROR, 0) > 0


def build(
    config: PipelineConfig,
    *,
    limit: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    dry_run: bool = False,
    progress: bool | None = None,
    incremental: bool = False,
    executor: Executor | None = None,
) -> BuildResult:
    """Build ``config`` into ``config.output``. ``progress=None`` shows a bar on a terminal only.

    ``incremental``: add only the input items the dataset has not seen, as new shards, and
    record the run in the manifest; earlier shards are never rewritten and a run that fails
    leaves the dataset as it was. ``executor``: a :class:`~datafactory.executor.LocalExecutor`
    (the default) or :class:`~datafactory.ray_executor.RayExecutor`.
    """
    if resume and overwrite:
        raise OutputError("--resume and --overwrite exclude each other; pick one")
    stages = assemble(config)
    if incremental:
        check_incremental(config, stages)
    executor = executor or LocalExecutor()
    out = OutputDir(config.output)
    input_fp = inputs_fingerprint(config, stages)
    build_fp = build_fingerprint(config, input_fp, limit)
    decide = functools.partial(plan, out, build_fingerprint=build_fp, config_fingerprint=config.fingerprint(),
                               input_fingerprint=input_fp, resume=resume, overwrite=overwrite,
                               incremental=incremental, can_grow=not any(stage.corpus_wide for stage in stages))
    if dry_run:
        return _dry_run(config, stages, limit, decide())

    config.output.mkdir(parents=True, exist_ok=True)
    with BuildLock(out.state_dir):
        if out.recover():
            log.warning("finished committing the incremental run that was interrupted in %s", config.output)
        mode = decide().require()
        if mode == "unchanged":
            out.discard_staging()
            out.cleanup_state()
            log.info("%s is already built from this config and input; nothing to do "
                     "(pass --overwrite to rebuild)", config.output)
            return _result(config.output, "unchanged", out.manifest())
        job = _Job(config, stages, out, executor, limit, input_fp, build_fp, progress)
        if mode == "append":
            return job.append()
        return job.full(resume=mode == "resume")


@dataclass
class _Job:
    """One run of a build, once it is decided what it must do."""

    config: PipelineConfig
    stages: list[Stage]
    out: OutputDir
    executor: Executor
    limit: int | None
    input_fp: str
    build_fp: str
    progress: bool | None

    def full(self, *, resume: bool) -> BuildResult:
        """Build every input row into data/, shard by shard (resuming after the finished ones)."""
        config, out = self.config, self.out
        self._setup()
        if resume:
            started = out.state()["started_at"]
            finished = out.finished_shards()
            out.drop_unfinished(finished)
            log.info("resuming %s: %d shard(s) already finished", config.output, finished)
            begin = None
        else:
            started, finished = time.time(), 0

            def begin() -> None:
                # The output is touched only once the first shard is ready: models that fail to
                # load in an executor's workers, or a failed fit, leave it as it was.
                out.clear()
                out.start({"build_fingerprint": self.build_fp, "config_fingerprint": config.fingerprint(),
                           "input_fingerprint": self.input_fp, "limit": self.limit, "started_at": started})
        # Counting a JSONL input is a full scan: once, for both progress bars.
        total = readers.count_rows(config.input)
        _fit(config, self.stages, total, self.progress)
        rows = total if self.limit is None or total is None else min(total, self.limit)
        works = self._works(lambda index: True, first_shard=0, skip=finished)
        self._write(works, rows, staged=False, done=finished * config.shard_size, begin=begin)

        rejects = out.merge_rejects()
        shards, totals = shard_entries(out.shard_files())
        run = run_record(number=1, mode="build", resumed=resume, executor=self.executor.name,
                         started_at=started, input_fingerprint=self.input_fp, input_rows=rows,
                         new_input_rows=rows or 0, shards=shards, rejects=rejects)
        manifest = self._manifest(shards, totals, rejects, [run])
        out.finish(manifest, render_card(manifest, out))
        log.info("built %s in %.1fs", config.output, time.time() - started)
        return _result(config.output, "resumed" if resume else "built", manifest, run)

    def append(self) -> BuildResult:
        """Build the input items the dataset has not seen into new shards, staged, then commit."""
        config, out = self.config, self.out
        previous = out.manifest()
        runs = runs_of(previous)
        known = known_inputs(out, previous)
        first_shard = max((int(Path(s["file"]).stem.split("-")[1]) for s in previous["shards"]), default=-1) + 1
        # Look for new rows before writing anything, so that a run with none is a true no-op.
        fresh, seen = self._new_rows(known)
        state = out.state()
        if not fresh:
            out.discard_staging()
            out.cleanup_state()
            log.info("no new input rows for %s (%d row(s) read, all already in the dataset); nothing to do",
                     config.output, seen)
            return _result(config.output, "unchanged", previous)
        if state and state.get("mode") == "append" and state.get("build_fingerprint") == self.build_fp:
            finished = out.finished_shards(state["first_shard"], staged=True)
            log.info("continuing run %d of %s: %d shard(s) already staged", state["run"], config.output, finished)
        else:
            if state:
                log.info("discarding the unfinished run %s of %s: the input or config changed since",
                         state.get("run"), config.output)
            out.discard_staging()
            finished = 0
            out.start({"mode": "append", "run": runs[-1]["run"] + 1, "first_shard": first_shard,
                       "build_fingerprint": self.build_fp, "config_fingerprint": config.fingerprint(),
                       "input_fingerprint": self.input_fp, "limit": self.limit, "started_at": time.time()})
            state = out.state()
        out.drop_unfinished(state["first_shard"] + finished, staged=True)
        log.info("run %d: %d new input row(s) of %d", state["run"], len(fresh), seen)
        for stage in self.stages:
            if stage.needs_corpus and stage.corpus_input() is None:
                log.info("%s fits on the pipeline input as it is now: rows added by earlier runs were made from "
                         "the corpus of their day (give it a fixed corpus of its own for runs that equal one build)",
                         stage.name)
        self._setup()
        _fit(config, self.stages, seen, self.progress)
        works = self._works(fresh.__contains__, first_shard=state["first_shard"], skip=finished)
        self._write(works, len(fresh), staged=True, done=finished * config.shard_size)

        new_rejects = out.new_rejects()
        rejects = pa.concat_tables([out.old_rejects(), new_rejects])
        shards, totals = shard_entries(out.staged_files())
        run = run_record(number=state["run"], mode="incremental", resumed=finished > 0, executor=self.executor.name,
                         started_at=state["started_at"], input_fingerprint=self.input_fp, input_rows=seen,
                         new_input_rows=len(fresh), shards=shards, rejects=new_rejects)
        manifest = self._manifest(previous["shards"] + shards, add_totals(previous["totals"], totals), rejects,
                                  runs + [run])
        _warn_changed_models(previous, manifest)
        out.commit(manifest, render_card(manifest, out), rejects)
        log.info("run %d added %d row(s) to %s in %.1fs", run["run"], run["rows_added"], config.output,
                 time.time() - state["started_at"])
        return _result(config.output, "appended", manifest, run)

    # -- the parts ---------------------------------------------------------------------------

    def _setup(self) -> None:
        # Models load before the output is touched: one that fails leaves no unfinished build.
        for stage in self.stages:
            if self.executor.sets_up_on_driver(stage):
                _setup(stage)

    def _new_rows(self, known: set[str]) -> tuple[set[int], int]:
        """Input row indices whose item the dataset has not seen, and how many rows were read."""
        intake = self._intake()
        fresh, seen = set(), 0
        for raw in self._rows():
            seen += 1
            if input_key(*intake(raw)) not in known:
                fresh.add(raw.index)
        return fresh, seen

    def _intake(self) -> Intake:
        # A new one per pass over the input: it remembers the ids it has seen.
        config = self.config
        return Intake.reading(config.input, config.limits)

    def _rows(self) -> Iterator[Any]:
        rows = readers.iter_rows(self.config.input)
        return itertools.islice(rows, self.limit) if self.limit is not None else rows

    def _works(self, wanted: Any, *, first_shard: int, skip: int) -> Iterator[ShardWork]:
        """The input cut into shards of ``shard_size`` wanted rows, numbered from ``first_shard``;
        the first ``skip`` (already written) are passed over."""
        intake = self._intake()
        # Every row passes the intake, so that duplicate ids are caught the same way in every run.
        checked = ((raw.index, *intake(raw)) for raw in self._rows())
        kept = (row for row in checked if wanted(row[0]))
        for number, chunk in enumerate(chunks(kept, self.config.shard_size)):
            if number >= skip:
                yield ShardWork(first_shard + number, chunk)

    def _write(self, works: Iterator[ShardWork], total: int | None, *, staged: bool, done: int,
               begin: Any = None) -> None:
        """Write each shard the executor finishes; ``begin`` runs once, before the first write."""
        config, source = self.config, str(self.config.input.path)
        initial = done if total is None else min(done, total)
        with progress_bar(total=total, initial=initial, desc="build", progress=self.progress) as bar:
            for work, results in self.executor.run(self.stages, works, config.batch_size):
                records, rejects = assemble_shard(work, results, emit_real=config.emit_real, source=source,
                                                  layout=record_layout(self.stages))
                if begin is not None:
                    begin()
                    begin = None
                self.out.write_shard(work.index, records, rejects, staged=staged)
                bar.update(len(work.rows))
        if begin is not None:  # an empty input still makes an (empty) dataset
            begin()

    def _manifest(self, shards: list[dict[str, Any]], totals: dict[str, Any], rejects: pa.Table,
                  runs: list[dict[str, Any]]) -> dict[str, Any]:
        return build_manifest(config=self.config, stages=self.stages, stage_info=self.executor.stage_info(self.stages),
                              shards=shards, totals=totals, rejects=rejects, limit=self.limit,
                              build_fingerprint=self.build_fp, input_fingerprint=self.input_fp, runs=runs)


def _warn_changed_models(previous: dict[str, Any], manifest: dict[str, Any]) -> None:
    def identity(stage: dict[str, Any]) -> list[tuple[Any, ...]]:
        # What names a model's weights; a refitted entity bank or another device is no change.
        return [(m.get("kind"), m.get("name"), m.get("version")) for m in stage["models"]]

    for before, now in zip(previous["stages"], manifest["stages"]):
        if identity(before) != identity(now):
            log.warning("the models of stage %s differ from the previous run's: the dataset now mixes rows "
                        "made by both (rebuild with --overwrite for one model)", now["name"])
            manifest["runs"][-1].setdefault("warnings", []).append(f"models of stage {now['name']} changed")


def _setup(stage: Stage) -> None:
    try:
        stage.setup()
    except Exception as exc:  # a model that fails to load stops the build before any work
        raise StageError(f"stage {stage.name!r} failed to set up: {exc}") from exc


def _fit(config: PipelineConfig, stages: list[Stage], input_rows: int | None, progress: bool | None) -> None:
    for stage in stages:
        if not stage.needs_corpus:
            continue
        for name, side in stage.side_inputs().items():
            with progress_bar(total=readers.count_rows(side), desc=f"read {name} for {stage.name}",
                              progress=progress) as bar:
                stage.fit_side(name, _real_batches(side, LimitsConfig(), config.batch_size, bar))
        own_input = stage.corpus_input()
        input_cfg = own_input or config.input
        limits = config.limits if own_input is None else LimitsConfig()
        total = input_rows if own_input is None else readers.count_rows(own_input)
        with progress_bar(total=total, desc=f"fit {stage.name}", progress=progress) as bar:
            stage.fit(_real_batches(input_cfg, limits, config.batch_size, bar))


def _real_batches(input_cfg: InputConfig, limits: LimitsConfig, size: int, bar: Any) -> Iterator[pa.Table]:
    intake = Intake.reading(input_cfg, limits)
    for chunk in chunks(readers.iter_rows(input_cfg), size):
        records = [record for record, _ in map(intake, chunk) if record is not None]
        bar.update(len(chunk))
        yield schema.to_table(records)


def _dry_run(config: PipelineConfig, stages: list[Stage], limit: int | None, decided: Plan) -> BuildResult:
    summary = {
        "config": config.source,
        "input": str(config.input.path),
        "format": readers.detect_format(config.input),
        "rows": readers.count_rows(config.input) if limit is None else limit,
        "output": str(config.output),
        "stages": [stage.name for stage in stages],
        "seed": config.seed,
        "would": decided.would,
    }
    return BuildResult(config.output, "dry-run", plan=summary)


def _result(output: Path, status: str, manifest: dict[str, Any] | None, run: dict[str, Any] | None = None) -> BuildResult:
    totals = (manifest or {}).get("totals", {})
    rejects = (manifest or {}).get("rejects", {}).get("by_kind", {})
    return BuildResult(
        output=output,
        status=status,
        rows=totals.get("rows", 0),
        rejects=rejects.get(schema.INVALID, 0) + rejects.get(schema.ERROR, 0),
        skipped=rejects.get(schema.SKIPPED, 0),
        shards=len((manifest or {}).get("shards", [])),
        manifest=manifest,
        run=run,
    )
