"""How good are the generated articles? Diversity, length, fluency and rejections, side by side
with a reference corpus of real news.

Metrics, each computed on the generated bodies and on the reference bodies: ``distinct_1..3``,
``self_bleu`` and the length in words (see :mod:`detectors.evaluation.text_metrics`), and with an oracle
model ``oracle_perplexity``: exp of the mean negative log-likelihood of every token under a causal
LM; generated text far below the reference is bland, far above is broken.

plus, for the generated side, the rejection rate of the stage (rows it skipped or failed on,
from ``rejects.parquet``) and its most common reasons, the mean guiding-discriminator score
(``scores.discriminator``) when a guided strategy wrote the rows, and the stage's time and LM
forward passes per generated token from the manifest.

With a ``judge`` classifier and a ``target`` class: ``target_accuracy`` (share of bodies the
judge assigns to the target) and ``judge_target_probability`` (its mean probability), on both
sides; see :mod:`detectors.evaluation.judge`.

Example::

    from datafactory.config import InputConfig
    from detectors.evaluation.generation import evaluate_generation

    report = evaluate_generation("out/generated", InputConfig(path="data/sample_news.jsonl"),
                                 oracle="out/tiny-gpt2", judge="out/real-vs-generated", target="real")
    print(report["metrics"]["self_bleu"], report["metrics"]["target_accuracy"])
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import pyarrow.parquet as pq

from datafactory import readers, schema
from datafactory.lm import context_length
from datafactory.config import InputConfig
from datafactory.errors import ConfigError, InputNotFoundError, InputReadError, NoGeneratedRowsError
from detectors.evaluation.judge import judge_section, judge_texts, load_judge, speed
from detectors.evaluation.generation_report import render_markdown
from datafactory.summary import load_summary
from datafactory.intake import Intake
from datafactory.output import REJECTS, OutputDir, write_text_atomic
# Re-exported: callers and tests import the metrics from here, where they were first defined.
from detectors.evaluation.text_metrics import SELF_BLEU_SAMPLE, distinct_n, length_stats, self_bleu, tokenize  # noqa: F401

EVAL_DIR = "eval"
JSON_FILE = "generation.json"
MD_FILE = "generation.md"
FORMAT = "datafactory-generation-eval/2"
DEFAULT_STAGE = "generate_article"
TOP_REASONS = 10


# -- oracle perplexity -------------------------------------------------------------------------


def load_oracle(name_or_path: str, device: str = "auto") -> tuple[Any, Any]:
    """A causal LM and its tokenizer from a model folder or the local HF cache (no download)."""
    from datafactory.lm import check_causal_lm, require_torch, resolve_device

    require_torch()
    check_causal_lm(str(name_or_path), source="--oracle", field=None)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(device)
    tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
    model = AutoModelForCausalLM.from_pretrained(str(name_or_path)).to(device).eval()
    return model, tokenizer


def oracle_perplexity(texts: Sequence[str], model: Any, batch_size: int = 8, *, tokenizer: Any = None,
                      device: str = "auto") -> dict[str, float]:
    """Token-level perplexity of ``texts`` under a causal LM: exp(total NLL / scored tokens).

    ``model`` is a model folder or cached hub id, a ``(model, tokenizer)`` pair, an object with
    ``.model`` and ``.tokenizer`` (a :class:`datafactory.lm.Generator`), or a model with
    ``tokenizer=`` given. Each text is preceded by the BOS (else EOS) token so that its first
    token is scored too, truncated to the model's context; padding is masked out of the loss.
    Returns ``perplexity``, ``nll`` (mean per token), ``tokens`` and ``truncated`` (texts cut).
    """
    torch = _torch()
    if isinstance(model, (str, Path)):
        model, tokenizer = load_oracle(str(model), device)
    elif isinstance(model, tuple):
        model, tokenizer = model
    elif tokenizer is None and hasattr(model, "tokenizer"):
        model, tokenizer = model.model, model.tokenizer
    if tokenizer is None:
        raise ValueError("oracle_perplexity needs the model's tokenizer")
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (start or 0)
    context = context_length(model, tokenizer)
    encoded, truncated = [], 0
    for text in texts:
        ids = ([start] if start is not None else []) + tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) > context:
            ids, truncated = ids[:context], truncated + 1
        if len(ids) >= 2:
            encoded.append(ids)
    model_device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    # Longest first, batched by length: little padding, and a too-large batch fails at once.
    encoded.sort(key=len, reverse=True)
    with torch.inference_mode():
        for begin in range(0, len(encoded), batch_size):
            batch = encoded[begin:begin + batch_size]
            width = len(batch[0])
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, ids in enumerate(batch):
                input_ids[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
                mask[row, :len(ids)] = 1
            input_ids, mask = input_ids.to(model_device), mask.to(model_device)
            logits = model(input_ids=input_ids, attention_mask=mask).logits[:, :-1].float()
            targets = input_ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
            nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                                    ignore_index=-100, reduction="sum")
            total_nll += float(nll)
            total_tokens += int((targets != -100).sum())
    mean = total_nll / total_tokens if total_tokens else math.nan
    return {"perplexity": math.exp(mean) if total_tokens else math.nan, "nll": mean, "tokens": total_tokens,
            "truncated": truncated}


def _torch() -> Any:
    from datafactory.lm import require_torch

    return require_torch()


# -- reading the build and the reference -------------------------------------------------------


def generated_rows(out: OutputDir, stage: str) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Rows whose manipulations include ``stage`` (id, parent_id, text, generator_logprob,
    discriminator), in shard order, and a count of every manipulation chain in the build."""
    rows: list[dict[str, Any]] = []
    chains: Counter[str] = Counter()
    for path in out.shard_files():
        table = pq.read_table(path, columns=["id", "parent_id", "text", "manipulations", "scores"])
        for record in table.to_pylist():
            chains["+".join(record["manipulations"]) or "none"] += 1
            if stage in record["manipulations"]:
                scores = record["scores"] or {}
                rows.append({"id": record["id"], "parent_id": record["parent_id"], "text": record["text"],
                             "generator_logprob": scores.get("generator_logprob"),
                             "discriminator": scores.get("discriminator")})
    return rows, chains


def reference_texts(reference: InputConfig, limit: int | None = None) -> tuple[list[str], int]:
    """Bodies of the reference corpus that pass the usual intake checks (the first ``limit``),
    and the number of rows read."""
    if not reference.path.exists():
        raise InputNotFoundError("--reference", None, f"{reference.path} does not exist",
                                 "Give the corpus file or folder the generated articles should be compared with")
    intake = Intake.reading(reference)
    texts: list[str] = []
    read = 0
    for raw in readers.iter_rows(reference):
        read += 1
        record, _ = intake(raw)
        if record is not None and record["text"]:
            texts.append(record["text"])
            if limit is not None and len(texts) >= limit:
                break
    return texts, read


def rejection_summary(out: OutputDir, stage: str, generated_parents: int) -> dict[str, Any]:
    """Rows the stage skipped or failed on, over those plus the parents it generated for."""
    path = out.root / REJECTS
    rejected: list[dict[str, Any]] = []
    if path.exists():
        table = pq.read_table(path, columns=["id", "stage", "kind", "reason"])
        rejected = [r for r in table.to_pylist()
                    if r["stage"] == stage and r["kind"] in (schema.SKIPPED, schema.ERROR)]
    from datafactory.manifest import _reason_group  # the grouping the manifest and the card use

    reasons = Counter(_reason_group(r["reason"]) for r in rejected)
    attempted = len(rejected) + generated_parents
    return {
        "stage": stage,
        "rejected": len(rejected),
        "generated_parents": generated_parents,
        "rate": len(rejected) / attempted if attempted else math.nan,
        "by_kind": dict(sorted(Counter(r["kind"] for r in rejected).items())),
        "top_reasons": [{"reason": reason, "count": n} for reason, n in reasons.most_common(TOP_REASONS)],
    }


# -- the report --------------------------------------------------------------------------------


def _metrics(texts: Sequence[str], oracle: tuple[Any, Any] | None, batch_size: int, seed: int,
             bleu_sample: int | None) -> dict[str, Any]:
    values: dict[str, Any] = {f"distinct_{n}": distinct_n(texts, n) for n in (1, 2, 3)}
    values["self_bleu"] = self_bleu(texts, sample=bleu_sample, seed=seed)
    values.update({f"length_words_{k}": v for k, v in length_stats(texts).items()})
    if oracle is not None:
        values["oracle_perplexity"] = oracle_perplexity(texts, oracle, batch_size)["perplexity"]
    return values


def evaluate_generation(
    out_dir: str | Path,
    reference: InputConfig,
    oracle: str | None = None,
    stage: str = DEFAULT_STAGE,
    *,
    max_samples: int | None = None,
    batch_size: int = 8,
    device: str = "auto",
    seed: int = 0,
    self_bleu_sample: int | None = SELF_BLEU_SAMPLE,
    judge: str | None = None,
    target: str | int | None = None,
    judge_kind: str = "auto",
) -> dict[str, Any]:
    """Compare the bodies a stage generated in ``out_dir`` with the ``reference`` corpus.

    Uses the first ``max_samples`` generated rows (shard order) and reference bodies (file
    order), or all. ``judge`` (a classifier :func:`pipelines.generation.discriminators.load_classifier`
    accepts) and ``target`` (one of its classes) add the target-class metrics. Writes
    ``OUT/eval/generation.json`` and ``OUT/eval/generation.md`` and returns what the JSON holds.
    """
    if target is not None and judge is None:
        raise ConfigError("--target", None, "is the class a judge scores, but no --judge is given",
                          "Add --judge with a classifier (e.g. a folder from datafactory train-detector)")
    out = OutputDir(Path(out_dir))
    manifest = load_summary(out.root, examples=0).manifest  # NotADatasetError when unbuilt
    rows, chains = generated_rows(out, stage)
    if not rows:
        raise NoGeneratedRowsError(
            f"{out_dir} has no rows made by {stage!r}; its manipulations are: "
            + ", ".join(f"{name} ({n})" for name, n in sorted(chains.items()))
            + ". Pass --stage with one of the stages applied, or build with that stage first")
    rejection = rejection_summary(out, stage, len({r["parent_id"] for r in rows}))
    sample = rows[:max_samples] if max_samples is not None else rows
    generated = [r["text"] or "" for r in sample]
    ref_texts, ref_read = reference_texts(reference, max_samples)
    if not ref_texts:
        raise InputReadError(f"{reference.path}: no usable bodies in {ref_read} row(s); map the body column "
                             "with --columns text=COLUMN")
    oracle_model = load_oracle(oracle, device) if oracle is not None else None
    judge_model = load_judge(judge, target, kind=judge_kind, device=device) if judge is not None else None
    logprobs = [r["generator_logprob"] for r in sample if r["generator_logprob"] is not None]
    gen_metrics = _metrics(generated, oracle_model, batch_size, seed, self_bleu_sample)
    ref_metrics = _metrics(ref_texts, oracle_model, batch_size, seed, self_bleu_sample)
    if judge_model is not None:
        for name, sides in judge_texts(judge_model, generated, ref_texts).items():
            gen_metrics[name], ref_metrics[name] = sides["generated"], sides["reference"]
    discriminator = [r["discriminator"] for r in sample if r["discriminator"] is not None]
    report = {
        "format": FORMAT,
        "dataset": manifest.get("name"),
        "out_dir": str(out.root),
        "stage": stage,
        "reference": {"path": str(reference.path), "format": readers.detect_format(reference),
                      "columns": dict(reference.columns), "rows_read": ref_read},
        "oracle": oracle,
        "judge": judge_section(judge, judge_model, manifest) if judge_model is not None else None,
        "samples": {"generated": len(generated), "generated_total": len(rows), "reference": len(ref_texts)},
        "metrics": {name: {"generated": _clean(gen_metrics[name]), "reference": _clean(ref_metrics[name])}
                    for name in gen_metrics},
        "generator_logprob_mean": _clean(statistics.fmean(logprobs)) if logprobs else None,
        "discriminator_score_mean": _clean(statistics.fmean(discriminator)) if discriminator else None,
        "speed": speed(manifest, stage),
        "rejection": {**rejection, "rate": _clean(rejection["rate"])},
    }
    folder = out.root / EVAL_DIR
    folder.mkdir(exist_ok=True)
    write_text_atomic(json.dumps(report, indent=2, ensure_ascii=False) + "\n", folder / JSON_FILE)
    write_text_atomic(render_markdown(report), folder / MD_FILE)
    return report


def _clean(value: float) -> float | None:
    """JSON has no NaN: a metric that cannot be computed is null."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
