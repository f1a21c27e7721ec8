"""Run a pipeline locally: read, check rows, apply stages, write shards, finish with a manifest.

Determinism: shard *k* holds exactly the output of input rows ``[k*shard_size, (k+1)*shard_size)``
and every random choice is seeded by the build seed and the row id, so the same config and
input give byte-identical shards whether the build runs in one go or is killed and resumed.

    >>> from datafactory.config import load_config
    >>> result = build(load_config("pipelines/quickstart.yaml"))   # doctest: +SKIP
    >>> result.rows, result.rejects                                  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import pyarrow as pa
from tqdm.auto import tqdm

from datafactory import readers, schema
from datafactory.config import InputConfig, LimitsConfig, PipelineConfig
from datafactory.errors import (
    OutputError,
    ResumeMismatchError,
    StageError,
    UnfinishedBuildError,
)
from datafactory.intake import Intake
from datafactory.lock import BuildLock
from datafactory.manifest import build_manifest
from datafactory.card import render_card
from datafactory.output import OutputDir
from datafactory.pipeline import assemble, run_stages
from datafactory.stage import Stage

log = logging.getLogger(__name__)


@dataclass
class BuildResult:
    output: Path
    status: str
    """``built``, ``resumed``, ``unchanged`` (already complete) or ``dry-run``."""
    rows: int = 0
    rejects: int = 0
    skipped: int = 0
    shards: int = 0
    manifest: dict[str, Any] | None = None
    plan: dict[str, Any] = field(default_factory=dict)


def build(
    config: PipelineConfig,
    *,
    limit: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    dry_run: bool = False,
    progress: bool | None = None,
) -> BuildResult:
    """Build ``config`` into ``config.output``. ``progress=None`` shows a bar on a terminal only."""
    if resume and overwrite:
        raise OutputError("--resume and --overwrite exclude each other; pick one")
    stages = assemble(config)
    out = OutputDir(config.output)
    input_fp = _inputs_fingerprint(config, stages)
    build_fp = _build_fingerprint(config, input_fp, limit)
    if config.output.exists() and not config.output.is_dir():
        raise OutputError(f"{config.output} exists and is not a folder; choose another output")
    if config.output.exists() and out.manifest() is None and out.state() is None and out.foreign_files():
        raise OutputError(f"{config.output} is not empty and holds no datafactory build "
                          f"({', '.join(out.foreign_files()[:3])}, ...); choose an empty or new folder")
    if dry_run:
        return _plan(config, stages, out, limit, build_fp)

    config.output.mkdir(parents=True, exist_ok=True)
    with BuildLock(out.state_dir):
        current = {"config_fingerprint": config.fingerprint(), "input_fingerprint": input_fp}
        mode = _decide(out, build_fp, current, resume=resume, overwrite=overwrite)
        if mode == "unchanged":
            out.cleanup_state()
            manifest = out.manifest()
            log.info("%s is already built from this config and input; nothing to do "
                     "(pass --overwrite to rebuild)", config.output)
            return _result(config.output, "unchanged", manifest)
        # Models load before the output is touched: one that fails leaves no unfinished build.
        for stage in stages:
            _setup(stage)
        started = time.time()
        if mode == "fresh":
            out.clear()
            out.start({"build_fingerprint": build_fp, "config_fingerprint": config.fingerprint(),
                       "input_fingerprint": input_fp, "limit": limit, "started_at": started})
        state = out.state()
        finished = out.finished_shards() if mode == "resume" else 0
        out.drop_unfinished(finished)
        if mode == "resume":
            log.info("resuming %s: %d shard(s) already finished", config.output, finished)

        # Counting a JSONL input is a full scan: once, for both progress bars.
        total = readers.count_rows(config.input)
        _fit(config, stages, total, progress)
        _write_shards(config, stages, out, limit, finished, total, progress)

        rejects = out.merge_rejects()
        manifest = build_manifest(
            config=config, stages=stages, out=out, rejects=rejects, limit=limit,
            build_fingerprint=build_fp, input_fingerprint=input_fp,
            started_at=state["started_at"], resumed=mode == "resume",
        )
        out.finish(manifest, render_card(manifest, out))
        log.info("built %s in %.1fs", config.output, time.time() - started)
        return _result(config.output, "resumed" if mode == "resume" else "built", manifest)


def _decide(out: OutputDir, build_fp: str, current: dict[str, str], *, resume: bool, overwrite: bool) -> str:
    manifest, state = out.manifest(), out.state()
    if overwrite:
        return "fresh"
    if manifest is not None:
        if manifest.get("build_fingerprint") == build_fp:
            return "unchanged"
        raise OutputError(f"{out.root} holds a finished build of another config, input or --limit; "
                          "pass --overwrite to replace it or choose another --output")
    if state is not None:
        if not resume:
            raise UnfinishedBuildError(
                f"{out.root} holds an unfinished build ({out.finished_shards()} shard(s) done); "
                "pass --resume to continue it or --overwrite to start over")
        if state.get("build_fingerprint") != build_fp:
            what = [name for name, key in (("the config", "config_fingerprint"), ("the input", "input_fingerprint"))
                    if state.get(key) != current[key]] or ["--limit"]
            raise ResumeMismatchError(
                f"cannot resume {out.root}: {' and '.join(what)} changed since the build started; "
                "pass --overwrite to start over with the new one")
        return "resume"
    return "fresh"


def _inputs_fingerprint(config: PipelineConfig, stages: list[Stage]) -> str:
    """The pipeline input's fingerprint, combined with those of the inputs stages read besides
    it (an entity bank's corpus, an image pool): a change to any of them changes the build."""
    main = readers.fingerprint(config.input)
    extra = [f"{stage.name}:{readers.fingerprint(cfg)}" for stage in stages
             for cfg in (stage.corpus_input(), *stage.side_inputs().values()) if cfg is not None]
    return main if not extra else hashlib.sha256("|".join([main, *extra]).encode()).hexdigest()


def _build_fingerprint(config: PipelineConfig, input_fp: str, limit: int | None) -> str:
    key = f"{config.fingerprint()}|{input_fp}|{limit}|{schema.SCHEMA_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()


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
            with tqdm(total=readers.count_rows(side), unit="row", desc=f"read {name} for {stage.name}",
                      disable=_no_bar(progress), file=sys.stderr) as bar:
                stage.fit_side(name, _real_batches(side, LimitsConfig(), config.batch_size, bar))
        own_input = stage.corpus_input()
        input_cfg = own_input or config.input
        limits = config.limits if own_input is None else LimitsConfig()
        total = input_rows if own_input is None else readers.count_rows(own_input)
        with tqdm(total=total, unit="row", desc=f"fit {stage.name}", disable=_no_bar(progress), file=sys.stderr) as bar:
            stage.fit(_real_batches(input_cfg, limits, config.batch_size, bar))


def _real_batches(input_cfg: InputConfig, limits: LimitsConfig, size: int, bar: tqdm) -> Iterator[pa.Table]:
    intake = Intake(input_cfg, limits, input_cfg.name or input_cfg.path.stem, str(input_cfg.path))
    for chunk in _chunks(readers.iter_rows(input_cfg), size):
        records = [record for record, _ in map(intake, chunk) if record is not None]
        bar.update(len(chunk))
        yield schema.to_table(records)


def _write_shards(config: PipelineConfig, stages: list[Stage], out: OutputDir, limit: int | None,
                  finished: int, total: int | None, progress: bool | None) -> None:
    intake = Intake(config.input, config.limits, config.dataset_name, str(config.input.path))
    rows = readers.iter_rows(config.input)
    if limit is not None:
        rows = itertools.islice(rows, limit)
        total = limit if total is None else min(total, limit)
    with tqdm(total=total, unit="row", desc="build", disable=_no_bar(progress), file=sys.stderr) as bar:
        for index, chunk in enumerate(_chunks(rows, config.shard_size)):
            # Earlier shards still pass the intake so that duplicate ids are caught the same way.
            checked = [(raw.index, *intake(raw)) for raw in chunk]
            if index >= finished:
                records, rejects = _shard(config, stages, checked, str(config.input.path))
                out.write_shard(index, records, rejects)
            bar.update(len(chunk))


def _shard(config: PipelineConfig, stages: list[Stage], checked: list, source: str) -> tuple[pa.Table, pa.Table]:
    reals = [record for _, record, _ in checked if record is not None]
    rejects = [reject for _, _, reject in checked if reject is not None]
    row_of = {record["id"]: row for row, record, _ in checked if record is not None}
    children: list[pa.Table] = []
    for batch in _chunks(reals, config.batch_size):
        for result in _run_guarded(stages, batch):
            if isinstance(result, dict):
                rejects.append({**result, "source": source, "row": row_of[result.pop("parent_id")]})
            else:
                children.append(result)
    parts = ([schema.to_table(reals)] if config.emit_real else []) + children
    records = pa.concat_tables(parts) if parts else schema.RECORD_SCHEMA.empty_table()
    # Order: each input row's real record, then its children in stage order.
    rows = pa.array([row_of[pid] for pid in records.column("parent_id").to_pylist()], pa.int64())
    keyed = records.append_column("_row", rows).append_column("_seq", pa.array(range(records.num_rows), pa.int64()))
    records = keyed.sort_by([("_row", "ascending"), ("_seq", "ascending")]).drop_columns(["_row", "_seq"])
    rejects.sort(key=lambda r: r["row"])
    return records, schema.to_table(rejects, schema.REJECT_SCHEMA)


def _run_guarded(stages: list[Stage], batch: list[dict[str, Any]]) -> Iterable[pa.Table | dict[str, Any]]:
    """Yield the batch's output table and a reject dict per skipped row. A stage that raises
    on the batch is retried row by row, so one bad row cannot stop the build."""
    try:
        results = [(batch, run_stages(stages, schema.to_table(batch)))]
    except StageError:
        raise
    except Exception:
        log.warning("a stage failed on a batch of %d rows; retrying them one by one", len(batch), exc_info=True)
        results = []
        for record in batch:
            try:
                results.append(([record], run_stages(stages, schema.to_table([record]))))
            except StageError:
                raise
            except Exception as exc:
                yield {"id": record["id"], "parent_id": record["parent_id"], "stage": _failing_stage(exc),
                       "kind": schema.ERROR, "reason": f"{type(exc).__name__}: {exc}", "raw": None}
    for _, result in results:
        yield result.records
        for skip in result.skipped:
            yield {"id": skip["id"], "parent_id": skip["parent_id"], "stage": skip["stage"],
                   "kind": schema.SKIPPED, "reason": skip["reason"], "raw": None}


def _failing_stage(exc: Exception) -> str | None:
    tb = exc.__traceback__
    name = None
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, Stage):
            name = owner.name
        tb = tb.tb_next
    return name


def _plan(config: PipelineConfig, stages: list[Stage], out: OutputDir, limit: int | None, build_fp: str) -> BuildResult:
    manifest = out.manifest() if config.output.exists() else None
    state = out.state() if config.output.exists() else None
    if manifest is not None:
        would = "nothing (already built)" if manifest.get("build_fingerprint") == build_fp else "refuse without --overwrite"
    elif state is not None:
        would = f"resume after {out.finished_shards()} finished shard(s) with --resume"
    else:
        would = "build from scratch"
    plan = {
        "config": config.source,
        "input": str(config.input.path),
        "format": readers.detect_format(config.input),
        "rows": readers.count_rows(config.input) if limit is None else limit,
        "output": str(config.output),
        "stages": [stage.name for stage in stages],
        "seed": config.seed,
        "would": would,
    }
    return BuildResult(config.output, "dry-run", plan=plan)


def _result(output: Path, status: str, manifest: dict[str, Any] | None) -> BuildResult:
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
    )


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _no_bar(progress: bool | None) -> bool | None:
    # tqdm's disable=None turns the bar off when stderr is not a terminal (cron, CI, pipes).
    return None if progress is None else not progress
