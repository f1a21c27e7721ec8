"""``datafactory augment-eval``: the experiment command's shortcut for one base, builds and one
test set, with the control arm."""

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
    output: Path = typer.Option(..., "--output", "-o", help="Folder for augment.json, augment.md and the "
                                "experiment's files."),
    field: str = typer.Option("text", "--field", help="Text to classify: title, text or caption."),
    label: str = typer.Option("falsified", "--label", help="Label column of --base and --test."),
    base_columns: Optional[List[str]] = typer.Option(None, "--base-columns", help="field=column for --base."),
    test_columns: Optional[List[str]] = typer.Option(None, "--test-columns", help="field=column for --test."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seeds the story splits of --base and the bootstrap."),
    repeats: int = typer.Option(5, "--repeats", "-k", min=1, help="Story-grouped splits of --base (K)."),
    max_rows: Optional[int] = typer.Option(None, "--max-rows", "-n", min=1, help="First N usable rows of each."),
) -> None:
    """Train the same detector (TF-IDF) on the real data alone, on real data plus the builds'
    real rows only (the control) and on real plus whole builds, over K story-grouped splits,
    and report each on the real data's held-out stories (in domain) and on a test set from
    another dataset (out of domain), mean ± sd, with paired intervals against the baseline and
    the control. Labels must be real / falsified everywhere (a build's are); for label maps,
    more arms or test sets, use datafactory experiment.

    Example: datafactory augment-eval --base real.jsonl --base-columns label=verdict --label label
    --factory out/swap_and_generate --test other.jsonl --test-columns label=verdict --output out/augment
    """
    from detectors.evaluation.augment import RUN_TITLES, augment_eval

    report = augment_eval(base, factory, test, output=output, field=field, label=label,
                          base_columns=parse_columns(base_columns, "augment-eval"),
                          test_columns=parse_columns(test_columns, "augment-eval"), seed=seed, max_rows=max_rows,
                          repeats=repeats)
    typer.echo(f"| trained on | rows | in-domain AUC | out-of-domain macro-F1 | out-of-domain AUC |\n|---|---:|---:|---:|---:|")
    for arm, run in report["runs"].items():
        cells = [run["in_domain"]["roc_auc"], run["out_of_domain"]["macro_f1"], run["out_of_domain"]["roc_auc"]]
        typer.echo(f"| {RUN_TITLES[arm]} | {run['train_rows']:.0f} | "
                   + " | ".join("n/a" if v is None else f"{v:.3f}" for v in cells) + " |")
    for lines in report["verdicts"].values():
        for line in lines:
            typer.echo(f"- {line['text']}")
    typer.echo(f"\nwrote {output / 'augment.json'}, augment.md and experiment.json/.md/.png "
               f"(means over {report['repeats']} splits; {report['factory_rows']} factory rows)")
