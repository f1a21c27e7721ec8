"""Which entity strings are not names a reader would accept as swapped: never banked, never replaced.

NER on news tags web addresses, lists of names, page furniture and half-sentences as
entities. Swapping one of them teaches a detector to spot junk instead of falsehood, so they
are refused by rules that look at the string's shape (no entity is named here):

- web addresses and handles, strings made mostly of digits;
- lists (commas, semicolons, bars) and names joined by "and" whose parts are names on their own;
- strings of several words in capitals, one of them long (a shouted headline's words);
- strings too long to be one name, or holding lower-case words (other than the particles names
  have: "Bank of England", "Leonardo da Vinci");
- a one-word entity, or a person's name ending in a word, that the corpus mostly writes in lower
  case (a common noun: "... Transcript");
- site boilerplate: a segment repeated at the start or end of many titles (" - Site Name",
  "| Section"), found per corpus by :class:`TitleEdges`.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

#: Lower-case words that belong inside names.
NAME_PARTICLES = frozenset({
    "of", "the", "and", "for", "de", "del", "della", "der", "den", "van", "von", "da", "das", "do", "dos",
    "du", "la", "le", "les", "el", "al", "bin", "ibn", "y", "e", "on", "in", "at", "to", "upon", "und", "di",
    "st", "mc", "san", "santa", "ben", "ter", "ten", "zu",
})
#: Last words of events NER takes for people ("City Marathon", "Grand Prix").
EVENT_WORDS = frozenset({"marathon", "open", "cup", "prix", "games", "olympics", "league", "championship",
                         "championships", "summit", "festival", "awards", "tour", "classic", "series"})
MAX_WORDS = 6
MAX_CHARS = 50
_WEB = re.compile(r"https?\b|www\.|\.(?:com|org|net|gov|co|io|html?)\b|@\w|#\w|/", re.IGNORECASE)
_LIST = re.compile(r"[,;|•·]")
_EDGE_SEPARATOR = re.compile(r"\s+(?:[-|—–»:]|::)\s+")
_WORDS = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)
_LOWER_WORD = re.compile(r"\b[a-z]{3,}\b")
_CAPITALISED_WORD = re.compile(r"\b[A-Z][a-z]{2,}\b")


def junk_reason(text: str, label: str, *, common_words: Counter[str] | None = None) -> str | None:
    """Why ``text`` (an entity of NER ``label``) is not a name to swap, or None if it may be one."""
    if _WEB.search(text):
        return "a web address or handle"
    digits = sum(c.isdigit() for c in text)
    mostly = digits > 0.5 * max(1, sum(c.isalnum() for c in text))
    if mostly or digits and label in ("PERSON", "NORP", "GPE"):
        return "mostly digits" if mostly else "a name with digits"
    if _LIST.search(text):
        return "a list, not one name"
    words = _WORDS.findall(text)
    if not words:
        return "no word"
    if len(words) > MAX_WORDS or len(text) > MAX_CHARS:
        return "too long for one name"
    if len(words) > 1 and text.isupper() and any(len(w.strip(".")) > 3 for w in words):
        return "written in capitals"  # a shouted headline's words, not a name as written: its case is lost
    lower = [w for w in words if w.islower() and w.lower() not in NAME_PARTICLES]
    if lower:
        return f"holds lower-case words ({', '.join(lower[:3])})"
    if label == "PERSON" and any(len(w) == 1 for w in re.findall(r"[^\W\d_]+\.?", text)):
        return "a one-letter word in a person's name"  # "Serie A"; initials keep their dot
    if label == "PERSON" and words[-1].lower() in EVENT_WORDS:
        return f"an event's name ({words[-1]})"
    if common_words is not None:
        # A word the corpus mostly writes in lower case is a common noun ("Wildfire" opening a
        # title), not a name; in a person's name it is a trailing label ("... Transcript").
        # Inside longer names common nouns are normal ("Health Service"), and surnames may be
        # common words ("May"), so only these two places are checked.
        word = words[0] if len(words) == 1 else words[-1] if label == "PERSON" and len(words) >= 3 else None
        if word is not None and common_words.get(word.lower(), 0) >= 2:
            return f"a common word ({word})"
        named = [w for w in words if w.lower() not in NAME_PARTICLES]
        if label in ("PERSON", "ORG") and len(named) > (label == "ORG") \
                and all(common_words.get(w.lower(), 0) >= 2 for w in named):
            return "common words, not a name"  # "Story Continued Below", "Heap Blame", "Raises Dividend"
    return None


@functools.lru_cache(maxsize=4096)  # asked for each mention of a text
def title_case(text: str) -> bool:
    """Whether most words of a text start with a capital (a title-case headline)."""
    words = re.findall(r"[A-Za-z][\w'’-]*", text)
    return len(words) > 3 and sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def joined_names(text: str, known: set[str]) -> bool:
    """True when ``text`` is names joined by "and"/"&" that are each a name on their own
    ("A and B" with A and B both known): a pair, not one entity. "Trinidad and Tobago" stays."""
    parts = [p.strip() for p in re.split(r"\s+(?:and|&)\s+", text)]
    return len(parts) > 1 and all(p in known for p in parts)


class CommonWords:
    """Counts, over a corpus, the words written in lower case and with a capital: a word
    mostly written in lower case is a common word, not a name."""

    def __init__(self) -> None:
        self.lower: Counter[str] = Counter()
        self.capitalised: Counter[str] = Counter()

    def add(self, text: str) -> None:
        self.lower.update(_LOWER_WORD.findall(text))
        if not title_case(text):  # a title-case headline capitalises every word: no sign of a name
            self.capitalised.update(w.lower() for w in _CAPITALISED_WORD.findall(text))

    def common(self) -> Counter[str]:
        """Words seen in lower case more often than capitalised (with their lower-case count)."""
        return Counter({w: n for w, n in self.lower.items() if n > self.capitalised.get(w, 0)})


def edge_segments(title: str) -> list[tuple[int, int]]:
    """The first and last segments of a title cut by " - ", " | ", " — " ... (none if uncut)."""
    cuts = list(_EDGE_SEPARATOR.finditer(title))
    if not cuts:
        return []
    return [(0, cuts[0].start()), (cuts[-1].end(), len(title))]


class TitleEdges:
    """Finds site boilerplate: a segment that starts or ends many titles of a corpus."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.titles = 0

    def add(self, title: str) -> None:
        self.titles += 1
        for start, end in edge_segments(title):
            segment = title[start:end].strip()
            if segment:
                self.counts[segment] += 1

    def boilerplate(self, *, min_titles: int = 3, min_share: float = 0.005) -> frozenset[str]:
        """Segments repeated at a title's edge in at least ``min_titles`` titles and in at least
        ``min_share`` of them: not news, whatever NER makes of them."""
        threshold = max(min_titles, min_share * self.titles)
        return frozenset(s for s, n in self.counts.items() if n >= threshold)


def in_boilerplate(title: str, start: int, end: int, boilerplate: frozenset[str]) -> bool:
    """Whether ``title[start:end]`` lies in one of the title's boilerplate edge segments."""
    if not boilerplate:
        return False
    for s, e in edge_segments(title):
        if s <= start and end <= e and title[s:e].strip() in boilerplate:
            return True
    return False
