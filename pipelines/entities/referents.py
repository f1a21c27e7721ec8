"""What an entity mention refers to and what kind of thing it is.

Two mentions with one ``key`` name one referent ("United States", "U.S." and "American";
"Maria Lopez" and "Lopez"), so an item's mentions of it are swapped together and a
replacement is never another name of the original. The ``kind`` is finer than the NER label
(country, US state, city; party, legislature, company...), so that a replacement is of the
same kind: a country for a country, never a city; a company for a company, never a parliament.
Places come from :mod:`pipelines.entities.gazetteer`; organisations are typed by the words
their names are built with; people by being people.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from pipelines.entities.gazetteer import Gazetteer, Place, normalize
from pipelines.entities.hygiene import EVENT_WORDS, NAME_PARTICLES

#: Titles before a name: "President Lopez" and "Lopez" are one person.
PERSON_TITLES = frozenset({
    "president", "prime", "minister", "chancellor", "premier", "king", "queen", "prince", "princess", "pope",
    "sen", "senator", "rep", "representative", "gov", "governor", "mayor", "judge", "justice", "dr", "mr",
    "mrs", "ms", "sir", "dame", "lord", "lady", "general", "gen", "col", "captain", "capt", "secretary",
    "ambassador", "vice", "former", "coach", "sheikh", "emir", "ayatollah", "cardinal", "rev", "saint", "st",
})

#: Organisation kinds by the words of their names, most telling first. A phrase matches
#: anywhere in the name; a single word matches as a whole word.
ORG_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("central_bank", ("central bank", "federal reserve", "reserve bank")),
    ("airline", ("airlines", "airways", "air")),
    ("legislature", ("house of representatives", "house of commons", "house of lords", "national assembly",
                     "parliament", "congress", "senate", "duma", "bundestag", "knesset", "legislature",
                     "assembly", "riksdag", "storting", "sejm")),
    ("party", ("party", "labour", "tories")),
    ("league", ("league", "liga", "ligue", "serie a", "bundesliga", "premiership", "super league")),
    ("court", ("court", "tribunal")),
    ("university", ("university", "college", "institute", "school", "academy", "polytechnic")),
    # A tournament or a race is no club ("Chrysler Championship" filed as an org in sport news).
    ("event", (*sorted(EVENT_WORDS - {"league"}), "grand prix", "tournament", "invitational", "masters")),
    ("media", ("news", "times", "post", "journal", "herald", "tribune", "gazette", "telegraph", "broadcasting",
               "television", "radio", "press")),
    ("bank", ("bank", "bancorp", "banking")),
    ("club", ("fc", "football club", "athletic", "rovers", "wanderers", "hotspur", "sc", "cf")),
    ("company", ("inc", "corp", "corporation", "co", "ltd", "llc", "plc", "group", "holdings", "ag", "sa", "nv",
                 "gmbh", "motors", "motor", "energy", "oil", "petroleum", "gas",
                 "pharmaceuticals", "pharma", "technologies", "technology", "systems", "telecom",
                 "communications", "industries", "capital", "partners", "steel", "mining", "foods", "brands",
                 "entertainment", "media", "labs", "software", "electronics", "insurance",
                 "automotive", "aerospace", "logistics", "retail", "stores", "semiconductor", "chemicals")),
    ("government", ("ministry", "department", "agency", "commission", "administration", "authority",
                    "bureau", "office", "council", "cabinet", "treasury", "government", "police", "army",
                    "navy", "air force", "military", "forces", "guard", "service", "directorate")),
    ("organisation", ("nations", "organization", "organisation", "alliance", "federation", "association",
                      "foundation", "fund", "forum", "committee", "society", "league", "coalition", "union",
                      "network", "movement", "agency", "programme", "program", "red cross")),
)
NORP_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("political", ("republican", "democrat", "democratic", "conservative", "liberal", "socialist", "communist",
                   "labour", "green", "tory", "nationalist", "progressive", "libertarian", "centrist")),
    ("religious", ("muslim", "christian", "catholic", "jewish", "jew", "hindu", "buddhist", "sikh", "protestant",
                   "evangelical", "sunni", "shia", "shiite", "orthodox", "mormon", "islamic", "islamist")),
)
_ACRONYM = re.compile(r"^[A-Z]{2,6}$")
#: Kinds that say nothing of what an organisation does or what a person is known for: the
#: words of the texts the entity appears in then decide (``context_topic``, ``by_topic``).
CONTEXT_TYPED = frozenset({"org", "person"})
#: Words of a text that say what it is about.
TOPIC_CUES: tuple[tuple[str, frozenset[str]], ...] = (
    ("business", frozenset({"profit", "profits", "revenue", "revenues", "sales", "shares", "shareholders",
                            "earnings", "ceo", "investors", "quarterly", "stake", "acquisition", "merger",
                            "customers", "factory", "brand", "startup", "listed", "stock", "company", "firm"})),
    ("sport", frozenset({"beat", "beats", "match", "season", "league", "coach", "goal", "goals", "striker",
                         "soccer", "football", "rugby", "cricket", "tennis", "basketball", "baseball", "hockey",
                         "golf", "friendly", "qualifier", "nba", "nfl",
                         "midfielder", "championship", "semi-final", "semi-finals", "playoff", "draw", "defeat",
                         "tournament", "olympic", "medal", "race", "marathon", "cup", "wickets", "sets"})),
    ("politics", frozenset({"minister", "president", "election", "parliament", "senator", "governor", "vote",
                            "government", "lawmakers", "opposition", "party", "cabinet", "campaign", "coalition",
                            "mayor", "legislation", "diplomat", "ambassador", "sanctions", "summit"})),
)
#: What a catch-all kind becomes in a text of a topic.
_BY_TOPIC = {("org", "business"): "company", ("org", "sport"): "club", ("person", "business"): "executive",
             ("person", "sport"): "athlete", ("person", "politics"): "politician"}
_CUE_WORD = re.compile(r"[a-z][a-z-]+")
_BANK_OF = re.compile(r"^(?:the\s+)?(?:national\s+|central\s+|reserve\s+)?bank\s+of\s+(.+)$", re.IGNORECASE)
#: Kinds whose replacements are reliably of the same sort; the rest ("org", "place"...) are
#: NER's catch-alls, swapped only with ``catch_all_kinds``. Chambers ("legislature") are not
#: among them: another chamber of the same parliament is part of the same body ("Senate" ->
#: "Congress"), another country's puts a domestic story abroad. Nor are faiths: their words
#: shade into one another ("Muslim", "Islamic", "Islamist"), and another faith in a story of
#: one is a charged claim more than a plausible one. Nor are firms and clubs: what a firm makes
#: and which sport a club plays are rarely written next to their names, and judged swaps of
#: them were mostly absurd ("<oil major> posts surge in chip profits"; fixture and three held-out
#: corpora: 4 of 13 acceptable), so they wait for knowledge of industries and sports.
SURE_KINDS = frozenset({
    "country", "us_state", "city", "athlete", "politician", "executive", "central_bank", "league", "airline", "bank",
    "party", "court",
    "university",
    "media", "government", "organisation", "political_singular", "political_plural",
})


@dataclass(frozen=True)
class Referent:
    key: str
    """Shared by every name of one referent."""
    kind: str
    """The fine type a replacement must share."""
    form: str
    """How the mention names it: ``name``, ``demonym``, ``demonym_plural``, ``surname``."""
    place: Place | None = None


def name_words(text: str) -> list[str]:
    """A name's words in lower case, without titles and dots ("Pres. Maria Lopez" -> maria, lopez)."""
    words = [w.strip(".,'’").lower() for w in text.replace("’s", "").replace("'s", "").split()]
    return [w for w in words if w and w not in PERSON_TITLES]


def acronym(text: str) -> str:
    """Initials of a name's capitalised words: "European Central Bank" -> "ECB"."""
    words = [w for w in text.replace("-", " ").split() if w.lower() not in NAME_PARTICLES]
    return "".join(w[0] for w in words if w[:1].isupper()) if len(words) > 1 else ""


@functools.lru_cache(maxsize=1024)  # asked once per mention of an item: its title and body
def context_topic(text: str) -> str | None:
    """The topic a text's words point at (business, sport, politics), if one clearly leads."""
    words = set(_CUE_WORD.findall(text.lower()))
    hits = [(len(words & cues), topic) for topic, cues in TOPIC_CUES]
    best, topic = max(hits)
    return topic if best >= 1 and all(n < best for n, t in hits if t != topic) else None


def by_topic(found: Referent, topic: str | None) -> Referent:
    """``found`` with the finer kind its catch-all kind takes in texts of ``topic`` (an org in
    business news is a company, a person in sport an athlete); as it was otherwise."""
    kind = _BY_TOPIC.get((found.kind, topic)) if topic else None
    return Referent(found.key, kind, found.form, found.place) if kind else found


def kind_by_words(text: str, table: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    lowered = " " + " ".join(re.findall(r"[\w&]+", text.lower())) + " "
    for kind, cues in table:
        for cue in cues:
            if f" {cue} " in lowered:
                return kind
    return None


@functools.lru_cache(maxsize=1 << 16)  # pure for one gazetteer; called per draw
def referent(text: str, label: str, gazetteer: Gazetteer) -> Referent:
    """What the mention ``text`` of NER ``label`` refers to and its kind."""
    country = gazetteer.nationality(text) if label in ("NORP", "GPE", "LOC", "PERSON") else None
    if country is not None:  # NER files demonyms under GPE, even PERSON, now and then
        plural = text.endswith("s") and normalize(text) != normalize(country.demonym or "")
        return Referent(country.key, "country", "demonym_plural" if plural else "demonym", country)
    if label == "NORP":
        place = gazetteer.place(text)
        if place is not None and place.kind == "country":  # "Chile" filed as a nationality
            return Referent(place.key, "country", "name", place)
        kind = kind_by_words(text, NORP_KINDS) or "group"
        number = "plural" if text.endswith("s") and not text.endswith("ss") else "singular"
        return Referent(f"norp:{normalize(text).rstrip('s')}", f"{kind}_{number}", "name")
    if label in ("GPE", "LOC"):
        place = gazetteer.place(text)
        if place is not None:
            return Referent(place.key, place.kind, "name", place)
        return Referent(f"{label.lower()}:{normalize(text)}", "region" if label == "LOC" else "place", "name")
    if label == "PERSON":
        words = name_words(text)
        place = gazetteer.place(text) if len(words) == 1 or text.istitle() else None
        if place is not None and place.kind == "country":  # a country NER took for a person
            return Referent(place.key, place.kind, "name", place)
        if place is not None and gazetteer.is_capital(place):
            return Referent(place.key, "city", "name", place)  # a capital NER took for a person
        key = f"person:{words[-1] if words else normalize(text)}"
        return Referent(key, "person", "surname" if len(words) == 1 else "name")
    if label == "ORG":
        place = gazetteer.place(text)
        if place is not None and place.kind == "country":  # a country NER took for a body
            return Referent(place.key, place.kind, "name", place)
        if _BANK_OF.match(text):
            return Referent(f"org:{normalize(text)}", "central_bank", "name")
        if _ACRONYM.match(text.replace(".", "")):
            return Referent(f"org:{normalize(text)}", "acronym", "name")
        return Referent(f"org:{normalize(text)}", kind_by_words(text, ORG_KINDS) or "org", "name")
    return Referent(f"{label.lower()}:{normalize(text)}", label.lower(), "name")


@functools.lru_cache(maxsize=1 << 16)  # pure for one gazetteer; called per draw
def anchor(text: str, gazetteer: Gazetteer) -> str | None:
    """The country a name holds ("Brazilian Senate", "Bank of Canada": its key), or None. Such a
    name can only stand where the original was tied to the same country."""
    words = [w.removesuffix("'s").removesuffix("’s").strip(",;:()") for w in text.split()]
    for size in (1, 2, 3):
        for i in range(len(words) - size + 1):
            chunk = " ".join(words[i:i + size])
            if not chunk[:1].isupper():
                continue
            country = gazetteer.nationality(chunk)
            place = country or gazetteer.place(chunk)
            if place is not None and place.kind == "country":
                return place.key
            if place is not None and place.kind == "us_state":
                return "country:US"
    return None


@functools.lru_cache(maxsize=1 << 16)  # pure for one gazetteer; called per draw
def same_referent(a: str, b: str, label: str, gazetteer: Gazetteer) -> bool:
    """Whether ``a`` and ``b`` may name one referent: the same place, person or body under
    another name, a part of the other's name, or its initials. Swapping one for the other
    would leave the claim true: never a replacement."""
    ra, rb = referent(a, label, gazetteer), referent(b, label, gazetteer)
    if ra.key == rb.key:
        return True
    na, nb = normalize(a), normalize(b)
    if na == nb:
        return True
    if label == "NORP" and ra.kind != "country" and na[:7] == nb[:7]:
        return True  # "Democrat", "Democratic", "Democrats": one group, inflected
    wa, wb = set(name_words(a)), set(name_words(b))
    if label == "PERSON" and wa & wb:
        return True  # a shared name: the same person, or one a reader would confuse with them
    first_a, first_b = name_words(a)[:1], name_words(b)[:1]
    if label == "ORG" and first_a and first_a == first_b and kind_by_words(first_a[0], ORG_KINDS) is None:
        return True  # "Singapore Airlines" and "Singapore Air": one firm's names
    if wa and wb and (wa <= wb or wb <= wa):
        return True
    short_a, short_b = a.replace(".", ""), b.replace(".", "")
    return bool((acronym(a) and acronym(a) == short_b) or (acronym(b) and acronym(b) == short_a))
