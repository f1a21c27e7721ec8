"""manifest.json: what was built, from what, with which versions, and what came out.

Written last; its presence marks a complete build. Totals are read back from the finished
shards, so a resumed build reports the same numbers as an uninterrupted one. ``runs`` lists
every run that added to the dataset (the first build, then each ``--incremental`` run):
when, from which input fingerprint, what it added.
"""

from __future__ import annotations

import importlib.metadata
import platform
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from datafactory import __version__, readers, schema
from datafactory.config import PipelineConfig
from datafactory.output import DATA_DIR, sha256_file
from datafactory.stage import Stage

FORMAT = "datafactory-manifest/1"
_PACKAGES = ("pyarrow", "spacy", "pydantic", "datasets")


def build_manifest(
    *,
    config: PipelineConfig,
    stages: list[Stage],
    stage_info: list[dict[str, Any]],
    shards: list[dict[str, Any]],
    totals: dict[str, Any],
    rejects: pa.Table,
    limit: int | None,
    build_fingerprint: str,
    input_fingerprint: str,
    runs: list[dict[str, Any]],
) -> dict[str, Any]:
    """The manifest after the latest of ``runs``: shards and totals cover every run so far;
    build and input fingerprints, stage models and run statistics are the latest run's."""
    last = runs[-1]
    return {
        "format": FORMAT,
        "status": "complete",
        "name": config.name,
        "build_fingerprint": build_fingerprint,
        "config_source": config.source,
        "config_fingerprint": config.fingerprint(),
        "config": config.to_dict(),
        "seed": config.seed,
        "limit": limit,
        "input": {
            "path": str(config.input.path),
            "format": readers.detect_format(config.input),
            "dataset": config.dataset_name,
            "sha256": input_fingerprint,
        },
        "schema_version": schema.SCHEMA_VERSION,
        "versions": _versions(),
        "stages": [_stage_entry(stage, info, last["resumed"]) for stage, info in zip(stages, stage_info)],
        "shards": shards,
        "totals": totals,
        "rejects": _reject_summary(rejects),
        "started_at": runs[0]["started_at"],
        "finished_at": last["finished_at"],
        "duration_s": round(sum(run["duration_s"] for run in runs), 3),
        "resumed": last["resumed"],
        "runs": runs,
    }


def run_record(*, number: int, mode: str, resumed: bool, executor: str, started_at: float, input_fingerprint: str,
               input_rows: int | None, new_input_rows: int, shards: list[dict[str, Any]],
               rejects: pa.Table) -> dict[str, Any]:
    """One run as the manifest lists it: when, from which input, what it added."""
    finished = time.time()
    kinds = Counter(rejects.column("kind").to_pylist())
    return {
        "run": number,
        "mode": mode,
        "resumed": resumed,
        "executor": executor,
        "started_at": iso_time(started_at),
        "finished_at": iso_time(finished),
        "duration_s": round(finished - started_at, 3),
        "input_sha256": input_fingerprint,
        "input_rows": input_rows,
        "new_input_rows": new_input_rows,
        "rows_added": sum(s["rows"] for s in shards),
        "shards_added": [s["file"] for s in shards],
        "rejects_added": {kind: kinds.get(kind, 0) for kind in (schema.INVALID, schema.ERROR, schema.SKIPPED)},
    }


def first_run(manifest: dict[str, Any]) -> dict[str, Any]:
    """A run record for a dataset built before runs were recorded."""
    return {"run": 1, "mode": "build", "resumed": manifest.get("resumed", False), "executor": "local",
            "started_at": manifest["started_at"], "finished_at": manifest["finished_at"],
            "duration_s": manifest["duration_s"], "input_sha256": manifest["input"]["sha256"],
            "input_rows": None, "new_input_rows": None, "rows_added": manifest["totals"]["rows"],
            "shards_added": [s["file"] for s in manifest["shards"]], "rejects_added": manifest["rejects"]["by_kind"]}


def runs_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs a manifest records (one made up from it when it predates run records)."""
    return manifest.get("runs") or [first_run(manifest)]


def _stage_entry(stage: Stage, info: dict[str, Any], resumed: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": stage.name, "version": stage.version, "models": info["models"]}
    if info.get("run_stats") is not None:
        # After a resume, the figures cover only the shards this process wrote.
        entry["run_stats"] = {**info["run_stats"], "resumed": resumed}
    return entry


def shard_entries(paths: list[Path]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Manifest entries of these shard files (named as they will sit in data/) and their totals."""
    shards = []
    by_label: Counter[str] = Counter()
    by_manipulation: Counter[str] = Counter()
    by_source_label: Counter[str] = Counter()
    for path in paths:
        table = pq.read_table(path, columns=["falsified", "manipulations", "source_label"])
        shards.append({"file": f"{DATA_DIR}/{path.name}", "rows": table.num_rows, "bytes": path.stat().st_size,
                       "sha256": sha256_file(path)})
        for falsified, manipulations, source_label in zip(*(table.column(c).to_pylist() for c in table.column_names)):
            by_label["falsified" if falsified else "real"] += 1
            by_manipulation["+".join(manipulations) or "none"] += 1
            if source_label is not None:
                by_source_label[source_label] += 1
    totals = {
        "rows": sum(s["rows"] for s in shards),
        "by_label": dict(sorted(by_label.items())),
        "by_manipulation": dict(sorted(by_manipulation.items())),
        "by_source_label": dict(sorted(by_source_label.items())),
    }
    return shards, totals


def add_totals(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Totals of a dataset grown by a run: earlier shards are never read again."""
    merged: dict[str, Any] = {"rows": old["rows"] + new["rows"]}
    for key in ("by_label", "by_manipulation", "by_source_label"):
        merged[key] = dict(sorted((Counter(old.get(key, {})) + Counter(new.get(key, {}))).items()))
    return merged


def _reject_summary(rejects: pa.Table) -> dict[str, Any]:
    kinds = Counter(rejects.column("kind").to_pylist())
    reasons: Counter[str] = Counter()
    for stage, kind, reason in zip(*(rejects.column(c).to_pylist() for c in ("stage", "kind", "reason"))):
        # Reasons name values ("duplicate id 'x'"); the text before them groups alike rows.
        reasons[f"{stage or 'input'}: {_reason_group(reason)}"] += 1
    return {"total": rejects.num_rows, "file": "rejects.parquet",
            "by_kind": dict(sorted(kinds.items())), "by_reason": dict(reasons.most_common(20))}


def _reason_group(reason: str) -> str:
    for stop in (" (", " '", ' "', " for "):
        reason = reason.split(stop, 1)[0]
    if reason.startswith("line "):
        reason = reason.split(": ", 1)[-1]
    return reason


def _versions() -> dict[str, str]:
    versions = {"datafactory": __version__, "python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def iso_time(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
