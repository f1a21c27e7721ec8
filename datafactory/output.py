"""The output folder: atomic shard files, per-shard rejects, build state and the lock.

Layout::

    OUT/data/part-00000.parquet  records (RECORD_SCHEMA), one file per input shard
    OUT/rejects.parquet          rows that produced nothing, or that a stage skipped (REJECT_SCHEMA)
    OUT/manifest.json            written last: its presence means the build is complete
    OUT/README.md                the dataset card
    OUT/.datafactory/            build state: lock, state.json, rejects of finished shards,
                                 staging/ (shards of an incremental run not yet committed)

Every file appears under its final name only when complete (written under a hidden
temporary name, then renamed), so a crash never leaves a half-written shard to be read.
An incremental run writes its shards to staging/ and commits them with :meth:`OutputDir.commit`:
the plan is written first (state.json, ``phase: commit``), then shards move into data/,
rejects.parquet and the card are replaced and the manifest is written; a commit cut short
is finished by the next build, so readers never see a run's shards without its manifest
for longer than that.
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
#: Per-shard rejects of the shards written since the last commit, in the state folder.
_REJECT_PIECE = re.compile(r"^rejects-(\d{5})\.parquet$")
#: Old and new rejects together, written by a commit before it replaces rejects.parquet
#: (a name outside the per-shard pattern, so it is never taken for a piece).
_MERGED_REJECTS = "merged-rejects.parquet"


def shard_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    fsync_file(tmp)
    os.replace(tmp, path)


def write_text_atomic(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    fsync_file(tmp)
    os.replace(tmp, path)


def fsync_file(path: Path) -> None:
    """Flush ``path`` to disk, so that a rename after it publishes complete bytes."""
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
        self.staging_dir = self.state_dir / "staging"

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

    def staged_files(self) -> list[Path]:
        return sorted(p for p in self.staging_dir.glob("part-*.parquet") if _SHARD.match(p.name))

    def finished_shards(self, first: int = 0, staged: bool = False) -> int:
        """Number of consecutive finished shards from ``first`` on, in data/ or in staging/."""
        files = self.staged_files() if staged else self.shard_files()
        present = {int(_SHARD.match(p.name).group(1)) for p in files}
        count = 0
        while first + count in present:
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

    def drop_unfinished(self, finished: int, *, staged: bool = False) -> None:
        """Remove temporary files and any shard past the finished prefix (from a crash).
        ``finished`` is a shard index: shards from it on are dropped (in staging/ when
        ``staged``, where an incremental run keeps its shards)."""
        for path in [*self.root.glob(".*.tmp"), *self.data_dir.glob(".*.tmp"), *self.state_dir.glob(".*.tmp"),
                     *self.staging_dir.glob(".*.tmp")]:
            path.unlink()
        for path in self.staged_files() if staged else self.shard_files():
            if int(_SHARD.match(path.name).group(1)) >= finished:
                path.unlink()
        for path in self._reject_pieces():
            if int(_REJECT_PIECE.match(path.name).group(1)) >= finished:
                path.unlink()

    def discard_staging(self) -> None:
        """Forget an incremental run that never committed: its shards and rejects."""
        if self.staging_dir.exists():
            shutil.rmtree(self.staging_dir)
        self._drop_rejects()

    def _reject_pieces(self) -> list[Path]:
        return sorted(p for p in self.state_dir.glob("rejects-*.parquet") if _REJECT_PIECE.match(p.name))

    def _drop_rejects(self) -> None:
        for path in self._reject_pieces():
            path.unlink()
        (self.state_dir / _MERGED_REJECTS).unlink(missing_ok=True)

    def write_shard(self, index: int, records: pa.Table, rejects: pa.Table, *, staged: bool = False) -> Path:
        """Write one shard: its rejects first, then the records; the records file is the
        commit point, so a shard counts as finished only when both are on disk. ``staged``
        shards go to staging/ until :meth:`commit` moves them into data/."""
        schema.check_table(records, schema.layout_of(records), f"shard {index}")
        write_parquet_atomic(rejects, self.state_dir / f"rejects-{index:05d}.parquet")
        folder = self.staging_dir if staged else self.data_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / shard_name(index)
        write_parquet_atomic(records, path)
        return path

    def new_rejects(self) -> pa.Table:
        """The rejects of the shards written since the last commit."""
        tables = [pq.read_table(p) for p in self._reject_pieces()]
        return pa.concat_tables(tables).cast(schema.REJECT_SCHEMA) if tables else schema.REJECT_SCHEMA.empty_table()

    def old_rejects(self) -> pa.Table:
        """rejects.parquet as the last commit left it."""
        path = self.root / REJECTS
        return pq.read_table(path).cast(schema.REJECT_SCHEMA) if path.exists() else schema.REJECT_SCHEMA.empty_table()

    def merge_rejects(self) -> pa.Table:
        merged = self.new_rejects()
        write_parquet_atomic(merged, self.root / REJECTS)
        return merged

    def commit(self, manifest: dict[str, Any], card: str, rejects: pa.Table) -> None:
        """Make an incremental run part of the dataset: staged shards move into data/,
        ``rejects`` (all of them, old and new) replaces rejects.parquet, then the card and the
        manifest. The plan is saved first, so :meth:`recover` can finish a commit cut short."""
        write_parquet_atomic(rejects.cast(schema.REJECT_SCHEMA), self.state_dir / _MERGED_REJECTS)
        state = {**(self.state() or {}), "phase": "commit", "manifest": manifest, "card": card,
                 "moves": [p.name for p in self.staged_files()]}
        write_text_atomic(json.dumps(state, indent=2, ensure_ascii=False), self.state_dir / "state.json")
        self._finish_commit(state)

    def recover(self) -> bool:
        """Finish a commit that was cut short (crash between moving shards and writing the
        manifest). Returns True when there was one."""
        state = self.state()
        if not state or state.get("phase") != "commit":
            return False
        self._finish_commit(state)
        return True

    def _finish_commit(self, state: dict[str, Any]) -> None:
        self.data_dir.mkdir(exist_ok=True)
        for name in state["moves"]:
            staged = self.staging_dir / name
            if staged.exists():  # already moved when a previous attempt got this far
                os.replace(staged, self.data_dir / name)
        merged = self.state_dir / _MERGED_REJECTS
        if merged.exists():
            os.replace(merged, self.root / REJECTS)
        self.finish(state["manifest"], state["card"])
        self.discard_staging()

    def finish(self, manifest: dict[str, Any], card: str) -> None:
        write_text_atomic(card, self.root / CARD)
        # The manifest is the commit point of the whole build.
        write_text_atomic(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", self.root / MANIFEST)
        self.cleanup_state()

    def cleanup_state(self) -> None:
        self._drop_rejects()
        (self.state_dir / "state.json").unlink(missing_ok=True)
