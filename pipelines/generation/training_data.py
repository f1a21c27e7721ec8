"""The corpus as training data for the generator: which records are usable, how each becomes
the token ids of ``title <sep> body <eos>``, the hashed train/validation split, the batch order
of an epoch and the padding of a batch.

:mod:`pipelines.generation.finetune` trains on what this module prepares; ``corpus_texts``
feeds the tokenizer that ``init_generator`` trains.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any, Iterator

from datafactory.progress import bar as progress_bar

from datafactory import readers
from datafactory.config import InputConfig
from datafactory.errors import ConfigError
from datafactory.intake import Intake


def records(data: InputConfig) -> Iterator[dict[str, Any] | None]:
    """Every row of the corpus through the usual intake checks: a record, or None when rejected."""
    intake = Intake.reading(data)
    for raw in readers.iter_rows(data):
        record, _ = intake(raw)
        yield record


def corpus_texts(data: InputConfig) -> Iterator[str]:
    """Titles, bodies and captions of the corpus's usable records, streamed."""
    for record in records(data):
        if record is not None:
            yield from (record[name] for name in ("title", "text", "caption") if record[name])


def sequences(data: InputConfig, tokenizer, separator: str, max_length: int, val_fraction: float,
              progress: bool | None) -> tuple[list, list, int]:
    """(train, val, rejected): the token ids of every record with a title and a text (int32
    arrays: a large corpus fits in memory), split by a hash of the record id."""
    import numpy as np

    train: list = []
    val: list = []
    rejected = 0
    pending: list[tuple[bool, tuple[str, str]]] = []

    def flush() -> None:
        for (is_val, _), ids in zip(pending, encode(tokenizer, [pair for _, pair in pending], separator, max_length)):
            (val if is_val else train).append(np.asarray(ids, dtype=np.int32))
        pending.clear()

    total = readers.count_rows(data)
    with progress_bar(total=total, desc="tokenize", progress=progress) as bar:
        for record in records(data):
            bar.update(1)
            if record is None or not record["title"] or not record["text"]:
                rejected += 1
                continue
            pending.append((held_out(record["id"], val_fraction), (record["title"], record["text"])))
            if len(pending) >= 1000:
                flush()
        flush()
    if not train or not val:
        usable = len(train) + len(val)
        raise ConfigError(str(data.path), "--val-fraction",
                          f"{usable} usable row(s) (with title and text; {rejected} without) give "
                          f"{len(train)} training and {len(val)} validation row(s) at val_fraction="
                          f"{val_fraction}",
                          "Give a corpus with more rows, map the title and text columns with --columns, "
                          "or change --val-fraction")
    return train, val, rejected


def encode(tokenizer, pairs: list[tuple[str, str]], separator: str, max_length: int) -> list[list[int]]:
    """``title + sep + body`` tokenized as the generation prompt is (special tokens such as a
    BOS included), then the end-of-text token, all cut to max_length."""
    eos = tokenizer.eos_token_id
    out: list[list[int]] = []
    for start in range(0, len(pairs), 1000):
        texts = [f"{title}{separator}{body}" for title, body in pairs[start:start + 1000]]
        for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]:
            ids = list(ids)
            if len(ids) < max_length and (not ids or ids[-1] != eos):
                ids.append(eos)
            out.append(ids)
    return out


def collate(sequences: list, pad_id: int, torch) -> tuple[Any, Any, Any]:
    """Right-pad to the longest sequence: (input_ids, attention_mask, labels). Padding is masked
    out of the loss by the attention mask, not by its id, so a pad id equal to the end-of-text id
    still leaves each sequence's real final end-of-text token as a target."""
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, :len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        attention[row, :len(seq)] = 1
    labels = input_ids.masked_fill(attention == 0, -100)
    return input_ids, attention, labels


def held_out(record_id: str, fraction: float) -> bool:
    """Whether a record is in the validation share: by a hash of its id alone, so the split
    survives reordering and growth of the corpus."""
    digest = hashlib.sha256(f"val:{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The row order of one epoch, a function of (seed, epoch) only: a resumed run replays it."""
    order = list(range(n))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    return order
