"""The output folder: atomic shard files, per-shard rejects, build state and the lock.

Layout::

    OUT/data/part-00000.parquet  records (RECORD_SCHEMA), one file per input shard
    OUT/rejects.parquet          rows that produced nothing, or that a stage skipped (REJECT_SCHEMA)
    OUT/manifest.json            written last: its presence means the build is complete
    OUT/README.md                the dataset card
    OUT/.datafactory/            build state: lock, state.json, rejects of finished shards

Every file appears under its final name only when complete (written under a hidden
temporary name, then renamed), so a crash never leaves a half-written shard to be read.
Hidden names also keep pyarrow and datasets from picking up work files. The records sit in
their own folder so that ``pandas.read_parquet("OUT/data")`` reads records and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from datafactory import schema

STATE_DIR = ".datafactory"
DATA_DIR = "data"
MANIFEST = "manifest.json"
CARD = "README.md"
REJECTS = "rejects.parquet"
_SHARD = re.compile(r"^part-(\d{5})\.parquet$")


def shard_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    _fsync(tmp)
    os.replace(tmp, path)


def write_text_atomic(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class OutputDir:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.state_dir = self.root / STATE_DIR
        self.data_dir = self.root / DATA_DIR

    # -- what is there ---------------------------------------------------------------------

    def manifest(self) -> dict[str, Any] | None:
        path = self.root / MANIFEST
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def state(self) -> dict[str, Any] | None:
        path = self.state_dir / "state.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def shard_files(self) -> list[Path]:
        return sorted(p for p in self.data_dir.glob("part-*.parquet") if _SHARD.match(p.name))

    def finished_shards(self) -> int:
        """Number of consecutive finished shards from part-00000 on."""
        present = {int(_SHARD.match(p.name).group(1)) for p in self.shard_files()}
        count = 0
        while count in present:
            count += 1
        return count

    def foreign_files(self) -> list[str]:
        """Files in the folder that a build did not write (never deleted by --overwrite)."""
        ours = {MANIFEST, CARD, REJECTS, STATE_DIR, DATA_DIR, f".{MANIFEST}.tmp", f".{CARD}.tmp", f".{REJECTS}.tmp"}
        foreign = [p.name for p in self.root.iterdir() if p.name not in ours]
        if self.data_dir.is_dir():
            foreign += [f"{DATA_DIR}/{p.name}" for p in self.data_dir.iterdir()
                        if not _SHARD.match(p.name) and not (p.name.startswith(".part-") and p.name.endswith(".tmp"))]
        return sorted(foreign)

    # -- changing it -----------------------------------------------------------------------

    def start(self, state: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(json.dumps(state, indent=2, sort_keys=True), self.state_dir / "state.json")

    def clear(self) -> None:
        """Remove everything a build wrote (not the lock, not foreign files)."""
        for path in [*self.shard_files(), self.root / MANIFEST, self.root / CARD, self.root / REJECTS]:
            path.unlink(missing_ok=True)
        for path in self.data_dir.glob(".part-*.tmp"):
            path.unlink()
        if self.state_dir.exists():
            for path in self.state_dir.iterdir():
                if path.name != "lock":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()

    def drop_unfinished(self, finished: int) -> None:
        """Remove temporary files and any shard past the finished prefix (from a crash)."""
        for path in [*self.root.glob(".*.tmp"), *self.data_dir.glob(".*.tmp"), *self.state_dir.glob(".*.tmp")]:
            path.unlink()
        for path in self.shard_files():
            if int(_SHARD.match(path.name).group(1)) >= finished:
                path.unlink()
        for path in self.state_dir.glob("rejects-*.parquet"):
            if int(path.stem.split("-")[1]) >= finished:
                path.unlink()

    def write_shard(self, index: int, records: pa.Table, rejects: pa.Table) -> Path:
        """Commit one shard: its rejects first, then the records; the records file is the
        commit point, so a shard counts as finished only when both are on disk."""
        schema.check_table(records, schema.RECORD_SCHEMA, f"shard {index}")
        write_parquet_atomic(rejects, self.state_dir / f"rejects-{index:05d}.parquet")
        self.data_dir.mkdir(exist_ok=True)
        path = self.data_dir / shard_name(index)
        write_parquet_atomic(records, path)
        return path

    def merge_rejects(self) -> pa.Table:
        pieces = sorted(self.state_dir.glob("rejects-*.parquet"))
        tables = [pq.read_table(p) for p in pieces]
        merged = pa.concat_tables(tables) if tables else schema.REJECT_SCHEMA.empty_table()
        write_parquet_atomic(merged.cast(schema.REJECT_SCHEMA), self.root / REJECTS)
        return merged

    def finish(self, manifest: dict[str, Any], card: str) -> None:
        write_text_atomic(card, self.root / CARD)
        # The manifest is the commit point of the whole build.
        write_text_atomic(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", self.root / MANIFEST)
        self.cleanup_state()

    def cleanup_state(self) -> None:
        for path in self.state_dir.glob("rejects-*.parquet"):
            path.unlink()
        (self.state_dir / "state.json").unlink(missing_ok=True)
