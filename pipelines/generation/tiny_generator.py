"""A small GPT-2 trained from nothing: a byte-level BPE tokenizer learnt on a corpus and a
randomly initialised model, saved as an ordinary model folder.

For machines that cannot reach a model hub (and for the tests): the result loads with
``from_pretrained(path)`` like any hub model, and ``finetune-generator`` then trains it::

    datafactory init-generator --data data/sample_news.jsonl --output out/tiny-gpt2
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from datafactory.config import InputConfig
from datafactory.errors import ConfigError, InputNotFoundError, OutputError
from datafactory.lm import require_torch
from pipelines.generation.training_data import corpus_texts

EOS = "<|endoftext|>"
PAD = "<|pad|>"


def build_tiny_gpt2(
    texts: Iterable[str],
    output: Path,
    *,
    vocab_size: int = 4000,
    n_layer: int = 2,
    n_embd: int = 128,
    n_head: int = 4,
    n_positions: int = 512,
    seed: int = 0,
) -> Path:
    """Train a tokenizer on ``texts`` and save it with a random GPT-2 of the given size."""
    torch = require_torch()
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2, special_tokens=[EOS, PAD],
                            show_progress=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token=EOS, eos_token=EOS,
                                        pad_token=PAD, model_max_length=n_positions)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                        n_head=n_head, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    return output


def init_generator(data: InputConfig, output: Path | str, *, vocab_size: int = 4000, layers: int = 2,
                   hidden: int = 128, heads: int = 4, max_positions: int = 512, seed: int = 0) -> Path:
    """A small GPT-2 with a BPE tokenizer trained on the corpus, saved to ``output`` for
    ``finetune_generator`` to train (for machines that cannot reach a model hub)."""
    output = Path(output)
    if not data.path.exists():
        raise InputNotFoundError("init-generator", "--data", f"{data.path} does not exist", "Fix the path")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise OutputError(f"{output} exists and is not an empty folder; choose a new --output")
    if hidden % heads:
        raise ConfigError("init-generator", "--hidden", f"{hidden} is not a multiple of --heads {heads}",
                          "Pick sizes such as --hidden 128 --heads 4")
    texts = corpus_texts(data)
    first = next(texts, None)
    if first is None:
        raise ConfigError(str(data.path), None, "no usable record (title and text present) to train a tokenizer on",
                          "Map the corpus's columns with --columns title=...,text=...")
    return build_tiny_gpt2(_chain(first, texts), output, vocab_size=vocab_size, n_layer=layers, n_embd=hidden,
                           n_head=heads, n_positions=max_positions, seed=seed)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
