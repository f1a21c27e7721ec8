"""Entity swap: replace named entities with other entities of the same type from the corpus.

"Pakistan police clash with doctors" -> "India police clash with doctors". Entities come
from spaCy NER; replacements from an :class:`EntityBank` built from the real corpus. Every
replaced span is recorded (field, offsets before and after, original, replacement, label, the
fine kind they share and, for names that are no place, how similar their contexts are).

Input: RECORD_SCHEMA batch. Output: one child per record (``id`` + ":entity_swap",
``falsified=True``), or the record back with a ``reject_reason`` when nothing can be swapped.
"""

from __future__ import annotations

import functools
import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Literal

import pyarrow as pa
from pydantic import Field

from datafactory import spacy_models
from datafactory.config import InputConfig
from datafactory.stage import Stage, StageConfig
from datafactory.errors import ConfigError
from datafactory.spans import Edit, rewrite, touches_span
from pipelines.entities.contexts import context_words
from pipelines.entities.roles import role_groups, roles_near
from pipelines.entities.entity_bank import _ARTICLE_BEFORE, EntityBank, clean_span, profile_key, spaced_words
from pipelines.entities.gazetteer import (Gazetteer, Place, load_gazetteer, normalize, plural_demonym,
                                          takes_article_by_form)
from pipelines.entities.hygiene import (NAME_PARTICLES, CommonWords, TitleEdges, edge_segments, in_boilerplate,
                                        junk_reason, title_case)
from pipelines.entities.referents import (CONTEXT_TYPED, ORG_KINDS, PERSON_TITLES, SURE_KINDS, Referent, anchor,
                                          by_topic, context_topic, kind_by_words, referent, same_referent)

DEFAULT_TYPES = ("PERSON", "GPE", "ORG", "NORP", "LOC", "EVENT", "FAC")
_SENTENCE_END = re.compile(r"[.!?]['\"”’)]*\s+$")
#: Words before a name that make it a place, whatever NER filed it as.
_PLACE_BEFORE = re.compile(r"\b(?:in|at|near|outside|across|around|from|island of|region of|province of|city of|"
                           r"town of|state of)\s+(?:the\s+)?$", re.IGNORECASE)
#: Institutions a capital is the seat of: a story about them is a story about the capital.
_SEAT_WORDS = re.compile(r"\b(?:parliament|government|cabinet|ministry|ministries|embassy|embassies|presidential "
                         r"palace|supreme court|legislature|national assembly)\b", re.IGNORECASE)
#: Words after a place name that make it a region of its country, not a city ("Kaduna state").
_REGION_AFTER = re.compile(r"\s+(?:state|province|region|district|county|governorate|prefecture)\b", re.IGNORECASE)
#: NER labels of places and peoples: typed by the gazetteer, not by the words around them.
_PLACE_LABELS = frozenset({"GPE", "LOC", "NORP"})
#: Cities this populous are the place a reader takes the name for; smaller ones may be homonyms
#: of a region ("Victoria", "Ontario").
_SURE_CITY_POPULATION = 1_000_000


class EntitySwapConfig(StageConfig):
    model: str = "en_core_web_sm"
    """spaCy pipeline with NER: an installed package name or a path to a saved pipeline."""
    fields: list[Literal["title", "text", "caption"]] = Field(default_factory=lambda: ["title"], min_length=1)
    """Fields whose entities may be swapped. An entity found in several of them is replaced
    the same way in each."""
    types: list[str] = Field(default_factory=lambda: list(DEFAULT_TYPES), min_length=1)
    """NER labels eligible for swapping."""
    max_swaps: int = Field(1, ge=1)
    """Distinct entities (referents) replaced per item (fewer when the item has fewer)."""
    sampling: Literal["typed", "frequency", "uniform"] = "typed"
    """How replacements are drawn from the bank. ``typed``: one of the same fine kind (a
    country for a country, a city for a city, a party for a party, a company for a company),
    never another name of the same referent ("U.S." for "United States", "Lopez" for "Maria
    Lopez"), preferably from the same region, in proportion to corpus frequency; every mention
    of the referent in the item changes with it, a country's demonym included. ``frequency``
    and ``uniform`` (version 1's draws, kept for comparison): any entity of the same NER label,
    in proportion to its frequency or uniformly."""
    max_field_share: float = Field(0.5, gt=0, le=1)
    """A mention covering more than this share of its field's characters is never replaced:
    NER sometimes tags a whole short title as one entity."""
    context_band: tuple[float, float] | None = (0.05, 0.9)
    """With ``typed``, for a country or a name that is no place (a company, a club, a person,
    an agency): the replacement is drawn among the few bank entities whose context words (the
    words the corpus writes around them) are most similar to the words around the original,
    with a cosine similarity in this band (lowest, highest): below it a candidate comes from
    another field of news (a carmaker for an oil major, a hockey club in the NBA), above it
    from the original's own stories (another name of it). The similarity is recorded in each
    span. A country no other shares context with is replaced by frequency; a firm, club or
    person is then not swapped. None: any entity of the same kind, by frequency."""
    catch_all_kinds: bool = False
    """With ``typed``: also swap entities whose kind stays unknown (an ORG neither the words of
    its name nor of its texts type, an acronym, a region, a facility): their replacements are
    often of another sort ("the IMF delays moon mission"), so by default such an item is
    skipped unless it names something of a known kind. Faiths, events, firms and clubs too:
    their kind is known, but not what a reader knows of them (a firm's industry, a club's sport)."""
    hygiene: bool = True
    """Refuse junk entities in the bank and as originals: web addresses, handles, digits, lists,
    over-long or lower-case strings, site boilerplate repeated at the edges of titles. False
    only to reproduce version 1's swaps."""
    block_list: str | None = None
    """A text file of entities (one per line, # for comments) never banked and never replaced."""
    allow_list: str | None = None
    """A text file of entities exempt from the junk rules (still subject to ``min_count``)."""
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
    path_fields: ClassVar[tuple[str, ...]] = ("model", "block_list", "allow_list")


@dataclass(frozen=True)
class Mention:
    field: str
    start: int
    end: int
    text: str
    label: str
    article_start: int | None = None
    """Where a "the" before the name begins, if there is one."""


@dataclass
class _Referent:
    """One referent of an item: its mentions (all swapped together) and what it is."""

    label: str
    head: Mention
    found: Referent
    mentions: list[Mention]


class EntitySwap(Stage):
    name = "entity_swap"
    version = "3"
    Config = EntitySwapConfig
    worker_resources = ("nlp", "gazetteer")
    needs_corpus = True
    config: EntitySwapConfig

    def __init__(self, config: EntitySwapConfig, *, seed: int):
        super().__init__(config, seed=seed)
        self.nlp: Any = None
        self.gazetteer: Gazetteer | None = None
        self.bank = EntityBank()
        self.boilerplate: frozenset[str] = frozenset()
        self.common_words: Counter[str] = Counter()
        self._types = frozenset(config.types)
        self._blocked = _read_list(config.block_list)
        self._allowed = _read_list(config.allow_list)

    # -- lifecycle -----------------------------------------------------------------------

    def check(self, source: str, field: str) -> None:
        spacy_models.check_spacy_model(self.config.model, source=source, field=f"{field}.model")
        for option in ("block_list", "allow_list"):
            path = getattr(self.config, option)
            if path is not None and not Path(path).is_file():
                raise ConfigError(source, f"{field}.{option}", f"{path} is not a file",
                                  "Give a text file with one entity per line")

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        for cache in ("_junk_cache", "_city_patterns"):  # rebuilt where used
            state.pop(cache, None)
        return state

    def setup(self) -> None:
        if self.nlp is None:
            self.nlp = spacy_models.load_spacy_ner(self.config.model)
            # nlp.meta rebuilds a dict on each access: read the version once.
            self._model_version = str(self.nlp.meta.get("version", ""))
        if self.gazetteer is None:
            self.gazetteer = load_gazetteer()

    def corpus_input(self) -> InputConfig | None:
        return self.config.bank_input

    def fit(self, batches: Iterable[pa.Table]) -> None:
        self.setup()
        bank, edges, words = EntityBank(), TitleEdges(), CommonWords()
        edge_hits: Counter[tuple[str, str, str]] = Counter()
        seen = 0
        limit = self.config.bank_max_rows
        for batch in batches:
            if limit is not None:
                if seen >= limit:
                    break
                batch = batch.slice(0, limit - seen)
            seen += batch.num_rows
            for title in batch.column("title").to_pylist():
                if title:
                    edges.add(title)
            jobs = [(name, t) for name in self.config.bank_fields for t in batch.column(name).to_pylist() if t]
            for (name, text), doc in zip(jobs, self.nlp.pipe((t for _, t in jobs),
                                                             batch_size=self.config.nlp_batch_size)):
                words.add(text)
                topic: str | None | bool = False  # computed once per text, when it names an org or a person
                countries: set[str] = set()
                others: list[tuple[str, str]] = []
                for m in self._mentions(doc, name):
                    bank.add(m.label, m.text, with_article=m.article_start is not None)
                    if m.label == "PERSON":
                        bank.add_roles(m.label, m.text, roles_near(text, m.start, m.end))
                    if m.label not in _PLACE_LABELS:
                        bank.add_window(m.label, m.text, context_words(text, m.start, m.end, whole=name == "title",
                                                                       names=m.label != "PERSON"))
                    if m.label in ("ORG", "PERSON"):
                        topic = context_topic(text) if topic is False else topic
                        bank.add_context(m.label, m.text, topic or None)
                    found = referent(m.text, m.label, self.gazetteer)
                    if found.kind in ("country", "city"):  # profiled by place, whatever label NER gave it
                        bank.add_window(*profile_key(m.label, m.text, found),
                                        context_words(text, m.start, m.end, whole=name == "title"))
                    if found.kind == "country":
                        countries.add(found.key)
                    else:
                        others.append((m.label, m.text))
                    if name == "title":
                        for s, e in edge_segments(text):
                            if s <= m.start and m.end <= e:
                                edge_hits[text[s:e].strip(), m.label, m.text] += 1
                bank.add_text(others, countries)
        if self.config.hygiene:
            self.boilerplate = edges.boilerplate()
            for (segment, label, entity), n in edge_hits.items():
                if segment in self.boilerplate:
                    bank.subtract(label, entity, n)
            self.common_words = words.common()
            self.__dict__.pop("_junk_cache", None)
        bank.prune(self.config.min_count)
        bank.drop_junk(self._junk_reason)
        bank.type_entities(self.gazetteer)
        self.bank = bank

    def models(self) -> list[dict[str, Any]]:
        self.setup()
        info = spacy_models.spacy_model_info(self.nlp, self.config.model)
        info["entity_bank"] = {"fingerprint": self.bank.fingerprint(), "entities": self.bank.stats(),
                               "kinds": self.bank.kind_counts(), "refused": dict(sorted(self.bank.dropped.items())),
                               "boilerplate_segments": len(self.boilerplate)}
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

    def _junk_reason(self, entity: str, label: str) -> str | None:
        if entity.lower() in self._blocked:
            return "on the block list"
        if not self.config.hygiene or entity.lower() in self._allowed:
            return None
        # The same names come back item after item; the rules are fixed once the bank is fitted
        # (``fit`` empties the cache when it learns the corpus's common words).
        cache = self.__dict__.setdefault("_junk_cache", {})
        key = (entity, label)
        if key not in cache:
            if len(cache) > 1 << 16:
                cache.clear()
            cache[key] = junk_reason(entity, label, common_words=self.common_words)
        return cache[key]

    def _refusal(self, record: dict[str, Any], m: Mention) -> str | None:
        """Why mention ``m`` of ``record`` must not be replaced, or None."""
        text = record[m.field]
        if touches_span(record, m.field, m.start, m.end):
            return "changed by an earlier stage"
        if len(m.text) > self.config.max_field_share * len(text.strip()):
            return "covers most of its field"
        reason = self._junk_reason(m.text, m.label)
        if reason is None and self.config.hygiene and m.field == "title" \
                and in_boilerplate(text, m.start, m.end, self.boilerplate):
            reason = "site boilerplate"
        if reason is None and self.config.sampling == "typed" and _inside_longer_name(text, m):
            reason = "part of a longer name"
        if reason is None and self.config.sampling == "typed" and m.label == "ORG" and (
                self.bank.taken_for_a_body(m.text)):
            reason = "a person NER took for an organisation, or a body named after them"  # "Lopez Cabinet"
        if reason is None and self.config.sampling == "typed" and m.label == "PERSON" and title_case(text) \
                and any(self.common_words.get(w.lower(), 0) >= 2 for w in (m.text.split()[0], m.text.split()[-1])):
            reason = "a title-case phrase NER took for a name"  # "Slam Wells" in "Senators Slam Wells Fargo"
        if reason is None and self.config.sampling == "typed" and m.label in ("ORG", "PERSON") and title_case(text) \
                and self._headline_phrase(m):
            reason = "a title-case phrase NER took for a name"  # "New Nuclear Systems", seen nowhere else
        if reason is None and self.config.sampling == "typed" and m.label in ("GPE", "NORP", "LOC") \
                and _names_a_team(text, m) and _item_topic(record) == "sport":
            reason = "a team named after its place"
        if reason is None and self.config.sampling == "typed" and m.label in ("GPE", "LOC") \
                and _REGION_AFTER.match(text[m.end:]):
            reason = "a region named like a city"  # "Kaduna state" is not the city of Kaduna
        if reason is None and self.config.sampling == "typed" and m.label in _PLACE_LABELS \
                and _unclear_abbreviation(text, m):
            reason = "an abbreviation a title-case headline leaves unclear (name or adjective)"
        if reason is None and self.config.sampling == "typed" and normalize(m.text) in self.gazetteer.ambiguous:
            reason = "names two places"  # "Georgia", "Washington": a reader cannot tell which is meant
        return reason

    def _headline_phrase(self, m: Mention) -> bool:
        """A name of several words the corpus never wrote again, all of its words but one common
        ones: in a title-case headline, more likely a phrase than a name."""
        words = [w for w in re.findall(r"[A-Za-z][\w'’-]*", m.text) if w.lower() not in NAME_PARTICLES]
        uncommon = sum(self.common_words.get(w.lower(), 0) < 2 for w in words)
        return len(words) >= 2 and uncommon <= (len(words) >= 3) and self.bank.count(m.label, m.text) < 2

    def _qualifies_a_name(self, record: dict[str, Any], m: Mention, mentions: list[Mention]) -> bool:
        """Whether ``m`` qualifies a name one or two lower-case words on, a firm, party or person
        ("Peruvian meatpacker Acme", "Peruvian ruling party APP"): whose country is a fact."""
        text = record[m.field]
        gap = re.match(r"\s+(?:[a-z][\w-]*\s+){1,2}(?=[A-Z])", text[m.end:])
        if gap is None:
            return False
        start = m.end + gap.end()
        if any(o.field == m.field and o.start == start and o.label in ("ORG", "PERSON") for o in mentions):
            return True
        word = re.match(r"[A-Z][\w'’-]*", text[start:]).group(0).removesuffix("'s").removesuffix("’s")
        if len(word) > 1 and word.isupper():
            return self.gazetteer.place(word) is None  # an acronym: a firm's or a party's name
        return self._only_a_name(word)

    def _before_a_bare_name(self, record: dict[str, Any], m: Mention, *, titled: bool = False) -> bool:
        """Whether ``m`` is followed, past titles only (at least one if ``titled``), by a word the
        corpus writes only as a name, which NER left untagged ("Democrat Lopez opposes ...",
        "Peru Official Lopez resigns")."""
        rest, titles = record[m.field][m.end:], 0
        while (after := re.match(r"\s+([A-Z][a-z][\w'’.-]*)", rest)) is not None:
            word = after.group(1).removesuffix("'s").removesuffix("’s").strip(".").lower()
            if not _title_word(word):
                return (titles > 0 or not titled) and self._only_a_name(word)
            titles, rest = titles + 1, rest[after.end():]
        return False

    def _only_a_name(self, word: str) -> bool:
        """A word the corpus never writes in lower case and that names no place or people."""
        return self.common_words.get(word.lower(), 0) == 0 and self.gazetteer.place(word) is None \
            and self.gazetteer.nationality(word) is None

    def _swap(self, record: dict[str, Any], mentions: list[Mention]) -> dict[str, Any]:
        if not mentions:
            return self.skip(record, f"no entity of types {'/'.join(self.config.types)} "
                                      f"in {'/'.join(self.config.fields)}")
        refused = {m: self._refusal(record, m) for m in mentions}
        if self.config.sampling == "typed":
            for m in mentions:  # "Democrat Maria Lopez": her party is a fact about her
                if refused[m] is None and m.label == "NORP" and (
                        _qualifies_a_person(record[m.field], m, mentions) or self._before_a_bare_name(record, m)) \
                        and referent(m.text, m.label, self.gazetteer).kind.startswith("political"):
                    refused[m] = "the party of a person the item names"
        refused_surnames = {m.text.split()[-1] for m in mentions if refused[m] and m.label == "PERSON"}
        for m in mentions:  # "Lopez" alone must not change when "Maria Lopez" cannot
            if refused[m] is None and m.text in refused_surnames:
                refused[m] = "surname of a name that cannot be swapped"
        usable = [m for m in mentions if refused[m] is None]
        if not usable:
            reasons = sorted({f"{m.label} {m.text!r}: {refused[m]}" for m in mentions})
            return self.skip(record, "no entity fit to swap (" + "; ".join(reasons[:3]) + ")")
        typed = self.config.sampling == "typed"
        if typed:
            usable = [_with_particles(record[m.field], m, usable) for m in usable]
            usable = usable + self._surname_mentions(record, usable, mentions)
            usable = usable + self._country_mentions(record, usable, mentions)
        rng = random.Random(self.row_seed(record["id"]))
        referents = self._referents(usable, typed, record)
        present = {m.text.lower() for m in mentions}
        # Every referent the item names, swappable or not: a replacement must not be one of them
        # ("Ukrainian President ... meets Italian leaders" never becomes "... Ukrainian leaders").
        present_keys = {r.found.key for r in referents.values()} | {
            referent(m.text, m.label, self.gazetteer).key for m in mentions}
        candidates = self._eligible(record, referents)
        if not candidates:
            return self.skip(record, self._none_eligible)
        item_countries = self._countries_named(mentions)
        city_countries = {f"country:{found.place.region}" for m in mentions
                          if (found := referent(m.text, m.label, self.gazetteer)).place is not None
                          and found.kind != "country"}
        written: str | None = None  # the item's words, read when a first replacement is drawn
        if typed:
            # A place one of whose mentions must stay stays whole ("Brazil beat ..." names a team,
            # so "Brazilian forward" keeps its country), and so does the country of a place that
            # must stay ("Brazil's Rio Grande do Sul"); a country tied to other names of the item
            # stays (see _tied); a small city of no country the item names may be a homonym.
            kept = set()
            for m in mentions:
                place = referent(m.text, m.label, self.gazetteer).place if refused[m] else None
                if place is not None:
                    kept.add(place.key)
                    if place.kind != "country":
                        kept.add(f"country:{place.region}")
            candidates = [key for key in candidates if referents[key].found.key not in kept
                          and not self._tied(referents[key], mentions, record)
                          and not self._doubtful_city(referents[key], item_countries)]
            if not candidates:
                return self.skip(record, "every entity is tied to another of the item (a country to its "
                                         "places, firms, people or currency)")
        if typed:  # a country, a city, a person or a typed body before NER's catch-all kinds
            sure = [key for key in candidates if self._sure(referents[key])]
            rest = [key for key in candidates if not self._sure(referents[key])]
            if not sure and not self.config.catch_all_kinds:
                unsure = ", ".join(f"{referents[k].found.kind} {referents[k].head.text!r}" for k in rest[:3])
                return self.skip(record, f"only entities of an uncertain kind ({unsure}); "
                                         "catch_all_kinds: true swaps them too")
            candidates = sure if len(sure) >= self.config.max_swaps or not self.config.catch_all_kinds \
                else sure + rest
        # Every candidate in a random order, so that one with no fit replacement gives way to
        # the next; version 1 drew max_swaps of them and gave up on those.
        chosen = rng.sample(candidates, k=len(candidates) if typed else min(self.config.max_swaps, len(candidates)))
        done = 0
        targets: list[tuple[Mention, str, str, float | None]] = []
        replaced: set[str] = set()  # referents rewritten already, as chosen or as a country's city
        for key in chosen:
            ref = referents[key]
            if ref.found.key in replaced:
                continue
            if done == self.config.max_swaps:
                break
            if typed:
                # Places keep their geography: a city of a country the item names is replaced by
                # a city of that country, and a country's cities in the item follow it.
                region = self._named_country_of(ref, item_countries)
                peer = self._country_peer(ref, item_countries, record)
                if self._stands_for_government(ref, record):
                    if region is not None:
                        continue  # "Cuban diplomats ... tensions with Havana": no other city will do
                    # Another capital, of none of the countries the item names ("reassure Beijing
                    # after a call with Taiwan's leader" never becomes "reassure Taipei").
                    peer = functools.partial(self._is_foreign_capital, item_countries)
                fits = None
                if ref.label == "PERSON" and ref.found.place is None:
                    roles = self._roles(ref, record)
                    if not roles:
                        continue  # nothing says what this person is, so nothing says who could stand there
                    by_surname = any(referent(m.text, ref.label, self.gazetteer).form == "surname"
                                     for m in ref.mentions)
                    fits = functools.partial(self._fits_person, roles, by_surname)
                # Nor the country of a city the item names ("reassure Beijing after a call with
                # Taiwan's leader" never becomes "... with China's leader").
                excluded = present_keys | city_countries if ref.found.kind == "country" else present_keys
                if written is None:
                    written = spaced_words(" ".join(record.get(name) or "" for name in ("title", "text", "caption")))
                drawn = self.bank.sample_typed(
                    ref.label, ref.head.text, ref.found, rng, exclude=present, exclude_keys=excluded,
                    gazetteer=self.gazetteer, region=region, homes=self._homes(ref, item_countries),
                    peer=peer, fits=fits, context=self._context(ref, record),
                    band=self.config.context_band or (0.0, 1.0), written=written)
                if drawn is None and region is not None and peer is None:
                    drawn = self._gazetteer_city(region, rng, present, present_keys, ref.head.text)
                if drawn is None:
                    continue
                replacement, new, similarity = drawn
                followers = self._followers(ref, new, referents, record, rng, present, present_keys, mentions,
                                            replaced)
                if followers is None:
                    continue
                present_keys.add(new.key)
                replaced.add(ref.found.key)
                for city_mentions, city in followers:
                    present.add(city.lower())
                    targets.extend((self._drop_article(replace(m, label="GPE"), city), city, "city", None)
                                   for m in city_mentions)
            else:
                replacement = self.bank.sample(ref.label, rng, exclude=present, weighting=self.config.sampling)
                if replacement is None:
                    continue
                new, similarity = None, None
            present.add(replacement.lower())
            replaced.add(ref.found.key)
            for m in ref.mentions:
                form = referent(m.text, ref.label, self.gazetteer).form if typed else "name"
                if typed and ref.found.kind == "country" and form == "name" and _attributive(record[m.field], m) \
                        and (m.text.replace(".", "").isupper() or ref.found.place.demonym == ref.found.place.name):
                    form = "demonym"  # "U.S. shoppers" -> "Mexican shoppers", not "Mexico shoppers"
                written = _form(replacement, new, form) if typed else replacement
                target = self._drop_article(replace(m, label=ref.label), written)
                if typed and ref.found.kind == "country" and form == "name" and target.article_start is None \
                        and self._takes_article(ref.label, written) \
                        and not _ARTICLE_BEFORE.search(record[m.field][:m.start]):
                    written = "the " + written  # "in Mexico's" -> "in the Philippines'"
                targets.append((target, written, ref.found.kind, similarity))
            done += 1
        if not targets:
            missing = ", ".join(f"{referents[k].found.kind} {referents[k].head.text!r}" for k in chosen)
            return self.skip(record, f"no other entity of the same kind in the bank for {missing}")
        fields = rewrite(record, (edit for name in self.config.fields
                                  for edit in _edits(record[name], [t for t in targets if t[0].field == name])),
                         stage=self.name)
        return self.child(record, seed=self.row_seed(record["id"]), model=self.config.model,
                          model_version=self._model_version, **fields)

    #: Kinds swapped without ``catch_all_kinds`` besides the sure ones (see ``_sure``).
    extra_sure_kinds: ClassVar[frozenset[str]] = frozenset()

    def _sure(self, ref: _Referent) -> bool:
        return _sure(ref) or ref.found.kind in self.extra_sure_kinds

    #: Why an item is skipped when ``_eligible`` leaves no referent.
    _none_eligible = "no entity fit to swap"

    def _eligible(self, record: dict[str, Any], referents: dict[str, _Referent]) -> list[str]:
        """The referents of the item this stage may replace (every one; a stage that swaps only
        some, such as the speakers of reported speech, narrows them here)."""
        return list(referents)

    def _context(self, ref: _Referent, record: dict[str, Any]) -> dict[str, float] | None:
        """The words around a country, a city or a name that is no place, joined to its profile
        in the bank, for a replacement from the same field of news; None when not scored."""
        kind = ref.found.kind
        if self.config.context_band is None or kind not in ("country", "city") and (
                ref.found.place is not None or ref.label in _PLACE_LABELS):
            return None
        words = [w for m in ref.mentions
                 for w in context_words(record[m.field], m.start, m.end, whole=m.field == "title",
                                        names=ref.label != "PERSON")]
        return self.bank.contexts.query(words, profile_key(ref.label, ref.head.text, ref.found))

    def _tied(self, ref: _Referent, mentions: list[Mention], record: dict[str, Any]) -> bool:
        """Whether a place must stay because the item names things of it that would then be
        out of place: for a country, a region or state of it, a place nobody can locate, a
        regional people ("Flemish"), or a firm, person or place the corpus ties to it ("Toyota
        ... Japanese exporters", "Rhodes ... Greece"); for a place, a word made of its name
        ("Californian voters ... California"). A country's cities are rewritten with it."""
        place = ref.found.place
        if place is not None and ref.found.kind != "country":
            made_of = _pattern(r"(?<![\w-]){}[a-z]+", ref.head.text)
            return any(made_of.search(record[name] or "") for name in self.config.fields)
        if ref.found.kind != "country":
            return False
        code = ref.found.key.split(":", 1)[1]
        if any(self._before_a_bare_name(record, m, titled=True) or self._qualifies_a_name(record, m, mentions)
               for m in ref.mentions):
            return True  # "Peru Official Lopez", "Peruvian miner Acme": whose country is a fact about them
        for m in mentions:
            if m in ref.mentions:
                continue
            found = referent(m.text, m.label, self.gazetteer)
            if found.kind == "country":
                continue
            if (found.place is None or found.place.region != code) and any(
                    _owns(record[m.field], own, m) for own in ref.mentions if own.field == m.field):
                return True  # "Japan's Toyota", "Peru's Toledo": it belongs to this country (its cities follow it)
            if m.label == "PERSON" and _qualifies_a_person(record[m.field], m, ref.mentions, before=False):
                return True  # "Afghan Official Maria Lopez": her country is a fact about her
            region = bool(_REGION_AFTER.match(record[m.field][m.end:]))  # "Kaduna state": a region
            if found.place is not None:
                if found.place.region == code and (found.place.kind != "city" or region):
                    return True  # "Texas" with "U.S.", "Kaduna state" with "Nigeria"
                continue
            if m.label in ("GPE", "LOC", "FAC") or found.kind.startswith("group_") or region:
                return True  # "Atlas Mountains", "Darfur", "Walloon", "Kaduna state": perhaps of this country
            if found.kind in ("org", "acronym") and _PLACE_BEFORE.search(record[m.field][:m.start]):
                return True  # "the island of Rhodes" filed as an organisation
            if self.bank.home_of(m.label, m.text) == ref.found.key or anchor(m.text, self.gazetteer) == ref.found.key:
                return True
        return False

    def _roles(self, ref: _Referent, record: dict[str, Any]) -> frozenset[str]:
        """What a person is, by the words next to their name in the item and in the corpus."""
        found = self.bank.roles_of(ref.label, ref.head.text)
        for m in ref.mentions:
            found |= roles_near(record[m.field], m.start, m.end)
        return found

    def _fits_person(self, roles: frozenset[str], by_surname: bool, candidate: str) -> bool:
        """A person of one of ``roles``; where the item names the original by surname alone, one
        the corpus too names by surname alone (a reader knows "Lopez" only if the news says it)."""
        if by_surname and self.bank.count("PERSON", candidate.split()[-1]) < 2:
            return False
        return bool(self.bank.roles_of("PERSON", candidate) & roles)

    def _stands_for_government(self, ref: _Referent, record: dict[str, Any]) -> bool:
        """A capital named as its government ("reassure Beijing", "tensions with Havana") rather
        than as a place ("in Beijing"), or as the seat of the institutions the item names
        ("protesters storm parliament in Nairobi"): only another capital can stand there."""
        if ref.found.kind != "city" or ref.found.place is None or not self.gazetteer.is_capital(ref.found.place):
            return False
        if any(_SEAT_WORDS.search(record[m.field]) for m in ref.mentions):
            return True
        return not all(_PLACE_BEFORE.search(record[m.field][:m.start]) for m in ref.mentions)

    def _is_foreign_capital(self, item_countries: frozenset[str], place: Place) -> bool:
        return self.gazetteer.is_capital(place) and f"country:{place.region}" not in item_countries

    def _doubtful_city(self, ref: _Referent, item_countries: frozenset[str]) -> bool:
        """A smaller city of none of the countries the item names: more likely a region or
        province of one of them sharing its name ("Victoria", "Ontario") than that city."""
        place = ref.found.place
        return ref.found.kind == "city" and place is not None and bool(item_countries) \
            and f"country:{place.region}" not in item_countries and place.population < _SURE_CITY_POPULATION

    def _country_peer(self, ref: _Referent, item_countries: frozenset[str], record: dict[str, Any]
                      ) -> Callable[[Place], bool] | None:
        """What a country replacing ``ref`` must share with it for the rest of the item to hold:
        the neighbours it has among the other countries named ("Polish farmers block crossings
        with Ukraine": another neighbour of Poland), its currency when the item names it ("weak
        yen", "devalues pound")."""
        place = ref.found.place
        if ref.found.kind != "country" or place is None:
            return None
        bordered = frozenset(code for key in item_countries if key != ref.found.key
                             and (code := key.split(":", 1)[1]) in place.neighbours)
        text = " ".join(record[name] or "" for name in self.config.fields).lower()
        currency = place.currency if place.currency and _pattern(r"\b{}s?\b", place.currency).search(text) \
            else None
        if not bordered and currency is None:
            return None
        return lambda other: bordered <= other.neighbours and (currency is None or other.currency == currency)

    def _countries_named(self, mentions: list[Mention]) -> frozenset[str]:
        """Keys of the countries an item names, itself or through a body's or a party's name
        ("Vietnamese Communist Party"; a US state names the United States)."""
        keys = set()
        for m in mentions:
            found = referent(m.text, m.label, self.gazetteer)
            if found.kind == "country":
                keys.add(found.key)
            elif found.place is not None and found.place.kind == "us_state":
                keys.add("country:US")
            elif found.place is None and (tied := anchor(m.text, self.gazetteer)) is not None:
                keys.add(tied)
        return frozenset(keys)

    def _homes(self, ref: _Referent, item_countries: frozenset[str]) -> frozenset[str | None] | None:
        """Which countries a replacement firm or person may belong to: the original's own when
        the corpus ties it to one (a Japanese carmaker for a Japanese carmaker), else one of the
        countries the item names, or none known."""
        if ref.found.place is not None or ref.found.kind == "country":
            return None
        home = self.bank.home_of(ref.label, ref.head.text)
        if home is not None:
            return frozenset({home})
        return frozenset({None, *item_countries}) if item_countries else None

    def _named_country_of(self, ref: _Referent, item_countries: frozenset[str]) -> str | None:
        """For a city whose country the item also names, that country's code."""
        place = ref.found.place
        if ref.found.kind == "city" and place is not None and f"country:{place.region}" in item_countries:
            return place.region
        return None

    def _followers(self, ref: _Referent, new: Referent, referents: dict[str, _Referent], record: dict[str, Any],
                   rng: random.Random, present: set[str], present_keys: set[str],
                   taken: list[Mention], replaced: set[str]) -> list[tuple[list[Mention], str]] | None:
        """When a country is replaced, its cities the item names (found by NER or by name: NER
        often files a capital as an organisation or misses it), each with a city of the new
        country to write instead, the capital for the capital; None when the new country has no
        city to offer."""
        if ref.found.kind != "country" or new.place is None:
            return []
        old_code, new_code = ref.found.key.split(":", 1)[1], new.key.split(":", 1)[1]
        cities: dict[str, tuple[Place, list[Mention]]] = {}
        for other in referents.values():
            place = other.found.place
            if other.found.kind == "city" and place is not None and place.region == old_code:
                cities[place.key] = (place, list(other.mentions))
        capital = self.gazetteer.capital_of(old_code)
        pattern, by_name = self._city_pattern(old_code)
        for name in self.config.fields:
            for hit in pattern.finditer(record[name] or "") if pattern is not None else ():
                place = by_name[hit.group()]
                mention = Mention(name, hit.start(), hit.end(), place.name, "GPE")
                overlapping = [m for m in taken if m.field == name and m.start < hit.end() and hit.start() < m.end]
                if any((m.start, m.end) != (hit.start(), hit.end()) for m in overlapping):
                    continue  # inside a longer name ("Paris Saint-Germain")
                entry = cities.setdefault(place.key, (place, []))
                if (name, hit.start(), hit.end()) not in [(m.field, m.start, m.end) for m in entry[1]]:
                    entry[1].append(mention)
        # A mention rewritten as a city here is done, whatever referent NER made of it elsewhere.
        owner = {(m.field, m.start, m.end): other.found.key for other in referents.values() for m in other.mentions}
        new_capital = self.gazetteer.capital_of(new_code)
        followers = []
        for place, mentions in cities.values():
            if place.key in replaced:
                continue
            drawn = None
            if capital is not None and capital.key == place.key and new_capital is not None:
                if same_referent(place.name, new_capital.name, "GPE", self.gazetteer):
                    return None  # "Jerusalem" -> "East Jerusalem" would say nothing new of the city
                drawn = (new_capital.name, Referent(new_capital.key, "city", "name", new_capital))
            if drawn is None:
                found = Referent(place.key, "city", "name", place)
                drawn = self.bank.sample_typed("GPE", place.name, found, rng, exclude=present,
                                               exclude_keys=present_keys, gazetteer=self.gazetteer, region=new_code)
            if drawn is None:
                drawn = self._gazetteer_city(new_code, rng, present, present_keys, place.name)
                if drawn is None:
                    return None
            followers.append((mentions, drawn[0]))
            present_keys.add(drawn[1].key)
            replaced.add(place.key)
        for mentions, _ in followers:
            replaced.update(owner[(m.field, m.start, m.end)] for m in mentions if (m.field, m.start, m.end) in owner)
        return followers

    def _gazetteer_city(self, code: str, rng: random.Random, present: set[str], present_keys: set[str],
                        original: str) -> tuple[str, Referent, None] | None:
        """One of a country's larger cities, for a city the bank has no peer for; never one
        named after the original ("South Dublin" for "Dublin")."""
        offered = [c for c in self.gazetteer.cities_of(code, most=12)
                   if c.key not in present_keys and c.name.lower() not in present
                   and not same_referent(original, c.name, "GPE", self.gazetteer)]
        if not offered:
            return None
        city = offered[rng.randrange(len(offered))]
        return city.name, Referent(city.key, "city", "name", city), None

    def _city_pattern(self, code: str) -> tuple[Any, dict[str, Place]]:
        """One regular expression finding a country's capital and larger cities by name (cached)."""
        cache = self.__dict__.setdefault("_city_patterns", {})
        if code not in cache:
            capital = self.gazetteer.capital_of(code)
            places = ([capital] if capital is not None else []) + self.gazetteer.cities_of(code)
            by_name = {p.name: p for p in reversed(places)}  # the capital wins a shared name
            names = sorted(by_name, key=len, reverse=True)
            pattern = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, names)) + r")(?![\w-])") if names else None
            cache[code] = (pattern, by_name)
        return cache[code]

    def _takes_article(self, label: str, name: str) -> bool:
        return self.bank.takes_article(label, name) or takes_article_by_form(name)

    def _item_referent(self, m: Mention, label: str, record: dict[str, Any]) -> Referent:
        """The referent of a mention the bank does not know: typed by its name, and for an
        organisation of no telling name, by the words of this item."""
        found = referent(m.text, label, self.gazetteer)
        return by_topic(found, _item_topic(record)) if found.kind in CONTEXT_TYPED else found

    def _referents(self, mentions: list[Mention], typed: bool, record: dict[str, Any]) -> dict[str, _Referent]:
        """The item's referents in order of first mention. ``typed`` groups the names of one
        referent (a country and its demonym, a person and their surname); version 1 grouped
        identical strings."""
        groups: dict[str, _Referent] = {}
        surnames = {m.text.split()[-1] for m in mentions if m.label == "PERSON" and len(m.text.split()) > 1}
        by_text: dict[str, str] = {}
        for m in mentions:
            if typed and m.text in surnames:
                m = replace(m, label="PERSON")  # "Lopez" after "Maria Lopez" is her, whatever NER says
            # Version 1 let the bank's label for a known entity override the mention's NER label;
            # typed kinds come from the gazetteer and the name, and keep the mention's label.
            label = m.label if typed else self.bank.label_of(m.text) or m.label
            found = self.bank.referent_of(label, m.text) or self._item_referent(m, label, record)
            # One string is one referent in an item, whatever label NER gave each mention of it.
            key = by_text.setdefault(m.text, found.key) if typed else m.text
            group = groups.get(key)
            if group is None:
                groups[key] = _Referent(label, m, found, [m])
            else:
                group.mentions.append(m)
                if len(m.text) > len(group.head.text) and found.form == "name":
                    group.head, group.found = m, found
        return groups

    def _surname_mentions(self, record: dict[str, Any], usable: list[Mention], mentions: list[Mention]
                          ) -> list[Mention]:
        """A person named in full and later by surname alone ("... Lopez said"), where NER
        missed the second mention: it changes with the first."""
        extra: list[Mention] = []
        taken = [(m.field, m.start, m.end) for m in mentions]
        for m in usable:
            words = m.text.split()
            if m.label != "PERSON" or len(words) < 2:
                continue
            surname = words[-1]
            for name, start, end in _unclaimed(record, self.config.fields, surname, taken):
                # "Van der Poel" for "Mathieu van der Poel": the particles go with the surname.
                start = _particles_before(record[name], start, m.text.lower().split())
                if not any(f == name and s < end and start < e for f, s, e in taken):
                    extra.append(Mention(name, start, end, record[name][start:end], "PERSON"))
                    taken.append((name, start, end))
        return extra

    def _country_mentions(self, record: dict[str, Any], usable: list[Mention], mentions: list[Mention]
                          ) -> list[Mention]:
        """A country's name or demonym NER missed ("Mongolian herders ... grips Mongolia" with only
        "Mongolia" tagged), so that it changes with the country."""
        countries = {}
        for m in usable:
            found = referent(m.text, m.label, self.gazetteer)
            if found.kind == "country" and found.place is not None:
                countries[found.place.key] = found.place
        extra: list[Mention] = []
        taken = [(m.field, m.start, m.end) for m in [*mentions, *usable]]
        for place in countries.values():
            forms = [(place.name, "GPE")]
            if place.demonym and place.demonym != place.name:
                forms += [(plural_demonym(place.demonym), "NORP"), (place.demonym, "NORP")]
            for written, label in forms:
                for name, start, end in _unclaimed(record, self.config.fields, written, taken):
                    found = Mention(name, start, end, written, label)
                    if not _inside_longer_name(record[name], found):  # "South China Sea" keeps its name
                        extra.append(found)
                        taken.append((name, start, end))
        return extra

    def _drop_article(self, m: Mention, replacement: str) -> Mention:
        """"the United States" -> "Pakistan", not "the Pakistan": the article goes with the
        name when the corpus does not write the replacement with one."""
        if m.article_start is None or self._takes_article(m.label, replacement):
            return m
        return replace(m, start=m.article_start, article_start=None)


def _with_particles(text: str, m: Mention, mentions: list[Mention]) -> Mention:
    """A surname mention with the particles that belong to it in the full name the item gives
    ("Poel" -> "Van der Poel" beside "Mathieu van der Poel")."""
    if m.label != "PERSON" or len(m.text.split()) != 1:
        return m
    full = {w.lower() for other in mentions if other.label == "PERSON" and len(other.text.split()) > 2
            for w in other.text.split()[:-1]}
    start = _particles_before(text, m.start, full)
    return m if start == m.start else replace(m, start=start, text=text[start:m.end])


def _particles_before(text: str, start: int, name_words: Any) -> int:
    """Where a surname starting at ``start`` begins once the name particles before it that
    belong to the full name (``name_words``, lower case) are taken in: "van der" of "Poel"."""
    while (particle := re.search(r"(\w+) $", text[:start])) and particle.group(1).lower() in NAME_PARTICLES \
            and particle.group(1).lower() in name_words:
        start = particle.start()
    return start


def _unclaimed(record: dict[str, Any], fields: Iterable[str], word: str, taken: list[tuple[str, int, int]]
               ) -> Iterable[tuple[str, int, int]]:
    """Whole-word occurrences of ``word`` in the fields (``field, start, end``) that overlap no
    span of ``taken``, checked as each is found: what a caller adds meanwhile counts."""
    pattern = _pattern(r"(?<![\w-]){}(?![\w-])", word)
    for name in fields:
        for hit in pattern.finditer(record[name] or ""):
            if not any(f == name and s < hit.end() and hit.start() < e for f, s, e in taken):
                yield name, hit.start(), hit.end()


@functools.lru_cache(maxsize=1 << 14)  # a few patterns per item, the same names item after item
def _pattern(template: str, word: str) -> re.Pattern[str]:
    """``template`` with ``word`` (escaped) in place of ``{}``, compiled once."""
    return re.compile(template.replace("{}", re.escape(word)))


def _item_topic(record: dict[str, Any]) -> str | None:
    """What an item is about, from its title and body (see ``context_topic``)."""
    return context_topic(" ".join(record[name] or "" for name in ("title", "text")))


def _inside_longer_name(text: str, m: Mention) -> bool:
    """Whether a place or person mention is a piece of a longer name NER cut ("Madrid" in "Real
    Madrid", "US" in "US Open", "Hadron Collider" after "Large"): a capitalised word touches
    it. In a title written in title case every word is capitalised, so nothing is concluded."""
    if re.match(r"-[A-Z]", text[m.end:]) or re.search(r"[A-Z][\w]*-$", text[:m.start]):
        return True  # "Paris-Roubaix"
    before = re.search(r"([A-Z][\w.-]*) $", text[:m.start])
    if before and kind_by_words(before.group(1), ORG_KINDS) is not None:
        return True  # "Air China", "Bank Indonesia": a body's name, title case or not
    if re.match(r" (?:do|da|dos|das|de|del|della|di|du) [A-Z]", text[m.end:]):
        return True  # "Rio Grande" in "Rio Grande do Sul"
    if title_case(text):
        return False
    after = re.match(r" ([A-Z][\w-]*)", text[m.end:])
    if after and not text[m.end:m.end + 2].startswith(("'", "’")):
        return True
    before = re.search(r"([A-Z][\w.-]*) $", text[:m.start])
    if before and before.group(1).strip(".").lower() in PERSON_TITLES:
        return False  # "Governor Maria Lopez"
    return bool(before and not (before.start() > 0 and _SENTENCE_END.search(text[:before.start()])))


#: Nouns a country's name stands before as an adjective ("UK government", "U.S. shoppers").
ATTRIBUTIVE_HEADS = frozenset({
    "government", "officials", "official", "troops", "forces", "military", "army", "navy", "president", "economy",
    "shoppers", "consumers", "firms", "firm", "companies", "company", "market", "markets", "banks", "stocks",
    "lawmakers", "authorities", "embassy", "envoy", "parliament", "voters", "workers", "exports", "imports",
    "regulators", "regulator", "prosecutors", "police", "diplomats", "leaders", "citizens", "soldiers", "court",
    "ministry", "minister", "intelligence", "election", "elections", "team", "squad", "retailer", "carmaker",
    "bank", "bonds", "inflation", "unemployment", "jobs", "researchers", "scientists", "study", "media",
})


_TEAM_BEFORE = re.compile(r"(?:\b(?:beat|beats|against|over|vs\.?|v|to)\s+)$", re.IGNORECASE)
_TEAM_AFTER = re.compile(r"^(?:'s)?\s+(?:vs\.?|versus|beat|beats|draw|drew|win|wins|won|lose|lost|clinch|clinches|"
                         r"sack|sign|"
                         r"signs|reach|reaches|top|tops|crush|edge|stun|thrash|defeat|defeated|dominate|dominates|"
                         r"sweep|sweeps|rout|routs|hold|holds|advance|advances)\b", re.IGNORECASE)


def _names_a_team(text: str, m: Mention) -> bool:
    """A place standing for its team ("Barcelona" in "Madrid beat Barcelona", "India beat
    Australia"): swapping it asks who plays the sport, which a reader knows."""
    return bool(_TEAM_BEFORE.search(text[:m.start]) or _TEAM_AFTER.match(text[m.end:]))


def _owns(text: str, owner: Mention, m: Mention) -> bool:
    """Whether ``owner`` is written as the possessor of ``m``: "Libya's Derna"."""
    return owner.end <= m.start and bool(re.fullmatch(r"(?:'s|’s|'|’)\s+", text[owner.end:m.start]))


#: Words between a party or a country and the name of the person they qualify ("Republican Sen.
#: Maria Lopez", "Afghan Foreign Minister Maria Lopez"), besides titles and role words.
_QUALIFIER_WORDS = frozenset({"official", "officials", "leader", "foreign", "defense", "defence", "finance",
                              "interior", "opposition", "rebel", "chief", "top", "ex", "former", "incoming",
                              "outgoing", "deputy", "acting", "state", "majority", "minority", "house", "senate"})
_GAP_WORD = re.compile(r"[A-Za-z][A-Za-z.-]*")


def _qualifies_a_person(text: str, m: Mention, others: Iterable[Mention], *, before: bool = True) -> bool:
    """Whether ``m`` stands right before a person's name, with nothing but titles between:
    ``before=True`` asks whether ``m`` qualifies one of the PERSON mentions of ``others``;
    ``before=False`` whether one of ``others`` qualifies the person ``m``."""
    pairs = ((m, o) for o in others if o.label == "PERSON") if before else ((o, m) for o in others)
    for qualifier, person in pairs:
        if qualifier.field != person.field or not qualifier.end <= person.start <= qualifier.end + 40:
            continue
        gap = text[qualifier.end:person.start]
        words = _GAP_WORD.findall(gap.replace("'s", " ").replace("’s", " "))
        if re.fullmatch(r"(?:'s|’s)?[\sA-Za-z.-]*\s", gap) and len(words) <= 3 \
                and all(_title_word(w.strip(".").lower()) for w in words):
            return True
    return False


def _title_word(word: str) -> bool:
    """A lower-case word that may stand between a qualifier and a person's name: a title, a
    role word (:mod:`pipelines.entities.roles`) or a word such as "foreign" or "former"."""
    return word in PERSON_TITLES or word in _QUALIFIER_WORDS or word in role_groups()


def _attributive(text: str, m: Mention) -> bool:
    """A country named before a noun it qualifies: "UK government", "U.S. shoppers" ("U.S.
    Shoppers" in a title-case headline)."""
    after = re.match(r" ([a-z]+)", text[m.end:] if not title_case(text) else text[m.end:].lower())
    return bool(after and after.group(1) in ATTRIBUTIVE_HEADS)


def _unclear_abbreviation(text: str, m: Mention) -> bool:
    """An abbreviated country ("U.S.") before a capitalised word of a title-case headline, no
    known head noun: "U.S. Says ..." (a noun) or "U.S. Treasuries ..." (an adjective), the
    capitals do not tell, and so neither the name nor the demonym can be written safely."""
    short = m.text.replace(".", "")
    return title_case(text) and short.isupper() and len(short) <= 3 and not _attributive(text, m) \
        and re.match(r" [A-Z][a-z]", text[m.end:]) is not None


def _sure(ref: _Referent) -> bool:
    """A referent whose kind says what may replace it; a lone one-word "person" is often a
    word NER mistook for a name, and a chamber named by no country ("Senate") is one a reader
    takes for the one they know, so "Senate" -> "Congress" changes little."""
    if ref.found.kind == "legislature" and anchor(ref.head.text, load_gazetteer()) is None:
        return False
    return ref.found.kind in SURE_KINDS and not (ref.found.kind == "person" and len(ref.head.text.split()) < 2)


def _form(replacement: str, new: Referent | None, form: str) -> str:
    """How a mention of the original is written with the replacement: a demonym stays a
    demonym ("Chilean" -> "Peruvian"), a surname a surname."""
    if new is not None and new.place is not None and new.place.demonym and form.startswith("demonym"):
        return plural_demonym(new.place.demonym) if form == "demonym_plural" else new.place.demonym
    if form == "surname":
        return replacement.split()[-1]
    return replacement


def _read_list(path: str | None) -> frozenset[str]:
    if path is None or not Path(path).is_file():
        return frozenset()
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.lstrip().startswith("#"))


def _edits(text: str, targets: list[tuple[Mention, str, str, float | None]]) -> Iterable[Edit]:
    """Each target as an edit of ``text``: the replacement in the case of its place, and
    possessives respelt."""
    all_caps = text.isupper()
    for m, written, kind, similarity in targets:
        replacement = _match_case(written, text, m.start, all_caps)
        end, replacement = _fix_possessive(text, m.end, replacement)
        yield Edit(m.field, m.start, end, replacement, m.label, kind, similarity)


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

