"""``datafactory finetune-generator`` and ``datafactory init-generator``: make the causal
language model the generation stage writes articles with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from datafactory.cli.common import handle_errors
from datafactory.config import MAPPABLE_FIELDS, InputConfig
from datafactory.errors import ConfigError

_FORMATS = ("auto", "jsonl", "csv", "parquet", "datasets")


def parse_columns(values: List[str] | None, source: str) -> dict[str, str]:
    """``["title=headline,text=body", "id=story_id"]`` -> ``{title: headline, text: body, id: story_id}``."""
    columns: dict[str, str] = {}
    for value in values or []:
        for item in filter(None, (part.strip() for part in value.split(","))):
            target, sep, column = (part.strip() for part in item.partition("="))
            if not sep or not target or not column:
                raise ConfigError(source, "--columns", f"{item!r} is not FIELD=COLUMN",
                                  "Write e.g. --columns title=headline,text=body")
            if target not in MAPPABLE_FIELDS:
                raise ConfigError(source, "--columns", f"{target!r} is not a record field",
                                  f"Map one of: {', '.join(MAPPABLE_FIELDS)}")
            columns[target] = column
    return columns


def input_config(data: Path, columns: List[str] | None, fmt: str, split: Optional[str], source: str) -> InputConfig:
    if fmt not in _FORMATS:
        raise ConfigError(source, "--format", f"unknown format {fmt!r}", f"Use one of: {', '.join(_FORMATS)}")
    return InputConfig(path=data.expanduser().resolve(), format=fmt, columns=parse_columns(columns, source),
                       split=split)


_DATA = typer.Option(..., "--data", "-d", help="Corpus: .jsonl, .csv/.tsv, .parquet, a folder of .parquet "
                     "or a saved datasets folder.")
_COLUMNS = typer.Option(None, "--columns", "-c", help="Record field=input column, comma-separated or repeated, "
                        "e.g. title=headline,text=body (fields: id, title, text, caption, image, label).")
_FORMAT = typer.Option("auto", "--format", help="auto, jsonl, csv, parquet or datasets.")
_SPLIT = typer.Option(None, "--split", help="Split of a saved DatasetDict.")


@handle_errors
def finetune_cli(
    data: Path = _DATA,
    model: str = typer.Option(..., "--model", "-m", help="Base causal LM: a model folder (e.g. from "
                              "init-generator) or a hub id in the local cache."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the fine-tuned model."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Optimizer steps (instead of --epochs)."),
    epochs: Optional[float] = typer.Option(None, "--epochs", min=0, help="Passes over the training rows "
                                           "(default 1 when --steps is not given)."),
    batch_size: int = typer.Option(8, "--batch-size", "-b", min=1, help="Sequences per step."),
    lr: float = typer.Option(5e-5, "--lr", min=0, help="Peak AdamW learning rate (linear warmup and decay)."),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=2, help="Tokens per sequence; longer "
                                             "articles are cut (default: 512 or the model's context, if shorter)."),
    val_fraction: float = typer.Option(0.05, "--val-fraction", help="Share of records held out (by id hash) "
                                       "for the validation perplexity."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seeds new-token init, batch order and dropout."),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda or cuda:N."),
    checkpoint_every: int = typer.Option(500, "--checkpoint-every", min=1, help="Steps between checkpoints."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its latest checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the model the output folder holds."),
    columns: Optional[List[str]] = _COLUMNS,
    fmt: str = _FORMAT,
    split: Optional[str] = _SPLIT,
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bar (default: only on a terminal)."),
) -> None:
    """Fine-tune a causal language model to write a news body after its title
    (`title <|sep|> body <eos>`), reporting validation perplexity before and after.

    Example: datafactory finetune-generator --data data/sample_news.jsonl --model out/tiny-gpt2 --output out/tiny-news --steps 300 --lr 1e-3

    Writes safetensors weights, the tokenizer, generator_card.json and README.md. Checkpoints go to
    OUTPUT/checkpoints every --checkpoint-every steps; --resume continues after a crash.
    """
    from pipelines.generation.finetune import finetune_generator

    result = finetune_generator(
        input_config(data, columns, fmt, split, "finetune-generator"), model, output, steps=steps, epochs=epochs,
        batch_size=batch_size, learning_rate=lr, max_length=max_length, val_fraction=val_fraction, seed=seed,
        device=device, resume=resume, overwrite=overwrite, progress=progress, checkpoint_every=checkpoint_every)
    rows = result["data"]
    resumed = f" (resumed at step {result['resumed_from']})" if result["resumed_from"] is not None else ""
    typer.echo(f"fine-tuned {result['output']}: {result['steps']} steps{resumed} on {rows['rows_train']} rows "
               f"in {result['seconds']:.0f}s")
    typer.echo(f"validation perplexity ({rows['rows_val']} rows): {result['val_perplexity_before']:.2f} before, "
               f"{result['val_perplexity_after']:.2f} after")


@handle_errors
def init_cli(
    data: Path = _DATA,
    output: Path = typer.Option(..., "--output", "-o", help="New folder for the model."),
    vocab_size: int = typer.Option(4000, "--vocab-size", min=300, help="BPE vocabulary size."),
    layers: int = typer.Option(2, "--layers", min=1, help="Transformer layers."),
    hidden: int = typer.Option(128, "--hidden", min=8, help="Hidden size (a multiple of --heads)."),
    heads: int = typer.Option(4, "--heads", min=1, help="Attention heads."),
    max_positions: int = typer.Option(512, "--max-positions", min=8, help="Longest sequence the model takes."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seeds the random weights."),
    columns: Optional[List[str]] = _COLUMNS,
    fmt: str = _FORMAT,
    split: Optional[str] = _SPLIT,
) -> None:
    """Create a small GPT-2 from nothing: a byte-level BPE tokenizer trained on the corpus's
    titles, bodies and captions, and random weights. For machines without model-hub access;
    train it with finetune-generator.

    Example: datafactory init-generator --data data/sample_news.jsonl --output out/tiny-gpt2 --vocab-size 2000
    """
    from pipelines.generation.tiny_generator import init_generator

    path = init_generator(input_config(data, columns, fmt, split, "init-generator"), output,
                          vocab_size=vocab_size, layers=layers, hidden=hidden, heads=heads,
                          max_positions=max_positions, seed=seed)
    vocab = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))["vocab_size"]
    typer.echo(f"initialised {path}: GPT-2 with {layers} layer(s), hidden {hidden}, {heads} head(s), "
               f"vocabulary {vocab}; next: datafactory finetune-generator --model {path} ...")
