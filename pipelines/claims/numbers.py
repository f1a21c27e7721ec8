"""Numbers in news text: find them, say what they measure, and write a clearly different one in the
same form. Pure functions over strings; the caller says where its NER saw numeric entities.

A *numeral* is digits ("1,500", "1.2"), number words ("twenty", "thirty-one", "a dozen"), either
with a scale word ("1.2 billion", "$300m", "two million"), or a vague plural ("dozens", "tens of
thousands"). Its *kind* comes from the words around it: ``percent`` ("20%", "15 percent"),
``money`` ("$1.2 billion", "5 cents"), ``price`` (money per unit: "$49 a barrel"), ``year``
("since 2010"), ``date`` (a day of a month: "Aug. 28"), ``duration`` ("six months", "two-year
wait"), ``age`` ("77-year-old", "Swimmer, 77,"), ``quantity`` (a QUANTITY entity: "5 tons") or
``count`` ("2,000 jobs").

Refused, because changing them breaks a name or a reading rather than a claim: numbers stuck to
letters or hyphens ("G7", "F-35", "COVID-19", "5th", "1990s"), after a name or a rank word
("Boeing 737", "No. 3", "Part 2", "Houston 8, Pittsburgh 6"), ranges, scores and ratios ("4-6",
"14-10", "5 to 10", "one in five", "7 of 8"), times, dates written with slashes, escaped markup
("#39;"), bounded scales ("magnitude 7.1", "Category 4"), compounds that name a thing ("400 Meter
Champion", "seven-wicket"), bare decimals that could be a rate or a version ("Firefox 1.0"), the
word "one", "100%" (mostly an idiom), and a year after "for" when no word says which way time goes.

A new value (:func:`change`) is the old one multiplied or divided by a factor, rounded to the
original's precision (significant digits, never more decimals), written in its form (digits with
or without thousands commas, words, the same scale word or the next one: "1,200 million" ->
"1.2 billion"; "a" or "an" before it as its sound asks), and never impossible: never zero or
negative; a share never above 100 %, a fall never 100 % or more; a count never 1 where a noun
follows; a count whose noun has a ceiling a reader knows ("points", "seats", "mother of 5") or that
names no noun ("kills 17 in") only smaller; a level reached by a change ("drops to 3.7 percent")
only the way of the verb; an adult's age between 18 and 100 and a child's below 18; a duration
within what its unit holds ("6 decades" never "20 decades"); number words between two and
ninety-nine. A year moves by an offset, earlier unless its sentence is about the future (then
later), by a multiple of four for elections and games; a day of a month moves within its month,
the same way. Numbers of the same kind close to the one changed, and pairs ("rose from 5% to 7%"),
keep their order, so the verb stays true to them.

Word lists live in ``number_words.tsv`` next to this module.
"""

from __future__ import annotations

import functools
import math
import random
import re
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal

WORD_FILE = Path(__file__).with_name("number_words.tsv")
KINDS: tuple[str, ...] = ("percent", "money", "price", "count", "quantity", "year", "date", "duration", "age")
#: Kinds whose new value must be 2 or more: the words around them say how many things there are.
_AT_LEAST_TWO = frozenset({"count", "quantity", "duration", "age"})
#: Years a four-digit number may be.
YEARS = (1800, 2100)
#: Numbers of the same kind this close (characters) keep their order when one changes.
NEAR = 60
OLDEST_AGE = 100
ADULT = 18
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_DRAWS = 20


# -- the word lists ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lexicon:
    numbers: dict[str, int]
    """Number words and their values ("one".."ninety-nine", compounds built)."""
    words_of: dict[int, str]
    scales: dict[str, tuple[float, str]]
    """Scale word -> (value, family); a family's words replace each other as a number grows."""
    vague: tuple[tuple[str, float], ...]
    """Vague plurals by size."""
    by_category: dict[str, frozenset[str]]
    months: dict[str, int]
    time_caps: dict[str, float]
    """Time unit -> the most of it a plausible duration holds."""
    numeral: re.Pattern[str]
    percent_unit: re.Pattern[str]
    """Matches a percent sign or word right after a number."""
    currency_before: re.Pattern[str]
    """Searched in the few characters before a number: a currency sign or code ending there."""
    number_tokens: frozenset[str]
    """Every word a numeral in words may hold ("thirty", "one", "dozen", "tens")."""

    def words(self, category: str) -> frozenset[str]:
        return self.by_category.get(category, frozenset())


@functools.lru_cache(maxsize=2)
def lexicon(path: Path = WORD_FILE) -> Lexicon:
    """The word lists of ``path`` (read once)."""
    rows: list[list[str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append([part.strip() for part in line.split("\t")])
    by_category: dict[str, set[str]] = {}
    for category, word, *_ in rows:
        by_category.setdefault(category, set()).add(word)
    units = {r[1]: int(r[2]) for r in rows if r[0] == "unit"}
    numbers = dict(units)
    for ten, tv in ((r[1], int(r[2])) for r in rows if r[0] == "ten"):
        numbers[ten] = tv
        numbers.update({f"{ten}-{unit}": tv + uv for unit, uv in units.items() if uv < 10})
    scales = {r[1]: (float(r[2]), r[3]) for r in rows if r[0] == "scale"}
    vague = tuple(sorted(((r[1], float(r[2])) for r in rows if r[0] == "vague"), key=lambda p: p[1]))
    units_after = [w for w in by_category["percent_unit"] if w != "%"]
    signs = by_category["currency_before"]
    codes = [s for s in signs if s[0].isalpha()]
    symbols = [s for s in signs if not s[0].isalpha()]
    return Lexicon(
        numbers=numbers, words_of={v: w for w, v in numbers.items()}, scales=scales, vague=vague,
        by_category={c: frozenset(ws) for c, ws in by_category.items()},
        months={r[1]: int(r[2]) for r in rows if r[0] == "month"},
        time_caps={r[1]: float(r[2]) for r in rows if r[0] == "time_unit"},
        numeral=_numeral_pattern(numbers, scales, [w for w, _ in vague]),
        number_tokens=frozenset(w for phrase in [*numbers, "dozen", *(v for v, _ in vague)]
                                for w in re.split(r"[\s-]+", phrase)),
        percent_unit=re.compile(rf"\s?%|\s*(?:{_alternation(units_after, hyphens=True)})\b\.?", re.IGNORECASE),
        currency_before=re.compile(rf"(?:(?<![A-Za-z])(?:{_alternation(codes)})|(?:{_alternation(symbols)}))\s?$",
                                   re.IGNORECASE))


def _alternation(words: list[str], hyphens: bool = False) -> str:
    """A regex alternation of ``words``, longest first; a space matches any spaces (and, with
    ``hyphens``, a space or a hyphen matches either)."""
    parts = []
    for word in sorted(words, key=len, reverse=True):
        pieces = re.split(r"[ -]" if hyphens else " ", word)
        parts.append((r"[\s-]+" if hyphens else r"\s+").join(re.escape(p) for p in pieces))
    return "|".join(parts)


def _numeral_pattern(numbers: dict[str, int], scales: dict[str, tuple[float, str]], vague: list[str]) -> re.Pattern:
    long_scales = [w for w in scales if len(w) > 1]
    short_scales = [w for w in scales if len(w) == 1]
    scale = (rf"(?:(?P<gap>\s?)(?P<scale>{_alternation(long_scales)})|(?P<short>{_alternation(short_scales)}))"
             r"(?![\w'’])")
    return re.compile(
        rf"(?P<vague>\b(?:{_alternation(vague)})\b)"
        rf"|(?:(?P<digits>(?<![\d.,])(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?)"
        rf"|(?P<words>\b(?:an?\s+dozen|{_alternation(list(numbers))})\b))(?:{scale})?",
        re.IGNORECASE)


# -- numerals ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Numeral:
    start: int
    end: int
    """Where the numeral stands, its scale word included."""
    text: str
    value: float
    """What it says, scale included ("1.2 billion": 1.2e9)."""
    style: Literal["digits", "words", "vague"]
    decimals: int = 0
    significant: int = 1
    grouped: bool = False
    """Written with thousands commas, or small enough that a bigger one would be."""
    scale: str | None = None
    """The scale word as written ("billion", "bn", "M")."""
    scale_value: float = 1.0
    scale_gap: str = ""
    case: str = "lower"
    """How its words are written: lower, first (capital first), each (every word), upper."""


def numerals(text: str, lex: Lexicon | None = None) -> list[Numeral]:
    """Every numeral of ``text``, in order."""
    lex = lex or lexicon()
    return [_numeral(m, lex) for m in lex.numeral.finditer(text)]


def has_numeral(text: str, lex: Lexicon | None = None) -> bool:
    """Whether ``text`` may hold a numeral (cheap, and never wrong when it says no: it decides
    what NER reads)."""
    lex = lex or lexicon()
    return _DIGIT.search(text) is not None or not lex.number_tokens.isdisjoint(_LOWER_WORD.findall(text.lower()))


_DIGIT = re.compile(r"\d")
_LOWER_WORD = re.compile(r"[a-z]+")


def _numeral(m: re.Match[str], lex: Lexicon) -> Numeral:
    scale = m.group("scale") or m.group("short")
    scale_value = lex.scales[scale.lower()][0] if scale else 1.0
    gap = m.group("gap") or ""
    if m.group("vague"):
        words = m.group("vague")
        value = dict(lex.vague)[" ".join(words.lower().split())]
        return Numeral(m.start(), m.end(), m.group(0), value, "vague", case=_case(words))
    if m.group("digits"):
        digits = m.group("digits")
        plain = digits.replace(",", "")
        decimals = len(plain.split(".")[1]) if "." in plain else 0
        return Numeral(m.start(), m.end(), m.group(0), float(plain) * scale_value, "digits", decimals=decimals,
                       significant=_significant(plain), grouped="," in digits or float(plain) < 1000,
                       scale=scale, scale_value=scale_value, scale_gap=gap, case=_case(scale or ""))
    words = m.group("words")
    key = " ".join(words.lower().split())
    value = 12 if key.endswith("dozen") else lex.numbers[key]
    return Numeral(m.start(), m.end(), m.group(0), value * scale_value, "words",
                   significant=1 if value < 10 or value % 10 == 0 else 2, scale=scale, scale_value=scale_value,
                   scale_gap=gap, case=_case(words))


def _significant(plain: str) -> int:
    digits = plain.replace(".", "").lstrip("0")
    if "." not in plain:
        digits = digits.rstrip("0")
    return max(1, len(digits))


def _case(words: str) -> str:
    letters = [w for w in re.findall(r"[A-Za-z]+", words)]
    if not letters:
        return "lower"
    if all(w.isupper() for w in letters) and (len("".join(letters)) > 1 or len(letters[0]) == 1):
        return "upper" if len("".join(letters)) > 1 else "first"
    if all(w[0].isupper() for w in letters) and len(letters) > 1:
        return "each"
    return "first" if letters[0][0].isupper() else "lower"


def _cased(words: str, case: str) -> str:
    if case == "upper":
        return words.upper()
    if case == "each":
        return re.sub(r"[a-z]+", lambda m: m.group(0).capitalize(), words)
    if case == "first":
        return words[:1].upper() + words[1:]
    return words


# -- what a numeral measures ---------------------------------------------------------------------

@dataclass(frozen=True)
class Quantity:
    """A numeral with what it measures, and what bounds a new value of it."""

    numeral: Numeral
    kind: str
    label: str
    start: int
    end: int
    """The span an edit replaces: the numeral with its currency sign and its percent or
    currency word ("$1.2 billion", "20%", "5 cents")."""
    cap: float | None = None
    """The largest value it may take (a share: 100)."""
    floor: float | None = None
    """The smallest value it may take (an adult's age: 18)."""
    below_cap: bool = False
    """True when the cap itself is excluded (a fall of 100 % or more is impossible)."""
    plural_follows: bool = False
    """A noun follows that agrees with the number ("5 people", "2 dollars"): never 1."""
    future: bool = False
    cycle: bool = False
    month: int | None = None
    year: int | None = None
    ordinal: str = ""
    """The ordinal suffix of a day of a month ("28th"), kept on the new day."""
    direction: str | None = None
    """"up" or "down" when the words say which way the number went to get here ("rose to 7%")."""


@dataclass(frozen=True)
class Refusal:
    numeral: Numeral
    label: str
    reason: str


def classify(text: str, n: Numeral, label: str, names: list[tuple[int, int]] = (),
             lex: Lexicon | None = None) -> Quantity | Refusal:
    """What ``n`` (found in an NER entity of ``label``) measures, or why it must not change.
    ``names`` are the spans of the other, non-numeric entities of ``text``."""
    lex = lex or lexicon()
    reason = _shape_refusal(text, n, lex)
    if reason is None:
        found = _kind(text, n, label, lex, names)
        if isinstance(found, str):
            reason = found
        else:
            found = _with_level_direction(text, found, lex)
            reason = _context_refusal(text, n, found, names, lex)
            if reason is None:
                return found
    return Refusal(n, label, reason)


_LEVEL_AFTER_CHANGE = re.compile(r"\b([A-Za-z']+)(?:\s+[A-Za-z.']+){0,4}?\s+to\s+(?:an?\s+)?(?:[$£€¥]\s?)?$")


def _with_level_direction(text: str, q: Quantity, lex: Lexicon) -> Quantity:
    """A level reached by a change ("drop the rate to 15 percent", "death toll rises to 50") moves
    the way the change went: the verb stays true whatever the level was before."""
    if q.kind in ("year", "date"):
        return q
    m = _LEVEL_AFTER_CHANGE.search(text, 0, q.start)
    words = re.findall(r"[A-Za-z']+", m.group(0).lower())[:-1] if m else []
    for word in words:
        if word in lex.words("rise"):
            # a level reached by a rise: the down-only cap of a count with no noun no longer holds
            cap = None if q.cap == q.numeral.value else q.cap
            return replace(q, direction="up", cap=cap)
        if word in lex.words("fall"):
            return replace(q, direction="down")
    return q


_TIME_AFTER = re.compile(r"\s*(?:[ap]\.?m\b\.?|gmt|utc|bst|[ecmp][sd]?t|hrs|o'clock|°)(?!\w)", re.IGNORECASE)


def _shape_refusal(text: str, n: Numeral, lex: Lexicon) -> str | None:
    """Why the characters around ``n`` make it part of something else than a claimed number."""
    before, after = text[max(0, n.start - 2):n.start], text[n.end:n.end + 2]
    b1, a1 = before[-1:], after[:1]
    if b1 in ("#", "&") or a1 == ";" or re.search(r"[&#;]\S*\s*$", text[max(0, n.start - 12):n.start]):
        return "escaped markup (#39;, S amp;P 500)"
    if b1.isalnum() or b1 in ("_", "@"):
        return "stuck to letters before (a code or a name: G7, A380)"
    if b1 in ("-", "–", "‑") and before[:1].isalnum():
        return "after a hyphen (a code or a name: F-35, COVID-19)"
    if b1 in ("-", "−", "–"):
        return "a negative number or a range"
    if b1 in ("/", ":") or a1 in ("/", ":") and text[n.end + 1:n.end + 2].isdigit():
        return "part of a date, a time or a ratio written with / or :"
    if re.match(r"\s?[-–]\s?\d", text[n.end:n.end + 4]) or re.search(r"\d\s[-–]\s?$", text[:n.start]):
        return "a range, a score or a phone number"
    if n.style == "digits" and re.match(r"(?:st|nd|rd|th)\b", text[n.end:], re.IGNORECASE) and \
            not _month_near(text, n, lex):
        return "an ordinal"
    if a1.isalpha() and not re.match(r"(?:st|nd|rd|th)\b", text[n.end:], re.IGNORECASE):
        return "stuck to letters after (a code, a model or a decade: 3Q, 10g, 1990s)"
    if a1 in ("'", "’") and text[n.end + 1:n.end + 2] == "s":
        return "a decade or a possessive (1990's)"
    if re.match(r"\s\d", text[n.end:n.end + 2]) or re.search(r"\d\s$", text[:n.start]):
        return "a run of numbers (a phone number, a score)"
    if _TIME_AFTER.match(text, n.end):
        return "a time of day"
    return None


_PER_UNIT = re.compile(r"\s*(?:(?:a|an|per)\s+|/)(?!\d)[A-Za-z]", re.IGNORECASE)
_ORDINAL = re.compile(r"(?:st|nd|rd|th)\b", re.IGNORECASE)
_YEAR_BEFORE = re.compile(r"\b(?:in|since|by|until|till|from|before|after|during|through|of|fy|fiscal)\s+$",
                          re.IGNORECASE)
#: "option for 2005", "for Spring 2005", "Murders for 2015": a plan or a record, which way the year
#: may move without lying about time the words do not say.
_FOR_A_YEAR = re.compile(r"\bfor\s+(?:(?:the\s+)?(?:spring|summer|autumn|fall|winter|early|late|mid|end\s+of)\s+)?$",
                         re.IGNORECASE)
_AGE_AFTER = re.compile(r"[- ]y(?:ea)?rs?[- ]olds?\b", re.IGNORECASE)
_AGE_BEFORE = re.compile(r"\b(?:aged|age(?:\s+(?:of|to|from))?|(?:dies|died|dead)\s+at)\s+$", re.IGNORECASE)
_AGE_COMMAS = re.compile(r"[A-Za-z]\s*,\s*$")


def _kind(text: str, n: Numeral, label: str, lex: Lexicon, names: list[tuple[int, int]]) -> Quantity | str:
    """The kind of ``n`` and the span an edit replaces, or why it has none."""
    currency_start = _currency_before(text, n.start, lex)
    if n.scale and lex.scales[n.scale.lower()][1] != "words" and n.scale_value != 12 and currency_start is None:
        return "an abbreviated scale with no currency (a unit: 5m, 10k)"
    unit = _percent_unit(text, n.end, lex)
    if unit is not None:
        return _percent(text, n, label, n.start, unit, lex)
    currency_end = _currency_after(text, n.end, lex)
    if currency_start is not None or currency_end is not None:
        return _money(text, n, label, currency_start or n.start, currency_end or n.end, currency_end is not None)
    if label == "MONEY":
        return "money with no currency sign or word"
    if label == "PERCENT":
        return "a percentage with no percent sign or word"
    if n.style == "vague":
        return Quantity(n, "count", label, n.start, n.end)
    if n.style == "words" and n.value == 1:
        return "the word one (a pronoun or an idiom: one of, one-day)"
    if _is_year_shape(text, n):
        if not (label == "DATE" or _YEAR_BEFORE.search(text[:n.start])):
            return "a four-digit number that may be a year"
        year = _year(text, n, label, lex, names)
        if not year.future and _FOR_A_YEAR.search(text[:n.start]):
            return "a year after 'for' in a text whose tense is unclear (a plan or a record)"
        return year
    month = _month_near(text, n, lex)
    if month is not None:
        return _day(text, n, label, month, lex, names)
    if _AGE_AFTER.match(text, n.end) or _AGE_BEFORE.search(text[:n.start]) or (
            _AGE_COMMAS.search(text[:n.start]) and re.match(r"\s*,", text[n.end:]) and n.style == "digits"):
        return _age(n, label)
    unit = _word_after(text, n.end, lex.words("time_unit"))
    if unit is not None:
        return Quantity(n, "duration", label, n.start, n.end, cap=lex.time_caps[unit] * n.scale_value,
                        plural_follows=_noun_follows(text, n, lex))
    if label == "DATE":
        return "a number of a date that is no year, day or span of time"
    return _count(text, n, label, lex)


def _age(n: Numeral, label: str) -> Quantity | str:
    if n.decimals or n.scale:
        return "an age with decimals or a scale"
    # an adult stays an adult and a child a child: "NL MVP dies at 15" is no news a reader believes
    adult = n.value >= ADULT
    return Quantity(n, "age", label, n.start, n.end, cap=OLDEST_AGE if adult else ADULT, below_cap=not adult,
                    floor=ADULT if adult else None)


def _count(text: str, n: Numeral, label: str, lex: Lexicon) -> Quantity | str:
    """A count (or a QUANTITY entity's number) and how far it may move: down only when what it
    counts has a ceiling a reader knows or is not written at all."""
    if n.decimals and not n.scale:
        return "a decimal with no unit (a rate, a version or a score)"
    if re.match(r"-[A-Za-z]", text[n.end:n.end + 2]):
        return "a number in a compound (18-point, seven-wicket, two-thirds): what it counts bounds it"
    unit = re.match(r" ([A-Za-z]+)\b", text[n.end:n.end + 20])
    if n.value > 1 and unit and unit.group(1).lower() in lex.words("singular_unit"):
        return "a number in a compound (400 Meter Champion, 10 man Chelsea): it names a thing"
    kind = "quantity" if label == "QUANTITY" else "count"
    nouns = [w.lower() for w in re.findall(r"[A-Za-z]+", text[n.end:n.end + 30])[:2]]
    if any(w in lex.words("capped_noun") for w in nouns) or _words_in(text[max(0, n.start - 20):n.start].lower()
                                                                         + " ", lex.words("capped_after"), at_end=True):
        return Quantity(n, kind, label, n.start, n.end, cap=n.value, below_cap=True,
                        plural_follows=_noun_follows(text, n, lex))
    if not _noun_follows(text, n, lex):
        if _direction_before(text, n.start, lex):
            return "a change with no unit (a percent sign lost: profit soars 27)"
        # "kills 17 in", "leads by 6 ahead": what it counts is the reader's guess, and so is its
        # bound (a poll's lead, a bowler's wickets): the number only moves down
        return Quantity(n, kind, label, n.start, n.end, cap=n.value, below_cap=True)
    return Quantity(n, kind, label, n.start, n.end, plural_follows=True)


def _is_year_shape(text: str, n: Numeral) -> bool:
    return n.style == "digits" and not n.scale and n.decimals == 0 and len(n.text) == 4 \
        and YEARS[0] <= n.value <= YEARS[1]


def _percent_unit(text: str, end: int, lex: Lexicon) -> int | None:
    """Where the percent sign or word after ``end`` ends, or None."""
    m = lex.percent_unit.match(text, end)
    return m.end() if m else None


def _currency_before(text: str, start: int, lex: Lexicon) -> int | None:
    """Where a currency sign or code written right before ``start`` begins, or None."""
    head = text[max(0, start - 8):start]
    m = lex.currency_before.search(head)
    return start - len(head) + m.start() if m else None


def _currency_after(text: str, end: int, lex: Lexicon) -> int | None:
    m = re.match(r"\s+([A-Za-z]+)\b", text[end:end + 20])
    if m and m.group(1).lower() in lex.words("currency_after"):
        return end + m.end()
    return None


def _word_after(text: str, end: int, words: frozenset[str]) -> str | None:
    m = re.match(r"[\s-]([A-Za-z]+)\b", text[end:end + 20])
    return m.group(1).lower() if m and m.group(1).lower() in words else None


def _noun_follows(text: str, n: Numeral, lex: Lexicon) -> bool:
    """Whether the word after the number may be a noun agreeing with it: a word after a space
    (not a hyphenated compound: "two-year" stays singular whatever the number), not one of
    those that show the number stands alone ("kills 17 in")."""
    if n.scale:
        return False
    after = re.match(r" ([A-Za-z][\w.]*)", text[n.end:n.end + 30])
    return after is not None and after.group(1).lower() not in lex.words("not_a_noun")


def _percent(text: str, n: Numeral, label: str, start: int, end: int, lex: Lexicon) -> Quantity | str:
    unit = text[n.end:end].strip().lower()
    direction = _direction(text, start, end, lex)
    # A change up may pass 100 ("up 150%"); a fall or a share never reaches it (a share of 100% is
    # "all of it", a claim of another kind).
    cap, below = (None, False) if direction == "rise" else (100.0, True)
    if n.value > 100 and cap is not None:
        return "a percentage over 100 that is no rise"
    if n.value == 100:
        return "a whole (100%): mostly an idiom (100% wrong)"
    return Quantity(n, "percent", label, start, end, cap=cap, below_cap=below,
                    plural_follows=unit.startswith("percentage"))


def _direction(text: str, start: int, end: int, lex: Lexicon) -> str | None:
    """Whether the words right around a change say it is a rise or a fall."""
    before = re.findall(r"[A-Za-z']+", text[max(0, start - 40):start])[-3:]
    after = re.findall(r"[A-Za-z']+", text[end:end + 30])[:2]
    for word in [*reversed(before), *after]:
        word = word.lower()
        if word in lex.words("rise"):
            return "rise"
        if word in lex.words("fall"):
            return "fall"
    return None


def _direction_before(text: str, start: int, lex: Lexicon) -> bool:
    """Whether a rise or fall word stands right before ``start`` (past a "by")."""
    words = [w.lower() for w in re.findall(r"[A-Za-z']+", text[max(0, start - 30):start])[-2:]]
    if words and words[-1] == "by":
        words = words[:-1]
    return bool(words) and words[-1] in lex.words("rise") | lex.words("fall")


def _money(text: str, n: Numeral, label: str, start: int, end: int, word_after: bool) -> Quantity | str:
    if n.style == "vague":
        return "a vague amount of money"
    word = text[n.end:end].strip().lower()
    cap = 99.0 if word in ("cent", "cents") else None
    # "$49 a barrel", "$5 an hour": a unit price, which moves less than an amount
    kind = "price" if _PER_UNIT.match(text, end) else "money"
    return Quantity(n, kind, label, start, end, cap=cap, plural_follows=word_after)


def _year(text: str, n: Numeral, label: str, lex: Lexicon, names: list[tuple[int, int]]) -> Quantity:
    return Quantity(n, "year", label, n.start, n.end, future=_future(text, n, lex, names),
                    cycle=_words_in(text, lex.words("cycle")))


def _future(text: str, n: Numeral, lex: Lexicon, names: list[tuple[int, int]]) -> bool:
    """Whether the clause of ``n`` speaks of the future ("will ... in 2030", "by 2030"), unless
    the word before says the past ("since 2010")."""
    previous = re.findall(r"[A-Za-z']+", text[max(0, n.start - 30):n.start])[-1:]
    if previous and previous[0].lower() in lex.words("past"):
        return False
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, n.start)), default=0)
    sentence = _sentence(text, n.start, n.end)
    return _words_in(sentence, lex.words("future")) or any(
        not any(s == left + m.start(1) for s, _ in names) for m in _HEADLINE_INFINITIVE.finditer(sentence))


#: "Trump to meet ... on July 7", "Toshiba to Unveil ... in 2005": a headline's "to" before a word
#: that starts no name speaks of what is to come.
_HEADLINE_INFINITIVE = re.compile(r"\bto\s+(?!(?:the|a|an|be|his|her|its|their|this|that|these|those|my|our|your|"
                                  r"date|last|lowest|highest|record|levels?|power|office|court|jail|prison|"
                                  r"death|war|work|school|market|home|life)\b)([A-Za-z]{3,})\b", re.IGNORECASE)
#: A full stop, unless after what may be an abbreviation ("Dec.", "U.S.", "Corp."), before a capital.
_SENTENCE_END = re.compile(r"(?<!\b[A-Z])(?<!\b[A-Z][a-z])(?<!\b[A-Z][a-z]{2})(?<!\b[A-Z][a-z]{3})"
                           r"[.!?]\s+(?=[A-Z\"“'‘])")


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around ``text[start:end]`` (a headline's clauses cut by a colon or a dash are
    one: "Olympic 2012: Madrid unveils bid")."""
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    right = _SENTENCE_END.search(text, end)
    return text[left:right.start() if right else len(text)]


def _words_in(text: str, words: frozenset[str], at_end: bool = False) -> bool:
    """Whether one of ``words`` (single words, contractions such as "'ll", or phrases) is in
    ``text`` (with ``at_end``: ends it)."""
    return _words_pattern(words, at_end).search(text.lower().replace("’", "'")) is not None


@functools.lru_cache(maxsize=64)
def _words_pattern(words: frozenset[str], at_end: bool) -> re.Pattern[str]:
    # a word starts after no letter; a contraction ("'ll") right after one
    alternation = "|".join((r"(?<![a-z])" if w[0].isalpha() else "") + re.escape(w)
                           for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?:{alternation})" + (r"\s*$" if at_end else r"(?![a-z])"))


def _month_near(text: str, n: Numeral, lex: Lexicon) -> int | None:
    """The month written right before ("Aug. 28") or after ("28 August", "28th of August") a day."""
    if n.style != "digits" or n.decimals or n.scale or not 1 <= n.value <= 31:
        return None
    before = re.search(r"\b([A-Za-z]+)\.?\s+$", text[max(0, n.start - 12):n.start])
    if before and before.group(1).lower() in lex.months:
        return lex.months[before.group(1).lower()]
    after = re.match(r"(?:st|nd|rd|th)?\s+(?:of\s+)?([A-Za-z]+)\b", text[n.end:n.end + 20], re.IGNORECASE)
    if after and after.group(1).lower() in lex.months and len(after.group(1)) > 2:
        return lex.months[after.group(1).lower()]
    return None


def _day(text: str, n: Numeral, label: str, month: int, lex: Lexicon, names: list[tuple[int, int]]) -> Quantity | str:
    window = text[max(0, n.start - 25):n.end + 25]
    if _words_in(window, lex.words("weekday")):
        return "a day of the month named with its weekday"
    suffix = _ORDINAL.match(text, n.end)
    year = re.search(r"\b(1[89]\d\d|20\d\d)\b", text[n.end:n.end + 12])
    return Quantity(n, "date", label, n.start, suffix.end() if suffix else n.end, future=_future(text, n, lex, names),
                    month=month, year=int(year.group(1)) if year else None,
                    ordinal=suffix.group(0) if suffix else "")


_RATIO_GAP = re.compile(r"\s+(?:in|of|out\s+of)\s+(?:every\s+)?", re.IGNORECASE)
_RATIO_BEFORE = re.compile(r"(?:\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten))\s+(?:in|of|out\s+of)\s+"
                           r"(?:every\s+)?$", re.IGNORECASE)
_OF_BEFORE = re.compile(r"\s+of\s+$", re.IGNORECASE)
_RANK_BEFORE = re.compile(r"(?:^|\s)([A-Za-z&#.-]+)\s*$")


def _context_refusal(text: str, n: Numeral, q: Quantity, names: list[tuple[int, int]], lex: Lexicon) -> str | None:
    """Why the words around ``q`` make it part of a name, a rank, a range or a bounded scale."""
    head = text[:q.start]
    previous = _RANK_BEFORE.search(_OF_BEFORE.sub("", head[-30:]))  # "version of 777" as "version 777"
    previous_word = previous.group(1).lower() if previous else ""
    if {previous_word, previous_word.rstrip("."), previous_word.rsplit("-", 1)[-1]} & lex.words("name_before"):
        return f"a number in a name or a rank ({previous_word} N)"
    if _bounded(text, q, lex):
        return "a number on a bounded scale (magnitude, category, N out of M)"
    if q.kind not in ("money", "price") and any(end <= q.start and not text[end:q.start].strip() for _, end in names):
        return "a number right after a name (a score, a model)"
    if q.kind == "year" and _year_in_name(text, q.start, lex):
        return "a year after a capitalised word (part of a name: SQL Server 2005, Euro 2016)"
    if q.kind not in ("date", "money", "price", "year") and _after_capitalised(text, q.start):
        return "a number after a capitalised word (part of a name: GeForce 6600, Windows 10)"
    if q.kind not in ("date", "money", "price") and _after_opening_name(text, q.start, lex):
        return "a number after the capitalised word opening the headline (a score or a model: Astros 10, Treo 650)"
    if n.style == "words" and n.case != "lower" and not _sentence_start(text, n.start) and not _title_case(text):
        return "a number word with a capital inside a sentence (part of a name)"
    ratio = _RATIO_GAP.match(text, q.end)
    if ratio and lex.numeral.match(text, ratio.end()) or _RATIO_BEFORE.search(head):
        return "a ratio or a part of a whole (one in five, 7 of 8)"
    if re.search(r"\ball\s+$", head, re.IGNORECASE):
        return "a total (all four): its noun may have to change (both)"
    if re.search(r"\bor\s+$", head) or re.match(r"\s+or\b", text[q.end:]):
        return "an approximate number (X or Y)"
    if re.search(r"\bbetween\s+$", head) or re.search(r"\bbetween\s+\S+\s+and\s+$", head):
        return "a range (between X and Y)"
    return None


def _bounded(text: str, q: Quantity, lex: Lexicon) -> bool:
    after = " ".join(re.findall(r"[A-Za-z]+", text[q.end:q.end + 30])[:2]).lower()
    before = re.findall(r"[A-Za-z]+", text[max(0, q.start - 25):q.start])[-2:]
    words = lex.words("bounded")
    return any(after == w or after.startswith(w + " ") for w in words) or any(b.lower() in words for b in before)


def _year_in_name(text: str, start: int, lex: Lexicon) -> bool:
    """Whether a year stands after a capitalised word other than those that may precede a
    year ("In 2004", "FY 2018"), inside its sentence: then it is part of a name."""
    m = re.search(r"([A-Za-z][\w&.'’-]*)\s+$", text[:start])
    if m is None or m.group(1).lower().rstrip(".") in lex.words("year_before"):
        return False
    return m.group(1)[0].isupper() and not _sentence_start(text, m.start()) and not text.isupper()


def _after_opening_name(text: str, start: int, lex: Lexicon) -> bool:
    m = re.search(r"([A-Z][\w&.'’-]*)\s+$", text[:start])
    return m is not None and _sentence_start(text, m.start()) \
        and m.group(1).lower().rstrip(".") not in lex.words("lead_in") \
        and m.group(1).lower().rstrip(".") not in lex.words("year_before")


def _sentence_start(text: str, position: int) -> bool:
    return re.search(r"(?:^|[.!?:;|\"“(]|\s[-–—])\s*['‘\"“]?$", text[:position]) is not None


def _after_capitalised(text: str, start: int) -> bool:
    """Whether the word right before a number is a name it belongs to: a word in camel case or
    an acronym ("GeForce 6600", "GT 500"), or, in a headline written in sentence case, any
    capitalised word but the sentence's first ("Windows 10"); title case says nothing."""
    m = re.search(r"([A-Za-z][\w&.'’-]*)\s+$", text[:start])
    if m is None or text.isupper():
        return False
    word = m.group(1)
    letters = re.sub(r"[^A-Za-z]", "", word)
    if re.search(r"[a-z][A-Z]", word) or len(letters) >= 2 and letters.isupper():
        return True
    return word[0].isupper() and not _sentence_start(text, m.start()) and not _title_case(text)


_LONG_WORD = re.compile(r"(?<![\w'’-])[A-Za-z]{4,}(?![\w'’])")


def _title_case(text: str) -> bool:
    """Whether a headline capitalises every word of four letters or more: then a capital says
    nothing of a name ("Israelis Kill Four Palestinians"); in "Ireland beat France in Six Nations
    match" it does."""
    words = _LONG_WORD.findall(text)
    return len(words) >= 2 and all(w[0].isupper() for w in words)


# -- links between numbers -----------------------------------------------------------------------

#: "Orioles 8, Devil Rays 0": two numbers each after a team's name of one to three capitalised
#: words, the first opening the headline or a clause after a colon.
_SCORE_GAP = re.compile(r",\s+(?:[A-Z0-9][\w'.&-]*\s+){1,3}")
_SCORE_OPENING = re.compile(r"(?:^|[:;]\s*)(?:[A-Z0-9][\w'.&-]*\s+){1,3}$")
_RANGE_GAP = re.compile(r"\s*(?:-|–|—|to|and|or|/)\s*", re.IGNORECASE)
_PAIR_GAP = re.compile(r"\s*(?:to|,?\s*(?:up|down)?\s*from|vs\.?|versus|compared\s+(?:with|to)|against)\s*",
                       re.IGNORECASE)


@dataclass
class Links:
    """How the numbers of one text bear on each other: which must keep their order when one
    changes, and which were refused for being half of a range or of a pair."""

    order: dict[int, list[int]] = field(default_factory=dict)
    """Index of a quantity -> indexes of the quantities it must keep its order with."""
    refused: dict[int, str] = field(default_factory=dict)


def link(text: str, found: list[Quantity | Refusal]) -> Links:
    """Links between the numbers of ``text`` (``found`` in order): ranges ("5 to 10 percent",
    "between 2 and 3") are refused; pairs ("from 5% to 7%", "7%, up from 5%") keep their order,
    and are refused when only one of them states the unit ("from 5 to 7 percent") or the scale;
    numbers of the same kind close to each other keep their order too."""
    links = Links()
    spans = [(f.start, f.end) if isinstance(f, Quantity) else (f.numeral.start, f.numeral.end) for f in found]
    # digits inside a word ("76ers", "3Q") are no number standing between two others
    standing = [i for i, f in enumerate(found) if not _inside_a_word(text, f.numeral)]
    for i, k in zip(standing, standing[1:]):
        a, b = found[i], found[k]
        gap = text[spans[i][1]:spans[k][0]]
        opened_by_from = re.search(r"\bfrom\s+\S*$", text[:spans[i][0]], re.IGNORECASE) is not None
        if _SCORE_GAP.fullmatch(gap) and _SCORE_OPENING.search(text[:spans[i][0]]):
            for j in (i, k):
                links.refused.setdefault(j, "a score (Astros 10, Pirates 5)")
        elif _RANGE_GAP.fullmatch(gap) and not opened_by_from:
            for j in (i, k):
                links.refused.setdefault(j, "half of a range (X to Y, X-Y)")
        elif _PAIR_GAP.fullmatch(gap):
            if not (isinstance(a, Quantity) and isinstance(b, Quantity)) or a.kind != b.kind \
                    or a.numeral.scale_value != b.numeral.scale_value:
                for j in (i, k):
                    links.refused.setdefault(j, "half of a pair that states its unit or scale once")
            else:
                links.order.setdefault(i, []).append(k)
                links.order.setdefault(k, []).append(i)
    for i, a in enumerate(found):
        for j, b in enumerate(found):
            if i < j and isinstance(a, Quantity) and isinstance(b, Quantity) and a.kind == b.kind \
                    and b.start - a.end <= NEAR and j not in links.order.get(i, []):
                links.order.setdefault(i, []).append(j)
                links.order.setdefault(j, []).append(i)
    return links


def _inside_a_word(text: str, n: Numeral) -> bool:
    return n.style == "digits" and not n.scale and (
        text[n.start - 1:n.start].isalpha() or text[n.end:n.end + 1].isalpha()
        and not _ORDINAL.match(text, n.end))


# -- new values ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    start: int
    end: int
    """What the edit replaces: the quantity's span, or from the article before it when that
    changes too ("a 5% rise" -> "an 8% rise")."""
    replacement: str
    written: str
    """The new text of the quantity's span alone."""
    value: float
    factor: float | None = None
    offset: int | None = None


def change(text: str, q: Quantity, rng: random.Random, *, factor_range: tuple[float, float],
           year_offset: tuple[int, int], day_offset: tuple[int, int], keep_order_with: list[float] = (),
           lex: Lexicon | None = None) -> Change | str:
    """A clearly different, plausible value for ``q`` written in its form, or why there is none.
    ``keep_order_with``: values the new one must stay on the same side of."""
    lex = lex or lexicon()
    if q.kind == "year":
        return _change_year(q, rng, year_offset, keep_order_with)
    if q.kind == "date":
        return _change_day(q, rng, day_offset)
    if q.numeral.style == "vague":
        return _change_vague(text, q, rng, factor_range, lex)
    lo, hi = factor_range
    if q.plural_follows and q.numeral.value == 1:
        return "one of something: the noun after it would have to change"
    for _ in range(_DRAWS):
        factor = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        directions = (True, False) if rng.random() < 0.5 else (False, True)
        for up in directions:
            value = q.numeral.value * factor if up else q.numeral.value / factor
            written = write(value, q.numeral, q.kind, lex)
            if written is None:
                continue
            new_value, numeral = written
            if _acceptable(q, new_value, lo, hi, keep_order_with):
                replacement = text[q.start:q.numeral.start] + numeral + text[q.numeral.end:q.end]
                return _with_article(text, q, replacement, new_value,
                                     factor=round(new_value / q.numeral.value, 4))
    return f"no value {lo:g} to {hi:g} times larger or smaller that stays plausible"


def _acceptable(q: Quantity, value: float, lo: float, hi: float, others: list[float]) -> bool:
    old = q.numeral.value
    if value <= 0 or value == old:
        return False
    ratio = value / old if value > old else old / value
    if ratio < lo * 0.999 or ratio > hi * 1.3:
        return False
    if q.cap is not None and (value > q.cap or q.below_cap and value >= q.cap):
        return False
    if q.floor is not None and value < q.floor:
        return False
    if q.direction is not None and (value > old) != (q.direction == "up"):
        return False
    if q.plural_follows and value == 1 or q.kind in _AT_LEAST_TWO and value < 2:
        return False
    return all((value > o) == (old > o) and value != o for o in others)


def write(value: float, n: Numeral, kind: str, lex: Lexicon | None = None) -> tuple[float, str] | None:
    """``value`` rounded to the precision of ``n`` and written its way: (the value as written, the
    text), or None when that form cannot hold it (number words past ninety-nine)."""
    lex = lex or lexicon()
    if n.style == "words":
        return _write_words(value, n, lex)
    scale, scale_value = n.scale, n.scale_value
    units = value / scale_value
    family = lex.scales[scale.lower()][1] if scale else "-"
    decimals = n.decimals
    if scale is None and units >= 1e6 and kind in ("money", "count", "quantity") and n.decimals == 0:
        scale, scale_value, family = "million", 1e6, "words"
        units, decimals = value / 1e6, 1
    elif family != "-":
        while units >= 1000 and (bigger := _neighbour_scale(scale, 1000, lex)) is not None:
            scale, scale_value, units, decimals = bigger, scale_value * 1000, units / 1000, decimals + 3
        while units < 1 and scale is not None:
            smaller = _neighbour_scale(scale, 1 / 1000, lex)
            if smaller is None and lex.scales[scale.lower()][0] != 1000:
                break
            scale, scale_value, units = smaller, scale_value / 1000, units * 1000
            decimals = max(0, decimals - 3)
            if scale is not None and scale_value == 1000 and family == "words" and n.scale_value != 1000:
                scale, scale_value, units = None, 1.0, units * 1000  # "$310,000", not "$310 thousand"
    rounded = _round(units, n.significant, decimals)
    if rounded <= 0:
        return None
    if n.decimals == 2 and kind == "money" and scale is None:
        digits = f"{rounded:,.2f}" if n.grouped else f"{rounded:.2f}"
    else:
        digits = _plain(rounded, n.grouped or rounded >= 10_000)
    if scale is None:
        numeral = digits
    elif n.scale is None:  # a plain number grown into millions
        numeral = f"{digits} {scale}"
    else:
        numeral = digits + n.scale_gap + _scale_as(scale, n)
    return rounded * scale_value, numeral


def _scale_as(scale: str, n: Numeral) -> str:
    if n.scale is None or scale == n.scale:
        return scale
    if len(n.scale) == 1 and n.scale.isupper():  # "$300M" -> "$1.5B", but "£300m" -> "£1.5bn"
        scale = scale[0]
    if n.scale.isupper():
        return scale.upper()
    if n.scale[0].isupper():
        return scale.capitalize()
    return scale.lower()


def _neighbour_scale(scale: str, ratio: float, lex: Lexicon) -> str | None:
    value, family = lex.scales[scale.lower()]
    for word, (v, f) in lex.scales.items():
        if f == family and f != "-" and math.isclose(v, value * ratio):
            return word
    return None


def _round(value: float, significant: int, decimals: int) -> float:
    """``value`` to ``significant`` digits and at most ``decimals`` decimals, halves up."""
    if value <= 0:
        return 0.0
    exponent = math.floor(math.log10(value)) - significant + 1
    places = min(decimals, -exponent)
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def _plain(value: float, grouped: bool) -> str:
    text = f"{Decimal(repr(value)).normalize():f}"
    whole, _, fraction = text.partition(".")
    if grouped:
        whole = f"{int(whole):,}"
    return whole + ("." + fraction if fraction else "")


def _write_words(value: float, n: Numeral, lex: Lexicon) -> tuple[float, str] | None:
    units = _round(value / n.scale_value, n.significant, 0)
    if not 2 <= units <= 99 or units != int(units):
        return None
    words = _cased(lex.words_of[int(units)], n.case)
    if n.case == "each":
        words = "-".join(w.capitalize() for w in words.split("-"))
    numeral = words + (n.scale_gap + _scale_as(n.scale, n) if n.scale else "")
    return units * n.scale_value, numeral


def _change_vague(text: str, q: Quantity, rng: random.Random, factor_range: tuple[float, float],
                  lex: Lexicon) -> Change | str:
    ladder = lex.vague
    position = next(i for i, (_, v) in enumerate(ladder) if v == q.numeral.value)
    steps = [i for i in (position - 1, position + 1) if 0 <= i < len(ladder)
             and factor_range[0] <= max(ladder[i][1], q.numeral.value) / min(ladder[i][1], q.numeral.value)
             <= factor_range[1] * 1.3]
    if not steps:
        return "a vague number with no neighbour within the factor range"
    word, value = ladder[rng.choice(steps)]
    written = _cased(word, q.numeral.case)
    return _with_article(text, q, written, value, factor=round(value / q.numeral.value, 4))


def _change_year(q: Quantity, rng: random.Random, offsets: tuple[int, int], others: list[float]) -> Change | str:
    lo, hi = offsets
    choices = [o for o in range(lo, hi + 1) if not q.cycle or o % 4 == 0]
    sign = 1 if q.future else -1
    year = int(q.numeral.value)
    choices = [o for o in choices if YEARS[0] <= year + sign * o <= YEARS[1]
               and all((year + sign * o > v) == (year > v) and year + sign * o != v for v in others)]
    if not choices:
        return "no other year within the offsets that keeps the order of the years around it"
    offset = sign * rng.choice(choices)
    return Change(q.start, q.end, str(year + offset), str(year + offset), year + offset, offset=offset)


def _change_day(q: Quantity, rng: random.Random, offsets: tuple[int, int]) -> Change | str:
    day = int(q.numeral.value)
    last = _DAYS_IN_MONTH[q.month - 1]
    if q.month == 2:
        last = 29 if q.year is not None and (q.year % 4 == 0 and q.year % 100 != 0 or q.year % 400 == 0) else 28
    if day > last:
        return "not a day of its month"
    lo, hi = offsets
    sign = 1 if q.future else -1
    choices = [o for o in range(lo, hi + 1) if 1 <= day + sign * o <= last]
    if not choices:
        return "no other day of the month within the offsets"
    offset = sign * rng.choice(choices)
    new = day + offset
    suffix = _ordinal_suffix(new) if q.ordinal else ""
    if q.ordinal.isupper():
        suffix = suffix.upper()
    return Change(q.start, q.end, f"{new}{suffix}", f"{new}{suffix}", new, offset=offset)


def _ordinal_suffix(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _with_article(text: str, q: Quantity, replacement: str, value: float, factor: float) -> Change:
    """The change, with the article before it respelt when the number's sound calls for it
    ("a 5% rise" -> "an 8% rise"), if the writer followed that rule for the original."""
    article = re.search(r"\b(an?)\s+$", text[:q.start], re.IGNORECASE)
    if article:
        old_an = _takes_an(text[q.start:q.end])
        new_an = _takes_an(replacement)
        if old_an == (article.group(1).lower() == "an") and old_an != new_an:
            written = article.group(1)
            new_article = ("an" if new_an else "a")
            new_article = new_article.upper() if written.isupper() and len(written) > 1 else (
                new_article.capitalize() if written[0].isupper() else new_article)
            gap = text[article.end(1):q.start]
            return Change(article.start(1), q.end, new_article + gap + replacement, replacement, value, factor=factor)
    return Change(q.start, q.end, replacement, replacement, value, factor=factor)


def _takes_an(written: str) -> bool:
    """Whether a number written so is read with a vowel first ("8", "11,000", "18 million", "eighty")."""
    body = written.lstrip("$£€¥₹ ")
    if body[:1].isdigit():
        whole = re.match(r"[\d,]+", body).group(0)
        return whole.startswith("8") or whole.split(",")[0] in ("11", "18")
    return body[:1].lower() == "e"
