"""Article generation: write a new body for each record's title (often a swapped one).

The generator is a causal LM trained on ``title <sep> body <eos>`` (``datafactory
finetune-generator``); the prompt is ``title <sep>``. Output is post-processed (cut at the
end token or separator, trailing unfinished sentence trimmed) and checked: too short,
looping, or only the title echoed is rejected, and the row is retried with a new seed up to
``max_retries`` times before it goes to rejects with the reason.

Input: RECORD_SCHEMA batch. Output: ``candidates`` children per record, id
``PARENT:generate_article`` (``...#k`` when candidates > 1), ``falsified=True``, the new body
in ``text``, ``scores.generator_logprob`` = mean token log-probability of the body.

Guided strategies (``mcts``, ``rerank``) steer the body toward a ``target_class`` of a
``discriminator``; each child then also carries ``scores.discriminator`` (the
discriminator's probability of the target for the final body) and, in its provenance entry,
``stats`` (tokens, simulations, LM forwards, discriminator calls).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from datafactory import lm, registry
from datafactory.stage import Stage, StageConfig
from pipelines.generation.decoding import (
    DecodingOptions,
    get_strategy,
    known_strategies,
    needs_discriminator,
    strategy_class,
)

_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")
_WORD = re.compile(r"\w+", re.UNICODE)


class GenerateArticleConfig(StageConfig, DecodingOptions):
    """The stage's options; the decoding ones (max_new_tokens, temperature, top_k, simulations
    ...) come from :class:`DecodingOptions`, and the config itself is what the strategy reads."""

    model: str
    """Generator: a folder written by finetune-generator (or any causal LM folder / cached hub id)."""
    separator: str | None = None
    """Text between title and body; default: the one in the model's generator_card.json."""
    device: str = "auto"
    """auto (GPU when present), cpu, cuda, cuda:1 ..."""
    path_fields: ClassVar[tuple[str, ...]] = ("model", "discriminator")

    strategy: str = "sample"
    """Decoding strategy (a name in datafactory.registry.strategies): sample (with top_p < 1:
    nucleus), greedy, beam, or guided by a discriminator: mcts (PPL-MCTS tree search) or rerank
    (top-k re-weighted, FUDGE-style)."""
    candidates: int = Field(1, ge=1)
    """Bodies generated per title, each its own record."""
    max_retries: int = Field(2, ge=0)
    """New attempts (new seed) for a degenerate body before the row goes to rejects."""
    min_words: int = Field(15, ge=1)
    """Shorter bodies are degenerate."""
    max_repeated_trigrams: float = Field(0.3, gt=0, le=1)
    """Bodies whose share of repeated word trigrams exceeds this are degenerate (looping)."""
    generation_batch_size: int = Field(16, ge=1)
    """Prompts decoded together in one batched forward (for mcts: trees searched together)."""
    discriminator: str | None = None
    """For mcts/rerank: the classifier to please. A detector folder (datafactory
    train-detector), a scikit-learn pipeline saved with skops (.skops), or a Hugging Face
    sequence-classifier folder or cached hub id."""
    discriminator_kind: Literal["auto", "sklearn", "hf", "causal"] = "auto"
    """How to load the discriminator; causal: a decoder-only classifier sharing the generator's
    tokenizer, whose key/value cache mcts then reuses along the tree."""
    target_class: str | None = None
    """For mcts/rerank: the class the body should be judged as (a label name or index), e.g. real."""
    discriminator_batch_size: int = Field(64, ge=1)
    """Texts per discriminator call (Hugging Face classifiers)."""

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value not in registry.strategies:
            raise ValueError(f"unknown decoding strategy {value!r}; known: {', '.join(known_strategies())}")
        return value

    @model_validator(mode="after")
    def _guided_needs_a_discriminator(self) -> "GenerateArticleConfig":
        if self.guided:
            if not self.discriminator or self.target_class is None:
                raise ValueError(f"strategy {self.strategy} needs discriminator (a classifier path) and target_class "
                                 "(the class to steer toward, e.g. real)")
            if self.top_k < 1:
                raise ValueError(f"strategy {self.strategy} expands the top_k next tokens: set top_k >= 1 (e.g. 10)")
        return self

    @property
    def guided(self) -> bool:
        """Whether the strategy steers by a discriminator (its class's ``needs_discriminator``)."""
        return needs_discriminator(self.strategy)

    @property
    def deterministic_search(self) -> bool:
        """The strategy gives the same body for every seed with these options (e.g. mcts
        without rollouts nor a sampled choice), so retries with new seeds are skipped."""
        found = getattr(strategy_class(self.strategy), "ignores_seed", None)
        return bool(found(self)) if found is not None else False


@dataclass
class _Job:
    index: int
    candidate: int
    attempt: int = 0
    text: str | None = None
    logprob: float | None = None
    seed: int = 0
    reason: str | None = None
    stats: dict[str, Any] | None = None


class GenerateArticle(Stage):
    name = "generate_article"
    version = "1"
    Config = GenerateArticleConfig
    scores = ("generator_logprob", "discriminator")
    worker_resources = ("generator", "discriminator", "strategy")
    config: GenerateArticleConfig

    def __init__(self, config: GenerateArticleConfig, *, seed: int):
        super().__init__(config, seed=seed)
        self.generator: lm.Generator | None = None
        self.discriminator: Any = None
        self.strategy: Any = None
        self._run = {"rows": 0, "tokens": 0, "seconds": 0.0, "lm_forwards": 0, "discriminator_calls": 0}

    def check(self, source: str, field: str) -> None:
        lm.require_torch()
        lm.check_causal_lm(self.config.model, source=source, field=f"{field}.model")
        if self.config.guided:
            from pipelines.generation.discriminators import check_classifier

            check_classifier(self.config.discriminator, self.config.discriminator_kind, source=source,
                             field=f"{field}.discriminator")

    def setup(self) -> None:
        if self.generator is None:
            self.generator = lm.load_generator(self.config.model, self.config.device, self.config.separator)
        if self.config.guided and self.discriminator is None:
            from pipelines.generation.discriminators import load_classifier

            self.discriminator = load_classifier(
                self.config.discriminator, self.config.target_class, kind=self.config.discriminator_kind,
                device=self.config.device, batch_size=self.config.discriminator_batch_size)
        if self.strategy is None:
            options: dict[str, Any] = {}
            if self.config.guided:
                options = {"discriminator": self.discriminator,
                           "causal_discriminator": self.config.discriminator_kind == "causal"}
            self.strategy = get_strategy(self.config.strategy, **options)

    def models(self) -> list[dict[str, Any]]:
        self.setup()
        info = self.generator.info()
        info["card"] = self.generator.card
        if self.discriminator is None:
            return [info]
        return [info, {**self.discriminator.info(), "role": "discriminator"}]

    def run_stats(self) -> dict[str, Any]:
        return {**self._run, "seconds": round(self._run["seconds"], 3), "strategy": self.config.strategy}

    def attempt_seed(self, record_id: str, candidate: int, attempt: int) -> int:
        key = f"{self.row_seed(record_id)}:{candidate}:{attempt}".encode()
        return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1

    # -- the work --------------------------------------------------------------------------

    def __call__(self, batch: pa.Table) -> pa.Table:
        self.setup()
        records = batch.to_pylist()
        jobs = [_Job(i, k) for i, r in enumerate(records) if r["title"] for k in range(self.config.candidates)]
        pending = list(jobs)
        attempts = 1 if self.config.deterministic_search else self.config.max_retries + 1
        for attempt in range(attempts):
            for job in pending:
                job.attempt = attempt
                job.seed = self.attempt_seed(records[job.index]["id"], job.candidate, attempt)
            self._generate(records, pending)
            pending = [job for job in pending if job.text is None]
            if not pending:
                break
        out: list[dict[str, Any]] = []
        by_record: dict[int, list[_Job]] = {}
        for job in jobs:
            by_record.setdefault(job.index, []).append(job)
        for index, record in enumerate(records):
            if index not in by_record:
                out.append(self.skip(record, "no title to generate a body for"))
                continue
            for job in by_record[index]:
                if job.text is not None:
                    out.append(self._child(record, job))
                else:
                    where = f"candidate {job.candidate}: " if self.config.candidates > 1 else ""
                    out.append(self.skip(record, f"degenerate output after {attempts} attempt(s): "
                                         f"{where}{job.reason}"))
        return self.output(out)

    def _generate(self, records: list[dict[str, Any]], jobs: list[_Job]) -> None:
        size = self.config.generation_batch_size
        for start in range(0, len(jobs), size):
            chunk = jobs[start:start + size]
            prompts = [self.generator.prompt(records[job.index]["title"]) for job in chunk]
            started = time.perf_counter()
            continuations = self.strategy.generate(self.generator, prompts, [job.seed for job in chunk], self.config)
            self._count(continuations, time.perf_counter() - started)
            for job, continuation in zip(chunk, continuations):
                text, logprobs, reason = self._finish(continuation.token_ids, continuation.logprobs)
                reason = reason or degenerate_reason(text, records[job.index]["title"], self.config)
                if reason is None:
                    job.text, job.logprob, job.reason = text, sum(logprobs) / len(logprobs), None
                    job.stats = dict(continuation.stats) if continuation.stats else None
                else:
                    job.reason = reason
            if self.discriminator is not None:
                done = [job for job in chunk if job.text is not None]
                if done:
                    # The final body (cut at its last sentence) is what a reader sees: score that.
                    for job, score in zip(done, self.discriminator.score([job.text for job in done])):
                        job.stats = {**(job.stats or {}), "discriminator": float(score)}

    def _count(self, continuations: list[Any], seconds: float) -> None:
        self._run["rows"] += len(continuations)
        self._run["seconds"] += seconds
        self._run["tokens"] += sum(len(c.token_ids) + int(c.stopped) for c in continuations)
        for c in continuations:
            stats = c.stats or {}
            # Unguided strategies run one forward per token they produced.
            self._run["lm_forwards"] += int(stats.get("lm_forwards", len(c.token_ids) + int(c.stopped)))
            self._run["discriminator_calls"] += int(stats.get("discriminator_calls", 0))

    def _finish(self, token_ids: list[int], logprobs: list[float]) -> tuple[str, list[float], str | None]:
        """Decode, and cut after the last complete sentence (with its tokens' log-probabilities)."""
        tokenizer = self.generator.tokenizer
        text = tokenizer.decode(token_ids, skip_special_tokens=True).strip()
        if _SENTENCE_END.search(text):
            return text, logprobs, None
        # Only tokens holding sentence punctuation can end a sentence: decode just those prefixes.
        for end in range(len(token_ids) - 1, 0, -1):
            if any(mark in tokenizer.decode([token_ids[end - 1]]) for mark in ".!?"):
                prefix = tokenizer.decode(token_ids[:end], skip_special_tokens=True).strip()
                if _SENTENCE_END.search(prefix):
                    return prefix, logprobs[:end], None
        return text, logprobs, "no complete sentence"

    def _child(self, record: dict[str, Any], job: _Job) -> dict[str, Any]:
        stats = dict(job.stats or {})
        scores = {"generator_logprob": job.logprob}
        if "discriminator" in stats:
            scores["discriminator"] = stats.pop("discriminator")
        return self.child(
            record, seed=job.seed, model=self.config.model, model_version=self.generator.card_hash, stats=stats,
            scores=scores, suffix=f"#{job.candidate}" if self.config.candidates > 1 else "", text=job.text,
            # Spans into the old body point at text that is gone.
            spans=[s for s in record["spans"] if s["field"] != "text"])

    @classmethod
    def describe(cls, record: dict[str, Any]) -> list[tuple[str, str]]:
        return [("text (generated)", record["text"] or "")]


def degenerate_reason(text: str, title: str, config: GenerateArticleConfig) -> str | None:
    """Why a generated body is unusable, or None."""
    words = [w.lower() for w in _WORD.findall(text)]
    title_words = [w.lower() for w in _WORD.findall(title)]
    if title_words and words[:len(title_words)] == title_words and len(words) - len(title_words) < config.min_words:
        return "only the title echoed"
    if len(words) < config.min_words:
        return f"too short ({len(words)} words < min_words={config.min_words})"
    trigrams = list(zip(words, words[1:], words[2:]))
    # Fewer than three words (min_words < 3) have no trigram to repeat.
    repeated = 1 - len(set(trigrams)) / len(trigrams) if trigrams else 0.0
    if repeated > config.max_repeated_trigrams:
        return f"looping repetition ({repeated:.0%} repeated trigrams > {config.max_repeated_trigrams:.0%})"
    return None
