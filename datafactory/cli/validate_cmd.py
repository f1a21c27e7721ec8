"""``datafactory validate``: check a config, its input and its models without building."""

from __future__ import annotations

from pathlib import Path

import typer

from datafactory import readers
from datafactory.cli.common import handle_errors
from datafactory.config import load_config
from datafactory.pipeline import assemble


@handle_errors
def validate_cli(
    config: Path = typer.Argument(..., help="Pipeline YAML file to check."),
) -> None:
    """Check a pipeline config: every field and type, the input file, the stages and their
    models. Exits non-zero with the file, the field and what to fix.

    Example: datafactory validate pipelines/quickstart.yaml
    """
    cfg = load_config(config)
    stages = assemble(cfg)
    fmt = readers.detect_format(cfg.input)
    typer.echo(f"{config}: valid")
    typer.echo(f"  input:  {cfg.input.path} ({fmt})")
    typer.echo(f"  output: {cfg.output}")
    typer.echo(f"  stages: {' -> '.join(_named(s) for s in stages)}")


def _named(stage) -> str:
    """A stage's name, with those of the stages it is made of: ``one_of(numeric_edit | ...)``."""
    inner = getattr(stage, "inner", None)
    return f"{stage.name}({' | '.join(_named(s) for s in inner)})" if inner else stage.name
