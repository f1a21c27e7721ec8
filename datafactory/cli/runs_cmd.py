"""``datafactory runs``: the runs a dataset has recorded."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from datafactory.cli.common import handle_errors
from datafactory.runs import format_runs, list_runs


@handle_errors
def runs_cli(
    out_dir: Path = typer.Argument(..., help="Output folder of a build."),
    as_json: bool = typer.Option(False, "--json", help="Print the runs as JSON (the manifest's records)."),
) -> None:
    """List the runs that built a dataset: the first build, then each --incremental run, with
    when it started, how long it took, how many new input rows it found, rows and shards it
    added and the rows it refused, failed on or could not manipulate. A run in progress or cut
    short is shown below the table.

    Example: datafactory runs out/quickstart
    """
    recorded, unfinished = list_runs(out_dir)
    if as_json:
        typer.echo(json.dumps({"runs": recorded, "unfinished": unfinished}, indent=2, ensure_ascii=False))
        return
    typer.echo(format_runs(recorded, unfinished))
