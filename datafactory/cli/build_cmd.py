"""``datafactory build``: run a pipeline config and write the dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from datafactory.cli.common import handle_errors
from datafactory.config import load_config
from datafactory.runner import build


@handle_errors
def build_cli(
    config: Path = typer.Argument(..., help="Pipeline YAML file, e.g. pipelines/quickstart.yaml."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write here instead of the config's output folder."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Use only the first N input rows."),
    resume: bool = typer.Option(False, "--resume", help="Continue an unfinished (crashed or killed) build."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace what the output folder holds."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and show the plan; write nothing."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bar (default: only on a terminal)."),
) -> None:
    """Build a dataset: read the input, apply the stages, write sharded Parquet,
    manifest.json, a dataset card (README.md) and rejects.parquet.

    Example: datafactory build pipelines/quickstart.yaml --output out/qs --limit 100

    A finished build re-run is a no-op; --resume continues after a crash; --overwrite starts over.
    """
    result = build(load_config(config, output=output), limit=limit, resume=resume, overwrite=overwrite,
                   dry_run=dry_run, progress=progress)
    if result.status == "dry-run":
        for key, value in result.plan.items():
            typer.echo(f"{key:>8}: {value}")
        return
    labels = (result.manifest or {}).get("totals", {}).get("by_label", {})
    counts = ", ".join(f"{n} {label}" for label, n in labels.items())
    verb = {"built": "built", "resumed": "resumed and built", "unchanged": "already built, nothing to do:"}[result.status]
    typer.echo(f"{verb} {result.output}: {result.rows} rows ({counts}) in {result.shards} shard(s); "
               f"{result.rejects} rejected, {result.skipped} not manipulated (see rejects.parquet)")
