"""Read a built dataset back for a summary: its manifest, a shard, and falsified examples.

Library code: ``datafactory inspect`` prints it, detectors read a build's manifest through it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datafactory.card import examples as first_examples
from datafactory.errors import NotADatasetError
from datafactory.output import OutputDir


@dataclass
class Summary:
    manifest: dict[str, Any]
    shard: Path | None
    examples: list[dict[str, Any]]


def load_summary(out_dir: Path, examples: int = 3, manipulation: str | None = None) -> Summary:
    out = OutputDir(Path(out_dir))
    if not out.root.is_dir():
        raise NotADatasetError(f"{out_dir} is not a folder; give the output folder of a build")
    manifest = out.manifest()
    if manifest is None:
        if out.state() is not None:
            raise NotADatasetError(f"{out_dir} holds an unfinished build ({out.finished_shards()} shard(s)); "
                                   "finish it with datafactory build CONFIG --resume")
        raise NotADatasetError(f"{out_dir} is not a datafactory output (no manifest.json)")
    shards = out.shard_files()
    return Summary(manifest, shards[0] if shards else None, first_examples(out, examples, manipulation) if examples else [])
