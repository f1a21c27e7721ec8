"""``strategy: rerank``: the cheap discriminator-guided baseline (FUDGE-style, Yang & Klein 2021).

At each step the LM's top-k next tokens are re-weighted by the discriminator's opinion of the
prefix each would make: ``log p(x_t | x_<t) + λ · log D(c | x_≤t)``, then sampled as usual.
One look ahead of one token, where MCTS looks many tokens ahead; k discriminator texts per row
per token. :class:`DiscriminatorRerank` is an ordinary ``LogitsProcessor``, so it also plugs
into ``model.generate(logits_processor=[...])``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from datafactory.lm import Generator, require_torch
from pipelines.generation.decoding import DecodingOptions, Sampling, stop_ids

_FLOOR = 1e-6  # log D is bounded below, so a confident "no" demotes a token without banning it


class DiscriminatorRerank:
    """Adds ``strength · log D(target | body + token)`` to each of the ``top_k`` best scores and
    removes every other token. ``input_ids`` hold the (left-padded) prompt in their first
    ``prompt_len`` columns; the body the discriminator reads is what follows."""

    def __init__(self, discriminator: Any, tokenizer: Any, prompt_len: int, top_k: int, strength: float,
                 stops: list[int]):
        self.discriminator = discriminator
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.top_k = top_k
        self.strength = strength
        self.stops = set(stops)
        self.calls: dict[int, int] = {}  # texts scored, per row

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        torch = require_torch()
        k = min(self.top_k, scores.shape[-1])
        values, candidates = scores.topk(k, dim=-1)
        out = torch.full_like(scores, -math.inf)
        texts, where = [], []
        for row, ids in enumerate(input_ids[:, self.prompt_len:].tolist()):
            if any(t in self.stops for t in ids):  # finished: its tokens are ignored anyway
                out[row] = scores[row]
                continue
            for j, token in enumerate(candidates[row].tolist()):
                if math.isinf(float(values[row, j])):
                    continue
                body = ids + ([] if token in self.stops else [token])
                texts.append(self.tokenizer.decode(body, skip_special_tokens=True))
                where.append((row, j))
                self.calls[row] = self.calls.get(row, 0) + 1
        if texts:
            judged = torch.tensor([float(s) for s in self.discriminator.score(texts)], device=scores.device)
            bonus = self.strength * torch.log(judged.clamp(min=_FLOOR))
            rows = torch.tensor([r for r, _ in where], device=scores.device)
            cols = torch.tensor([j for _, j in where], device=scores.device)
            out[rows, candidates[rows, cols]] = values[rows, cols] + bonus
        return out


class Rerank(Sampling):
    """Sampling whose top-k is re-weighted by the discriminator at every step. It scores
    decoded texts, so ``causal_discriminator`` changes nothing here."""

    name: ClassVar[str] = "rerank"
    needs_discriminator: ClassVar[bool] = True

    def __init__(self, discriminator: Any = None, *, causal_discriminator: bool = False):
        self.discriminator = discriminator

    def guidance(self, generator: Generator, params: DecodingOptions, prompt_len: int) -> list[Any]:
        if self.discriminator is None:
            raise ValueError("strategy rerank needs a discriminator")
        self._processor = DiscriminatorRerank(self.discriminator, generator.tokenizer, prompt_len,
                                              params.top_k or 50, params.guidance_strength, stop_ids(generator))
        return [self._processor]

    def generate(self, generator: Generator, prompts: list[str], seeds: list[int], params: DecodingOptions):
        results = super().generate(generator, prompts, seeds, params)
        for row, r in enumerate(results):
            # Per row, so that a row's record does not depend on the rows batched with it.
            r.stats = {"tokens": len(r.token_ids), "lm_forwards": len(r.token_ids) + int(r.stopped),
                       "discriminator_calls": self._processor.calls.get(row, 0)}
        return results
