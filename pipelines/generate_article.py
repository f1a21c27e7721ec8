"""Article generation: write a new body for each record's title (often a swapped one).

The generator is a causal LM trained on ``title <sep> body <eos>`` (``datafactory
finetune-generator``); the prompt is ``title <sep>``. Output is post-processed (cut at the
end token or separator, trailing unfinished sentence trimmed) and checked: too short,
looping, or only the title echoed is rejected, and the row is retried with a new seed up to
``max_retries`` times before it goes to rejects with the reason.

Input: RECORD_SCHEMA batch. Output: ``candidates`` children per record, id
``PARENT:generate_article`` (``...#k`` when candidates > 1), ``falsified=True``, the new body
in ``text``, ``scores.generator_logprob`` = mean token log-probability of the body.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field

from datafactory import lm, registry, schema
from datafactory.stage import Stage, StageConfig
from pipelines.decoding import DecodingParams, get_strategy

_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")
_WORD = re.compile(r"\w+", re.UNICODE)


class GenerateArticleConfig(StageConfig):
    model: str
    """Generator: a folder written by finetune-generator (or any causal LM folder / cached hub id)."""
    separator: str | None = None
    """Text between title and body; default: the one in the model's generator_card.json."""
    device: str = "auto"
    """auto (GPU when present), cpu, cuda, cuda:1 ..."""
    strategy: Literal["sample", "greedy", "beam"] = "sample"
    """Decoding strategy: sample (with top_p < 1: nucleus), greedy or beam."""
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
    candidates: int = Field(1, ge=1)
    """Bodies generated per title, each its own record."""
    max_retries: int = Field(2, ge=0)
    """New attempts (new seed) for a degenerate body before the row goes to rejects."""
    min_words: int = Field(15, ge=1)
    """Shorter bodies are degenerate."""
    max_repeated_trigrams: float = Field(0.3, gt=0, le=1)
    """Bodies whose share of repeated word trigrams exceeds this are degenerate (looping)."""
    generation_batch_size: int = Field(16, ge=1)
    """Prompts decoded together in one batched forward."""


@dataclass
class _Job:
    index: int
    candidate: int
    attempt: int = 0
    text: str | None = None
    logprob: float | None = None
    seed: int = 0
    reason: str | None = None


@registry.register
class GenerateArticle(Stage):
    name = "generate_article"
    version = "1"
    Config = GenerateArticleConfig
    config: GenerateArticleConfig

    def __init__(self, config: GenerateArticleConfig, *, seed: int):
        super().__init__(config, seed=seed)
        self.generator: lm.Generator | None = None
        self.strategy = get_strategy(config.strategy)
        self.params = DecodingParams(
            max_new_tokens=config.max_new_tokens, min_new_tokens=config.min_new_tokens,
            temperature=config.temperature, top_k=config.top_k, top_p=config.top_p,
            repetition_penalty=config.repetition_penalty, num_beams=config.num_beams)

    def check(self, source: str, field: str) -> None:
        lm.require_torch()
        lm.check_causal_lm(self.config.model, source=source, field=field)

    def setup(self) -> None:
        if self.generator is None:
            self.generator = lm.load_generator(self.config.model, self.config.device, self.config.separator)

    def models(self) -> list[dict[str, Any]]:
        self.setup()
        info = self.generator.info()
        info["card"] = self.generator.card
        return [info]

    def attempt_seed(self, record_id: str, candidate: int, attempt: int) -> int:
        key = f"{self.row_seed(record_id)}:{candidate}:{attempt}".encode()
        return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1

    # -- the work --------------------------------------------------------------------------

    def __call__(self, batch: pa.Table) -> pa.Table:
        self.setup()
        records = batch.to_pylist()
        jobs = [_Job(i, k) for i, r in enumerate(records) if r["title"] for k in range(self.config.candidates)]
        pending = list(jobs)
        for attempt in range(self.config.max_retries + 1):
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
                out.append({**record, schema.REJECT_REASON: "no title to generate a body for"})
                continue
            for job in by_record[index]:
                if job.text is not None:
                    out.append(self._child(record, job))
                else:
                    where = f"candidate {job.candidate}: " if self.config.candidates > 1 else ""
                    out.append({**record, schema.REJECT_REASON: f"degenerate output after "
                                f"{self.config.max_retries + 1} attempt(s): {where}{job.reason}"})
        return schema.stage_output(out)

    def _generate(self, records: list[dict[str, Any]], jobs: list[_Job]) -> None:
        size = self.config.generation_batch_size
        for start in range(0, len(jobs), size):
            chunk = jobs[start:start + size]
            prompts = [self.generator.prompt(records[job.index]["title"]) for job in chunk]
            continuations = self.strategy.generate(self.generator, prompts, [job.seed for job in chunk], self.params)
            for job, continuation in zip(chunk, continuations):
                text, logprobs, reason = self._finish(continuation.token_ids, continuation.logprobs)
                reason = reason or degenerate_reason(text, records[job.index]["title"], self.config)
                if reason is None:
                    job.text, job.logprob, job.reason = text, sum(logprobs) / len(logprobs), None
                else:
                    job.reason = reason

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
        suffix = f"#{job.candidate}" if self.config.candidates > 1 else ""
        scores = dict(record["scores"] or schema.empty_scores())
        scores["generator_logprob"] = job.logprob
        return {
            **record,
            "id": f"{record['id']}:{self.name}{suffix}",
            "text": job.text,
            "falsified": True,
            "manipulations": [*record["manipulations"], self.name],
            # Spans into the old body point at text that is gone.
            "spans": [s for s in record["spans"] if s["field"] != "text"],
            "scores": scores,
            "provenance": [*record["provenance"], {
                "stage": self.name, "version": self.version, "model": self.config.model,
                "model_version": self.generator.card_hash, "params": self.params_json(), "seed": job.seed,
            }],
            schema.REJECT_REASON: None,
        }


def degenerate_reason(text: str, title: str, config: GenerateArticleConfig) -> str | None:
    """Why a generated body is unusable, or None."""
    words = [w.lower() for w in _WORD.findall(text)]
    title_words = [w.lower() for w in _WORD.findall(title)]
    if title_words and words[:len(title_words)] == title_words and len(words) - len(title_words) < config.min_words:
        return "only the title echoed"
    if len(words) < config.min_words:
        return f"too short ({len(words)} words < min_words={config.min_words})"
    trigrams = list(zip(words, words[1:], words[2:]))
    repeated = 1 - len(set(trigrams)) / len(trigrams)
    if repeated > config.max_repeated_trigrams:
        return f"looping repetition ({repeated:.0%} repeated trigrams > {config.max_repeated_trigrams:.0%})"
    return None
