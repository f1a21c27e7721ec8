"""What a build will do with its output folder, decided once for the build and the dry run,
and the fingerprints that decide it.

``datafactory build`` and ``datafactory build --dry-run`` both call :func:`plan`: the build acts
on the answer (or raises its ``error``), the dry run prints it. A folder holds nothing, a
finished build (``manifest.json``) or an unfinished one (``.datafactory/state.json``); the
fingerprints say whether it was made from this config, input and ``--limit``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from datafactory import readers, schema
from datafactory.config import PipelineConfig
from datafactory.errors import DatafactoryError, OutputError, ResumeMismatchError, UnfinishedBuildError
from datafactory.output import OutputDir
from datafactory.stage import Stage

#: Build everything; resume after the finished shards; add an incremental run's new rows;
#: leave the dataset as it is; or refuse (``Plan.error`` says why and what to pass).
MODES = ("fresh", "resume", "append", "unchanged", "refuse")


@dataclass(frozen=True)
class Plan:
    mode: str
    """One of :data:`MODES`."""
    would: str
    """What the build would do, in words (the dry run prints it)."""
    error: DatafactoryError | None = None
    """Why the build is refused (mode ``refuse``)."""

    def require(self) -> str:
        """The mode, or the refusal raised."""
        if self.error is not None:
            raise self.error
        return self.mode


def plan(out: OutputDir, *, build_fingerprint: str, config_fingerprint: str, input_fingerprint: str,
         resume: bool = False, overwrite: bool = False, incremental: bool = False, can_grow: bool = True) -> Plan:
    """Decide what a build of this config, input and limit (``build_fingerprint``) does with ``out``.

    ``can_grow``: the pipeline can take new rows into a built dataset (no corpus-wide stage),
    so a plain build on a grown input suggests ``--incremental``.
    """
    if out.root.exists() and not out.root.is_dir():
        return _refuse(OutputError(f"{out.root} exists and is not a folder; choose another output"))
    manifest = out.manifest() if out.root.is_dir() else None
    state = out.state() if out.root.is_dir() else None
    if manifest is None and state is None and out.root.is_dir() and out.foreign_files():
        return _refuse(OutputError(f"{out.root} is not empty and holds no datafactory build "
                                   f"({', '.join(out.foreign_files()[:3])}, ...); choose an empty or new folder"))
    if overwrite:
        replacing = manifest is not None or state is not None
        return Plan("fresh", "build from scratch" + (", replacing what the folder holds" if replacing else ""))
    if manifest is not None:
        if manifest.get("build_fingerprint") == build_fingerprint:
            return Plan("unchanged", "nothing (already built)")
        same_config = manifest.get("config_fingerprint") == config_fingerprint \
            and manifest.get("schema_version") == schema.SCHEMA_VERSION
        if incremental and same_config:
            return Plan("append", f"add the input's new rows as run {len(manifest.get('runs') or [None]) + 1}")
        if incremental:
            return _refuse(OutputError(
                f"{out.root} was built from another config (or datafactory schema); an incremental run would mix "
                "the two: pass --overwrite to rebuild it, or choose another --output"))
        if same_config and can_grow:
            return _refuse(OutputError(
                f"{out.root} holds a finished build of another input or --limit: pass --incremental to add the "
                "input's new rows to it, --overwrite to rebuild it, or choose another --output"))
        return _refuse(OutputError(f"{out.root} holds a finished build of another config, input or --limit; "
                                   "pass --overwrite to replace it or choose another --output"))
    if state is not None:
        finished = out.finished_shards()
        same_build = state.get("build_fingerprint") == build_fingerprint
        if incremental:
            # A scheduled job continues its own crashed first run, and starts over after a change.
            if same_build:
                return Plan("resume", f"resume after {finished} finished shard(s)")
            return Plan("fresh", "build from scratch (the unfinished build was of another config or input)")
        if not resume:
            return _refuse(UnfinishedBuildError(
                f"{out.root} holds an unfinished build ({finished} shard(s) done); "
                "pass --resume to continue it or --overwrite to start over"))
        if not same_build:
            current = {"config_fingerprint": config_fingerprint, "input_fingerprint": input_fingerprint}
            what = [name for name, key in (("the config", "config_fingerprint"), ("the input", "input_fingerprint"))
                    if state.get(key) != current[key]] or ["--limit"]
            return _refuse(ResumeMismatchError(
                f"cannot resume {out.root}: {' and '.join(what)} changed since the build started; "
                "pass --overwrite to start over with the new one"))
        return Plan("resume", f"resume after {finished} finished shard(s)")
    return Plan("fresh", "build from scratch")


def _refuse(error: DatafactoryError) -> Plan:
    return Plan("refuse", f"refuse: {error}", error)


def inputs_fingerprint(config: PipelineConfig, stages: list[Stage]) -> str:
    """The pipeline input's fingerprint, combined with those of the inputs stages read besides
    it (an entity bank's corpus, an image pool): a change to any of them changes the build."""
    main = readers.fingerprint(config.input)
    extra = [f"{stage.name}:{readers.fingerprint(cfg)}" for stage in stages
             for cfg in (stage.corpus_input(), *stage.side_inputs().values()) if cfg is not None]
    return main if not extra else hashlib.sha256("|".join([main, *extra]).encode()).hexdigest()


def build_fingerprint(config: PipelineConfig, input_fp: str, limit: int | None) -> str:
    """What a build is made of: config, inputs, ``--limit`` and record schema version. A finished
    build with the same one is up to date; an unfinished one with it can be resumed."""
    key = f"{config.fingerprint()}|{input_fp}|{limit}|{schema.SCHEMA_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()
