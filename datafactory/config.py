"""Pipeline configs: YAML in, a validated :class:`PipelineConfig` out, or a ConfigError naming
the file, the field and what to do.

Relative paths in a config resolve against the config file's folder, so a scheduled job
gives the same result whatever its working directory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from datafactory import registry, schema
from datafactory.errors import ConfigError, InputNotFoundError, UnknownStageError
from datafactory.stage import StageConfig

INPUT_FORMATS = ("jsonl", "csv", "parquet", "datasets")
#: Record fields an input column can be mapped to.
MAPPABLE_FIELDS = ("id", "title", "text", "caption", "image", "label")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class InputConfig(_Strict):
    path: Path
    """A .jsonl, .csv or .parquet file, a folder of .parquet files, or a folder saved by
    ``datasets.Dataset.save_to_disk``."""
    format: Literal["auto", "jsonl", "csv", "parquet", "datasets", "images"] = "auto"
    """How to read ``path``; ``auto`` decides from the extension or folder contents (images: a
    folder of image files, one row each, e.g. an image pool)."""
    name: str | None = None
    """Dataset name stored in each record's ``dataset`` column (default: the file's stem)."""
    columns: dict[str, str] = Field(default_factory=dict)
    """Record field -> input column, for corpora named otherwise, e.g. ``{title: headline}``.
    Fields: id, title, text, caption, image, label."""
    keep_columns: list[str] = Field(default_factory=list)
    """Other input columns to keep, as JSON in the record's ``metadata`` column."""
    required: list[Literal["title", "text", "caption"]] = Field(default_factory=lambda: ["title", "text"])
    """Fields a row must have (non-empty) to be used; rows without them go to rejects."""
    split: str | None = None
    """For a saved ``datasets.DatasetDict``: which split to read."""


class LimitsConfig(_Strict):
    max_title_chars: int = Field(1_000, gt=0)
    """Longer titles are rejected as oversize."""
    max_text_chars: int = Field(200_000, gt=0)
    """Longer bodies are rejected as oversize."""
    max_caption_chars: int = Field(5_000, gt=0)
    """Longer captions are rejected as oversize."""


class _PipelineFile(_Strict):
    name: str | None = None
    """A name for the build, shown in the dataset card (default: the config file's stem)."""
    input: InputConfig
    output: Path
    """Folder that receives the shards, manifest.json, README.md and rejects.parquet."""
    seed: int = Field(0, ge=0)
    """Every random choice derives from this seed and the row id."""
    batch_size: int = Field(64, gt=0)
    """Rows handed to a stage at once."""
    shard_size: int = Field(1_000, gt=0)
    """Input rows per output shard; a crashed build resumes at the first unfinished shard."""
    emit_real: bool = True
    """Write each real item beside its manipulated children (pairs); False writes children only."""
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    stages: list[dict[str, Any]] = Field(min_length=1)
    """Ordered stages, each ``{stage: NAME, ...options}``."""


@dataclass(frozen=True)
class StageSpec:
    name: str
    options: StageConfig


@dataclass(frozen=True)
class PipelineConfig:
    source: str
    name: str
    input: InputConfig
    output: Path
    seed: int
    batch_size: int
    shard_size: int
    emit_real: bool
    limits: LimitsConfig
    stages: tuple[StageSpec, ...]
    raw: dict[str, Any] = field(repr=False)

    @property
    def dataset_name(self) -> str:
        return self.input.name

    def to_dict(self) -> dict[str, Any]:
        """The resolved config (defaults filled in), as stored in the manifest."""
        return {
            "name": self.name,
            "input": self.input.model_dump(mode="json"),
            "output": str(self.output),
            "seed": self.seed,
            "batch_size": self.batch_size,
            "shard_size": self.shard_size,
            "emit_real": self.emit_real,
            "limits": self.limits.model_dump(mode="json"),
            "stages": [{"stage": s.name, **s.options.model_dump(mode="json")} for s in self.stages],
        }

    def fingerprint(self) -> str:
        """Hash of everything that decides the output rows. ``output`` is left out: a moved
        output folder holds the same rows. ``batch_size`` stays in: padding in batched
        generation can change the last bits of a float, and a resumed build must not mix
        batch sizes."""
        content = self.to_dict()
        del content["output"]
        return hashlib.sha256(schema.canonical_json(content).encode()).hexdigest()


def load_config(path: str | Path, *, output: str | Path | None = None) -> PipelineConfig:
    """Read and validate a pipeline YAML file. ``output`` overrides the file's output folder;
    unlike paths in the file, a relative ``output`` starts at the current directory, as a
    path typed on a command line does."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError(source, None, "config file not found", "Check the path")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(source, None, f"not valid YAML ({_one_line(exc)})", "Fix the syntax") from None
    if output is not None and (data is None or isinstance(data, dict)):
        data = {**(data or {}), "output": str(Path(output).expanduser().resolve())}
    return parse_config(data, source=source, base_dir=path.parent)


def parse_config(data: Any, *, source: str = "<config>", base_dir: Path = Path(".")) -> PipelineConfig:
    if not isinstance(data, dict):
        raise ConfigError(source, None, "must be a mapping with input, output and stages")
    try:
        top = _PipelineFile.model_validate(data)
    except ValidationError as exc:
        raise _config_error(source, exc) from None
    _check_columns(source, top.input)
    stages = tuple(_parse_stage(source, i, entry, base_dir) for i, entry in enumerate(top.stages))
    input_path = _resolve(base_dir, top.input.path)
    input_cfg = top.input.model_copy(update={"path": input_path, "name": top.input.name or input_path.stem})
    _check_input_exists(source, input_cfg)
    return PipelineConfig(
        source=source,
        name=top.name or Path(source).stem,
        input=input_cfg,
        output=_resolve(base_dir, top.output),
        seed=top.seed,
        batch_size=top.batch_size,
        shard_size=top.shard_size,
        emit_real=top.emit_real,
        limits=top.limits,
        stages=stages,
        raw=data,
    )


def _parse_stage(source: str, index: int, entry: dict[str, Any], base_dir: Path) -> StageSpec:
    return _parse_entry(source, f"stages[{index}]", entry, base_dir)


def _parse_entry(source: str, where: str, entry: Any, base_dir: Path) -> StageSpec:
    if not isinstance(entry, dict):
        raise ConfigError(source, where, f"a stage is a mapping {{stage: NAME, ...options}}, not {entry!r}",
                          f"Known stages: {', '.join(registry.stages.names())}")
    name = entry.get("stage")
    if not isinstance(name, str):
        raise ConfigError(source, where, "each stage needs a 'stage: NAME' key",
                          f"Known stages: {', '.join(registry.stages.names())}")
    try:
        stage_cls = registry.stages.get(name)
    except ImportError as exc:
        raise ConfigError(source, f"{where}.stage", f"stage {name!r} is installed but cannot be imported ({exc})",
                          "Install what its package needs, e.g. pip install -c constraints.txt 'datafactory[dev]'") \
            from None
    if stage_cls is None:
        raise UnknownStageError(source, f"{where}.stage", name, registry.stages.names())
    options = {k: v for k, v in entry.items() if k != "stage"}
    try:
        parsed = stage_cls.Config.model_validate(options)
    except ValidationError as exc:
        raise _config_error(source, exc, prefix=f"{where}({name})", model=stage_cls.Config) from None
    # Inputs a stage reads (e.g. entity_swap's bank_input) resolve like the pipeline's own,
    # and so do model folders; a bare name ("en_core_web_sm") stays a package or hub id.
    updates: dict[str, Any] = {}
    for key in type(parsed).model_fields:
        value = getattr(parsed, key)
        if key in parsed.path_fields and isinstance(value, str) and _is_local_path(base_dir, value):
            updates[key] = str(_resolve(base_dir, Path(value)))
        if isinstance(value, InputConfig):
            resolved = _resolve(base_dir, value.path)
            updates[key] = value.model_copy(update={"path": resolved, "name": value.name or resolved.stem})
            _check_columns(source, updates[key], f"{where}({name}).{key}")
            _check_input_exists(source, updates[key], f"{where}({name}).{key}")
    if getattr(stage_cls, "nested", False):  # a stage made of stages (one_of): theirs resolve the same way
        inner = [_parse_entry(source, f"{where}({name}).stages[{j}]", e, base_dir) for j, e in enumerate(parsed.stages)]
        updates["stages"] = [{"stage": spec.name, **spec.options.model_dump(mode="json")} for spec in inner]
    return StageSpec(name, parsed.model_copy(update=updates) if updates else parsed)


def _check_columns(source: str, input_cfg: InputConfig, where: str = "input") -> None:
    for target in input_cfg.columns:
        if target not in MAPPABLE_FIELDS:
            raise ConfigError(source, f"{where}.columns.{target}", "is not a record field",
                              f"Map one of: {', '.join(MAPPABLE_FIELDS)}")


def _check_input_exists(source: str, input_cfg: InputConfig, where: str = "input") -> None:
    if not input_cfg.path.exists():
        raise InputNotFoundError(source, f"{where}.path", f"{input_cfg.path} does not exist",
                                 "Fix the path (relative paths start at the config file's folder)")


def _is_local_path(base_dir: Path, value: str) -> bool:
    """A model value is a folder when written as a path ("./ner", "/models/ner") or when it
    names an existing folder beside the config; otherwise it is a package or hub id
    ("en_core_web_sm", "openai/clip-vit-base-patch32")."""
    return value.startswith(("./", "../", "/", "~")) or (base_dir / value).exists()


def _resolve(base_dir: Path, path: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def _config_error(source: str, exc: ValidationError, prefix: str = "",
                  model: type[BaseModel] | None = None) -> ConfigError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    field_name = ".".join(p for p in (prefix, loc) if p) or None
    problem = err["msg"]
    if err["type"] == "extra_forbidden":
        problem = "unknown option"
    elif err["type"] != "missing":
        problem += f" (got {err.get('input')!r})"
    more = len(exc.errors()) - 1
    fix = "Fix this value" + (f"; {more} more problem(s) after it" if more else "")
    if err["type"] == "extra_forbidden":
        fix = "Remove it or check its spelling"
        if model is not None and len(err["loc"]) == 1:
            fix += f"; known options: {', '.join(model.model_fields)}"
    elif err["type"] == "missing":
        fix = "Add this field"
    return ConfigError(source, field_name, problem, fix)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
