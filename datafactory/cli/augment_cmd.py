"""``datafactory augment-eval``: a detector on real data alone vs real plus factory data."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from datafactory.cli.common import handle_errors
from datafactory.cli.finetune_cmd import parse_columns


@handle_errors
def augment_eval_cli(
    base: Path = typer.Option(..., "--base", help="Real labelled data: a build or a .jsonl/.csv/.parquet file."),
    factory: List[Path] = typer.Option(..., "--factory", help="Factory builds added to the training data "
                                       "(repeatable)."),
    test: Path = typer.Option(..., "--test", help="Test set from another dataset (out of domain)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for augment.json and augment.md."),
    field: str = typer.Option("text", "--field", help="Text to classify: title, text or caption."),
    label: str = typer.Option("falsified", "--label", help="Label column of --base and --test."),
    base_columns: Optional[List[str]] = typer.Option(None, "--base-columns", help="field=column for --base."),
    test_columns: Optional[List[str]] = typer.Option(None, "--test-columns", help="field=column for --test."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seeds the story split of --base."),
    max_rows: Optional[int] = typer.Option(None, "--max-rows", "-n", min=1, help="First N usable rows of each."),
) -> None:
    """Train the same detector (TF-IDF) on the real data alone and on real plus factory data,
    and report both on the real data's held-out stories (in domain) and on a test set from
    another dataset (out of domain): does the factory's data help a detector generalise?
    Labels must name the same classes everywhere (a build's: real, falsified).

    Example: datafactory augment-eval --base real.jsonl --base-columns label=verdict --label label
    --factory out/swap_and_generate --test other.jsonl --test-columns label=verdict --output out/augment
    """
    from detectors.evaluation.augment import augment_eval

    report = augment_eval(base, factory, test, output=output, field=field, label=label,
                          base_columns=parse_columns(base_columns, "augment-eval"),
                          test_columns=parse_columns(test_columns, "augment-eval"), seed=seed, max_rows=max_rows)
    typer.echo((output / "augment.md").read_text(encoding="utf-8").split("\n\n", 2)[2].rstrip())
    typer.echo(f"\nwrote {output / 'augment.json'} and augment.md ({report['factory_rows']} factory rows)")
