"""``datafactory inspect``: summarise a built dataset."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import typer

from datafactory.card import described, highlight, snippet
from datafactory.cli.common import handle_errors
from datafactory.summary import load_summary


@handle_errors
def inspect_cli(
    out_dir: Path = typer.Argument(..., help="Output folder of a build."),
    examples: int = typer.Option(3, "--examples", "-e", min=0, help="How many falsified examples to show."),
    show_schema: bool = typer.Option(True, "--schema/--no-schema", help="Print the record schema."),
    pairs: Path = typer.Option(None, "--pairs", help="Also draw repurposed image-caption pairs into this PNG "
                               "(caption, photo given, the story's own photo)."),
    pair_rows: int = typer.Option(8, "--pair-rows", min=1, help="Pairs drawn with --pairs."),
    manipulation: str = typer.Option(None, "--manipulation", "-m", help="Show examples made by this stage only "
                                     "(e.g. numeric_edit); by default each manipulation in turn."),
) -> None:
    """Summarise a built dataset: counts per label and manipulation, rejects, the schema, and
    examples with each edited span shown as [original -> replacement] and what each stage says
    it changed (the kind of a claim edit, a generated body, a repurposed photo).

    Example: datafactory inspect out/quickstart --examples 5
    Example: datafactory inspect out/claim_edits -m polarity_flip
    Example: datafactory inspect out/repurpose_images --pairs out/repurpose_images/eval/pairs.png
    """
    summary = load_summary(out_dir, examples, manipulation)
    manifest = summary.manifest
    totals = manifest["totals"]
    typer.echo(typer.style(f"{manifest['name']}", bold=True) + f"  ({out_dir})")
    typer.echo(f"rows: {totals['rows']} in {len(manifest['shards'])} shard(s); built {manifest['finished_at']}")
    for key in ("by_label", "by_manipulation", "by_source_label"):
        if totals.get(key):
            typer.echo(f"{key.replace('_', ' ')}: " + ", ".join(f"{k}={v}" for k, v in totals[key].items()))
    rejects = manifest["rejects"]
    typer.echo(f"rejects: {rejects['total']} " + ", ".join(f"{k}={v}" for k, v in rejects["by_kind"].items()))
    for reason, n in list(rejects["by_reason"].items())[:5]:
        typer.echo(f"  {n:>5}  {reason}")
    if show_schema and summary.shard is not None:
        typer.echo("\nschema:")
        for field in pq.read_schema(summary.shard):
            typer.echo(f"  {field.name}: {field.type}")
    if manipulation and examples and not summary.examples:
        typer.echo(f"\nno falsified rows made by {manipulation!r}; manipulations in this build: "
                   + ", ".join(k for k in totals.get("by_manipulation", {}) if k != "none"))
    for record in summary.examples:
        typer.echo("\n" + typer.style(record["id"], bold=True) + f"  parent={record['parent_id']}")
        for field in ("title", "text", "caption"):
            if any(s["field"] == field for s in record["spans"]):
                typer.echo(f"  {field}: {_highlighted(record, field)}")
        for label, text in described(record):
            typer.echo(f"  {label}: {snippet(text)}")
    if pairs is not None:
        from detectors.evaluation.contact_sheet import write_pair_sheet

        typer.echo(f"\nwrote {write_pair_sheet(out_dir, pairs, pair_rows)}")


def _highlighted(record: dict, field: str) -> str:
    """The field with each span as ``[original -> replacement]``, coloured on a terminal."""
    return highlight(record[field], record["spans"], field,
                     markup=("[" + typer.style("", fg="red", reset=False), typer.style(" -> ", reset=True)
                             + typer.style("", fg="green", bold=True, reset=False), typer.style("]", reset=True)))
