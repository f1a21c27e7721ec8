"""``datafactory audit``: which named entities predict a dataset's label on their own, the
biases a detector trained on it would learn instead of misinformation."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from datafactory.cli.common import handle_errors
from datafactory.cli.finetune_cmd import parse_columns

_SHOWN = 15  # table rows echoed; audit.md holds --top rows and audit.csv all of them


@handle_errors
def audit_cli(
    dataset: Path = typer.Argument(..., help="Output folder of datafactory build, or a .jsonl/.csv/.parquet file "
                                   "with a text and a label column."),
    field: str = typer.Option("text", "--field", help="Text to tag: title, text or caption of a build, or a "
                              "file's column (mapped through --columns)."),
    label: str = typer.Option("falsified", "--label", help="Label column. A build's falsified gives the classes "
                              "real and falsified."),
    positive: Optional[str] = typer.Option(None, "--positive", help="Class whose share is measured, e.g. fake. "
                                           "Default: falsified (builds, or files whose labels include it)."),
    columns: Optional[List[str]] = typer.Option(None, "--columns", "-c", help="For files: record field=column, "
                                                "e.g. text=body,label=verdict."),
    model: Optional[str] = typer.Option(None, "--model", help="spaCy pipeline (package or folder) for NER. "
                                        "Default: the build's entity_swap model, else en_core_web_sm."),
    min_count: int = typer.Option(5, "--min-count", min=1, help="Leave out entities mentioned in fewer items."),
    top: int = typer.Option(30, "--top", min=1, help="Entities in audit.md and audit.png (by items)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Folder for audit.csv, audit.md, "
                                          "audit.json and audit.png. Default: DATASET/eval/audit for a build; "
                                          "required for a file."),
) -> None:
    """Audit entity bias: per named entity, the items mentioning it, their falsified share
    with a Wilson 95% interval, and a flag where it is extreme.

    An entity is flagged when its interval lies wholly above or below the dataset's base rate
    and its share is <= 10%, >= 90%, or 30 points or more from the base rate. A detector
    trained on such data learns the names, and fails on a corpus without that bias.

    Example: datafactory audit out/quickstart --field title

    Example: datafactory audit labelled.jsonl --columns label=verdict --positive fake --output out/audit
    """
    from detectors.evaluation.audit import audit_dataset, markdown_table

    report = audit_dataset(dataset, field=field, label=label, columns=parse_columns(columns, "audit"),
                           model=model, min_count=min_count, top=top, output=output, positive=positive)
    typer.echo(f"{report['items']} items, {report['positive']} {report['positive_items']} "
               f"(base rate {report['base_rate']:.1%}); {report['entity_count']} entities in >= "
               f"{report['min_count']} items, {report['flagged']} flagged extreme")
    rows = report["entities"][:min(top, _SHOWN)]
    typer.echo(markdown_table(rows, report["positive"]))
    if report["entity_count"] > len(rows):
        typer.echo(f"({len(rows)} of {report['entity_count']} shown; all in audit.csv)")
    for path in report["files"].values():
        typer.echo(f"wrote {path}")
