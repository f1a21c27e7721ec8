"""``datafactory build``: run a pipeline config and write the dataset."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from datafactory import registry, runs
from datafactory.cli.common import handle_errors
from datafactory.config import load_config
from datafactory.errors import OutputError
from datafactory.executor import Executor
from datafactory.output import write_text_atomic
from datafactory.runner import build


@handle_errors
def build_cli(
    config: Path = typer.Argument(..., help="Pipeline YAML file, e.g. pipelines/quickstart.yaml."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write here instead of the config's output folder."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Use only the first N input rows."),
    resume: bool = typer.Option(False, "--resume", help="Continue an unfinished (crashed or killed) build."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace what the output folder holds."),
    incremental: bool = typer.Option(
        False, "--incremental", help="Add only the input rows whose ids the dataset does not hold yet, as new "
        "shards, and record the run in the manifest; earlier shards are never rewritten. A run that fails leaves "
        "the dataset as it was; one with nothing new is a no-op. For scheduled jobs."),
    executor: str = typer.Option("local", "--executor", help="local (this process) or ray (Ray Data actors; "
                                 "needs pip install 'datafactory[ray]'), or an executor a plug-in registers."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to join (e.g. ray://head:10001 or "
                                          "auto); default: start a private Ray instance on this machine, on loopback."),
    workers: int = typer.Option(2, "--workers", min=1, help="With --executor ray: actors per stage, each loading "
                                "the stage's models once."),
    cpus_per_worker: float = typer.Option(0.5, "--cpus-per-worker", min=0.01, help="With --executor ray: CPUs each "
                                          "actor reserves (fractions leave room for Ray's own tasks)."),
    gpus_per_worker: float = typer.Option(1.0, "--gpus-per-worker", min=0.01, help="With --executor ray: GPUs each "
                                          "actor of a stage with device: cuda reserves."),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as one line of JSON on stdout "
                                 "instead of the sentence (also on failure)."),
    summary_path: Optional[Path] = typer.Option(None, "--summary", help="Also write the run summary (JSON) to "
                                                "this file, on success and on failure."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and show the plan; write nothing."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bar (default: only when stdout and stderr are terminals)."),
) -> None:
    """Build a dataset: read the input, apply the stages, write sharded Parquet,
    manifest.json, a dataset card (README.md) and rejects.parquet.

    Example: datafactory build pipelines/quickstart.yaml --output out/qs --limit 100

    Example (cron): datafactory build pipelines/quickstart.yaml --incremental --summary out/last-run.json

    A finished build re-run is a no-op; --resume continues after a crash; --overwrite starts over;
    --incremental adds what is new. Exit codes: 0 success (or nothing to do), 3 built but some
    input rows were refused or failed (see rejects.parquet), 75 the output is being built by
    another process, 1, 2 or 130 failed (the dataset is as it was).
    """
    started = time.time()
    try:
        if address is not None and executor != "ray":
            raise OutputError("--address names a Ray cluster: add --executor ray")
        runner = _executor(executor, address=address, workers=workers, cpus_per_worker=cpus_per_worker,
                           gpus_per_worker=gpus_per_worker, progress=progress)
        try:
            result = build(load_config(config, output=output), limit=limit, resume=resume, overwrite=overwrite,
                           dry_run=dry_run, progress=progress, incremental=incremental, executor=runner)
        finally:
            runner.close()
    except BaseException as exc:
        if not isinstance(exc, (typer.Exit, typer.Abort)) and (as_json or summary_path):
            _report(runs.summary(config=config, started=started, error=exc, code=runs.failure_code(exc)),
                    as_json, summary_path)
        raise
    if result.status == "dry-run":
        for key, value in result.plan.items():
            typer.echo(f"{key:>8}: {value}")
        return
    if as_json or summary_path:
        _report(runs.summary(config=config, started=started, result=result), as_json, summary_path)
    if not as_json:
        typer.echo(_sentence(result))
    code = runs.exit_code(result)
    if code:
        raise typer.Exit(code)


def _executor(name: str, **options) -> Executor:
    found = registry.executors.get(name)
    if found is None:
        raise typer.BadParameter(f"unknown executor {name!r}; choose one of: {', '.join(registry.executors.names())}",
                                 param_hint="--executor")
    return found.from_options(**options)


def _report(data: dict, as_json: bool, path: Path | None) -> None:
    line = json.dumps(data, ensure_ascii=False, sort_keys=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(line + "\n", path)
    if as_json:
        typer.echo(line)


def _sentence(result) -> str:
    labels = (result.manifest or {}).get("totals", {}).get("by_label", {})
    counts = ", ".join(f"{n} {label}" for label, n in labels.items())
    if result.status == "appended":
        run, added = result.run, result.run["rejects_added"]
        return (f"run {run['run']} added {run['rows_added']} rows to {result.output} from {run['new_input_rows']} new "
                f"input rows in {len(run['shards_added'])} shard(s); {added['invalid'] + added['error']} rejected, "
                f"{added['skipped']} not manipulated; now {result.rows} rows ({counts})")
    verb = {"built": "built", "resumed": "resumed and built", "unchanged": "already built, nothing to do:"}[result.status]
    return (f"{verb} {result.output}: {result.rows} rows ({counts}) in {result.shards} shard(s); "
            f"{result.rejects} rejected, {result.skipped} not manipulated (see rejects.parquet)")
