"""manifest.json: what was built, from what, with which versions, and what came out.

Written last; its presence marks a complete build. Totals are read back from the finished
shards, so a resumed build reports the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import importlib.metadata
import platform
import time
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from datafactory import __version__, readers, schema
from datafactory.config import PipelineConfig
from datafactory.output import DATA_DIR, OutputDir, sha256_file
from datafactory.stage import Stage

FORMAT = "datafactory-manifest/1"
_PACKAGES = ("pyarrow", "spacy", "pydantic", "datasets")


def build_manifest(
    *,
    config: PipelineConfig,
    stages: list[Stage],
    out: OutputDir,
    rejects: pa.Table,
    limit: int | None,
    build_fingerprint: str,
    input_fingerprint: str,
    started_at: float,
    resumed: bool,
) -> dict[str, Any]:
    shards, totals = _shards_and_totals(out)
    finished = time.time()
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
        "stages": [_stage_entry(s, resumed) for s in stages],
        "shards": shards,
        "totals": totals,
        "rejects": _reject_summary(rejects),
        "started_at": _iso(started_at),
        "finished_at": _iso(finished),
        "duration_s": round(finished - started_at, 3),
        "resumed": resumed,
    }


def _stage_entry(stage: Stage, resumed: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": stage.name, "version": stage.version, "models": stage.models()}
    stats = stage.run_stats()
    if stats is not None:
        # After a resume, the figures cover only the shards this process wrote.
        entry["run_stats"] = {**stats, "resumed": resumed}
    return entry


def _shards_and_totals(out: OutputDir) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    shards = []
    by_label: Counter[str] = Counter()
    by_manipulation: Counter[str] = Counter()
    by_source_label: Counter[str] = Counter()
    for path in out.shard_files():
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


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
