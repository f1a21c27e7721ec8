"""The entity bank: entities seen in a corpus, by NER label, with their frequencies.

Replacements are drawn from it. Sampling is deterministic for a given ``random.Random``: the
entities of a label are kept in sorted order, so the same seed draws the same entity whatever
order the corpus was seen in.

``typed`` sampling (the default) draws a replacement of the same fine kind as the original
(:mod:`pipelines.entities.referents`: a country for a country, a city for a city, a party for
a party), never another name of the same referent, and prefers a peer from the same region (a
country of the same continent, a city of the same country). Countries are pooled across
labels: one seen only as a demonym ("Brazilian") can replace a country name and back.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import random
import re
from collections import Counter, defaultdict
from typing import Callable, Iterable, Literal

import numpy as np

from pipelines.entities.contexts import ContextProfiles, Vector
from pipelines.entities.gazetteer import SMALLEST_COUNTRY, Gazetteer, Place
from pipelines.entities.referents import (
    CONTEXT_TYPED,
    ORG_KINDS,
    Referent,
    anchor,
    by_topic,
    kind_by_words,
    referent,
    same_referent,
)

Weighting = Literal["uniform", "frequency"]
#: How often a typed draw of a country keeps to the original's continent when it has candidates
#: (a city always keeps to its country when the bank has another city there).
REGION_PREFERENCE = 0.75
#: A replacement for a firm, club or person is seen at least this share as often as the original.
PROMINENCE_RATIO = 0.1
#: A context-scored draw picks among this many of the most similar usable candidates...
CONTEXT_TOP = 8
#: ... each at least this share as similar as the most similar one: a few close peers are
#: better than a long tail of names that merely share "said" and "shares".
CONTEXT_RELATIVE_FLOOR = 0.5
#: A country shares a few words with any story by chance, the rarely named ones most (one
#: story of a small corpus is their whole profile): below this cosine, prominence says more
#: than context, and the draw goes by frequency. Judged over the fixture and three held-out
#: corpora, country swaps drawn under 0.08 were acceptable 28 times in 41, those drawn by
#: frequency 16 in 18, those over it 47 in 55.
COUNTRY_FLOOR = 0.08

_LEADING_ARTICLE = re.compile(r"^(?:the|The|THE)\s+")
_ARTICLE_BEFORE = re.compile(r"(?:^|(?<=\s))(?:the|The|THE)\s+$")
_TRAILING_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
_MAX_ENTITY_CHARS = 80


def clean_span(text: str, start: int, end: int) -> tuple[int, int, int | None] | None:
    """Trim an NER span to the name worth replacing: ``(start, end, article_start)``, or None.

    "Kenya's" swaps "Kenya" and keeps the possessive. "the United Nations" gives the span of
    "United Nations" and, as ``article_start``, where its article begins, so a replacement
    that takes no article can replace the article too.
    """
    span = text[start:end]
    article_start = None
    lead = _LEADING_ARTICLE.match(span)
    if lead:
        article_start = start
        start += lead.end()
    elif _ARTICLE_BEFORE.search(text[:start]):
        article_start = _ARTICLE_BEFORE.search(text[:start]).start()
    span = text[start:end]
    trail = _TRAILING_POSSESSIVE.search(span)
    if trail:
        end -= len(trail.group())
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not (text[end - 1].isalnum() or text[end - 1] in ".)"):
        end -= 1
    span = text[start:end]
    if not span or "\n" in span or len(span) > _MAX_ENTITY_CHARS or not any(c.isalpha() for c in span):
        return None
    return start, end, article_start


class EntityBank:
    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {}
        self._with_article: Counter[tuple[str, str]] = Counter()
        self._index: dict[str, tuple[list[str], list[int]]] | None = None
        #: Per (label, kind) and (label, kind, region): entities and cumulative counts; countries
        #: under ("*", "country"[, continent]) as place keys. Filled by :meth:`type_entities`.
        self._typed: dict[tuple[str, ...], tuple[list[str], list[int]]] = {}
        self._places: dict[str, Place] = {}
        self._referents: dict[tuple[str, str], Referent] = {}
        self._place_labels: dict[str, Referent] | None = None
        self._context: defaultdict[tuple[str, str], Counter[str | None]] = defaultdict(Counter)
        self._homes: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self._texts: Counter[tuple[str, str]] = Counter()
        self.dropped: Counter[str] = Counter()
        """Entities refused by the junk rules, by reason (for the manifest)."""
        self._roles: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self._surnames: Counter[str] = Counter()
        self._country_counts: dict[str, int] = {}
        self.contexts = ContextProfiles()
        """The words around each entity's mentions (see :mod:`pipelines.entities.contexts`)."""
    def add(self, label: str, entity: str, *, with_article: bool = False) -> None:
        self._counts.setdefault(label, Counter())[entity] += 1
        if with_article:
            self._with_article[label, entity] += 1
        self._index = None

    def subtract(self, label: str, entity: str, count: int) -> None:
        """Forget ``count`` sightings of an entity (e.g. those in site boilerplate)."""
        counts = self._counts.get(label)
        if counts is not None and entity in counts:
            counts[entity] -= count
            if counts[entity] <= 0:
                del counts[entity]
        self._index = None

    def takes_article(self, label: str, entity: str) -> bool:
        """Whether the corpus mostly writes this entity with "the" before it."""
        count = self.count(label, entity)
        return count > 0 and 2 * self._with_article[label, entity] >= count

    def prune(self, min_count: int) -> None:
        """Keep each entity under its majority label only, then drop entities seen fewer than
        ``min_count`` times. Both remove NER noise: "Kharkiv" tagged NORP once and GPE five
        times is a GPE, and never replaces "Chinese"."""
        for entity, label in self._majority_labels().items():
            for other in list(self._counts):
                if other != label and entity in self._counts[other]:
                    del self._counts[other][entity]
        for label in list(self._counts):
            kept = Counter({e: c for e, c in self._counts[label].items() if c >= min_count})
            if kept:
                self._counts[label] = kept
            else:
                del self._counts[label]
        self._index = None

    def drop_junk(self, reason_of: Callable[[str, str], str | None]) -> None:
        """Remove every entity ``reason_of(entity, label)`` gives a reason for, and names joined
        by "and" whose parts are entities of the bank on their own."""
        from pipelines.entities.hygiene import joined_names

        known = {e for counts in self._counts.values() for e in counts}
        for label in list(self._counts):
            for entity in list(self._counts[label]):
                reason = reason_of(entity, label) or ("names joined by and" if joined_names(entity, known) else None)
                if reason:
                    del self._counts[label][entity]
                    self.dropped[reason.split(" (")[0]] += 1
            if not self._counts[label]:
                del self._counts[label]
        self._index = None

    def add_context(self, label: str, entity: str, topic: str | None) -> None:
        """One sighting of an entity in a text of ``topic`` (or of none clear)."""
        self._context[label, entity][topic] += 1

    def add_window(self, label: str, entity: str, words: list[str]) -> None:
        """The content words around one mention of an entity."""
        self.contexts.add((label, entity), words)

    def add_roles(self, label: str, entity: str, roles: Iterable[str]) -> None:
        """The role groups (:mod:`pipelines.entities.roles`) one mention of a person was written with."""
        if roles:
            self._roles[label, entity].update(roles)

    def roles_of(self, label: str, entity: str) -> frozenset[str]:
        """Every role group the corpus wrote a person with."""
        return frozenset(self._roles.get((label, entity), ()))

    def add_text(self, entities: Iterable[tuple[str, str]], countries: set[str]) -> None:
        """One text naming ``entities`` (label, name) and the countries of ``countries`` (keys)."""
        for key in set(entities):
            self._texts[key] += 1
            for country in countries:
                self._homes[key][country] += 1

    def home_of(self, label: str, entity: str) -> str | None:
        """The country an entity belongs to, as its texts tell: the one named in at least half of
        them (and in two at least). "Toyota" is Japanese, "Atacama" Chilean."""
        homes = self._homes.get((label, entity))
        if not homes:
            return None
        country, n = max(homes.items(), key=lambda kv: (kv[1], kv[0]))
        return country if n >= 2 and 2 * n >= self._texts[label, entity] else None

    def context_topic(self, label: str, entity: str) -> str | None:
        """The topic most of an entity's texts are about (see :func:`referents.context_topic`),
        if they agree enough: at least two texts, and 60% of them."""
        votes = self._context.get((label, entity))
        if not votes:
            return None
        kind, n = max(((k, v) for k, v in votes.items() if k), key=lambda kv: (kv[1], kv[0]), default=(None, 0))
        return kind if kind and n >= 2 and n >= 0.6 * sum(votes.values()) else None

    def type_entities(self, gazetteer: Gazetteer) -> None:
        """File each entity under its fine kind (and region), for :meth:`sample_typed`."""
        groups: dict[tuple[str, ...], Counter[str]] = {}
        countries: Counter[str] = Counter()
        self._referents = {}
        self._surnames = Counter()
        for entity, count in self._counts.get("PERSON", Counter()).items():
            if len(words := entity.split()) > 1:
                self._surnames[words[-1]] += count
        for label in self.labels():
            for entity, count in self._counts[label].items():
                found = referent(entity, label, gazetteer)
                if label == "ORG" and self.taken_for_a_body(entity):
                    self._referents[label, entity] = found
                    continue  # a person's surname NER filed as a body: no club or firm to draw
                if found.kind == "person" and (len(entity.split()) < 2 or kind_by_words(entity, ORG_KINDS)):
                    self._referents[label, entity] = found
                    continue  # a lone word, or a body's name, filed as a person: never a replacement
                if found.kind in CONTEXT_TYPED:
                    found = by_topic(found, self.context_topic(label, entity))
                self._referents[label, entity] = found
                if found.kind == "country" and found.place is not None:
                    countries[found.place.key] += count
                    self._places[found.place.key] = found.place
                    continue
                # A known place is a place whatever label NER gave it: pooled across labels.
                pool = ("*", found.kind) if found.place is not None else (label, found.kind)
                groups.setdefault(pool, Counter())[entity] += count
                if found.place is not None:
                    groups.setdefault((*pool, found.place.region), Counter())[entity] += count
        self._country_counts = dict(countries)
        for key, count in countries.items():
            groups.setdefault(("*", "country"), Counter())[key] += count
            groups.setdefault(("*", "country", self._places[key].region), Counter())[key] += count
        self._typed = {key: _cumulative(counts) for key, counts in groups.items()}
        self._place_labels = None
        self.contexts.finish([*((label, entity) for label in self.labels() for entity in self._counts[label]),
                              *(("*", entity) for key, counts in groups.items() if key[0] == "*" for entity in counts)])

    def taken_for_a_body(self, entity: str) -> bool:
        """Whether an organisation is a person NER took for a body, or a body named after one:
        a word more often the surname of a person the corpus names in full ("Bryant's 25 helps
        ..." after "Kobe Bryant"), or a name opening with such a surname ("Lopez Cabinet",
        "Lopez Foundation": whoever replaces it stands for that person's body)."""
        first = entity.split()[0].removesuffix("'s").removesuffix("’s") if entity.strip() else ""
        return self._surnames[first] > max(self.count("ORG", entity), 1 if first != entity else 0) \
            or self.count("PERSON", entity) > self.count("ORG", entity)  # mostly tagged a person

    def kind_counts(self) -> dict[str, int]:
        """Distinct replacements per fine kind (for the manifest)."""
        return {"/".join(key): len(entities) for key, (entities, _) in sorted(self._typed.items()) if len(key) == 2}

    def sample_typed(self, label: str, original: str, found: Referent, rng: random.Random, *,
                     exclude: set[str], exclude_keys: set[str], gazetteer: Gazetteer,
                     region: str | None = None, homes: frozenset[str | None] | None = None,
                     peer: Callable[[Place], bool] | None = None, fits: Callable[[str], bool] | None = None,
                     context: Vector | None = None, band: tuple[float, float] = (0.0, 1.0),
                     written: str = "") -> tuple[str, Referent, float | None] | None:
        """A replacement for ``original`` (NER ``label``, referent ``found``): of the same kind,
        from the same region when it can be, not in ``exclude`` (lower-case texts) nor naming a
        referent of ``exclude_keys`` nor another name of the original. Countries come back as
        their place's name, with the place (the caller writes its demonym where needed).
        ``region``: only from there (a city of the country the item names). ``homes``: only an
        entity whose country (:meth:`home_of`, None for unknown) is one of these: a company of
        the country the item names, a club of the original's country. ``peer``: only a place
        it accepts (a neighbour of the country the original borders, one of the same currency,
        a capital for a capital that stands for its government). ``fits``: only a name that is no
        place it accepts (a person of one of the original's roles).
        ``context``: the item's words around the original (:meth:`ContextProfiles.query`); for a
        country or a name that is no place, the replacement is then one of the
        :data:`CONTEXT_TOP` usable candidates whose profiles are most similar to it, within
        ``band`` (lowest, highest cosine) and at least half as similar as the closest, drawn in
        proportion to similarity (a country, or a city of ``region``, by frequency when none is
        similar; a country must reach :data:`COUNTRY_FLOOR`). The third value is that
        similarity (None when not scored). ``written``: the item's text as :func:`spaced_words`
        gives it; a name it already holds (a person's surname too) is no replacement."""
        country = found.kind == "country"
        original_words = set(found.place.name.lower().split()) if country and found.place is not None else set()
        kind_key = ("*", found.kind) if country or found.place is not None else (label, found.kind)
        original_anchor = None if country or found.place is not None else anchor(original, gazetteer)
        # A name the corpus writes much less often than the original is a lesser figure: "Heidi
        # Smith plans national police standards" where a presidential candidate did.
        least = PROMINENCE_RATIO * self.count(label, original) if found.place is None else 0
        # So with countries: one the news names seldom plays a lesser part in it ("U.S. sanctions
        # on Russia" never becomes "<a small island state>'s sanctions on Russia").
        least_country = PROMINENCE_RATIO * self._country_counts.get(found.key, 0) if country else 0

        def already_written(name: str) -> bool:  # "Clinton and Trump" never becomes "Trump and Trump"
            return bool(written) and _spaced_name(name) in written
        required = region is not None
        region = region if required else found.place.region if found.place is not None else None

        def usable(candidate: str) -> Referent | None:
            if country:
                place = self._places[candidate]
                if place.key in exclude_keys or place.name.lower() in exclude or not place.demonym \
                        or self._country_counts.get(place.key, 0) < least_country or already_written(place.name) \
                        or place.population < SMALLEST_COUNTRY or (peer is not None and not peer(place)) \
                        or original_words & set(place.name.lower().split()):
                    return None  # (a name sharing a word, "North" for "South Korea", reads as a slip)
                return Referent(place.key, "country", "name", place)
            cand = self._referent_any(candidate, label) or referent(candidate, label, gazetteer)
            if candidate.lower() in exclude or cand.key in exclude_keys or same_referent(original, candidate, label,
                                                                                          gazetteer):
                return None
            if already_written(candidate) or label == "PERSON" and already_written(candidate.split()[-1]):
                return None
            if peer is not None and (cand.place is None or not peer(cand.place)):
                return None
            if fits is not None and cand.place is None and not fits(candidate):
                return None
            if least and self.count(label, candidate) < least:
                return None
            if found.place is None and anchor(candidate, gazetteer) != original_anchor:
                return None  # "Congress" -> "Brazilian Senate" would put Brazil's in Argentina
            if homes is not None and self.home_of(label, candidate) not in homes:
                return None
            return cand

        pools = [kind_key]
        if required:
            pools = [(*kind_key, region)]
        elif region is not None and (*kind_key, region) in self._typed and (
                found.kind == "city" or rng.random() < REGION_PREFERENCE):
            # A city abroad strands what the item ties to the original (its team, its firms).
            pools.insert(0, (*kind_key, region))
        scored = context is not None and (found.kind in ("country", "city") or found.place is None) \
            and len(self.contexts) > 0
        # A country no other shares context with is still best replaced by one of its kind (there
        # are few, and all make news), and so is a city of the country the item names (the
        # corpus's own cities of it); any other city, a firm or a person is left alone: the famous
        # city a frequency draw brings ("rockets strike downtown <capital of fashion>") rarely fits.
        for scoring in ((True, False) if scored and (country or required) else (scored,)):
            for pool in pools:
                entities, cumulative = self._typed.get(pool, ([], []))
                if not entities:
                    continue
                drawn = self._closest(pool, entities, context, (max(band[0], COUNTRY_FLOOR) if country else band[0],
                                                                band[1]), usable, rng) if scoring \
                    else self._by_frequency(entities, cumulative, usable, rng)
                if drawn is not None:
                    return drawn
        return None

    @staticmethod
    def _by_frequency(entities: list[str], cumulative: list[int], usable: Callable[[str], Referent | None],
                      rng: random.Random) -> tuple[str, Referent, None] | None:
        """A usable entity drawn in proportion to its corpus frequency."""
        for _ in range(8):
            candidate = entities[bisect.bisect_right(cumulative, rng.randrange(cumulative[-1]))]
            found_cand = usable(candidate)
            if found_cand is not None:
                return _text(candidate, found_cand), found_cand, None
        allowed, previous = [], 0
        for entity, total in zip(entities, cumulative):
            if (found_cand := usable(entity)) is not None:
                allowed.append((entity, found_cand, total - previous))
            previous = total
        if allowed:
            entity, found_cand, _ = allowed[rng.choices(range(len(allowed)), weights=[w for *_, w in allowed])[0]]
            return _text(entity, found_cand), found_cand, None
        return None

    def _closest(self, pool: tuple[str, ...], entities: list[str], context: Vector, band: tuple[float, float],
                 usable: Callable[[str], Referent | None], rng: random.Random) -> tuple[str, Referent, float] | None:
        """A usable entity of ``pool`` among the most similar to ``context`` within ``band``."""
        label = pool[0]
        similarity = self.contexts.similarities(pool, len(entities), lambda: ((label, e) for e in entities), context)
        low, high = band
        picked: list[tuple[str, Referent, float]] = []
        shared = np.flatnonzero(similarity > max(low, 0.0) - 1e-12)
        # Most similar first; ties in name order (entities are sorted), so draws are reproducible.
        for i in shared[np.argsort(-similarity[shared], kind="stable")]:
            value = float(similarity[i])
            if value <= 0 or (picked and value < CONTEXT_RELATIVE_FLOOR * picked[0][2]):
                break
            if value > high:
                continue  # as close as another name of the original: an alias the rules missed
            if (found := usable(entities[i])) is not None:
                picked.append((entities[i], found, value))
                if len(picked) == CONTEXT_TOP:
                    break
        if not picked:
            return None
        entity, found, value = picked[rng.choices(range(len(picked)), weights=[v for *_, v in picked])[0]]
        return _text(entity, found), found, round(value, 4)

    def _majority_labels(self) -> dict[str, str]:
        best: dict[str, tuple[int, str]] = {}
        for label in sorted(self._counts):
            for entity, count in self._counts[label].items():
                if entity not in best or count > best[entity][0]:
                    best[entity] = (count, label)
        return {entity: label for entity, (_, label) in best.items()}

    def label_of(self, entity: str) -> str | None:
        """The label the bank files ``entity`` under, if it holds it."""
        for label in sorted(self._counts):
            if entity in self._counts[label]:
                return label
        return None

    def labels(self) -> list[str]:
        return sorted(self._counts)

    def count(self, label: str, entity: str) -> int:
        return self._counts.get(label, Counter())[entity]

    def size(self, label: str | None = None) -> int:
        if label is not None:
            return len(self._counts.get(label, ()))
        return sum(len(c) for c in self._counts.values())

    def stats(self) -> dict[str, int]:
        return {label: len(self._counts[label]) for label in self.labels()}

    def _referent_any(self, entity: str, label: str) -> Referent | None:
        found = self._referents.get((label, entity))
        if found is None and self._place_labels is None:
            self._place_labels = {e: r for (_, e), r in self._referents.items() if r.place is not None}
        return found or (self._place_labels or {}).get(entity)

    def referent_of(self, label: str, entity: str) -> Referent | None:
        """The referent :meth:`type_entities` gave a banked entity."""
        return self._referents.get((label, entity))

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for label in self.labels():
            for entity, count in sorted(self._counts[label].items()):
                digest.update(f"{label}\x1f{entity}\x1f{count}\x1e".encode())
        return digest.hexdigest()[:16]

    def sample(self, label: str, rng: random.Random, *, exclude: set[str], weighting: Weighting) -> str | None:
        """Draw an entity of ``label`` whose lowercase form is not in ``exclude``; None if none is left."""
        if self._index is None:
            self._index = self._build_index()
        entities, cumulative = self._index.get(label, ([], []))
        if not entities:
            return None
        # A few random draws usually succeed; the fallback keeps the result exact when the
        # exclusions cover most of a small bank.
        for _ in range(8):
            entity = self._draw(entities, cumulative, rng, weighting)
            if entity.lower() not in exclude:
                return entity
        allowed = [i for i, e in enumerate(entities) if e.lower() not in exclude]
        if not allowed:
            return None
        if weighting == "uniform":
            return entities[rng.choice(allowed)]
        weights = [self._counts[label][entities[i]] for i in allowed]
        return entities[rng.choices(allowed, weights=weights)[0]]

    @staticmethod
    def _draw(entities: list[str], cumulative: list[int], rng: random.Random, weighting: Weighting) -> str:
        if weighting == "uniform":
            return entities[rng.randrange(len(entities))]
        return entities[bisect.bisect_right(cumulative, rng.randrange(cumulative[-1]))]

    def _build_index(self) -> dict[str, tuple[list[str], list[int]]]:
        return {label: _cumulative(counts) for label, counts in self._counts.items()}


def spaced_words(text: str) -> str:
    """A text's words in lower case between single spaces, with one before and after, so that
    a name is found in a text by a substring test: " maria lopez " in " ... "."""
    return f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} "


_spaced_name = functools.lru_cache(maxsize=1 << 16)(spaced_words)  # every candidate of every draw


def profile_key(label: str, entity: str, found: Referent) -> tuple[str, str]:
    """Where the context profile of an entity is kept: a country under its place key and a city
    under its name, pooled across NER labels as :meth:`EntityBank.type_entities` pools them;
    any other entity under its label."""
    if found.kind == "country":
        return "*", found.key
    return ("*", entity) if found.kind == "city" else (label, entity)


def _cumulative(counts: Counter[str]) -> tuple[list[str], list[int]]:
    entities = sorted(counts)
    return entities, list(itertools.accumulate(counts[e] for e in entities))


def _text(candidate: str, found: Referent) -> str:
    return found.place.name if found.kind == "country" and found.place is not None else candidate
