"""Causal language models: find, load once per process, and describe them.

A generator folder written by ``datafactory finetune-generator`` holds the weights
(safetensors), the tokenizer and ``generator_card.json``, which names the separator placed
between title and body. Any other ``AutoModelForCausalLM`` folder or cached hub id loads too;
its separator then comes from the stage config. Nothing is downloaded here.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datafactory.errors import ModelNotFoundError

CARD_FILE = "generator_card.json"
#: The separator token finetune-generator adds when the tokenizer has none.
DEFAULT_SEPARATOR = "<|sep|>"
INSTALL_HINT = "pip install -c constraints.txt 'datafactory[generate]'"


def require_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ModelNotFoundError("<environment>", None, f"generation needs torch and transformers ({exc.name} is missing)",
                                 f"Install them: {INSTALL_HINT}") from None
    return torch


def resolve_device(preference: str) -> str:
    """``auto`` picks the GPU when one is present."""
    torch = require_torch()
    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise ModelNotFoundError("<environment>", "device", f"device {preference!r} asked for but no GPU is visible",
                                 "Use device: auto or cpu")
    return preference


def check_causal_lm(name_or_path: str, *, source: str, field: str) -> None:
    """Raise ModelNotFoundError unless the model is a local folder or already in the HF cache."""
    check_model_exists(name_or_path, what="model", source=source, field=field,
                       hint="Point it at a folder written by save_pretrained() or finetune-generator")


def check_model_exists(name_or_path: str, *, what: str, source: str, field: str | None,
                       markers: tuple[str, ...] = ("config.json",),
                       hint: str = "Point it at a folder written by save_pretrained()") -> None:
    """Cheap existence check, no loading: a folder holding one of ``markers``, or a hub id
    already in the local Hugging Face cache (nothing is downloaded)."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not any((path / name).is_file() for name in markers):
            raise ModelNotFoundError(source, field, f"{path} has no {markers[0]}, so it is not a saved {what} folder",
                                     hint)
        return
    if name_or_path.startswith(("./", "../", "/", "~")):
        raise ModelNotFoundError(source, field, f"{what} folder {path} does not exist",
                                 "Fix the path (in a pipeline config, relative paths start at the config file's folder)")
    if cached_config(name_or_path) is None:
        raise ModelNotFoundError(
            source, field, f"{what} {name_or_path!r} is neither a folder nor in the local Hugging Face cache",
            "Give a model folder (e.g. one written by datafactory finetune-generator) or download the model "
            "on a machine with access (huggingface-cli download NAME)")


def cached_config(name: str) -> str | None:
    """Path of a hub model's config.json in the local Hugging Face cache, or None (never downloads)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # not a valid repo id, or huggingface_hub missing
        return None
    return cached if isinstance(cached, str) else None


@dataclass
class Generator:
    name: str
    model: Any
    tokenizer: Any
    separator: str
    card: dict[str, Any] = field(default_factory=dict)
    card_hash: str = ""
    device: str = "cpu"

    @property
    def eos_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def separator_ids(self) -> list[int]:
        return self.tokenizer(self.separator, add_special_tokens=False)["input_ids"]

    def prompt(self, title: str) -> str:
        """The text a body is generated after: the format the generator was trained on."""
        return f"{title}{self.separator}"

    def info(self) -> dict[str, Any]:
        return {"kind": "causal_lm", "name": self.name, "version": self.card_hash,
                "architecture": type(self.model).__name__,
                "parameters": sum(p.numel() for p in self.model.parameters()),
                "separator": self.separator, "device": self.device}


def read_card(name_or_path: str) -> tuple[dict[str, Any], str]:
    """The generator card and a hash identifying the model folder's contents (weights, card)."""
    folder = Path(name_or_path).expanduser()
    card_path = folder / CARD_FILE
    card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
    digest = hashlib.sha256()
    for name in sorted(["config.json", CARD_FILE, "tokenizer.json", "model.safetensors"]):
        path = folder / name
        if path.is_file():
            # Weights can be large: their size and the first MiB identify them well enough
            # next to the config and the card.
            with open(path, "rb") as fh:
                digest.update(name.encode() + str(path.stat().st_size).encode() + fh.read(1 << 20))
    if not folder.is_dir():
        digest.update(name_or_path.encode())
    return card, digest.hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def load_generator(name_or_path: str, device: str = "auto", separator: str | None = None) -> Generator:
    """Load a causal LM and its tokenizer once per process, in eval mode, on ``device``."""
    require_torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(device)
    card, card_hash = read_card(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    model = AutoModelForCausalLM.from_pretrained(name_or_path).to(device).eval()
    separator = separator or card.get("separator")
    if separator is None:
        raise ModelNotFoundError("<model>", "separator", f"{name_or_path} has no {CARD_FILE} naming its separator",
                                 "Set the stage's separator option, or fine-tune it with datafactory finetune-generator")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Generator(name_or_path, model, tokenizer, separator, card, card_hash, device)


def context_length(model: Any, tokenizer: Any) -> int:
    """The longest input the model and its tokenizer accept (1024 when neither says)."""
    config = model.config
    limits = [getattr(config, name, None) for name in ("n_positions", "max_position_embeddings")]
    limits.append(getattr(tokenizer, "model_max_length", None))
    usable = [int(v) for v in limits if isinstance(v, int) and 0 < v < 1_000_000]
    return min(usable) if usable else 1024
