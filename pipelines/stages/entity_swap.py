"""Entity swap: replace named entities with other entities of the same type from the corpus.

"Pakistan police clash with doctors" -> "India police clash with doctors". Entities come
from spaCy NER; replacements from an :class:`EntityBank` built from the real corpus. Every
replaced span is recorded (field, offsets before and after, original, replacement, label).

Input: RECORD_SCHEMA batch. Output: one child per record (``id`` + ":entity_swap",
``falsified=True``), or the record back with a ``reject_reason`` when nothing can be swapped.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Literal

import pyarrow as pa
from pydantic import Field

from datafactory import spacy_models
from datafactory.config import InputConfig
from datafactory.stage import Stage, StageConfig
from pipelines.entities.entity_bank import EntityBank, clean_span

DEFAULT_TYPES = ("PERSON", "GPE", "ORG", "NORP", "LOC", "EVENT", "FAC")
_SENTENCE_END = re.compile(r"[.!?]['\"”’)]*\s+$")


class EntitySwapConfig(StageConfig):
    model: str = "en_core_web_sm"
    """spaCy pipeline with NER: an installed package name or a path to a saved pipeline."""
    fields: list[Literal["title", "text", "caption"]] = Field(default_factory=lambda: ["title"], min_length=1)
    """Fields whose entities may be swapped. An entity found in several of them is replaced
    the same way in each."""
    types: list[str] = Field(default_factory=lambda: list(DEFAULT_TYPES), min_length=1)
    """NER labels eligible for swapping."""
    max_swaps: int = Field(1, ge=1)
    """Distinct entities replaced per item (fewer when the item has fewer)."""
    sampling: Literal["uniform", "frequency"] = "frequency"
    """How replacements are drawn from the bank: ``frequency`` in proportion to how often
    each entity occurs in the corpus (rare entities are not over-used); ``uniform`` gives
    every distinct entity the same chance."""
    min_count: int = Field(2, ge=1)
    """Bank entities seen fewer times than this are never used as replacements: most
    one-off entities are NER mistakes."""
    bank_fields: list[Literal["title", "text", "caption"]] = Field(
        default_factory=lambda: ["title", "text", "caption"], min_length=1)
    """Fields the bank is built from. Bodies give NER context and frequency evidence, so
    the bank's labels are cleaner than from titles alone."""
    bank_max_rows: int | None = Field(None, ge=1)
    """Build the bank from the first N valid rows only (None: all), to bound the cost of the
    bank pass on very large corpora."""
    bank_input: InputConfig | None = None
    """Build the bank from this corpus instead of the pipeline's input (same keys as ``input``)."""
    nlp_batch_size: int = Field(256, ge=1)
    """Texts per ``nlp.pipe`` batch."""


@dataclass(frozen=True)
class Mention:
    field: str
    start: int
    end: int
    text: str
    label: str
    article_start: int | None = None
    """Where a "the" before the name begins, if there is one."""


class EntitySwap(Stage):
    name = "entity_swap"
    version = "1"
    Config = EntitySwapConfig
    worker_resources = ("nlp",)
    needs_corpus = True
    config: EntitySwapConfig

    def __init__(self, config: EntitySwapConfig, *, seed: int):
        super().__init__(config, seed=seed)
        self.nlp: Any = None
        self.bank = EntityBank()
        self._types = frozenset(config.types)

    # -- lifecycle -----------------------------------------------------------------------

    def check(self, source: str, field: str) -> None:
        spacy_models.check_spacy_model(self.config.model, source=source, field=f"{field}.model")

    def setup(self) -> None:
        if self.nlp is None:
            self.nlp = spacy_models.load_spacy_ner(self.config.model)
            # nlp.meta rebuilds a dict on each access: read the version once.
            self._model_version = str(self.nlp.meta.get("version", ""))

    def corpus_input(self) -> InputConfig | None:
        return self.config.bank_input

    def fit(self, batches: Iterable[pa.Table]) -> None:
        self.setup()
        bank = EntityBank()
        seen = 0
        limit = self.config.bank_max_rows
        for batch in batches:
            if limit is not None:
                if seen >= limit:
                    break
                batch = batch.slice(0, limit - seen)
            seen += batch.num_rows
            fields = self.config.bank_fields
            texts = [t for name in fields for t in batch.column(name).to_pylist() if t]
            for doc in self.nlp.pipe(texts, batch_size=self.config.nlp_batch_size):
                for m in self._mentions(doc, ""):
                    bank.add(m.label, m.text, with_article=m.article_start is not None)
        bank.prune(self.config.min_count)
        self.bank = bank

    def models(self) -> list[dict[str, Any]]:
        self.setup()
        info = spacy_models.spacy_model_info(self.nlp, self.config.model)
        info["entity_bank"] = {"fingerprint": self.bank.fingerprint(), "entities": self.bank.stats()}
        return [info]

    # -- the work --------------------------------------------------------------------------

    def __call__(self, batch: pa.Table) -> pa.Table:
        self.setup()
        records = batch.to_pylist()
        jobs = [(i, name, r[name]) for i, r in enumerate(records) for name in self.config.fields if r[name]]
        mentions: list[list[Mention]] = [[] for _ in records]
        docs = self.nlp.pipe((text for _, _, text in jobs), batch_size=self.config.nlp_batch_size)
        for (i, name, _), doc in zip(jobs, docs):
            mentions[i].extend(self._mentions(doc, name))
        return self.output(self._swap(record, found) for record, found in zip(records, mentions))

    def _mentions(self, doc: Any, field: str) -> Iterable[Mention]:
        text = None  # doc.text joins every token on each access: read it once, and only if needed
        for ent in doc.ents:
            if ent.label_ not in self._types:
                continue
            text = doc.text if text is None else text
            span = clean_span(text, ent.start_char, ent.end_char)
            if span is not None:
                start, end, article_start = span
                yield Mention(field, start, end, text[start:end], ent.label_, article_start)

    def _swap(self, record: dict[str, Any], mentions: list[Mention]) -> dict[str, Any]:
        if not mentions:
            return self.skip(record, f"no entity of types {'/'.join(self.config.types)} "
                                      f"in {'/'.join(self.config.fields)}")
        rng = random.Random(self.row_seed(record["id"]))
        # Entities keyed by surface form, in order of first appearance: the same string in
        # two fields is one entity and gets one replacement.
        labels: dict[str, str] = {}
        for m in mentions:
            # The bank's label for a known entity overrides this mention's NER label (noise).
            labels.setdefault(m.text, self.bank.label_of(m.text) or m.label)
        present = {m.text.lower() for m in mentions}
        chosen = rng.sample(list(labels), k=min(self.config.max_swaps, len(labels)))
        replacements: dict[str, str] = {}
        for original in chosen:
            replacement = self.bank.sample(labels[original], rng, exclude=present, weighting=self.config.sampling)
            if replacement is not None:
                replacements[original] = replacement
                present.add(replacement.lower())
        if not replacements:
            missing = ", ".join(f"{labels[o]} {o!r}" for o in chosen)
            return self.skip(record, f"no other entity of the same type in the bank for {missing}")
        fields: dict[str, Any] = {}
        spans = list(record["spans"])
        for name in self.config.fields:
            targets = [self._drop_article(replace(m, label=labels[m.text]), replacements[m.text])
                       for m in mentions if m.field == name and m.text in replacements]
            if targets:
                fields[name], new_spans = _apply(record[name], name, targets, replacements)
                spans.extend(new_spans)
        return self.child(record, seed=self.row_seed(record["id"]), model=self.config.model,
                          model_version=self._model_version, spans=spans, **fields)

    def _drop_article(self, m: Mention, replacement: str) -> Mention:
        """"the United States" -> "Pakistan", not "the Pakistan": the article goes with the
        name when the corpus does not write the replacement with one."""
        if m.article_start is None or self.bank.takes_article(m.label, replacement):
            return m
        return replace(m, start=m.article_start, article_start=None)



def _apply(text: str, field: str, targets: list[Mention], replacements: dict[str, str]) -> tuple[str, list[dict]]:
    """Rewrite ``text`` with each target replaced; return it and the spans in the new text."""
    pieces, spans, cursor, shift = [], [], 0, 0
    all_caps = text.isupper()
    for m in sorted(targets, key=lambda m: m.start):
        replacement = _match_case(replacements[m.text], text, m.start, all_caps)
        end, replacement = _fix_possessive(text, m.end, replacement)
        pieces.append(text[cursor:m.start])
        pieces.append(replacement)
        start = m.start + shift
        spans.append({"field": field, "start": start, "end": start + len(replacement),
                      "orig_start": m.start, "orig_end": end, "original": text[m.start:end],
                      "replacement": replacement, "label": m.label})
        shift += len(replacement) - (end - m.start)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces), spans


def _fix_possessive(text: str, end: int, replacement: str) -> tuple[int, str]:
    """Possessives follow the replacement's spelling: "Germany's" -> "Philippines'" and
    "Philippines' economy" -> "Germany's economy". Returns the end of the replaced text
    (past the possessive when it changes) and what replaces it."""
    after = text[end:end + 3]
    apostrophe = after[:1]
    if apostrophe not in ("'", "’"):
        return end, replacement
    has_s = after[1:2] in ("s", "S") and not after[2:3].isalnum()
    ends_in_s = replacement[-1:] in ("s", "S")
    if has_s and ends_in_s:
        return end + 2, replacement + apostrophe
    if not has_s and not after[1:2].isalnum() and text[end - 1:end] in ("s", "S") and not ends_in_s:
        return end + 1, replacement + apostrophe + ("S" if replacement.isupper() else "s")
    return end, replacement


def _match_case(replacement: str, text: str, start: int, all_caps: bool) -> str:
    if all_caps:
        return replacement.upper()
    at_sentence_start = start == 0 or bool(_SENTENCE_END.search(text[:start]))
    if at_sentence_start and replacement[:1].islower():
        return replacement[0].upper() + replacement[1:]
    return replacement

