"""Detector folders on disk: the card, the model file's hash, and loading skops files safely.

A detector folder holds ``model.skops`` (the fitted scikit-learn object, written with
``skops.io.dump``) and ``detector_card.json``, written last::

    {"format": "datafactory-detector/1", "kind": "tfidf", "classes": ["falsified", "real"],
     "field": "text", "label": "falsified", "rows_per_class": {...}, "training_accuracy": 0.99,
     "model_sha256": "...", "created_at": "...", "versions": {...}, ...}

Loading never unpickles arbitrary objects: ``skops.io`` lists the types a file would build,
and only scikit-learn, numpy and scipy.sparse classes are accepted. The card's hash of the
model file must match, so a file swapped or damaged after training is refused.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from datafactory import registry
from datafactory.errors import ModelNotFoundError, ModelRefusedError
from datafactory.output import sha256_file  # noqa: F401  (re-exported: detectors hash with it)

CARD_FILE = "detector_card.json"
MODEL_FILE = "model.skops"
CARD_FORMAT = "datafactory-detector/1"
INSTALL_HINT = "pip install -c constraints.txt 'datafactory[detect]'"
#: Modules whose classes a skops file may instantiate. Functions are refused even there: a
#: fitted text pipeline holds none, and a function reference is how a file would call code.
ALLOWED_MODULES = ("sklearn.", "numpy.", "scipy.sparse.")


def require_sklearn() -> None:
    try:
        import sklearn  # noqa: F401
        import skops.io  # noqa: F401
    except ImportError as exc:
        raise ModelNotFoundError("<environment>", None, f"detectors need scikit-learn and skops ({exc.name} is missing)",
                                 f"Install them: {INSTALL_HINT}") from None


def is_detector_folder(path: Path) -> bool:
    return path.is_dir() and (path / CARD_FILE).is_file()


def versions() -> dict[str, str]:
    """Versions that decide whether a saved model loads and predicts the same."""
    import importlib.metadata

    from datafactory import __version__

    found = {"datafactory": __version__, "python": platform.python_version()}
    for package in ("scikit-learn", "skops", "numpy", "scipy"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- skops, safely -------------------------------------------------------------------------------


def _allowed(type_name: str) -> bool:
    if not type_name.startswith(ALLOWED_MODULES):
        return False
    module, _, attribute = type_name.rpartition(".")
    try:
        value = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        return False
    return isinstance(value, type)


def load_skops(path: Path, *, source: str = "<python>", field: str | None = None) -> Any:
    """The object in a ``.skops`` file, built only from allow-listed types.

    ``skops.io.get_untrusted_types`` names every type the file needs beyond skops' own
    defaults; each must be a class of scikit-learn, numpy or scipy.sparse, else the file is
    refused before anything is built."""
    require_sklearn()
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:  # not a zip, no schema.json, a broken schema: not a skops file
        raise ModelRefusedError(source, field, f"{path} is not a readable skops file "
                                f"({type(exc).__name__}: {exc})",
                                "Save models with skops.io.dump or datafactory train-detector") from None
    refused = sorted(name for name in untrusted if not _allowed(name))
    if refused:
        raise ModelRefusedError(
            source, field, f"{path} would build types outside the allow-list: {', '.join(refused)}",
            "Only scikit-learn, numpy and scipy.sparse classes are loaded (never arbitrary code); "
            "retrain with datafactory train-detector, or wrap the model in Python with SklearnClassifier")
    return skops.io.load(path, trusted=untrusted)


def dump_skops(obj: Any, path: Path) -> str:
    """Write ``obj`` atomically; return the file's sha256."""
    import skops.io

    partial = path.with_name(path.name + ".partial")
    skops.io.dump(obj, partial)
    os.replace(partial, path)
    return sha256_file(path)


# -- the card --------------------------------------------------------------------------------


def read_card(folder: Path, *, source: str = "<python>", field: str | None = None) -> dict[str, Any]:
    """The card of a detector folder, its format checked (the model file is not touched)."""
    card_path = folder / CARD_FILE
    if not folder.is_dir():
        raise ModelNotFoundError(source, field, f"detector folder {folder} does not exist",
                                 "Train one with datafactory train-detector")
    if not card_path.is_file():
        found = f"; it holds {MODEL_FILE} but no card" if (folder / MODEL_FILE).exists() else ""
        raise ModelNotFoundError(source, field, f"{folder} is not a detector folder (no {CARD_FILE}{found})",
                                 "Point it at a folder written by datafactory train-detector")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelRefusedError(source, field, f"{card_path} is not valid JSON ({exc})",
                                "Retrain the detector with datafactory train-detector") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        got = card.get("format") if isinstance(card, dict) else type(card).__name__
        raise ModelRefusedError(source, field, f"{card_path} has format {got!r}, not {CARD_FORMAT!r}",
                                "Retrain the detector with this version of datafactory train-detector")
    return card


def check_model_hash(folder: Path, card: dict[str, Any], *, source: str = "<python>",
                     field: str | None = None) -> Path:
    """The model file, after checking that its sha256 is the one the card recorded."""
    model_path = folder / MODEL_FILE
    if not model_path.is_file():
        raise ModelNotFoundError(source, field, f"{folder} has a card but no {MODEL_FILE}",
                                 "Copy the whole detector folder, or retrain it")
    actual = sha256_file(model_path)
    if actual != card.get("model_sha256"):
        raise ModelRefusedError(source, field, f"{model_path} has sha256 {actual[:16]}…, but {CARD_FILE} records "
                                f"{str(card.get('model_sha256'))[:16]}…: the file was changed after training",
                                "Restore the original file or retrain the detector")
    return model_path


def write_card(folder: Path, card: dict[str, Any]) -> None:
    from datafactory.output import write_text_atomic

    write_text_atomic(json.dumps(card, indent=2, ensure_ascii=False) + "\n", folder / CARD_FILE)


def load_detector(folder: str | Path, *, source: str = "<python>", field: str | None = None) -> Any:
    """A detector object (``predict_proba``, ``classes_``, ``card``) from its folder: the class
    registered in :data:`datafactory.registry.detectors` under the card's ``kind`` loads it."""
    folder = Path(folder).expanduser()
    card = read_card(folder, source=source, field=field)
    return _detector_class(card.get("kind"), folder, source=source, field=field).load(folder, source=source,
                                                                                     field=field)


def _detector_class(kind: Any, folder: Path, *, source: str = "<python>", field: str | None = None) -> Any:
    found = registry.detectors.get(kind) if isinstance(kind, str) else None
    if found is None:
        raise ModelRefusedError(source, field, f"{folder / CARD_FILE} names detector kind {kind!r}",
                                f"Known kinds: {', '.join(registry.detectors.names())}; a newer datafactory "
                                "(or a plug-in registering that kind) may read it")
    return found
