"""Decoding strategies: one interface, prompt batch in, continuations and their scores out.

Strategies are interchangeable by name in a stage config (``strategy: sample``); they are
plug-ins of :data:`datafactory.registry.strategies` (entry-point group
``datafactory.strategies``), so another package can add one::

    strategy = get_strategy("sample")
    outs = strategy.generate(generator, ["Title <|sep|>"], seeds=[7], params=DecodingOptions())
    outs[0].token_ids, outs[0].logprobs       # generated tokens and their log-probabilities

Every strategy reads the same :class:`DecodingOptions` (``generate_article``'s config extends
it). ``sample`` draws each row's tokens from its own seeded ``torch.Generator``, so a row's
text depends on its seed alone, not on which rows share its batch. ``greedy`` and ``beam``
are the deterministic baselines; ``mcts`` and ``rerank`` (their own modules) are guided by a
discriminator. :func:`process_logits` is the next-token processing they share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, Sequence

from pydantic import BaseModel, ConfigDict, Field

from datafactory import registry
from datafactory.lm import Generator, require_torch


class DecodingOptions(BaseModel):
    """How a strategy decodes: the options every strategy reads (each uses those it needs).
    Frozen and validated; ``generate_article``'s config extends it, so in YAML they sit beside
    the stage's other options."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    max_new_tokens: int = Field(200, gt=0)
    """Most tokens generated per body."""
    min_new_tokens: int = Field(20, ge=0)
    """The end token is forbidden before this many tokens."""
    temperature: float = Field(0.9, gt=0)
    top_k: int = Field(50, ge=0)
    """Keep the k most likely tokens at each step (0: off)."""
    top_p: float = Field(0.95, gt=0, le=1)
    """Keep the smallest set of tokens whose probability reaches p (1: off)."""
    repetition_penalty: float = Field(1.2, gt=0)
    num_beams: int = Field(4, ge=1)
    """Beams, for strategy: beam."""
    # Discriminator-guided strategies (mcts, rerank):
    simulations: int = Field(50, ge=1)
    """mcts: simulations per generated token."""
    c_puct: float = Field(3.0, gt=0)
    """mcts: exploration constant of PUCT (higher explores more)."""
    alpha: float = Field(1.0, ge=0, le=1)
    """mcts: a node's value is D(target|x)^alpha * likelihood(x)^(1-alpha)."""
    rollout_tokens: int = Field(0, ge=0)
    """mcts: tokens sampled past a leaf before it is scored (0: the leaf itself)."""
    rollout_threshold: float | None = Field(None, gt=0, le=1)
    """mcts adaptive rollout: stop once the discriminator's score reaches this."""
    normalize_values: bool = False
    """mcts: rescale mean values to the range seen in each tree before PUCT (MuZero-style);
    helps when the discriminator's scores move little from token to token."""
    choice_temperature: float = Field(0.0, ge=0)
    """mcts: 0 emits the most visited token (deterministic without rollouts, so candidates and
    retries would repeat; they are then skipped); above 0 draws ~ visits^(1/t)."""
    guidance_strength: float = Field(1.0, gt=0)
    """rerank: log p(token) + strength * log D(target | prefix + token)."""


@dataclass
class Continuation:
    token_ids: list[int]
    """Generated tokens, up to (not including) the first stop token."""
    logprobs: list[float]
    """Log-probability of each generated token under the generator's own distribution
    (before temperature, top-k or top-p reshaped it)."""
    stopped: bool
    """True when a stop token ended it, False when max_new_tokens did."""
    stats: dict[str, Any] = field(default_factory=dict)


class DecodingStrategy(Protocol):
    """What :data:`datafactory.registry.strategies` holds: a class with a ``name``, built by
    :func:`get_strategy`. One with ``needs_discriminator`` is built with ``discriminator=``
    (the loaded classifier) and ``causal_discriminator=`` (True when ``discriminator_kind:
    causal``: it shares the generator's tokenizer and may be run on token ids)."""

    name: ClassVar[str]
    needs_discriminator: ClassVar[bool]

    @classmethod
    def ignores_seed(cls, options: DecodingOptions) -> bool:
        """True when these options give the same continuation for every seed: retrying a
        degenerate body (or drawing more candidates) with new seeds is then pointless."""

    def generate(self, generator: Generator, prompts: list[str], seeds: list[int],
                 params: DecodingOptions) -> list[Continuation]: ...


def known_strategies() -> list[str]:
    """Every registered strategy name, sorted (nothing is imported)."""
    return registry.strategies.names()


def strategy_class(name: str) -> type:
    """The strategy class registered as ``name``; an unknown name raises ValueError listing the known ones."""
    try:
        return registry.strategies.require(name)
    except registry.UnknownNameError as exc:
        raise ValueError(str(exc)) from None


def needs_discriminator(name: str) -> bool:
    """Whether strategy ``name`` is guided by a discriminator (its ``needs_discriminator``)."""
    return bool(getattr(strategy_class(name), "needs_discriminator", False))


def get_strategy(name: str, **options: Any) -> DecodingStrategy:
    """A strategy by name; ``options`` go to its constructor (e.g. ``discriminator=`` for the
    guided ones)."""
    return strategy_class(name)(**options)


def stop_ids(generator: Generator) -> list[int]:
    """Generation ends at the end token, or at the separator: the model starting a new item."""
    ids = [generator.eos_id]
    if len(generator.separator_ids) == 1:
        ids.append(generator.separator_ids[0])
    return ids


def encode_left_padded(generator: Generator, prompts: list[str]) -> Any:
    tokenizer = generator.tokenizer
    tokenizer.padding_side = "left"
    return tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(generator.device)


def process_logits(logits: Any, params: DecodingOptions, *, seen: Any, lengths: int | Sequence[int], stops: Any,
                   warp: bool = True, truncate: bool = True, guidance: Sequence[Any] = (),
                   input_ids: Any = None) -> Any:
    """Next-token scores ``[rows, vocab]`` reshaped by ``params``, the same float operations in
    the same order as Hugging Face's processors (so sampling matches ``model.generate``):

    1. repetition penalty on the tokens ``seen`` (a boolean ``[rows, vocab]`` mask): a
       negative score is multiplied by it, a positive one divided;
    2. the ``stops`` tokens banned (``-inf``) in rows whose ``lengths`` (body tokens so far;
       one int for every row) are below ``min_new_tokens``;
    3. with ``warp``: temperature, then (``truncate``) the top-k mask, the ``guidance``
       processors (``processor(input_ids, scores)``), then (``truncate``) the top-p mask.

    Sampling and greedy (``warp=False``) use all of it; MCTS takes ``truncate=False`` and then
    picks each node's top-k candidates itself."""
    torch = require_torch()
    scores = logits
    if params.repetition_penalty != 1.0:
        penalised = torch.where(scores < 0, scores * params.repetition_penalty, scores / params.repetition_penalty)
        scores = torch.where(seen, penalised, scores)
    if params.min_new_tokens > 0:
        rows = scores.shape[0]
        short = [n < params.min_new_tokens for n in ([lengths] * rows if isinstance(lengths, int) else lengths)]
        if any(short):
            ban = torch.zeros_like(scores, dtype=torch.bool)
            ban[:, stops] = True
            if not all(short):
                ban &= torch.tensor(short, device=scores.device)[:, None]
            scores = scores.masked_fill(ban, -math.inf)
    if not warp:
        return scores
    if params.temperature != 1.0:
        scores = scores / params.temperature
    if truncate and params.top_k > 0:
        kth = torch.topk(scores, min(params.top_k, scores.shape[-1]))[0][..., -1, None]
        scores = scores.masked_fill(scores < kth, -math.inf)
    for processor in guidance:
        scores = processor(input_ids, scores)
    if truncate and params.top_p < 1.0:
        # The smallest set of tokens whose probability reaches top_p (the most likely one always kept).
        sorted_logits, sorted_indices = torch.sort(scores, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        sorted_remove = cumulative <= (1 - params.top_p)
        sorted_remove[..., -1:] = 0
        scores = scores.masked_fill(sorted_remove.scatter(1, sorted_indices, sorted_remove), -math.inf)
    return scores


class Sampling:
    """Ancestral sampling with temperature, top-k and top-p (nucleus); ``greedy`` is its
    argmax special case. One batched forward per token, reusing the key/value cache."""

    name: ClassVar[str] = "sample"
    needs_discriminator: ClassVar[bool] = False
    greedy: ClassVar[bool] = False

    def guidance(self, generator: Generator, params: DecodingOptions, prompt_len: int) -> list[Any]:
        """Logits processors a subclass adds after temperature and top-k, before top-p."""
        return []

    def generate(self, generator: Generator, prompts: list[str], seeds: list[int],
                 params: DecodingOptions) -> list[Continuation]:
        torch = require_torch()
        model, device = generator.model, generator.device
        enc = encode_left_padded(generator, prompts)
        input_ids, attention = enc["input_ids"], enc["attention_mask"]
        batch, prompt_len = input_ids.shape
        stops = torch.tensor(stop_ids(generator), device=device)
        guidance = [] if self.greedy else self.guidance(generator, params, prompt_len)
        # Each row's uniforms come from its own seed, drawn up front: sampling by inverse CDF
        # then stays one batched operation per step, and a row's text does not depend on
        # which rows share its batch.
        uniforms = torch.stack([torch.rand(params.max_new_tokens, device=device,
                                           generator=torch.Generator(device=device).manual_seed(seed % (2**63)))
                                for seed in seeds])
        pad = generator.tokenizer.pad_token_id
        out_tokens = torch.full((batch, params.max_new_tokens), pad, dtype=torch.long, device=device)
        out_logprobs = torch.zeros((batch, params.max_new_tokens), device=device)
        sequences = input_ids
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        step_ids, past = input_ids, None
        done = torch.zeros(batch, dtype=torch.bool, device=device)
        rows = torch.arange(batch, device=device)
        seen = None
        steps = 0
        with torch.inference_mode():
            for step in range(params.max_new_tokens):
                out = model(input_ids=step_ids, attention_mask=attention, position_ids=positions,
                            past_key_values=past, use_cache=True)
                past = out.past_key_values
                logits = out.logits[:, -1, :].float()
                vocab = logits.shape[-1]
                if seen is None:
                    # Tokens of each row so far, for the repetition penalty: its prompt, padding
                    # included (as Hugging Face's penalty counts it). One spare column takes the
                    # ids past the model's vocabulary, which it cannot emit.
                    seen = torch.zeros((batch, vocab + 1), dtype=torch.bool, device=device)
                    seen.scatter_(1, input_ids.clamp(max=vocab), True)
                scores = process_logits(logits, params, seen=seen[:, :vocab], lengths=step, stops=stops,
                                        warp=not self.greedy, guidance=guidance, input_ids=sequences)
                if self.greedy:
                    chosen = scores.argmax(dim=-1)
                else:
                    cdf = torch.softmax(scores, dim=-1).cumsum(dim=-1)
                    target = (uniforms[:, step] * cdf[:, -1])[:, None]
                    # right=True never lands on a token whose probability was filtered to 0.
                    chosen = torch.searchsorted(cdf, target, right=True)[:, 0].clamp(max=cdf.shape[-1] - 1)
                chosen = torch.where(done, torch.full_like(chosen, pad), chosen)
                out_tokens[:, step] = chosen
                out_logprobs[:, step] = torch.log_softmax(logits, dim=-1).gather(1, chosen[:, None])[:, 0]
                steps = step + 1
                done = done | torch.isin(chosen, stops)
                if bool(done.all()):
                    break
                sequences = torch.cat([sequences, chosen[:, None]], dim=-1)
                seen[rows, chosen.clamp(max=vocab)] = True
                step_ids = chosen[:, None]
                attention = torch.cat([attention, torch.ones_like(attention[:, :1])], dim=-1)
                positions = positions[:, -1:] + 1
        stop_set = set(stops.tolist())
        results = []
        for row_tokens, row_logprobs in zip(out_tokens[:, :steps].tolist(), out_logprobs[:, :steps].tolist()):
            cut = next((i for i, t in enumerate(row_tokens) if t in stop_set), None)
            end = len(row_tokens) if cut is None else cut
            results.append(Continuation(row_tokens[:end], row_logprobs[:end], cut is not None))
        return results


class Greedy(Sampling):
    """The most likely token at each step."""

    name: ClassVar[str] = "greedy"
    greedy: ClassVar[bool] = True


class BeamSearch:
    """Beam search through ``model.generate``; tokens are then scored under the generator."""

    name: ClassVar[str] = "beam"
    needs_discriminator: ClassVar[bool] = False

    def generate(self, generator: Generator, prompts: list[str], seeds: list[int],
                 params: DecodingOptions) -> list[Continuation]:
        torch = require_torch()
        enc = encode_left_padded(generator, prompts)
        stops = stop_ids(generator)
        with torch.inference_mode():
            out = generator.model.generate(
                **enc, do_sample=False, num_beams=params.num_beams, max_new_tokens=params.max_new_tokens,
                min_new_tokens=params.min_new_tokens or None, repetition_penalty=params.repetition_penalty,
                eos_token_id=stops, pad_token_id=generator.tokenizer.pad_token_id)
        prompt_len = enc["input_ids"].shape[1]
        results = []
        for row in out[:, prompt_len:].tolist():
            cut = next((i for i, t in enumerate(row) if t in stops), None)
            results.append((row[:cut] if cut is not None else row, cut is not None))
        scored = score_continuations(generator, prompts, [r for r, _ in results])
        return [Continuation(ids, lps, stopped, {"num_beams": params.num_beams})
                for (ids, stopped), lps in zip(results, scored)]


def score_continuations(generator: Generator, prompts: list[str], continuations: list[list[int]]) -> list[list[float]]:
    """Log-probability of each continuation token given its prompt, by one batched forward."""
    torch = require_torch()
    tokenizer = generator.tokenizer
    prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    rows = [p + c for p, c in zip(prompt_ids, continuations)]
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=generator.device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=generator.device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        logits = generator.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits.float()
    logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(2, ids[:, 1:, None])[:, :, 0]
    return [logprobs[i, width - 1 - len(c):].tolist() if c else [] for i, c in enumerate(continuations)]
