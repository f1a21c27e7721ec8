"""Numeric edit: change a number of the news by a plausible, clearly different amount.

"Siemens to cut 2,000 jobs" -> "Siemens to cut 6,000 jobs"; "unemployment rose 2 %" -> "rose 20 %";
"$1.2 billion" -> "$12 billion"; "since 2010" -> "since 1990". spaCy NER finds the numeric
entities (CARDINAL, PERCENT, MONEY, QUANTITY, DATE); :mod:`pipelines.claims.numbers` reads the
number inside (digits or words), says what it measures and writes the new value in the same form,
within the bounds that keep it possible (a share at most 100 %, no negative or zero count, a year
of a text about the past never later). Numbers that are part of names, ranks, ranges, scores or
times are refused.

Input: RECORD_SCHEMA batch. Output: one child per record (``id`` + ":numeric_edit",
``falsified=True``) with a span per changed number and ``stats`` = ``{"edits": [{"kind",
"from", "to", "factor" | "offset"}]}``, or the record back with a ``reject_reason`` when it has no
number fit to change.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Iterable, Literal

import pyarrow as pa
from pydantic import Field, model_validator

from datafactory import spacy_models
from datafactory.spans import Edit, rewrite, touches_span
from datafactory.stage import Stage, StageConfig
from pipelines.claims import numbers
from pipelines.claims.numbers import Change, Quantity, Refusal

DEFAULT_LABELS = ("CARDINAL", "PERCENT", "MONEY", "QUANTITY", "DATE")
#: NER labels of numbers; every other label is a name (a number right after one is part of it).
NUMBER_LABELS = frozenset({*DEFAULT_LABELS, "TIME", "ORDINAL"})
KindName = Literal["percent", "money", "price", "count", "quantity", "year", "date", "duration", "age"]


class NumericEditConfig(StageConfig):
    model: str = "en_core_web_sm"
    """spaCy pipeline with NER: an installed package name or a path to a saved pipeline."""
    fields: list[Literal["title", "text", "caption"]] = Field(default_factory=lambda: ["title"], min_length=1)
    """Fields whose numbers may change. The same number written the same way in several of them
    changes the same way in each."""
    labels: list[str] = Field(default_factory=lambda: list(DEFAULT_LABELS), min_length=1)
    """NER labels whose entities are searched for numbers."""
    kinds: list[KindName] = Field(default_factory=lambda: list(numbers.KINDS), min_length=1)
    """Kinds of numbers that may change: percent, money, price (money per unit: "$49 a barrel"),
    count, quantity (a QUANTITY entity: "5 tons"), year, date (a day of a month), duration ("six
    months"), age."""
    max_edits: int = Field(1, ge=1)
    """Numbers changed per item (fewer when the item has fewer), drawn at random among those fit."""
    factor_range: tuple[float, float] = (2.0, 5.0)
    """A number is multiplied or divided (each way as likely) by a factor drawn log-uniformly in
    this range, then rounded to the original's precision; the rounded value must still differ by
    at least the lower bound. Wider ranges make more edits a reader does not believe (judged:
    "Intel to cut 69% of workforce", "Nvidia's market value tops $20 trillion")."""
    kind_factors: dict[KindName, tuple[float, float]] = Field(
        default_factory=lambda: {"percent": (1.5, 3.0), "money": (1.5, 4.0), "price": (1.5, 3.0),
                                 "duration": (2.0, 5.0), "age": (1.5, 4.0)})
    """A factor range per kind, replacing ``factor_range`` for that kind. Rates, amounts, unit
    prices, durations and ages move less than counts: oil at $49 a barrel is not believed at $5,
    a five-year ban at forty years, nor a central bank rate at 11%."""
    small_count_factor: float = Field(3.0, gt=1)
    """The largest factor for a count under ten ("two" -> "six", never "twenty"): small counts
    are often bounded by what they count (provinces of a country, cubs of a litter)."""
    year_offset: tuple[int, int] = (2, 12)
    """Years a year of the past moves back by (lowest, highest); by multiples of four when the
    item speaks of elections or games."""
    future_year_offset: tuple[int, int] = (1, 6)
    """Years a year moves forward by when its clause speaks of the future ("by 2030", "will ...
    in 2030"): plans and hosts are announced a few years ahead, not decades."""
    day_offset: tuple[int, int] = (3, 14)
    """Days a day of a month moves by, the same way as years, staying within its month."""
    nlp_batch_size: int = Field(256, ge=1)
    """Texts per ``nlp.pipe`` batch."""

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> NumericEditConfig:
        for name, (lo, hi) in [("factor_range", self.factor_range),
                               *((f"kind_factors.{k}", v) for k, v in self.kind_factors.items())]:
            if not 1 < lo <= hi:
                raise ValueError(f"{name} must be (lowest, highest) with 1 < lowest <= highest, got ({lo}, {hi})")
        for name, (lo, hi) in (("year_offset", self.year_offset), ("future_year_offset", self.future_year_offset),
                               ("day_offset", self.day_offset)):
            if not 1 <= lo <= hi:
                raise ValueError(f"{name} must be (lowest, highest) with 1 <= lowest <= highest, got ({lo}, {hi})")
        return self


@dataclass(frozen=True)
class _Found:
    """A number NER found in a field: what it measures, or why it must stay."""

    field: str
    found: Quantity | Refusal
    neighbours: tuple[float, ...] = ()
    """Values of the numbers it must keep its order with."""
    group: int = -1
    """Numbers linked to each other share a group: at most one of them changes."""


class NumericEdit(Stage):
    name = "numeric_edit"
    version = "1"
    Config = NumericEditConfig
    worker_resources = ("nlp",)
    config: NumericEditConfig

    def __init__(self, config: NumericEditConfig, *, seed: int):
        super().__init__(config, seed=seed)
        self.nlp: Any = None
        self._model_version: str | None = None
        self._labels = frozenset(config.labels)
        self._kinds = frozenset(config.kinds)

    def check(self, source: str, field: str) -> None:
        spacy_models.check_spacy_model(self.config.model, source=source, field=f"{field}.model")

    def setup(self) -> None:
        if self.nlp is None:
            self.nlp = spacy_models.load_spacy_ner(self.config.model)
            self._model_version = str(self.nlp.meta.get("version", ""))

    def models(self) -> list[dict[str, Any]]:
        self.setup()
        return [spacy_models.spacy_model_info(self.nlp, self.config.model)]

    # -- the work --------------------------------------------------------------------------

    def __call__(self, batch: pa.Table) -> pa.Table:
        self.setup()
        lex = numbers.lexicon()
        records = batch.to_pylist()
        # NER only reads texts with a numeral: the others have nothing to change.
        jobs = [(i, name, r[name]) for i, r in enumerate(records) for name in self.config.fields
                if r[name] and numbers.has_numeral(r[name], lex)]
        found: list[list[_Found]] = [[] for _ in records]
        docs = self.nlp.pipe((text for _, _, text in jobs), batch_size=self.config.nlp_batch_size)
        for (i, name, text), doc in zip(jobs, docs):
            found[i].extend(self._numbers(doc, name, text, lex, group_base=len(found[i])))
        return self.output(self._edit(record, numbers_of) for record, numbers_of in zip(records, found))

    def _numbers(self, doc: Any, field: str, text: str, lex: numbers.Lexicon, group_base: int) -> list[_Found]:
        """The numbers of one field that lie in an entity of the chosen labels, classified and linked."""
        entities = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        numeric = [(s, e, label) for s, e, label in entities if label in self._labels]
        if not numeric:
            return []
        names = [(s, e) for s, e, label in entities if label not in NUMBER_LABELS and label not in self._labels]
        found: list[Quantity | Refusal] = []
        tagged: list[bool] = []  # numbers NER missed are read too: the others keep their order with them
        for n in numbers.numerals(text, lex):
            label = next((label for s, e, label in numeric if s <= n.start < e), None)
            found.append(numbers.classify(text, n, label or "CARDINAL", names, lex))
            tagged.append(label is not None)
        links = numbers.link(text, found)
        groups = _groups(len(found), links.order)
        out = []
        for i, f in enumerate(found):
            if not tagged[i]:
                continue
            if i in links.refused and isinstance(f, Quantity):
                f = Refusal(f.numeral, f.label, links.refused[i])
            elif isinstance(f, Quantity) and f.kind not in self._kinds:
                f = Refusal(f.numeral, f.label, f"a {f.kind}, not among the kinds to change")
            neighbours = tuple(found[j].numeral.value for j in links.order.get(i, ()))
            out.append(_Found(field, f, neighbours, group_base + groups[i]))
        return out

    def _edit(self, record: dict[str, Any], found: list[_Found]) -> dict[str, Any]:
        if not found:
            return self.skip(record, f"no number ({'/'.join(self.config.labels)}) in {'/'.join(self.config.fields)}")
        refused = {id(f): _refusal(record, f) for f in found}
        fit = [f for f in found if refused[id(f)] is None]
        if not fit:
            return self.skip(record, "no number fit to change (" + _reasons(found, refused) + ")")
        rng = random.Random(self.row_seed(record["id"]))
        edits: list[Edit] = []
        stats: list[dict[str, Any]] = []
        failures: dict[int, str] = {}
        done_groups: set[int] = set()
        for f in rng.sample(fit, k=len(fit)):
            if len(stats) == self.config.max_edits:
                break
            if f.group in done_groups:  # a number linked to one changed already, or that same number elsewhere
                continue
            q = f.found
            text = record[f.field]
            result = numbers.change(text, q, rng, factor_range=self._factors(q),
                                    year_offset=self.config.future_year_offset if q.future else self.config.year_offset,
                                    day_offset=self.config.day_offset,
                                    keep_order_with=list(f.neighbours))
            if isinstance(result, str):
                failures[id(f)] = result
                continue
            if touches_span(record, f.field, result.start, result.end):  # the article it respells was edited
                failures[id(f)] = "changed by an earlier stage"
                continue
            done_groups.add(f.group)
            for edit, other in self._same_elsewhere(record, f, result, found, refused):
                edits.append(edit)
                done_groups.add(other.group)
            stats.append(_stat(q, text, result))
        if not edits:
            return self.skip(record, "no plausible new value (" + _reasons(found, {**refused, **failures}) + ")")
        return self.child(record, seed=self.row_seed(record["id"]), model=self.config.model,
                          model_version=self._model_version, stats={"edits": stats},
                          **rewrite(record, edits, stage=self.name))

    def _factors(self, q: Quantity) -> tuple[float, float]:
        lo, hi = self.config.kind_factors.get(q.kind, self.config.factor_range)
        if q.kind == "count" and q.numeral.value < 10:
            hi = max(lo, min(hi, self.config.small_count_factor))
        return lo, hi

    def _same_elsewhere(self, record: dict[str, Any], f: _Found, result: Change, found: list[_Found],
                        refused: dict[int, str | None]) -> Iterable[tuple[Edit, _Found]]:
        """The edit of ``f``, and the same edit of the same number written the same way in the
        other fields, so that the item does not contradict itself; each with the number it changes."""
        q = f.found
        yield Edit(f.field, result.start, result.end, result.replacement, q.label, q.kind), f
        if result.start != q.start:
            return  # the article changed too: another field's article may not
        written = record[f.field][q.start:q.end]
        for other in found:
            o = other.found
            if other.field != f.field and refused[id(other)] is None and o.kind == q.kind \
                    and record[other.field][o.start:o.end] == written:
                yield Edit(other.field, o.start, o.end, result.written, o.label, o.kind), other

    @classmethod
    def describe(cls, record: dict[str, Any]) -> list[tuple[str, str]]:
        entry = next((p for p in reversed(record["provenance"] or []) if p["stage"] == cls.name), None)
        stats = json.loads(entry["stats"] or "{}") if entry else {}
        return [("edit", _described(e)) for e in stats.get("edits", [])]


def _groups(count: int, order: dict[int, list[int]]) -> list[int]:
    """Connected groups of linked numbers (by index)."""
    group = list(range(count))
    for i in range(count):
        for j in order.get(i, ()):
            a, b = group[i], group[j]
            if a != b:
                group = [a if g == b else g for g in group]
    return group


def _refusal(record: dict[str, Any], f: _Found) -> str | None:
    if isinstance(f.found, Refusal):
        return f.found.reason
    if touches_span(record, f.field, f.found.start, f.found.end):
        return "changed by an earlier stage"
    return None


def _reasons(found: list[_Found], reasons: dict[int, str | None]) -> str:
    """The first few distinct reasons, each with the number it concerns."""
    shown = []
    for f in found:
        reason = reasons.get(id(f))
        line = f"{f.found.label} {f.found.numeral.text!r}: {reason}"
        if reason and line not in shown:
            shown.append(line)
    return "; ".join(shown[:3])


def _stat(q: Quantity, text: str, result: Change) -> dict[str, Any]:
    stat: dict[str, Any] = {"kind": q.kind, "from": text[q.start:q.end], "to": result.written}
    if result.factor is not None:
        stat["factor"] = result.factor
    if result.offset is not None:
        stat["offset"] = result.offset
    return stat


def _described(edit: dict[str, Any]) -> str:
    """ "percent 2% -> 20% (x10)", "count 2,000 -> 500 (/4)", "year 2010 -> 1994 (-16)"."""
    if "factor" in edit:
        factor = edit["factor"]
        how = f"x{factor:.3g}" if factor >= 1 else f"/{1 / factor:.3g}"
    else:
        how = f"{edit.get('offset', 0):+d}"
    return f"{edit['kind']} {edit['from']} -> {edit['to']} ({how})"
