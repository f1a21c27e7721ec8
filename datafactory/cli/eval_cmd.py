"""``datafactory eval-generation``: diversity, length, perplexity, target-class accuracy by a
judge, cost per token and rejections of generated articles against a reference corpus."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from datafactory.cli.common import handle_errors
from datafactory.config import MAPPABLE_FIELDS, InputConfig
from datafactory.errors import ConfigError
from detectors.evaluation.generation import DEFAULT_STAGE, EVAL_DIR, JSON_FILE, MD_FILE, evaluate_generation


def parse_columns(values: list[str]) -> dict[str, str]:
    """``["text=body", "title=headline,id=story"]`` -> ``{text: body, title: headline, id: story}``."""
    columns: dict[str, str] = {}
    for value in values:
        for pair in filter(None, (p.strip() for p in value.split(","))):
            field, sep, column = (s.strip() for s in pair.partition("="))
            if not sep or not field or not column:
                raise ConfigError("--columns", None, f"{pair!r} is not FIELD=COLUMN", "Write e.g. --columns text=body")
            if field not in MAPPABLE_FIELDS:
                raise ConfigError("--columns", field, "is not a record field", f"Map one of: {', '.join(MAPPABLE_FIELDS)}")
            columns[field] = column
    return columns


@handle_errors
def eval_generation_cli(
    out_dir: Path = typer.Argument(..., help="Output folder of a build with generated articles."),
    reference: Path = typer.Option(..., "--reference", "-r",
                                   help="Real news to compare with: .jsonl, .csv, .parquet or a datasets folder."),
    oracle: Optional[str] = typer.Option(None, "--oracle",
                                         help="Causal LM folder or cached hub id to score perplexity with."),
    stage: str = typer.Option(DEFAULT_STAGE, "--stage", help="Evaluate the rows this stage made."),
    max_samples: Optional[int] = typer.Option(None, "--max-samples", "-n", min=1,
                                              help="Use the first N generated rows and N reference bodies."),
    columns: List[str] = typer.Option([], "--columns", "-c",
                                      help="Reference column mapping FIELD=COLUMN, e.g. text=body (repeatable)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Texts per oracle forward pass."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N] for the oracle and the judge."),
    judge: Optional[str] = typer.Option(None, "--judge", help="Classifier that judges the target class: a "
                                        "train-detector folder, a .skops file, or a sequence-classifier folder or "
                                        "cached hub id. Use another than the one that guided decoding."),
    target: Optional[str] = typer.Option(None, "--target", help="The class the articles should be judged as "
                                         "(name or index), e.g. real."),
    judge_kind: str = typer.Option("auto", "--judge-kind", help="auto, sklearn, hf or causal."),
) -> None:
    """Evaluate generated articles against a reference corpus: distinct-1/2/3, self-BLEU,
    length in words and, with --oracle, perplexity under a causal LM, each side by side with
    the reference; plus the stage's rejection rate and top reasons, and its seconds and LM
    forward passes per generated token when the build recorded them.

    With --judge and --target: target_accuracy, the share of bodies the judge classifies as
    the target class (on the reference too, as a baseline), and the judge's mean probability
    of it. The judge should not be the discriminator that guided decoding; if the build's
    config names it, the report says judge_is_guide and a warning is printed.

    Writes OUT_DIR/eval/generation.json and OUT_DIR/eval/generation.md.

    Example: datafactory eval-generation out/generated --reference data/sample_news.jsonl --oracle out/tiny-gpt2

    Example: datafactory eval-generation out/swap_and_generate --reference data/sample_news.jsonl --judge out/real-vs-generated --target real
    """
    reference_cfg = InputConfig(path=reference, columns=parse_columns(columns), required=["text"])
    report = evaluate_generation(out_dir, reference_cfg, oracle=oracle, stage=stage, max_samples=max_samples,
                                 batch_size=batch_size, device=device, judge=judge, target=target,
                                 judge_kind=judge_kind)
    markdown = (Path(out_dir) / EVAL_DIR / MD_FILE).read_text(encoding="utf-8")
    typer.echo(markdown.split("\n\n", 2)[2].rstrip())  # the tables, without the title
    typer.echo(f"\nwrote {Path(out_dir) / EVAL_DIR / JSON_FILE} and {MD_FILE} "
               f"({report['samples']['generated']} generated, {report['samples']['reference']} reference)")
