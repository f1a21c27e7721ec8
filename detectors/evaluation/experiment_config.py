"""The experiment file: YAML in, a validated :class:`ExperimentConfig` out, or a ConfigError
naming the file, the field and what to fix. Unknown keys are errors, as in pipeline configs;
relative paths start at the file's folder. A minimal file::

    base: [{path: ../data/claims.jsonl, label: rating, label_map: {true: real, false: falsified}}]
    factory: [../out/quickstart]
    test: [{path: ../data/headlines.csv, label: label, label_map: {real: real, fake: falsified}}]
    field: title
    output: ../out/experiment

Arms (default: all but ``mix``), each trained on every split and scored on every test set:

- ``base``: the base data's training stories alone (the baseline);
- ``control``: base + the factory builds' *real* rows (the same rows the builds add, without
  their manipulations): a gain over the baseline that the control also shows comes from more
  real text, not from the factory;
- ``manipulated``: base + the builds' manipulated rows only;
- ``augmented``: base + whole builds;
- ``factory_only``: the builds alone;
- ``{mix: R}``: base + R factory rows (of whole builds) per base training row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from datafactory.errors import ConfigError, InputNotFoundError
from detectors.labels import label_key

BUILTIN_ARMS = ("base", "control", "manipulated", "augmented", "factory_only")
DEFAULT_ARMS = BUILTIN_ARMS
BASELINE, CONTROL = "base", "control"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class DatasetConfig(_Strict):
    path: Path | list[Path]
    """A datafactory build or a labelled .jsonl/.csv/.parquet file; a list is read as one
    dataset (e.g. a corpus shipped as a file of true and a file of fake items)."""
    name: str | None = None
    """Name in the report (default: the folder name or file stem)."""
    label: str = "falsified"
    """Label column; a build's ``falsified`` gives the classes real and falsified."""
    label_map: dict[str, Literal["real", "falsified"] | None] | None = None
    """The dataset's labels onto real / falsified; null drops the row. Needed unless the labels
    already are real and falsified."""
    columns: dict[str, str] = Field(default_factory=dict)
    """Record field -> file column, e.g. ``{title: headline, text: body}``."""
    max_rows: int | None = Field(None, gt=0)
    """The first N usable rows only."""

    @property
    def paths(self) -> list[Path]:
        return list(self.path) if isinstance(self.path, list) else [self.path]

    @field_validator("label_map", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        # YAML reads `true:` as a boolean and `1:` as an integer: keys are labels, i.e. text.
        if isinstance(value, dict):
            return {label_key(k): v for k, v in value.items()}
        return value


class MixArm(_Strict):
    mix: float = Field(gt=0)
    """Factory rows (of whole builds) per base training row."""
    name: str | None = None
    """Name in the report (default ``mix_R``)."""

    @property
    def arm_name(self) -> str:
        return self.name or f"mix_{self.mix:g}"


class DetectorConfig(_Strict):
    kind: str = "tfidf"
    """A detector kind: tfidf, transformer, clip, or a plug-in's name."""
    model: str | None = None
    """transformer: the checkpoint to fine-tune; clip: the CLIP model."""
    min_df: int = Field(1, ge=1)
    """tfidf: ignore n-grams found in fewer documents."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Passed to the kind's train: epochs, batch_size, learning_rate, max_length, device."""


class SplitsConfig(_Strict):
    repeats: int = Field(5, ge=1, le=100)
    """K: story-grouped splits of the base data; every arm is trained and scored on each."""
    test_fraction: float = Field(0.2, gt=0, lt=1)
    """Share of the base data's stories held out in each split (the in-domain test set)."""
    val_fraction: float = Field(0.1, ge=0, lt=1)
    """Share of training stories set aside to stop a transformer early (unused by tfidf)."""


class ExperimentConfig(_Strict):
    name: str | None = None
    """Shown in the report (default: the file's stem)."""
    base: list[DatasetConfig] = Field(min_length=1)
    """Real labelled data: builds or files, concatenated."""
    factory: list[DatasetConfig] = Field(default_factory=list)
    """Factory builds whose rows the arms add."""
    test: list[DatasetConfig] = Field(default_factory=list)
    """Outside test sets, never trained on; each is scored whole in every split."""
    field: str = "text"
    """The text to classify: title, text, caption, or title+text."""
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    arms: list[Union[Literal["base", "control", "manipulated", "augmented", "factory_only"], MixArm]] = Field(
        default_factory=lambda: list(DEFAULT_ARMS), min_length=1)
    """The arms to compare; base (the baseline) is always run."""
    splits: SplitsConfig = Field(default_factory=SplitsConfig)
    seed: int = Field(0, ge=0)
    """Seeds the splits, the mix samples, row caps, the detector and the bootstrap."""
    bootstrap: int = Field(1000, ge=100, le=100_000)
    """Paired bootstrap resamples (over splits x rows) for each confidence interval."""
    confidence: float = Field(0.95, gt=0.5, lt=1)
    """Of the intervals of differences."""
    max_train_rows: int | None = Field(None, gt=0)
    """Cap every arm's training rows (a random sample per split): keeps a transformer arm's cost
    on CPU bounded."""
    output: Path | None = None
    """Folder for experiment.json, experiment.md and experiment.png."""

    def arm_names(self) -> list[str]:
        names = [a if isinstance(a, str) else a.arm_name for a in self.arms]
        return names if BASELINE in names else [BASELINE, *names]


def _resolve(base_dir: Path, path: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def _as_entries(values: Any) -> Any:
    """A bare path stands for ``{path: ...}``."""
    if isinstance(values, (str, Path)):
        values = [values]
    if isinstance(values, list):
        return [{"path": v} if isinstance(v, (str, Path)) else v for v in values]
    return values


def parse_experiment(data: Any, *, source: str = "<experiment>", base_dir: Path = Path(".")) -> ExperimentConfig:
    """Validate a parsed YAML mapping; paths resolve against ``base_dir``."""
    if not isinstance(data, dict):
        raise ConfigError(source, None, "the experiment file must be a mapping of options",
                          "Start from the example in the README (base:, factory:, test:, ...)")
    data = {**data, **{k: _as_entries(data[k]) for k in ("base", "factory", "test") if k in data}}
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or None
        more = len(exc.errors()) - 1
        if err["type"] == "extra_forbidden":
            known = ", ".join(ExperimentConfig.model_fields) if len(err["loc"]) == 1 else None
            fix = "Remove it or check its spelling" + (f"; known options: {known}" if known else "")
            raise ConfigError(source, where, "unknown option", fix) from None
        problem = err["msg"] + ("" if err["type"] == "missing" else f" (got {err.get('input')!r})")
        fix = "Add this field" if err["type"] == "missing" else "Fix this value"
        raise ConfigError(source, where, problem, fix + (f"; {more} more problem(s) after it" if more else "")) from None
    updates: dict[str, Any] = {}
    for key in ("base", "factory", "test"):
        entries = []
        for i, entry in enumerate(getattr(config, key)):
            paths = [_resolve(base_dir, p) for p in entry.paths]
            for path in paths:
                if not path.exists():
                    raise InputNotFoundError(source, f"{key}.{i}.path", f"{path} does not exist",
                                             "Give a datafactory build folder or a labelled .jsonl/.csv/.parquet file")
            entries.append(entry.model_copy(update={"path": paths if isinstance(entry.path, list) else paths[0]}))
        updates[key] = entries
    if config.output is not None:
        updates["output"] = _resolve(base_dir, config.output)
    names = config.arm_names()
    if len(set(names)) != len(names):
        raise ConfigError(source, "arms", f"arm names repeat: {names}", "Give each arm once (mix arms: a name)")
    if not config.factory and any(n != BASELINE for n in names):
        raise ConfigError(source, "factory", "no factory build, but the arms add factory rows",
                          "Name one or more builds under factory:, or keep only the base arm")
    return config.model_copy(update=updates)


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment YAML file."""
    path = Path(path).expanduser()
    source = str(path)
    if not path.is_file():
        raise InputNotFoundError(source, None, "no such experiment file", "Give the path of an EXPERIMENT.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(source, None, f"not valid YAML ({' '.join(str(exc).split())})",
                          "Fix the YAML syntax") from None
    config = parse_experiment(data, source=source, base_dir=path.resolve().parent)
    return config if config.name else config.model_copy(update={"name": path.stem})
