"""Fine-tune a causal language model to write a news body after its title.

Every usable record of a corpus (title and text present) becomes one training sequence::

    title <|sep|> body <eos>

the format :func:`datafactory.lm.load_generator` and the generation stage prompt with
(``Generator.prompt``: the title, then the separator). The separator becomes a real special
token (one id) when the tokenizer lacks it, and the embeddings grow to match.

A deterministic share of the records (by a hash of the record id, so the split survives
reordering and growth of the corpus) is held out; its perplexity is reported before and
after training. The result is an ordinary model folder, self-described by
``generator_card.json`` and ``README.md``::

    OUT/model.safetensors, config.json, generation_config.json, tokenizer files
    OUT/generator_card.json   separator, base model, data (path, sha256, rows), hyper-parameters,
                              validation perplexity before and after; written last: the commit point
    OUT/README.md             the same facts, for people
    OUT/checkpoints/          while training: run.json, the lock and step-N/ folders (model,
                              tokenizer, optimizer, scheduler, step, RNG state), removed at the end

A killed run continues with ``resume=True`` from its latest checkpoint and ends with the same
weights as a run that was never interrupted (same seed, same batches, same dropout draws).

    >>> from datafactory.config import InputConfig
    >>> finetune_generator(InputConfig(path="data/sample_news.jsonl"), "out/tiny-gpt2",
    ...                    "out/tiny-news", steps=300)                     # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from datafactory.progress import bar as progress_bar

from datafactory import readers
from datafactory.config import InputConfig
from datafactory.errors import ConfigError, InputNotFoundError, ModelNotFoundError, OutputError
from datafactory.lm import DEFAULT_SEPARATOR, check_causal_lm, read_card, require_torch, resolve_device
from datafactory.lock import BuildLock
from datafactory.output import write_text_atomic
from pipelines.generation import training_data
from pipelines.generation.checkpoints import RUN_FILE, RunFolder, restore_trainer_state, step_of
# collate and corpus_texts are imported from here by callers and tests; _held_out by the tests.
from pipelines.generation.training_data import collate, corpus_texts, epoch_order  # noqa: F401
from pipelines.generation.training_data import held_out as _held_out  # noqa: F401

log = logging.getLogger(__name__)

FORMAT = "title <sep> body <eos>"
_SOURCE = "finetune-generator"


class FinetuneConfig(BaseModel):
    """How to fine-tune; every field is recorded in the generator card."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    model: str
    """Base model: a saved model folder or a hub id already in the local cache."""
    steps: Optional[int] = Field(None, gt=0)
    """Optimizer steps to train for; excludes ``epochs``."""
    epochs: Optional[float] = Field(None, gt=0)
    """Passes over the training rows (may be fractional); excludes ``steps``. Default: 1."""
    batch_size: int = Field(8, gt=0)
    """Sequences per optimizer step."""
    learning_rate: float = Field(5e-5, gt=0)
    """Peak AdamW learning rate, reached after the warmup and decayed linearly to 0."""
    warmup_fraction: float = Field(0.1, ge=0, lt=1)
    """Share of the steps over which the learning rate rises linearly from 0."""
    weight_decay: float = Field(0.0, ge=0)
    """AdamW weight decay."""
    max_grad_norm: float = Field(1.0, gt=0)
    """Gradients are clipped to this global norm."""
    max_length: Optional[int] = Field(None, gt=1)
    """Tokens per sequence; longer articles are cut (and then carry no end-of-text token).
    Default: 512, or the model's context length when that is shorter."""
    val_fraction: float = Field(0.05, gt=0, lt=1)
    """Share of records held out for the validation perplexity, chosen by a hash of the id."""
    seed: int = Field(0, ge=0)
    """Seeds the weight init of new tokens, the batch order and dropout."""
    separator: str = DEFAULT_SEPARATOR
    """Placed between title and body; added as a special token when the tokenizer lacks it."""
    checkpoint_every: int = Field(500, gt=0)
    """Steps between checkpoints in OUTPUT/checkpoints (what resume continues from)."""
    keep_checkpoints: int = Field(2, gt=0)
    """How many of the latest checkpoints to keep while training."""
    device: str = "auto"
    """``auto`` (the GPU when present), ``cpu``, ``cuda`` or ``cuda:N``."""

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> "FinetuneConfig":
        if self.steps is not None and self.epochs is not None:
            raise ValueError("give steps or epochs, not both")
        return self

    def fingerprint(self, data_sha256: str) -> str:
        """What decides the final weights: a resumed run must match it. The device is left out."""
        content = self.model_dump(mode="json", exclude={"device", "keep_checkpoints"})
        content["data_sha256"] = data_sha256
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def finetune_generator(
    data: InputConfig,
    model: str,
    output: Path | str,
    *,
    steps: int | None = None,
    epochs: float | None = None,
    batch_size: int = 8,
    learning_rate: float = 5e-5,
    max_length: int | None = None,
    val_fraction: float = 0.05,
    seed: int = 0,
    device: str = "auto",
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Fine-tune ``model`` on ``title <sep> body <eos>`` sequences of the ``data`` corpus and save
    it to ``output``. ``options`` are the other :class:`FinetuneConfig` fields (warmup_fraction,
    weight_decay, max_grad_norm, separator, checkpoint_every, keep_checkpoints).

    Returns the generator card plus ``output``, ``seconds`` and ``resumed_from`` (a step or None).
    ``progress=None`` shows a bar on a terminal only.
    """
    try:
        config = FinetuneConfig(model=str(model), steps=steps, epochs=epochs, batch_size=batch_size,
                                learning_rate=learning_rate, max_length=max_length, val_fraction=val_fraction,
                                seed=seed, device=device, **options)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or None
        flag = {"learning_rate": "--lr"}.get(name or "", name and f"--{name.replace('_', '-')}")
        raise ConfigError(_SOURCE, flag, err["msg"], "Fix this value") from None
    return Finetuner(config, data, Path(output), progress).run(resume=resume, overwrite=overwrite)


class Finetuner:
    """One fine-tuning run into one output folder. Use :func:`finetune_generator`."""

    def __init__(self, config: FinetuneConfig, data: InputConfig, output: Path, progress: bool | None = None):
        self.config, self.data, self.output, self.progress = config, data, Path(output), progress
        self.folder = RunFolder(self.output)
        self.ckpt_dir = self.folder.ckpt_dir

    # -- the run ------------------------------------------------------------------------------

    def run(self, *, resume: bool, overwrite: bool) -> dict[str, Any]:
        torch = require_torch()
        cfg = self.config
        if resume and overwrite:
            raise OutputError("--resume and --overwrite exclude each other; pick one")
        started = time.time()
        device = resolve_device(cfg.device)
        check_causal_lm(cfg.model, source=_SOURCE, field="--model")
        if not self.data.path.exists():
            raise InputNotFoundError(_SOURCE, "--data", f"{self.data.path} does not exist", "Fix the path")
        self.folder.check()
        if _same_folder(Path(cfg.model), self.output):
            raise OutputError(f"--output {self.output} is the base model's folder; choose another output folder")
        data_sha = readers.fingerprint(self.data)

        # Everything that can fail on the inputs fails before the output is touched.
        torch.manual_seed(cfg.seed)
        tokenizer, model = self._load_base(torch)
        cfg = self.config  # with max_length decided
        fingerprint = cfg.fingerprint(data_sha)
        train_ids, val_ids, rejected = self._sequences(tokenizer)
        pad_id = tokenizer.pad_token_id
        steps_per_epoch = math.ceil(len(train_ids) / cfg.batch_size)
        total_steps = cfg.steps or max(1, math.ceil((cfg.epochs or 1.0) * steps_per_epoch))

        self.output.mkdir(parents=True, exist_ok=True)
        with BuildLock(self.ckpt_dir):
            mode, run_state = self.folder.decide(fingerprint, resume=resume, overwrite=overwrite)
            checkpoint = self.folder.latest_checkpoint() if mode == "resume" else None
            if checkpoint is not None:
                from transformers import AutoModelForCausalLM

                del model
                model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
                log.info("resuming from %s", checkpoint)
            model.to(device)
            if run_state is None:
                ppl_before = self._perplexity(torch, model, val_ids, pad_id, device)
                run_state = {"fingerprint": fingerprint, "val_perplexity_before": ppl_before,
                             "started_at": started}
                write_text_atomic(json.dumps(run_state, indent=2), self.ckpt_dir / RUN_FILE)
            log.info("validation perplexity before training: %.2f", run_state["val_perplexity_before"])

            step = self._train(torch, model, tokenizer, train_ids, pad_id, device, total_steps, steps_per_epoch,
                               checkpoint)
            ppl_after = self._perplexity(torch, model, val_ids, pad_id, device)
            log.info("validation perplexity after %d steps: %.2f", step, ppl_after)

            card = {
                "separator": cfg.separator,
                "base_model": cfg.model,
                "base_model_version": read_card(cfg.model)[1],
                "format": FORMAT,
                "data": {"path": str(self.data.path), "sha256": data_sha, "format": readers.detect_format(self.data),
                         "columns": dict(self.data.columns), "rows_train": len(train_ids), "rows_val": len(val_ids),
                         "rows_rejected": rejected},
                "steps": total_steps,
                "epochs": round(total_steps / steps_per_epoch, 4),
                "batch_size": cfg.batch_size,
                "learning_rate": cfg.learning_rate,
                "warmup_fraction": cfg.warmup_fraction,
                "weight_decay": cfg.weight_decay,
                "max_grad_norm": cfg.max_grad_norm,
                "max_length": cfg.max_length,
                "val_fraction": cfg.val_fraction,
                "seed": cfg.seed,
                "val_perplexity_before": run_state["val_perplexity_before"],
                "val_perplexity_after": ppl_after,
                "architecture": type(model).__name__,
                "parameters": sum(p.numel() for p in model.parameters()),
                "vocab_size": len(tokenizer),
                "fingerprint": fingerprint,
            }
            self.folder.save_final(model, tokenizer, card)
            self.folder.drop_run_state()
        shutil.rmtree(self.ckpt_dir, ignore_errors=True)
        return {**card, "output": str(self.output), "seconds": round(time.time() - started, 2),
                "resumed_from": step_of(checkpoint) if checkpoint is not None else None}

    # -- inputs -------------------------------------------------------------------------------

    def _load_base(self, torch) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cfg = self.config
        try:
            tokenizer = AutoTokenizer.from_pretrained(cfg.model)
            model = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=torch.float32)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelNotFoundError(_SOURCE, "--model", f"{cfg.model} cannot be loaded as a causal language model "
                                     f"({' '.join(str(exc).split())[:300]})",
                                     "Give a model folder or cached hub id of an AutoModelForCausalLM") from None
        if tokenizer.eos_token_id is None:
            raise ModelNotFoundError(_SOURCE, "--model", f"the tokenizer of {cfg.model} has no end-of-text token",
                                     "Use a model whose tokenizer defines eos_token")
        sep_ids = tokenizer(cfg.separator, add_special_tokens=False)["input_ids"]
        if len(sep_ids) != 1:
            tokenizer.add_special_tokens({"additional_special_tokens": [cfg.separator]},
                                         replace_extra_special_tokens=False)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
            model.resize_token_embeddings(len(tokenizer))
        model.config.pad_token_id = tokenizer.pad_token_id
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.pad_token_id = tokenizer.pad_token_id
        limit = getattr(model.config, "max_position_embeddings", None)
        limit = limit if isinstance(limit, int) and limit > 1 else None
        if cfg.max_length is None:
            self.config = cfg.model_copy(update={"max_length": min(512, limit or 512)})
        elif limit is not None and cfg.max_length > limit:
            raise ConfigError(_SOURCE, "--max-length", f"{cfg.max_length} is more than the {limit} positions "
                              f"{cfg.model} handles", f"Use --max-length {limit} or less")
        return tokenizer, model

    def _sequences(self, tokenizer) -> tuple[list, list, int]:
        cfg = self.config
        return training_data.sequences(self.data, tokenizer, cfg.separator, cfg.max_length, cfg.val_fraction,
                                        self.progress)

    def _encode(self, tokenizer, pairs: list[tuple[str, str]]) -> list[list[int]]:
        return training_data.encode(tokenizer, pairs, self.config.separator, self.config.max_length)

    # A method, not a direct call, so that the resume test can crash a run right after a checkpoint.
    def _save_checkpoint(self, torch, model, tokenizer, optimizer, scheduler, step: int) -> Path:
        return self.folder.save_checkpoint(torch, model, tokenizer, optimizer, scheduler, step,
                                           self.config.keep_checkpoints)

    # -- training -----------------------------------------------------------------------------

    def _train(self, torch, model, tokenizer, train_ids, pad_id, device, total_steps: int, steps_per_epoch: int,
               checkpoint: Path | None) -> int:
        from transformers import get_linear_schedule_with_warmup

        cfg = self.config
        decay, no_decay = [], []
        for name, param in model.named_parameters():
            if param.requires_grad:
                (no_decay if param.ndim < 2 else decay).append(param)
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                       {"params": no_decay, "weight_decay": 0.0}], lr=cfg.learning_rate)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_fraction * total_steps), total_steps)
        step = 0
        if checkpoint is not None:
            step = restore_trainer_state(torch, checkpoint, optimizer, scheduler)
        else:
            torch.manual_seed(cfg.seed)
            if torch.cuda.is_available():
                torch.cuda.manual_seed_all(cfg.seed)

        model.train()
        order_epoch, order = -1, []
        with progress_bar(total=total_steps, initial=step, unit="step", desc="finetune", progress=self.progress
                          ) as bar:
            while step < total_steps:
                epoch, position = divmod(step, steps_per_epoch)
                if epoch != order_epoch:
                    order_epoch, order = epoch, epoch_order(len(train_ids), cfg.seed, epoch)
                chosen = order[position * cfg.batch_size:(position + 1) * cfg.batch_size]
                input_ids, attention, labels = collate([train_ids[i] for i in chosen], pad_id, torch)
                loss = model(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                             labels=labels.to(device)).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
                if step % cfg.checkpoint_every == 0 and step < total_steps:
                    self._save_checkpoint(torch, model, tokenizer, optimizer, scheduler, step)
        model.eval()
        return step

    def _perplexity(self, torch, model, sequences: list, pad_id: int, device: str) -> float:
        """exp(mean negative log-likelihood per predicted token) over ``sequences``."""
        was_training = model.training
        model.eval()
        total, count = 0.0, 0
        size = self.config.batch_size
        with torch.no_grad():
            for start in range(0, len(sequences), size):
                input_ids, attention, labels = collate(sequences[start:start + size], pad_id, torch)
                logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits
                targets = labels[:, 1:].to(device)
                nll = torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                                                        targets.reshape(-1), ignore_index=-100, reduction="sum")
                total += nll.item()
                count += int((targets != -100).sum())
        model.train(was_training)
        return round(math.exp(total / max(count, 1)), 4)


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().exists() and b.exists() and a.expanduser().resolve() == b.resolve()
    except OSError:
        return False
