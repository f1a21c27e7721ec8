"""Builds killed with SIGKILL at several points, then resumed, equal an uninterrupted build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import sample_rows, shard_bytes, swap_stage, write_config, write_jsonl
from datafactory.config import load_config
from datafactory.output import OutputDir
from datafactory.runner import build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory):
    """The sample corpus ten times over (3,000 rows), with distinct ids."""
    rows = [{**r, "id": f"{r['id']}-r{k}"} for k in range(10) for r in sample_rows()]
    return write_jsonl(tmp_path_factory.mktemp("corpus") / "big.jsonl", rows)


@pytest.fixture(scope="module")
def reference(big_corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    result = build(load_config(big_config(folder, big_corpus)), progress=False)
    return shard_bytes(result.output)


def big_config(folder: Path, corpus: Path) -> Path:
    # The corpus is the sample ten times over: its first 300 rows give the whole bank.
    return write_config(folder, input_path=corpus, stages=[swap_stage(bank_max_rows=300)])


def start_build(config: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "datafactory", "--quiet", "build", str(config), "--no-progress", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_when(process: subprocess.Popen, ready, timeout: float = 120, may_finish: bool = False) -> None:
    """SIGKILL the build as soon as ``ready()`` holds; fail if it finished first (unless
    ``may_finish``: a kill aimed at the last instants can lose the race)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, f"build ended before the kill point: {process.communicate()}"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() in ((-signal.SIGKILL, 0) if may_finish else (-signal.SIGKILL,))


def test_killed_three_times_then_resumed_equals_an_uninterrupted_build(tmp_path, big_corpus, reference):
    config = big_config(tmp_path, big_corpus)
    out = OutputDir(tmp_path / "out")
    kill_when(start_build(config), lambda: out.state() is not None)  # during setup, before any shard
    # Aimed before the first shard; on a starved machine the poll can wake after one is written
    # (seen once in CI): either way the build is unfinished and must resume to the same bytes.
    assert out.manifest() is None
    for at_least in (4, 13, 24):
        kill_when(start_build(config, "--resume"), lambda: out.finished_shards() >= at_least)
        assert out.manifest() is None
    finished = start_build(config, "--resume")
    stdout, stderr = finished.communicate(timeout=300)
    assert finished.returncode == 0, stderr.decode()
    assert b"resumed" in stdout
    assert shard_bytes(tmp_path / "out") == reference
    ids = pq.read_table(tmp_path / "out" / "data", columns=["id"]).column("id").to_pylist()
    assert len(ids) == len(set(ids)), "no row written twice"
    assert not list((tmp_path / "out").rglob("*.tmp")), "no temporary file left behind"


def test_a_build_killed_while_writing_its_last_files_finishes_on_resume(tmp_path, big_corpus, reference):
    config = big_config(tmp_path, big_corpus)
    out = OutputDir(tmp_path / "out")
    kill_when(start_build(config), lambda: out.finished_shards() >= 30, may_finish=True)
    resumed = build(load_config(config), resume=True, progress=False)
    assert resumed.manifest["totals"]["rows"] == sum(s["rows"] for s in resumed.manifest["shards"])
    assert shard_bytes(tmp_path / "out") == reference


def test_a_second_process_is_refused_while_a_build_runs(tmp_path, big_corpus):
    from datafactory.errors import OutputLockedError

    config = big_config(tmp_path, big_corpus)
    out = OutputDir(tmp_path / "out")
    first = start_build(config)
    try:
        deadline = time.monotonic() + 60
        while out.state() is None:
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(OutputLockedError, match=f"pid {first.pid}"):
            build(load_config(config), progress=False)
    finally:
        first.kill()
        first.wait()
