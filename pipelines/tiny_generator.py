"""A small GPT-2 trained from nothing: a byte-level BPE tokenizer learnt on a corpus and a
randomly initialised model, saved as an ordinary model folder.

For machines that cannot reach a model hub (and for the tests): the result loads with
``from_pretrained(path)`` like any hub model, and ``finetune-generator`` then trains it::

    datafactory init-generator --data data/sample_news.jsonl --output out/tiny-gpt2
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from datafactory.lm import require_torch

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
