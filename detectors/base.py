"""What a detector kind offers, and finding one by name.

A detector kind is a class registered in :data:`datafactory.registry.detectors` (the
entry-point group ``datafactory.detectors``) under its ``name``, the ``kind`` its
``detector_card.json`` records. ``train-detector``, ``crosseval`` and
:func:`datafactory.model_store.load_detector` find the class by that name and ask it, not an
if/else over names, what it reads, whether it needs ``--model`` and how it trains. A new kind
subclasses :class:`Detector` and is declared in its package's ``pyproject.toml``::

    [project.entry-points."datafactory.detectors"]
    my_kind = "my_package.detector:MyDetector"     # MyDetector.name == "my_kind"

Besides the class attributes and the two class methods here, an instance has ``card``,
``classes_``, ``predict_proba``, ``predict`` and ``save(folder, extra)``, and the class a
``load(folder, *, source, field)`` that refuses a folder it did not write.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from datafactory import registry
from datafactory.errors import ConfigError

if TYPE_CHECKING:
    from detectors.data import LabelledData


class Detector:
    """Defaults for a detector kind: it reads labelled texts, needs no ``--model``, and does
    not stop early (so no validation rows are set aside for it)."""

    name: ClassVar[str]
    """The kind: the registry name, and ``kind`` on the card."""
    needs_model: ClassVar[bool] = False
    """Whether training needs ``model`` (a checkpoint to fine-tune or to embed with)."""
    model_hint: ClassVar[str] = "Give --model"
    """What to give as ``--model`` when it is missing."""
    early_stopping: ClassVar[bool] = False
    """Whether :meth:`train` uses validation rows; train-detector then sets aside a tenth of
    the training stories for them."""

    card: dict[str, Any]

    @classmethod
    def read_rows(cls, path: str | Path, *, field: str, label: str, columns: dict[str, str] | None,
                  max_rows: int | None, source: str = "<python>") -> "LabelledData":
        """The labelled rows of a build or labelled file this kind trains on (by default its
        ``field`` texts and ``label`` classes, see :func:`detectors.data.load_labelled_data`)."""
        from detectors.data import load_labelled_data

        return load_labelled_data(path, field, label, columns, max_rows)

    @classmethod
    def check_model(cls, model: str | None, *, source: str = "<python>") -> None:
        """Refuse a missing ``model`` before any data is read, when this kind needs one."""
        if cls.needs_model and not model:
            raise ConfigError(source, "--model", f"the {cls.name} detector needs a model", cls.model_hint)

    @classmethod
    def train(cls, texts: Sequence[Any], labels: Sequence[str], val_texts: Sequence[Any] = (),
              val_labels: Sequence[str] = (), *, model: str | None = None, field: str = "text",
              label: str = "falsified", min_df: int = 1, seed: int = 0,
              options: dict[str, Any] | None = None) -> "Detector":
        """A fitted detector, from the arguments every kind is given; each kind takes what it
        uses (``options``: epochs, batch_size, learning_rate, max_length, device, progress)."""
        raise NotImplementedError(f"{cls.__name__} does not implement train")


def detector_class(kind: str, *, source: str = "<python>", field: str | None = "--detector") -> Any:
    """The detector class registered as ``kind``; an unknown kind is a :class:`ConfigError`
    that lists the known ones."""
    found = registry.detectors.get(kind) if isinstance(kind, str) else None
    if found is None:
        raise ConfigError(source, field, f"unknown detector {kind!r}",
                          f"Known detectors: {', '.join(registry.detectors.names())}")
    return found

