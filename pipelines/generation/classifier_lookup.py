"""What a classifier name points at, found without loading any model: for config validation
(``check_classifier``) and for :func:`pipelines.generation.discriminators.load_classifier`.

    detector folder (detector_card.json)           -> sklearn
    file ending in .skops                          -> sklearn
    folder with config.json, *ForSequenceClassification:
        decoder-only architecture (see DECODER_FAMILIES) -> causal (kind auto), else hf
    hub id whose config.json is in the local Hugging Face cache -> as its folder

Anything else (a missing path, a generator or base model folder, an unknown file) is a
:class:`~datafactory.errors.ModelNotFoundError` that says what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datafactory.errors import ConfigError, ModelNotFoundError, UnknownClassError

KINDS = ("auto", "sklearn", "hf", "causal")
HEAD = "ForSequenceClassification"

#: Decoder-only model families, by architecture prefix or ``model_type``, lower-cased without
#: ``_`` or ``-``. transformers has no flag for "decoder-only": ``config.is_decoder`` is meant
#: for decoders inside encoder-decoder models and is False on GPT-2's config, and the causal-LM
#: auto mapping lists encoders too (BertLMHeadModel). So: a list, plus ``is_decoder`` when a
#: config does set it. A family missing here still loads with ``kind: hf``; add it here to load
#: it as ``causal``.
DECODER_FAMILIES = frozenset({
    "gpt2", "gptneo", "gptneox", "gptj", "gptbigcode", "llama", "mistral", "mixtral", "qwen2", "qwen3",
    "qwen2moe", "qwen3moe", "phi", "phi3", "opt", "gemma", "gemma2", "gemma3", "falcon", "bloom", "mpt",
    "stablelm", "starcoder2", "codegen", "olmo", "olmo2", "cohere", "ctrl", "biogpt", "persimmon", "jamba",
})
_HEADS = (HEAD, "ForCausalLM", "LMHeadModel", "Model")


@dataclass(frozen=True)
class Found:
    kind: str
    """``sklearn``, ``hf`` or ``causal``."""
    location: str
    """What to load: the path, or the cached snapshot folder of a hub id."""
    classes: list[str] | None
    """Class names when the files say them (card, config.json); None for a bare .skops file."""
    architecture: str | None = None


def is_causal_architecture(config: Any) -> bool:
    """True for a decoder-only model: ``config.is_decoder`` set, or an architecture or
    ``model_type`` of a family in :data:`DECODER_FAMILIES`. ``config`` is a transformers
    config or the dict of a ``config.json``."""
    get = config.get if isinstance(config, dict) else lambda key, default=None: getattr(config, key, default)
    if get("is_decoder", False):
        return True
    names = [str(get("model_type", "") or "")]
    for architecture in get("architectures", None) or []:
        for head in _HEADS:
            if architecture.endswith(head):
                names.append(architecture[: -len(head)])
                break
    return any(name.lower().replace("_", "").replace("-", "") in DECODER_FAMILIES for name in names)


def resolve_target(classes: list[str], target: str | int, *, source: str = "<python>",
                   field: str | None = None) -> int:
    """The index of ``target`` in ``classes``: a class name (case-insensitive; an exact match
    wins over a case-insensitive one), else an int or a digit string taken as an index. A bool
    is a name: ``True`` matches the class ``"True"`` of a classifier fitted on bool labels."""
    if isinstance(target, bool):
        target = str(target)
    if isinstance(target, str):
        if target in classes:
            return classes.index(target)
        folded = [c.casefold() for c in classes]
        if folded.count(target.casefold()) == 1:
            return folded.index(target.casefold())
        if target.strip().isdigit():
            target = int(target.strip())
    if isinstance(target, int) and 0 <= target < len(classes):
        return target
    raise UnknownClassError(source, field, target, classes)


def check_classifier(name_or_path: str, kind: str = "auto", source: str = "<python>", field: str | None = None,
                     *, target: str | int | None = None) -> Found:
    """Raise unless ``name_or_path`` is a classifier of ``kind`` that loads without a download;
    with ``target``, also unless the target is one of its classes (where the files name them).
    Cheap: reads cards and config.json only."""
    found = find_classifier(name_or_path, kind, source=source, field=field)
    if target is not None and found.classes is not None:
        resolve_target(found.classes, target, source=source, field=field)
    return found


def find_classifier(name_or_path: str, kind: str = "auto", *, source: str = "<python>",
                    field: str | None = None) -> Found:
    if kind not in KINDS:
        raise ConfigError(source, field, f"unknown classifier kind {kind!r}", f"Use one of: {', '.join(KINDS)}")
    path = Path(str(name_or_path)).expanduser()
    if path.exists():
        found = _find_local(path, source, field)
    elif str(name_or_path).startswith(("./", "../", "/", "~")) or path.suffix == ".skops":
        raise ModelNotFoundError(source, field, f"classifier {path} does not exist",
                                 "Fix the path (in a pipeline config, relative paths start at the config file's "
                                 "folder), or train one with datafactory train-detector")
    else:
        found = _find_cached(str(name_or_path), source, field)
    return _with_kind(found, kind, str(name_or_path), source, field)


def _find_local(path: Path, source: str, field: str | None) -> Found:
    from datafactory.model_store import CARD_FILE, MODEL_FILE, read_card

    if path.is_file():
        if path.suffix == ".skops":
            return Found("sklearn", str(path), None)
        raise ModelNotFoundError(source, field, f"{path} is a file but not a .skops model",
                                 "Give a detector folder, a .skops file or a transformers classifier folder")
    if (path / CARD_FILE).is_file() or (path / MODEL_FILE).exists():
        card = read_card(path, source=source, field=field)
        return Found("sklearn", str(path), list(card.get("classes") or []) or None)
    if (path / "config.json").is_file():
        return _from_config(path, str(path), source, field)
    raise ModelNotFoundError(source, field, f"{path} is neither a detector folder ({CARD_FILE}) nor a "
                             "transformers folder (config.json)",
                             "Give a folder written by datafactory train-detector or by save_pretrained()")


def _find_cached(name: str, source: str, field: str | None) -> Found:
    from datafactory.lm import cached_config

    cached = cached_config(name)
    if cached is None:
        raise ModelNotFoundError(
            source, field, f"classifier {name!r} is neither a path nor in the local Hugging Face cache",
            "Give a detector folder (datafactory train-detector), a .skops file or a classifier folder, "
            "or download the model on a machine with access (huggingface-cli download NAME)")
    return _from_config(Path(cached).parent, name, source, field)


def _from_config(folder: Path, name: str, source: str, field: str | None) -> Found:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelNotFoundError(source, field, f"{folder / 'config.json'} is not valid JSON ({exc})",
                                 "Save the model again with save_pretrained()") from None
    architectures = config.get("architectures") or []
    heads = [a for a in architectures if a.endswith(HEAD)]
    if not heads:
        # from_pretrained would add a randomly initialised head to a base or LM model and
        # score noise without a word; refuse instead.
        what = ", ".join(architectures) or "a model without 'architectures'"
        raise ModelNotFoundError(source, field, f"{name} holds {what}, not a sequence classifier ({HEAD})",
                                 "Give a fine-tuned classifier; a generator or base model has no trained "
                                 "classification head")
    labels = config.get("id2label") or {str(i): f"LABEL_{i}" for i in range(int(config.get("num_labels", 2)))}
    classes = [str(labels[key]) for key in sorted(labels, key=int)]
    kind = "causal" if is_causal_architecture(config) else "hf"
    return Found(kind, str(folder), classes, heads[0])


def _with_kind(found: Found, kind: str, name: str, source: str, field: str | None) -> Found:
    if kind == "auto" or kind == found.kind:
        return found
    if found.kind == "sklearn":
        raise ModelNotFoundError(source, field, f"{name} is a scikit-learn model, not a transformers classifier "
                                 f"(kind {kind!r})", "Use kind auto or sklearn")
    if kind == "sklearn":
        raise ModelNotFoundError(source, field, f"{name} is a transformers classifier ({found.architecture}), not a "
                                 "scikit-learn model", "Use kind auto, hf or causal")
    if kind == "hf":  # a decoder-only classifier also works as a plain one
        return Found("hf", found.location, found.classes, found.architecture)
    raise ModelNotFoundError(source, field, f"{name} ({found.architecture}) is not a decoder-only classifier, so "
                             "kind 'causal' cannot reuse its key/value cache",
                             f"Use kind auto or hf; decoder-only families: {', '.join(sorted(DECODER_FAMILIES))}")
