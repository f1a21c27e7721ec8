"""Text metrics that need no model: how varied and how long a set of texts is.

- ``distinct_n``: unique n-grams / all n-grams over all texts (1 = no repetition at all).
- ``self_bleu``: mean BLEU-4 of each text against all the others as references (1 = every
  text repeats the others; near 0 = texts share nothing). High values mean mode collapse.
- ``length_stats``: length in words (mean, median, min, max, p10, p90).

Tokens for distinct-n and BLEU are lower-cased words and single punctuation marks (``tokenize``);
words for lengths are whitespace-separated. :mod:`detectors.evaluation.generation` reports these
side by side for generated and reference articles.
"""

from __future__ import annotations

import math
import random
import re
import statistics
from collections import Counter
from typing import Iterable, Sequence

#: Texts compared pairwise by self-BLEU; more only adds time.
SELF_BLEU_SAMPLE = 500

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and single punctuation marks: ``"U.S. wins!"`` -> ``u . s . wins !``."""
    return _TOKEN.findall(text.lower())


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Unique n-grams / total n-grams over all texts (0.0 when there are no n-grams)."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        grams = _ngrams(tokenize(text), n)
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def self_bleu(texts: Sequence[str], max_n: int = 4, sample: int | None = SELF_BLEU_SAMPLE, seed: int = 0,
              epsilon: float = 0.1) -> float:
    """Mean BLEU of each text against all the other texts as references.

    BLEU here is the corpus-standard sentence BLEU: clipped n-gram precisions for n = 1..max_n
    (each n-gram counted at most as often as it occurs in the one reference that has it most),
    their geometric mean, times a brevity penalty against the reference length closest to the
    text's. A precision with no match becomes ``epsilon / total`` (Chen & Cherry's smoothing 1)
    so that one missing order does not zero the score. ``sample`` caps the number of texts
    (a seeded random subset) to bound the time. Fewer than two texts give NaN.
    """
    texts = list(texts)
    if sample is not None and len(texts) > sample:
        texts = random.Random(seed).sample(texts, sample)
    if len(texts) < 2:
        return math.nan
    tokens = [tokenize(t) for t in texts]
    counts = [[Counter(_ngrams(toks, n)) for n in range(1, max_n + 1)] for toks in tokens]
    # For every n-gram, its highest count in any text, which text has it, and the second
    # highest count: the max over "all texts but i" is then one lookup.
    best: list[dict[tuple[str, ...], list[int]]] = [{} for _ in range(max_n)]
    for owner, per_n in enumerate(counts):
        for order, counter in enumerate(per_n):
            table = best[order]
            for gram, c in counter.items():
                entry = table.get(gram)
                if entry is None:
                    table[gram] = [c, owner, 0]
                elif c > entry[0]:
                    table[gram] = [c, owner, entry[0]]
                elif c > entry[2]:
                    entry[2] = c
    lengths = [len(t) for t in tokens]
    scores = []
    for i, per_n in enumerate(counts):
        hyp_len = lengths[i]
        if hyp_len == 0:
            scores.append(0.0)
            continue
        log_precision = 0.0
        for order, counter in enumerate(per_n):
            total = sum(counter.values())
            if total == 0:  # text shorter than n: the order carries no evidence either way
                log_precision += math.log(epsilon)
                continue
            matched = 0
            for gram, c in counter.items():
                top, owner, second = best[order][gram]
                matched += min(c, second if owner == i else top)
            log_precision += math.log(matched / total if matched else epsilon / total)
        others = lengths[:i] + lengths[i + 1:]
        ref_len = min(others, key=lambda r: (abs(r - hyp_len), r))
        brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
        scores.append(brevity * math.exp(log_precision / max_n))
    return sum(scores) / len(scores)


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    position = (len(sorted_values) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def length_stats(texts: Iterable[str]) -> dict[str, float]:
    """Length in whitespace-separated words: mean, median, min, max, p10, p90 (NaN when empty)."""
    lengths = sorted(len(t.split()) for t in texts)
    if not lengths:
        return {key: math.nan for key in ("mean", "median", "min", "max", "p10", "p90")}
    return {"mean": statistics.fmean(lengths), "median": float(statistics.median(lengths)),
            "min": float(lengths[0]), "max": float(lengths[-1]),
            "p10": _percentile(lengths, 10), "p90": _percentile(lengths, 90)}
