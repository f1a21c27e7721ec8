"""The output folder of a generator fine-tuning run: whether it may be used, whether a run starts
fresh or resumes, the ``checkpoints/step-N`` folders (weights, optimizer, scheduler, step and RNG
state) a killed run continues from, and the finished model with its card and README.

:mod:`pipelines.generation.finetune` decides what to train; this module decides what is on disk::

    OUT/checkpoints/run.json, lock, step-N/   while training
    OUT/README.md, then OUT/generator_card.json (the commit point)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from datafactory.errors import OutputError, ResumeMismatchError, UnfinishedBuildError
from datafactory.lm import CARD_FILE
from datafactory.output import fsync_file, write_text_atomic

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
RUN_FILE = "run.json"
TRAINER_STATE = "trainer_state.pt"
README = "README.md"


class RunFolder:
    """What a fine-tuning run keeps in ``output``; ``ckpt_dir`` also holds the run's lock."""

    def __init__(self, output: Path):
        self.output = Path(output)
        self.ckpt_dir = self.output / CHECKPOINTS

    def check(self) -> None:
        """Refuse a folder that holds something other than our own output."""
        if self.output.exists() and not self.output.is_dir():
            raise OutputError(f"{self.output} exists and is not a folder; choose another --output")
        if self.output.is_dir() and any(self.output.iterdir()) and not (self.output / CARD_FILE).exists() \
                and not self.ckpt_dir.is_dir():
            names = sorted(p.name for p in self.output.iterdir())
            raise OutputError(f"{self.output} is not empty and holds no finetune-generator output "
                              f"({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}); "
                              "choose an empty or new folder")

    def decide(self, fingerprint: str, *, resume: bool, overwrite: bool) -> tuple[str, dict | None]:
        """``fresh`` or ``resume``, with the run state to continue (None when fresh)."""
        finished = (self.output / CARD_FILE).exists()
        run_file = self.ckpt_dir / RUN_FILE
        run_state = json.loads(run_file.read_text(encoding="utf-8")) if run_file.exists() else None
        if overwrite:
            self.clear()
            return "fresh", None
        if finished:
            raise OutputError(f"{self.output} holds a finished model ({CARD_FILE}); pass --overwrite to replace "
                              "it or choose another --output")
        if run_state is not None:
            if not resume:
                done = step_of(self.latest_checkpoint()) if self.latest_checkpoint() else 0
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
        self.clear()
        return "fresh", None

    def clear(self) -> None:
        """Remove what an earlier run wrote (the whole folder is ours: check made sure)."""
        for path in self.output.iterdir():
            if path == self.ckpt_dir:
                for inner in path.iterdir():
                    if inner.name != "lock":
                        shutil.rmtree(inner) if inner.is_dir() else inner.unlink()
            else:
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def checkpoints(self) -> list[Path]:
        found = [p for p in self.ckpt_dir.glob("step-*") if (p / TRAINER_STATE).is_file()]
        return sorted(found, key=step_of)

    def latest_checkpoint(self) -> Path | None:
        found = self.checkpoints()
        return found[-1] if found else None

    def save_checkpoint(self, torch, model, tokenizer, optimizer, scheduler, step: int, keep: int) -> Path:
        """Write OUTPUT/checkpoints/step-N under a hidden name, then rename it: all or nothing."""
        final = self.ckpt_dir / f"step-{step}"
        tmp = self.ckpt_dir / f".step-{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.save({"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng_state(torch)}, tmp / TRAINER_STATE)
        for file in tmp.iterdir():
            fsync_file(file)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in self.checkpoints()[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        log.info("checkpoint %s", final)
        return final

    def save_final(self, model, tokenizer, card: dict[str, Any]) -> None:
        model.save_pretrained(self.output)
        tokenizer.save_pretrained(self.output)
        for file in self.output.iterdir():
            if file.is_file():
                fsync_file(file)
        write_text_atomic(render_readme(card), self.output / README)
        # The card is the commit point: a folder with it holds a finished model.
        write_text_atomic(json.dumps(card, indent=2, ensure_ascii=False) + "\n", self.output / CARD_FILE)

    def drop_run_state(self) -> None:
        for path in self.ckpt_dir.iterdir():
            if path.name != "lock":
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def restore_trainer_state(torch, checkpoint: Path, optimizer, scheduler) -> int:
    """Load a checkpoint's optimizer, scheduler and RNG state into the given ones; its step."""
    state = torch.load(checkpoint / TRAINER_STATE, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(torch, state["rng"])
    return state["step"]


def rng_state(torch) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(torch, state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    # A run resumed on a machine with other GPUs keeps the CPU state only.
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def step_of(path: Path) -> int:
    return int(path.name.split("-")[1])


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
