"""Entity-bias audit: which named entities predict the label of a labelled dataset on their own.

A detector trained on a corpus where news about "Hong Kong" is 73% fake and news about
"Huawei" 0% fake learns those names, not misinformation, and collapses on another corpus.
This module counts, per named entity, the items that mention it and how many of them are
positive (``falsified``), and flags the entities whose positive share is far from the base rate.

In: texts and labels (or a build / labelled file, via :func:`detectors.data.load_labelled_data`).
Out: one :class:`EntityStat` per entity mentioned in at least ``min_count`` items, and for
:func:`audit_dataset` the files ``audit.csv``, ``audit.md``, ``audit.json`` and ``audit.png``.
Example::

    from detectors.evaluation.audit import audit_dataset

    report = audit_dataset("out/quickstart", field="title")   # writes out/quickstart/eval/audit/
    report["flagged"], report["base_rate"]
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from datafactory.errors import ConfigError, NotEnoughDataError, UnknownClassError
from detectors.evaluation.audit_plot import Bar, plot_audit

#: Entity types counted by default: who and where, the names a detector can latch on to.
DEFAULT_TYPES = ("PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW")
DEFAULT_MODEL = "en_core_web_sm"
Z95 = 1.959963984540054  # two-sided 95% normal quantile
_BAR_FROM = 2000  # texts; fewer are tagged in seconds and need no progress bar


@dataclass(frozen=True)
class ExtremeRule:
    """When an entity is flagged ``extreme``.

    Both must hold: (1) its Wilson 95% interval lies entirely above or entirely below the base
    rate, so the difference is not noise at this count; and (2) the difference is large: the
    share is at most ``low`` or at least ``high``, or differs from the base rate by at least
    ``gap``. (2) alone would flag "2 of 2"; (1) alone would flag 52% vs 50% on a huge corpus.
    """

    low: float = 0.1
    """Shares at or below this are extreme (almost never positive)."""
    high: float = 0.9
    """Shares at or above this are extreme (almost always positive)."""
    gap: float = 0.3
    """A share this far from the base rate, either way, is extreme."""

    def direction(self, share: float, lo: float, hi: float, base_rate: float) -> str | None:
        """``"above"`` or ``"below"`` the base rate when extreme, else None."""
        if lo > base_rate:
            side = "above"
        elif hi < base_rate:
            side = "below"
        else:
            return None
        large = share <= self.low or share >= self.high or abs(share - base_rate) >= self.gap
        return side if large else None


@dataclass
class EntityStat:
    entity: str  # the most frequent surface form of the normalised name
    label: str  # spaCy entity type, e.g. GPE
    items: int  # items mentioning it (once per item)
    positive: int  # of which positive
    share: float  # positive / items
    base_rate: float  # positive share of the whole dataset
    low: float  # Wilson 95% interval of share
    high: float
    extreme: bool
    direction: str | None  # "above" / "below" the base rate when extreme

    def bar(self) -> Bar:
        """What the chart draws of this entity."""
        return Bar(self.entity, self.label, self.items, self.share, self.low, self.high,
                   self.direction if self.extreme else None)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``successes / n``; ``(0.0, 1.0)`` for ``n == 0``."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 or n the bounds are exactly 0 or 1; the float sum can miss by 1e-17.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def normalise(text: str) -> str:
    """``"the  Hong Kong's"`` -> ``"Hong Kong"``: whitespace collapsed, a leading "the" and a
    trailing possessive dropped, so one name is one entity however a sentence wraps it."""
    text = " ".join(text.split())
    if text.lower().startswith("the "):
        text = text[4:]
    for suffix in ("'s", "\u2019s"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    return text.strip(" .,;:'\"")


def entity_bias(texts: Sequence[str], labels: Sequence[str], *, nlp: Any, positive: str = "falsified",
                min_count: int = 5, labels_kept: Iterable[str] | None = DEFAULT_TYPES,
                rule: ExtremeRule = ExtremeRule(), batch_size: int = 256,
                progress: bool | None = None) -> list[EntityStat]:
    """Per-entity positive share, sorted by items desc (then name).

    ``nlp`` is a spaCy pipeline or a model name (loaded with NER only). ``labels_kept=None``
    keeps every entity type. Entities are keyed by normalised, case-folded text and type, and
    counted once per item however often the item names them.
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if not texts:
        raise NotEnoughDataError("no labelled texts to audit")
    if isinstance(nlp, str):
        from datafactory.spacy_models import load_spacy_ner

        nlp = load_spacy_ner(nlp)
    kept = None if labels_kept is None else set(labels_kept)
    items: Counter[tuple[str, str]] = Counter()
    positives: Counter[tuple[str, str]] = Counter()
    forms: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    from tqdm.auto import tqdm

    bar_off = (len(texts) < _BAR_FROM or None) if progress is None else not progress
    docs = nlp.pipe(texts, batch_size=batch_size)
    for doc, label in zip(tqdm(docs, total=len(texts), unit="text", desc="entities", disable=bar_off,
                               file=sys.stderr), labels):
        seen = set()
        for ent in doc.ents:
            if kept is not None and ent.label_ not in kept:
                continue
            name = normalise(ent.text)
            if not name:
                continue
            key = (name.casefold(), ent.label_)
            forms[key][name] += 1
            seen.add(key)
        for key in seen:
            items[key] += 1
            positives[key] += label == positive
    base = sum(label == positive for label in labels) / len(labels)
    stats = []
    for key, n in items.items():
        if n < min_count:
            continue
        k = positives[key]
        lo, hi = wilson_interval(k, n)
        side = rule.direction(k / n, lo, hi, base)
        stats.append(EntityStat(forms[key].most_common(1)[0][0], key[1], n, k, k / n, base, lo, hi,
                                side is not None, side))
    stats.sort(key=lambda s: (-s.items, s.entity.casefold(), s.label))
    return stats


def audit_dataset(path: str | Path, field: str = "text", label: str = "falsified",
                  columns: dict[str, str] | None = None, model: str | None = None, min_count: int = 5,
                  top: int = 30, output: str | Path | None = None, *, positive: str | None = None,
                  rule: ExtremeRule = ExtremeRule(), progress: bool | None = None) -> dict[str, Any]:
    """Audit a build or labelled file and write ``audit.{csv,md,json,png}`` into ``output``.

    ``positive`` is the class whose share is measured: ``falsified`` for a build, required for
    a file unless its labels include ``falsified``. ``model`` defaults to the spaCy model the
    build's stages used, else ``en_core_web_sm``. ``output`` defaults to ``PATH/eval/audit`` for a
    build. Returns the summary written to ``audit.json``, with ``entities``: every
    :class:`EntityStat`, ranked (in the JSON, as dicts).
    """
    from datafactory.spacy_models import check_spacy_model
    from detectors.data import FALSIFIED, is_build, load_labelled_data

    path = Path(path).expanduser()
    build = is_build(path)
    if output is None:
        if not build:
            raise ConfigError(str(path), "--output", "is required when the dataset is a file",
                              "Give a folder for audit.csv, audit.md, audit.json and audit.png")
        output = path / "eval" / "audit"
    output = Path(output).expanduser()
    data = load_labelled_data(path, field, label, columns)
    if not data.texts:
        raise NotEnoughDataError(f"{path}: no rows with both a {field!r} and a label to audit")
    classes = sorted(set(data.labels))
    positive = positive or (FALSIFIED if build or FALSIFIED in classes else None)
    if positive not in classes:
        raise UnknownClassError(str(path), "--positive", positive, classes)
    model = model or (_build_model(path) if build else None) or DEFAULT_MODEL
    check_spacy_model(model, source="<audit>", field="--model")
    stats = entity_bias(data.texts, data.labels, nlp=model, positive=positive, min_count=min_count,
                        rule=rule, progress=progress)
    n_pos = sum(lbl == positive for lbl in data.labels)
    report = {
        "dataset": str(path), "field": field, "label": label, "positive": positive, "model": model,
        "items": len(data.texts), "positive_items": n_pos, "base_rate": n_pos / len(data.texts),
        "classes": dict(Counter(data.labels)), "skipped": dict(data.skipped), "min_count": min_count,
        "rule": asdict(rule), "entity_count": len(stats), "flagged": sum(s.extreme for s in stats),
        "top": top, "output": str(output),
    }
    output.mkdir(parents=True, exist_ok=True)
    files = {kind: output / f"audit.{kind}" for kind in ("csv", "md", "json", "png")}
    _write_csv(files["csv"], stats)
    files["md"].write_text(markdown_report(report, stats, top), encoding="utf-8")
    plot_audit([s.bar() for s in stats[:top]], files["png"], title=f"{path.name}: {field}", base_rate=report["base_rate"],
               positive=positive)
    report["files"] = {kind: str(p) for kind, p in files.items()}
    files["json"].write_text(json.dumps({**report, "entities": [asdict(s) for s in stats]}, indent=2),
                             encoding="utf-8")
    return {**report, "entities": stats}


def _build_model(path: Path) -> str | None:
    """The spaCy model a build's stages tagged entities with (its manifest's first ``model``)."""
    try:
        stages = json.loads((path / "manifest.json").read_text(encoding="utf-8"))["config"]["stages"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return next((s["model"] for s in stages if s.get("stage") == "entity_swap" and s.get("model")), None)


def _write_csv(path: Path, stats: list[EntityStat]) -> None:
    names = list(EntityStat.__dataclass_fields__)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(asdict(s) for s in stats)


def markdown_table(stats: Sequence[EntityStat], positive: str = "falsified") -> str:
    """One row per entity: entity, type, items, positive share, 95% interval, flag."""
    lines = [f"| entity | type | items | {positive} share | 95% interval | flag |",
             "|---|---|---:|---:|---|---|"]
    for s in stats:
        flag = f"extreme ({s.direction})" if s.extreme else ""
        name = s.entity.replace("|", "\\|")
        lines.append(f"| {name} | {s.label} | {s.items} | {s.share:.0%} | {s.low:.0%}–{s.high:.0%} | {flag} |")
    return "\n".join(lines)


def markdown_report(report: dict[str, Any], stats: Sequence[EntityStat], top: int) -> str:
    rule = report["rule"]
    shown = f"top {min(top, len(stats))} of {len(stats)}" if len(stats) > top else f"all {len(stats)}"
    return (
        f"# Entity-bias audit: {report['dataset']} ({report['field']})\n\n"
        f"- items: {report['items']}, {report['positive']}: {report['positive_items']} "
        f"(base rate {report['base_rate']:.1%})\n"
        f"- entities in at least {report['min_count']} items: {len(stats)} ({shown} below, by items)\n"
        f"- flagged extreme: {report['flagged']} (95% Wilson interval excludes the base rate, and the "
        f"share is <= {rule['low']:.0%}, >= {rule['high']:.0%}, or {rule['gap']:.0%} or more from the base rate)\n"
        f"- model: {report['model']}\n\n" + markdown_table(stats[:top], report["positive"]) + "\n"
    )
