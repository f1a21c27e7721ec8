"""``datafactory init-clip``: a small random CLIP for machines that reach no model hub."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from datafactory.cli.common import handle_errors
from datafactory.errors import ConfigError


@handle_errors
def init_clip_cli(
    data: Path = typer.Option(..., "--data", "-d", help="JSONL corpus whose captions and titles train the tokenizer."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the model."),
    vocab_size: int = typer.Option(1000, "--vocab-size", min=300, help="Tokenizer vocabulary size."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seeds the random weights."),
) -> None:
    """Write a small, randomly initialised CLIP (its tokenizer trained on the corpus' captions
    and titles) that loads like any CLIPModel folder. Its similarities are meaningless: it
    lets repurpose_image pipelines run end to end offline; use a real CLIP
    (openai/clip-vit-base-patch32 in the local Hugging Face cache, or a folder) for real data.

    Example: datafactory init-clip --data data/sample_news.jsonl --output out/tiny-clip
    """
    from pipelines.images.encoders import build_tiny_clip

    if not data.is_file():
        raise ConfigError("--data", None, f"{data} is not a file", "Give a JSONL corpus")
    texts = []
    for line in data.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            texts += [str(row[k]) for k in ("caption", "title") if isinstance(row, dict) and row.get(k)]
    build_tiny_clip(texts, output, vocab_size=vocab_size, seed=seed)
    typer.echo(f"wrote a random CLIP to {output} (tokenizer trained on {len(texts)} captions and titles)")
