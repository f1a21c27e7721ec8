"""What an incremental run needs to know: which input items a dataset has already seen, and
whether the pipeline can grow a dataset at all.

An input item is known once any row of the dataset or of its rejects came from it: its id
(records' and rejects' ``parent_id``), or, for a row refused before it had an id, a hash of
the row as rejects.parquet shows it, so a bad line is reported once, not on every run.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow.parquet as pq

from datafactory.config import PipelineConfig
from datafactory.errors import ConfigError
from datafactory.output import OutputDir
from datafactory.stage import Stage


def input_key(record: dict[str, Any] | None, reject: dict[str, Any] | None) -> str:
    """The key of one intake result: the item's id, or a hash of the refused row."""
    if record is not None:
        return record["id"]
    if reject.get("parent_id") is not None:
        return reject["parent_id"]
    return _raw_key(reject.get("raw"), reject.get("reason"))


def known_inputs(out: OutputDir, manifest: dict[str, Any]) -> set[str]:
    """Keys of every input item the committed dataset holds or rejected."""
    known: set[str] = set()
    for shard in manifest["shards"]:
        known.update(pq.read_table(out.root / shard["file"], columns=["parent_id"]).column(0).to_pylist())
    rejects = out.old_rejects().select(["parent_id", "raw", "reason"]).to_pylist()
    known.update(r["parent_id"] if r["parent_id"] is not None else _raw_key(r["raw"], r["reason"]) for r in rejects)
    return known


def check_incremental(config: PipelineConfig, stages: list[Stage]) -> None:
    """Refuse stages that cannot add rows to a built dataset."""
    for index, stage in enumerate(stages):
        if stage.corpus_wide:
            raise ConfigError(
                config.source, f"stages[{index}]({stage.name})",
                f"{stage.name} decides each row against the whole corpus at once (e.g. a cap on how often "
                "a picture is used), so rows added later would break its rules",
                "Rebuild the dataset in full instead: datafactory build CONFIG --overwrite")


def _raw_key(raw: str | None, reason: str | None) -> str:
    # The row's own text where there is one: a reason may name the row's position.
    text = raw if raw is not None else f"\x1freason:{reason}"
    digest = hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()
    return f"raw-sha256:{digest[:32]}"
