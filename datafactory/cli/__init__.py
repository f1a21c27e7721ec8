"""The ``datafactory`` command. Each command lives in its own module and calls a plain
library function that scripts and notebooks can call too."""

from __future__ import annotations

import logging
import os
import sys

import typer

from datafactory import __version__
from datafactory.cli import build_cmd, inspect_cmd, validate_cmd
from datafactory.cli import detector_cmd, eval_cmd
from datafactory.cli import clip_cmd, finetune_cmd
from datafactory.cli import audit_cmd, augment_cmd
from datafactory.cli import crosseval_cmd, experiment_cmd, runs_cmd
from datafactory.cli.common import state

app = typer.Typer(
    name="datafactory",
    help="Build labelled, manipulated variants of real news as Parquet datasets for "
    "misinformation detectors.\n\nStart with: datafactory build pipelines/quickstart.yaml",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"datafactory {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback when a command fails, and transformers' own loading output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors on stderr."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    state.debug = debug
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    if not debug:
        # transformers' weight-loading bars and notices drown the build's own log lines;
        # set only through env vars, so nothing heavy is imported for --help.
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


app.command("build")(build_cmd.build_cli)
app.command("validate")(validate_cmd.validate_cli)
app.command("runs")(runs_cmd.runs_cli)
app.command("inspect")(inspect_cmd.inspect_cli)
app.command("eval-generation")(eval_cmd.eval_generation_cli)
app.command("finetune-generator")(finetune_cmd.finetune_cli)
app.command("init-generator")(finetune_cmd.init_cli)
app.command("init-clip")(clip_cmd.init_clip_cli)
app.command("train-detector")(detector_cmd.train_detector_cli)
app.command("audit")(audit_cmd.audit_cli)
app.command("crosseval")(crosseval_cmd.crosseval_cli)
app.command("augment-eval")(augment_cmd.augment_eval_cli)
app.command("experiment")(experiment_cmd.experiment_cli)


def main() -> None:
    app()
