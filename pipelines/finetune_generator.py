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
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tqdm.auto import tqdm

from datafactory import readers
from datafactory.config import InputConfig, LimitsConfig
from datafactory.errors import ConfigError, InputNotFoundError, ModelNotFoundError, OutputError, \
    ResumeMismatchError, UnfinishedBuildError
from datafactory.intake import Intake
from datafactory.lm import CARD_FILE, DEFAULT_SEPARATOR, check_causal_lm, read_card, require_torch, resolve_device
from datafactory.lock import BuildLock
from datafactory.output import write_text_atomic

log = logging.getLogger(__name__)

FORMAT = "title <sep> body <eos>"
CHECKPOINTS = "checkpoints"
RUN_FILE = "run.json"
TRAINER_STATE = "trainer_state.pt"
README = "README.md"
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
        self.ckpt_dir = self.output / CHECKPOINTS

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
        self._check_output()
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
            mode, run_state = self._decide(fingerprint, resume=resume, overwrite=overwrite)
            checkpoint = self._latest_checkpoint() if mode == "resume" else None
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
            self._save_final(model, tokenizer, card)
            self._drop_run_state()
        shutil.rmtree(self.ckpt_dir, ignore_errors=True)
        return {**card, "output": str(self.output), "seconds": round(time.time() - started, 2),
                "resumed_from": _step_of(checkpoint) if checkpoint is not None else None}

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

    def _records(self) -> Iterator[dict[str, Any]]:
        intake = Intake(self.data, LimitsConfig(), self.data.name or self.data.path.stem, str(self.data.path))
        for raw in readers.iter_rows(self.data):
            record, _ = intake(raw)
            yield record

    def _sequences(self, tokenizer) -> tuple[list, list, int]:
        """(train, val, rejected): the token ids of every record with a title and a text (int32
        arrays: a large corpus fits in memory), split by a hash of the record id."""
        import numpy as np

        train: list = []
        val: list = []
        rejected = 0
        pending: list[tuple[bool, tuple[str, str]]] = []

        def flush() -> None:
            for (held_out, _), ids in zip(pending, self._encode(tokenizer, [pair for _, pair in pending])):
                (val if held_out else train).append(np.asarray(ids, dtype=np.int32))
            pending.clear()

        total = readers.count_rows(self.data)
        with tqdm(total=total, unit="row", desc="tokenize", disable=_no_bar(self.progress), file=sys.stderr) as bar:
            for record in self._records():
                bar.update(1)
                if record is None or not record["title"] or not record["text"]:
                    rejected += 1
                    continue
                pending.append((_held_out(record["id"], self.config.val_fraction), (record["title"], record["text"])))
                if len(pending) >= 1000:
                    flush()
            flush()
        if not train or not val:
            usable = len(train) + len(val)
            raise ConfigError(str(self.data.path), "--val-fraction",
                              f"{usable} usable row(s) (with title and text; {rejected} without) give "
                              f"{len(train)} training and {len(val)} validation row(s) at val_fraction="
                              f"{self.config.val_fraction}",
                              "Give a corpus with more rows, map the title and text columns with --columns, "
                              "or change --val-fraction")
        return train, val, rejected

    def _encode(self, tokenizer, pairs: list[tuple[str, str]]) -> list[list[int]]:
        """``title + sep + body`` tokenized as the generation prompt is (special tokens such as a
        BOS included), then the end-of-text token, all cut to max_length."""
        cfg, eos = self.config, tokenizer.eos_token_id
        out: list[list[int]] = []
        for start in range(0, len(pairs), 1000):
            texts = [f"{title}{cfg.separator}{body}" for title, body in pairs[start:start + 1000]]
            for ids in tokenizer(texts, truncation=True, max_length=cfg.max_length)["input_ids"]:
                ids = list(ids)
                if len(ids) < cfg.max_length and (not ids or ids[-1] != eos):
                    ids.append(eos)
                out.append(ids)
        return out

    # -- the output folder --------------------------------------------------------------------

    def _check_output(self) -> None:
        if self.output.exists() and not self.output.is_dir():
            raise OutputError(f"{self.output} exists and is not a folder; choose another --output")
        if self.output.is_dir() and any(self.output.iterdir()) and not (self.output / CARD_FILE).exists() \
                and not self.ckpt_dir.is_dir():
            names = sorted(p.name for p in self.output.iterdir())
            raise OutputError(f"{self.output} is not empty and holds no finetune-generator output "
                              f"({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}); "
                              "choose an empty or new folder")

    def _decide(self, fingerprint: str, *, resume: bool, overwrite: bool) -> tuple[str, dict | None]:
        """``fresh`` or ``resume``, with the run state to continue (None when fresh)."""
        finished = (self.output / CARD_FILE).exists()
        run_file = self.ckpt_dir / RUN_FILE
        run_state = json.loads(run_file.read_text(encoding="utf-8")) if run_file.exists() else None
        if overwrite:
            self._clear()
            return "fresh", None
        if finished:
            raise OutputError(f"{self.output} holds a finished model ({CARD_FILE}); pass --overwrite to replace "
                              "it or choose another --output")
        if run_state is not None:
            if not resume:
                done = _step_of(self._latest_checkpoint()) if self._latest_checkpoint() else 0
                raise UnfinishedBuildError(
                    f"{self.output} holds an unfinished fine-tuning run (checkpoint at step {done}); "
                    "pass --resume to continue it or --overwrite to start over")
            if run_state.get("fingerprint") != fingerprint:
                raise ResumeMismatchError(
                    f"cannot resume {self.output}: the model, the data or a training option changed since the run "
                    "started; pass --overwrite to start over with the new ones")
            for tmp in self.ckpt_dir.glob(".step-*"):
                shutil.rmtree(tmp, ignore_errors=True)
            return "resume", run_state
        self._clear()
        return "fresh", None

    def _clear(self) -> None:
        """Remove what an earlier run wrote (the whole folder is ours: _check_output made sure)."""
        for path in self.output.iterdir():
            if path == self.ckpt_dir:
                for inner in path.iterdir():
                    if inner.name != "lock":
                        shutil.rmtree(inner) if inner.is_dir() else inner.unlink()
            else:
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def _checkpoints(self) -> list[Path]:
        found = [p for p in self.ckpt_dir.glob("step-*") if (p / TRAINER_STATE).is_file()]
        return sorted(found, key=_step_of)

    def _latest_checkpoint(self) -> Path | None:
        found = self._checkpoints()
        return found[-1] if found else None

    def _save_checkpoint(self, torch, model, tokenizer, optimizer, scheduler, step: int) -> Path:
        """Write OUTPUT/checkpoints/step-N under a hidden name, then rename it: all or nothing."""
        final = self.ckpt_dir / f"step-{step}"
        tmp = self.ckpt_dir / f".step-{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.save({"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": _rng_state(torch)}, tmp / TRAINER_STATE)
        for file in tmp.iterdir():
            _fsync(file)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in self._checkpoints()[:-self.config.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        log.info("checkpoint %s", final)
        return final

    def _save_final(self, model, tokenizer, card: dict[str, Any]) -> None:
        model.save_pretrained(self.output)
        tokenizer.save_pretrained(self.output)
        for file in self.output.iterdir():
            if file.is_file():
                _fsync(file)
        write_text_atomic(render_readme(card), self.output / README)
        # The card is the commit point: a folder with it holds a finished model.
        write_text_atomic(json.dumps(card, indent=2, ensure_ascii=False) + "\n", self.output / CARD_FILE)

    def _drop_run_state(self) -> None:
        for path in self.ckpt_dir.iterdir():
            if path.name != "lock":
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)

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
            state = torch.load(checkpoint / TRAINER_STATE, map_location="cpu", weights_only=True)
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            _set_rng_state(torch, state["rng"])
            step = state["step"]
        else:
            torch.manual_seed(cfg.seed)
            if torch.cuda.is_available():
                torch.cuda.manual_seed_all(cfg.seed)

        model.train()
        order_epoch, order = -1, []
        with tqdm(total=total_steps, initial=step, unit="step", desc="finetune", disable=_no_bar(self.progress),
                  file=sys.stderr) as bar:
            while step < total_steps:
                epoch, position = divmod(step, steps_per_epoch)
                if epoch != order_epoch:
                    order_epoch, order = epoch, _epoch_order(len(train_ids), cfg.seed, epoch)
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


def _held_out(record_id: str, fraction: float) -> bool:
    digest = hashlib.sha256(f"val:{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    order = list(range(n))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    return order


def _rng_state(torch) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(torch, state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _step_of(path: Path) -> int:
    return int(path.name.split("-")[1])


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().exists() and b.exists() and a.expanduser().resolve() == b.resolve()
    except OSError:
        return False


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _no_bar(progress: bool | None) -> bool | None:
    # tqdm's disable=None turns the bar off when stderr is not a terminal (cron, CI, pipes).
    return None if progress is None else not progress


def render_readme(card: dict[str, Any]) -> str:
    data = card["data"]
    return f"""# Generator fine-tuned by datafactory

A causal language model trained to write a news body after its title, in the format
`{card['format']}` with the separator `{card['separator']}`. Load it with
`datafactory.lm.load_generator(PATH)` (the separator comes from `{CARD_FILE}`).

| | |
|---|---|
| base model | `{card['base_model']}` ({card['architecture']}, {card['parameters']:,} parameters) |
| data | `{data['path']}` (sha256 `{data['sha256'][:16]}...`) |
| rows | {data['rows_train']} training, {data['rows_val']} validation (by a hash of the id), {data['rows_rejected']} without title or text |
| steps | {card['steps']} ({card['epochs']} epochs) of batch {card['batch_size']}, max length {card['max_length']} tokens |
| optimizer | AdamW, learning rate {card['learning_rate']}, linear warmup ({card['warmup_fraction']}) and decay, weight decay {card['weight_decay']}, gradients clipped to {card['max_grad_norm']} |
| seed | {card['seed']} |
| validation perplexity | {card['val_perplexity_before']:.2f} before, {card['val_perplexity_after']:.2f} after |

Made for misinformation-detection research: its articles are machine-written and must be
labelled as such.
"""


# -- init-generator -----------------------------------------------------------------------------


def corpus_texts(data: InputConfig) -> Iterator[str]:
    """Titles, bodies and captions of the corpus's usable records, streamed."""
    intake = Intake(data, LimitsConfig(), data.name or data.path.stem, str(data.path))
    for raw in readers.iter_rows(data):
        record, _ = intake(raw)
        if record is not None:
            yield from (record[name] for name in ("title", "text", "caption") if record[name])


def init_generator(data: InputConfig, output: Path | str, *, vocab_size: int = 4000, layers: int = 2,
                   hidden: int = 128, heads: int = 4, max_positions: int = 512, seed: int = 0) -> Path:
    """A small GPT-2 with a BPE tokenizer trained on the corpus, saved to ``output`` for
    ``finetune_generator`` to train (for machines that cannot reach a model hub)."""
    from pipelines.tiny_generator import build_tiny_gpt2

    output = Path(output)
    if not data.path.exists():
        raise InputNotFoundError("init-generator", "--data", f"{data.path} does not exist", "Fix the path")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise OutputError(f"{output} exists and is not an empty folder; choose a new --output")
    if hidden % heads:
        raise ConfigError("init-generator", "--hidden", f"{hidden} is not a multiple of --heads {heads}",
                          "Pick sizes such as --hidden 128 --heads 4")
    texts = corpus_texts(data)
    first = next(texts, None)
    if first is None:
        raise ConfigError(str(data.path), None, "no usable record (title and text present) to train a tokenizer on",
                          "Map the corpus's columns with --columns title=...,text=...")
    return build_tiny_gpt2(_chain(first, texts), output, vocab_size=vocab_size, n_layer=layers, n_embd=hidden,
                           n_head=heads, n_positions=max_positions, seed=seed)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
