"""Polarity flip: make the headline say the opposite of what it says.

"Parliament approves budget" -> "Parliament rejects budget", "Crime fell" -> "Crime rose",
"Trump will not raise taxes" -> "Trump will raise taxes", "Boeing to cut jobs" -> "Boeing not to cut
jobs". The claim is the predicate heading the title's first clause (the reported clause of "X says
Y"), found in the dependency parse; it is flipped by an antonym from a curated lexicon
(``pipelines/claims/antonyms.tsv``) in the tense of the original, or else by adding or removing a
negation with the right auxiliaries (``pipelines/claims/polarity.py`` has the rules). Each change
is recorded as a span (``VERB``/``AUX``/``ADJ``/``ADV``, kind ``antonym``, ``negation_added`` or
``negation_removed``) and the provenance stats say what was flipped: ``{"flip": "antonym", "from":
"approves", "to": "rejects"}``.

Input: RECORD_SCHEMA batch. Output: one child per record (``id`` + ":polarity_flip",
``falsified=True``), or the record back with a ``reject_reason`` when its predicate cannot be
flipped cleanly (no verb, a phrasal verb, a form the lexicon does not know, a question...).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field, field_validator

from datafactory import spacy_models
from datafactory.errors import ConfigError
from datafactory.spans import Edit, rewrite, touches_span
from datafactory.stage import Stage, StageConfig
from pipelines.claims.polarity import (LEXICON_PATH, Change, Flip, Lexicon, claim_predicate, flip_like, flip_predicate,
                                       headline_case, load_lexicon, parse_text, shares_topic, surface_forms,
                                       unreadable_headline,
                                       with_vocabulary)

#: Where a body sentence ends: the lead of a news story is split on these to find the sentence
#: that states the title's claim.
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+['\"”’)]*|\n|$)")
#: Body sentences parsed per item and field, at most: the claim is restated early if at all.
_BODY_CANDIDATES = 3
#: Characters of the body read for the spelling of names when recasing a Title Case headline.
_NAME_EVIDENCE_CHARS = 4000


class PolarityFlipConfig(StageConfig):
    model: str = "en_core_web_sm"
    """spaCy pipeline with a tagger, a dependency parser and a lemmatizer: an installed package
    name or a path to a saved pipeline (its NER is not run)."""
    fields: list[Literal["title", "text", "caption"]] = Field(default_factory=lambda: ["title"], min_length=1)
    """Fields flipped. The claim is always the title's predicate, so ``title`` must be listed. With
    ``text`` (or ``caption``) too, the first sentence of that field whose predicate has the same
    lemma and polarity is flipped the same way (same antonym, or the same negation added or removed);
    when no sentence does, that field is kept as it was and the stats say so (``"body": "kept"``)."""
    modes: list[Literal["antonym", "negation"]] = Field(default_factory=lambda: ["antonym", "negation"],
                                                        min_length=1)
    """How a predicate may be flipped, tried in this order: ``antonym`` (a lexicon verb or predicate
    adjective for its opposite, in the same tense: "approves" -> "rejects", "up" -> "down") and
    ``negation`` (add "not" with the right auxiliary, "will raise" -> "will not raise", "signs" ->
    "does not sign", or take it away, "did not sign" -> "signed")."""
    lexicon: str | None = None
    """A lexicon file in the format of ``pipelines/claims/antonyms.tsv`` (see its header) to use
    instead of the shipped one."""
    nlp_batch_size: int = Field(256, ge=1)
    """Texts per ``nlp.pipe`` batch."""
    path_fields: ClassVar[tuple[str, ...]] = ("model", "lexicon")

    @field_validator("fields")
    @classmethod
    def _title_listed(cls, fields: list[str]) -> list[str]:
        if "title" not in fields:
            raise ValueError("the claim flipped is the title's: list `title` (other fields follow it)")
        return fields


class PolarityFlip(Stage):
    name = "polarity_flip"
    version = "1"
    Config = PolarityFlipConfig
    worker_resources = ("nlp", "lexicon")
    config: PolarityFlipConfig

    def __init__(self, config: PolarityFlipConfig, *, seed: int):
        super().__init__(config, seed=seed)
        self.nlp: Any = None
        self.lexicon: Lexicon | None = None
        self._model_version = ""
        self._body_fields = [name for name in config.fields if name != "title"]

    # -- lifecycle -----------------------------------------------------------------------

    def check(self, source: str, field: str) -> None:
        spacy_models.check_spacy_model(self.config.model, source=source, field=f"{field}.model")
        if self.config.lexicon is not None and not Path(self.config.lexicon).is_file():
            raise ConfigError(source, f"{field}.lexicon", f"{self.config.lexicon} is not a file",
                              "Give a lexicon in the format of pipelines/claims/antonyms.tsv")

    def setup(self) -> None:
        if self.nlp is None:
            self.nlp = spacy_models.load_spacy_parser(self.config.model)
            self._model_version = str(self.nlp.meta.get("version", ""))
        if self.lexicon is None:
            self.lexicon = with_vocabulary(load_lexicon(self._lexicon_path()), self.nlp)

    def _lexicon_path(self) -> Path:
        return Path(self.config.lexicon) if self.config.lexicon is not None else LEXICON_PATH

    def models(self) -> list[dict[str, Any]]:
        self.setup()
        info: dict[str, Any] = spacy_models.spacy_model_info(self.nlp, self.config.model)
        info["lexicon"] = hashlib.sha256(self._lexicon_path().read_bytes()).hexdigest()[:16]
        return [info]

    # -- the work --------------------------------------------------------------------------

    def __call__(self, batch: pa.Table) -> pa.Table:
        self.setup()
        records = batch.to_pylist()
        styles = [headline_case(r["title"] or "") for r in records]
        texts = (parse_text(r["title"] or "", style, (r["text"] or "")[:_NAME_EVIDENCE_CHARS])
                 for r, style in zip(records, styles))
        docs = self.nlp.pipe(texts, batch_size=self.config.nlp_batch_size)
        flips = [self._title_flip(record, style, doc) for record, style, doc in zip(records, styles, docs)]
        bodies = self._body_flips(records, flips) if self._body_fields else [{} for _ in records]
        return self.output(self._row(record, flip, body) for record, flip, body in zip(records, flips, bodies))

    def _title_flip(self, record: dict[str, Any], style: str, doc: Any) -> Flip | str:
        title = record["title"]
        if not title or not title.strip():
            return "no title"
        if title.rstrip().endswith("?"):
            return "a question: it asserts nothing to flip"
        unreadable = unreadable_headline(title)
        if unreadable:
            return unreadable
        predicate = claim_predicate(doc, self.lexicon)
        if isinstance(predicate, str):
            return predicate
        flip = flip_predicate(predicate, title, self.lexicon, self.config.modes, style)
        if isinstance(flip, Flip) and any(touches_span(record, "title", c.start, c.end) for c in flip.changes):
            return "the predicate was changed by an earlier stage"
        return flip

    def _body_flips(self, records: list[dict[str, Any]], flips: list[Flip | str]) -> list[dict[str, Flip | None]]:
        """For each item, the flip of each body field's sentence that states the title's claim
        (None where none does); offsets in the whole field. One ``nlp.pipe`` over the candidate
        sentences of the batch (those that write a form of the predicate): bodies are not parsed whole."""
        jobs: list[tuple[int, str, int, str]] = []
        for i, (record, flip) in enumerate(zip(records, flips)):
            if not isinstance(flip, Flip):
                continue
            words = surface_forms(flip.lemma, self.lexicon)
            pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(words))) + r")\b", re.IGNORECASE)
            for name in self._body_fields:
                text = record[name] or ""
                found = 0
                for sentence in _SENTENCE.finditer(text):
                    if pattern.search(sentence.group()) and shares_topic(record["title"], sentence.group(), flip.lemma):
                        jobs.append((i, name, sentence.start(), sentence.group()))
                        found += 1
                        if found == _BODY_CANDIDATES:
                            break
        out: list[dict[str, Flip | None]] = [dict.fromkeys(self._body_fields) if isinstance(f, Flip) else {}
                                             for f in flips]
        docs = self.nlp.pipe((sentence.replace("’", "'") for *_, sentence in jobs),
                             batch_size=self.config.nlp_batch_size)
        for (i, name, offset, sentence), doc in zip(jobs, docs):
            if out[i][name] is not None:
                continue
            same = flip_like(doc, sentence, flips[i], self.lexicon, self.config.modes)
            if same is None:
                continue
            moved = Flip(same.kind, same.lemma, same.target,
                         tuple(Change(c.start + offset, c.end + offset, c.replacement, c.label)
                               for c in same.changes))
            if not any(touches_span(records[i], name, c.start, c.end) for c in moved.changes):
                out[i][name] = moved
        return out

    def _row(self, record: dict[str, Any], flip: Flip | str, bodies: dict[str, Flip | None]) -> dict[str, Any]:
        if isinstance(flip, str):
            return self.skip(record, flip)
        edits = [Edit("title", c.start, c.end, c.replacement, c.label, flip.kind) for c in flip.changes]
        for name, same in bodies.items():
            if same is not None:
                edits += [Edit(name, c.start, c.end, c.replacement, c.label, same.kind) for c in same.changes]
        title = record["title"]
        stats: dict[str, Any] = {"flip": flip.kind,
                                 "from": " / ".join(title[c.start:c.end] for c in flip.changes),
                                 "to": " / ".join(c.replacement for c in flip.changes)}
        for name, same in bodies.items():
            stats["body" if name == "text" else name] = "flipped" if same is not None else "kept"
        return self.child(record, seed=self.row_seed(record["id"]), model=self.config.model,
                          model_version=self._model_version, stats=stats, **rewrite(record, edits, stage=self.name))

    @classmethod
    def describe(cls, record: dict[str, Any]) -> list[tuple[str, str]]:
        entry = next((p for p in reversed(record["provenance"] or []) if p["stage"] == cls.name), None)
        stats = json.loads(entry["stats"] or "{}") if entry else {}
        if not stats:
            return []
        lines = [("edit", f"{stats.get('flip', '?')} {stats.get('from', '?')} -> {stats.get('to', '?')}")]
        for name in ("body", "caption"):
            if name in stats:
                lines.append((name, "the sentence stating the claim flipped too" if stats[name] == "flipped"
                              else "kept as it was (no sentence states the claim the same way)"))
        return lines
