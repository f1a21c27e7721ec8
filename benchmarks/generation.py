"""Generation stage throughput against ``model.generate`` with the same model, batch and parameters.

    python benchmarks/generation.py [--model PATH] [--layers 6 --hidden 384] [--rows 64] [--tokens 64]

Both sides sample exactly ``--tokens`` new tokens per prompt (min_new_tokens = max_new_tokens,
so neither stops early) with the same temperature, top-k, top-p and repetition penalty, over
the same left-padded batches of sample-corpus titles, in this one process, alternating
rounds. Without ``--model``, a randomly initialised GPT-2 of the given size with a tokenizer
trained on the sample corpus is built in a temporary folder (no download). Goal: ratio >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "data" / "sample_news.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="generator folder (default: a random GPT-2 built here)")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--rows", type=int, default=64, help="prompts (titles) per round")
    parser.add_argument("--batch", type=int, default=16, help="prompts per batched forward")
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per prompt")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch

    from datafactory import lm, schema
    from pipelines.stages.generate_article import GenerateArticle, GenerateArticleConfig
    from pipelines.generation.tiny_generator import build_tiny_gpt2

    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model
        if model_path is None:
            texts = [f"{r['title']} {r['text']}" for r in rows]
            model_path = str(build_tiny_gpt2(texts, Path(tmp) / "model", n_layer=args.layers, n_embd=args.hidden,
                                             n_head=max(1, args.hidden // 64)))
            (Path(model_path) / lm.CARD_FILE).write_text(json.dumps({"separator": " = "}))
        config = GenerateArticleConfig(
            model=model_path, max_new_tokens=args.tokens, min_new_tokens=args.tokens, temperature=0.9,
            top_k=50, top_p=0.95, repetition_penalty=1.2, max_retries=0, min_words=1,
            max_repeated_trigrams=1.0, generation_batch_size=args.batch, device="cpu")
        stage = GenerateArticle(config, seed=0)
        stage.setup()
        generator = stage.generator
        titles = [r["title"] for r in rows[: args.rows]]
        table = schema.to_table(schema.real_record(id=f"b{i}", dataset="bench", title=t, text="x")
                                for i, t in enumerate(titles))
        tokenizer = generator.tokenizer

        def direct() -> None:
            tokenizer.padding_side = "left"
            for start in range(0, len(titles), args.batch):
                prompts = [generator.prompt(t) for t in titles[start:start + args.batch]]
                enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
                with torch.inference_mode():
                    generator.model.generate(**enc, do_sample=True, max_new_tokens=args.tokens,
                                             min_new_tokens=args.tokens, temperature=0.9, top_k=50, top_p=0.95,
                                             repetition_penalty=1.2, pad_token_id=tokenizer.pad_token_id)

        def through_stage() -> None:
            stage(table)

        direct()  # warm-up
        best = {"direct": float("inf"), "stage": float("inf")}
        for _ in range(args.rounds):
            for name, fn in (("direct", direct), ("stage", through_stage)):
                started = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - started)
        tokens = len(titles) * args.tokens
        params = sum(p.numel() for p in generator.model.parameters())
        print(f"generation benchmark: {params / 1e6:.1f}M-parameter {type(generator.model).__name__}, "
              f"{len(titles)} prompts, batch {args.batch}, {args.tokens} new tokens each, CPU\n")
        print(f"| {'metric':<36} | {'model.generate':>14} | {'stage':>10} | {'ratio':>6} | goal   |")
        print(f"|{'-' * 38}|{'-' * 16}|{'-' * 12}|{'-' * 8}|--------|")
        direct_tps, stage_tps = tokens / best["direct"], tokens / best["stage"]
        print(f"| {'tokens/s (sampling, top-k, top-p)':<36} | {direct_tps:>14.0f} | {stage_tps:>10.0f} | "
              f"{stage_tps / direct_tps:>6.2f} | >= 0.9 |")


if __name__ == "__main__":
    main()
