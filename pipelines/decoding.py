"""Decoding strategies: one interface, prompt batch in, continuations and their scores out.

Strategies are interchangeable by name in a stage config (``strategy: sample``)::

    strategy = get_strategy("sample")
    outs = strategy.generate(generator, ["Title <|sep|>"], seeds=[7], params=DecodingParams())
    outs[0].token_ids, outs[0].logprobs       # generated tokens and their log-probabilities

``sample`` draws each row's tokens from its own seeded ``torch.Generator``, so a row's text
depends on its seed alone, not on which rows share its batch. ``greedy`` and ``beam`` are
the deterministic baselines. Discriminator-guided strategies register here the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from datafactory.lm import Generator, require_torch


@dataclass(frozen=True)
class DecodingParams:
    max_new_tokens: int = 160
    min_new_tokens: int = 0
    temperature: float = 1.0
    top_k: int = 0
    """0 turns top-k filtering off."""
    top_p: float = 1.0
    """Below 1: nucleus sampling."""
    repetition_penalty: float = 1.0
    num_beams: int = 4
    # Discriminator-guided strategies (mcts, rerank):
    simulations: int = 50
    """MCTS simulations per emitted token."""
    c_puct: float = 3.0
    """MCTS exploration constant of PUCT."""
    alpha: float = 1.0
    """MCTS value D(c|x)^alpha * likelihood^(1-alpha)."""
    rollout_tokens: int = 0
    """MCTS: tokens sampled past a leaf before it is scored (0: score the leaf itself)."""
    rollout_threshold: float | None = None
    """MCTS adaptive rollout: stop rolling out once the score reaches this."""
    normalize_values: bool = False
    """MCTS: rescale mean values to the range seen in each tree before PUCT (as MuZero does),
    so that a discriminator whose scores move little still steers the search."""
    choice_temperature: float = 0.0
    """MCTS: 0 emits the most visited child; above 0 draws one with probability ~ visits^(1/t)."""
    causal_discriminator: bool = False
    """MCTS: reuse the (causal, same-tokenizer) discriminator's key/value cache along the tree."""
    guidance_strength: float = 1.0
    """rerank: next-token log-probability + strength * log D(c | prefix + token)."""


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
    name: ClassVar[str]

    def generate(self, generator: Generator, prompts: list[str], seeds: list[int],
                 params: DecodingParams) -> list[Continuation]: ...


_STRATEGIES: dict[str, type] = {}


def register(cls: type) -> type:
    _STRATEGIES[cls.name] = cls
    return cls


#: Strategies defined in their own modules (they import this one), loaded on first lookup.
_GUIDED_MODULES = ("pipelines.mcts", "pipelines.rerank")


def _load_guided() -> None:
    import importlib

    for module in _GUIDED_MODULES:
        importlib.import_module(module)


def known_strategies() -> list[str]:
    _load_guided()
    return sorted(_STRATEGIES)


def get_strategy(name: str, **options: Any) -> DecodingStrategy:
    """A strategy by name; ``options`` go to its constructor (e.g. ``discriminator=`` for the
    guided ones)."""
    _load_guided()
    try:
        cls = _STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown decoding strategy {name!r}; known: {', '.join(known_strategies())}") from None
    return cls(**options)


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


@register
class Sampling:
    """Ancestral sampling with temperature, top-k and top-p (nucleus); ``greedy`` is its
    argmax special case. One batched forward per token, reusing the key/value cache."""

    name: ClassVar[str] = "sample"
    greedy: ClassVar[bool] = False

    def guidance(self, generator: Generator, params: DecodingParams, prompt_len: int) -> list[Any]:
        """Logits processors a subclass adds after temperature and top-k, before top-p."""
        return []

    def generate(self, generator: Generator, prompts: list[str], seeds: list[int],
                 params: DecodingParams) -> list[Continuation]:
        torch = require_torch()
        from transformers import (LogitsProcessorList, MinNewTokensLengthLogitsProcessor,
                                  RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                                  TopKLogitsWarper, TopPLogitsWarper)

        model, device = generator.model, generator.device
        enc = encode_left_padded(generator, prompts)
        input_ids, attention = enc["input_ids"], enc["attention_mask"]
        batch, prompt_len = input_ids.shape
        stops = torch.tensor(stop_ids(generator), device=device)
        processors = LogitsProcessorList()
        if params.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyLogitsProcessor(params.repetition_penalty))
        if params.min_new_tokens > 0:
            processors.append(MinNewTokensLengthLogitsProcessor(prompt_len, params.min_new_tokens, stops, device=device))
        if not self.greedy:
            if params.temperature != 1.0:
                processors.append(TemperatureLogitsWarper(params.temperature))
            if params.top_k > 0:
                processors.append(TopKLogitsWarper(params.top_k))
            processors.extend(self.guidance(generator, params, prompt_len))
            if params.top_p < 1.0:
                processors.append(TopPLogitsWarper(params.top_p))
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
        steps = 0
        with torch.inference_mode():
            for step in range(params.max_new_tokens):
                out = model(input_ids=step_ids, attention_mask=attention, position_ids=positions,
                            past_key_values=past, use_cache=True)
                past = out.past_key_values
                logits = out.logits[:, -1, :].float()
                scores = processors(sequences, logits)
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


@register
class Greedy(Sampling):
    """The most likely token at each step."""

    name: ClassVar[str] = "greedy"
    greedy: ClassVar[bool] = True


@register
class BeamSearch:
    """Beam search through ``model.generate``; tokens are then scored under the generator."""

    name: ClassVar[str] = "beam"

    def generate(self, generator: Generator, prompts: list[str], seeds: list[int],
                 params: DecodingParams) -> list[Continuation]:
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
