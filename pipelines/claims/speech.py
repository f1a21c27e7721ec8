"""Who says it: the speaker of quoted or reported speech, found by the words around a name.

A name is the speaker when

- a speech word follows it, directly or after words that say who it is ("Lopez says",
  "Chilean foreign ministry says", "the party's leaders said"), and that word is not the
  passive of a report ("Lopez accused of fraud", "Acme said to weigh bid");
- it closes a headline after a colon or a dash ("Talks must go on: Lopez");
- it opens a headline before a colon and is no place ("Lopez: we will win"; "Lima: ..." is a
  dateline or a topic);
- "according to" stands before it;

and no preposition stands before it ("Farmers in Chile Say ..." quotes farmers, not Chile).

Speech words, the words that may stand between a name and its speech word and people's roles
are data files (``speech_cues.txt`` and ``speaker_words.txt`` here, ``person_roles.txt`` of
``pipelines/entities``), so a user can extend them.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from pipelines.entities.roles import role_groups

CUE_FILE = Path(__file__).with_name("speech_cues.txt")
SPEAKER_WORD_FILE = Path(__file__).with_name("speaker_words.txt")
#: Words between a name and its speech word that still leave the name the speaker.
MAX_ROLE_WORDS = 3
_WORD = re.compile(r"[A-Za-z][A-Za-z'’.-]*")
#: "accused of", "said to be", "praised by", "confirmed as": the name is spoken of, not speaking.
_PASSIVE_AFTER = re.compile(r"^\s+(?:of|to|by|as)\b", re.IGNORECASE)
_POSSESSIVE = re.compile(r"^['’]s?\b")
_OPENING = re.compile(r"^\s*:")
_CLOSING_BEFORE = re.compile(r"[:\u2013\u2014-]\s*$")
_CLOSING_AFTER = re.compile(r"^\s*(?:says?|said)?\s*[.!?\"'”’]*\s*$", re.IGNORECASE)
_ACCORDING = re.compile(r"\baccording to\s+(?:the\s+)?$", re.IGNORECASE)
_PREPOSITION_BEFORE = re.compile(r"\b(?:in|at|on|from|for|of|with|to|into|near|across|against|by|over|under|"
                                 r"about|after|before|between)\s+(?:the\s+)?$", re.IGNORECASE)
#: NER labels of places and peoples, which a headline opens with as a dateline or topic.
_PLACE_LABELS = frozenset({"GPE", "LOC", "NORP", "FAC"})


@functools.lru_cache(maxsize=4)
def speech_cues(path: Path = CUE_FILE) -> frozenset[str]:
    """The speech words of ``path``, lower case."""
    return _words(path.read_text(encoding="utf-8").splitlines())


@functools.lru_cache(maxsize=4)
def speaker_words(path: Path = SPEAKER_WORD_FILE) -> tuple[frozenset[str], frozenset[str]]:
    """Words that may stand between a name and its speech word (``speaker_words.txt``): those
    that may stand right before it, and the modifiers that may not ("trade" in "trade minister")."""
    lines = path.read_text(encoding="utf-8").splitlines()
    modifiers = [word for line in lines if line.startswith("modifier:") for word in line[9:].lower().split()]
    return _words(lines), frozenset(modifiers)


def _words(lines: list[str]) -> frozenset[str]:
    return frozenset(line.strip().lower() for line in lines
                     if line.strip() and not line.startswith(("#", "modifier:")))


def speech_cue(text: str, start: int, end: int, label: str) -> str | None:
    """How ``text[start:end]``, a name NER labelled ``label``, is the speaker of the field's claim
    (``says``, ``closing attribution``, ``according to``...), or None when it is not."""
    before, after = text[:start], text[end:]
    if _ACCORDING.search(before):
        return "according to"
    if _CLOSING_BEFORE.search(before) and _CLOSING_AFTER.match(after):
        return "closing attribution"
    if not before.strip() and _OPENING.match(after):
        return None if label in _PLACE_LABELS else "opening colon"
    if _PREPOSITION_BEFORE.search(before):
        return None
    return _cue_after(after)


def _cue_after(after: str) -> str | None:
    after = _POSSESSIVE.sub("", after, count=1)  # "Acme's chief executive says"
    cues, roles = speech_cues(), role_groups()
    groups, modifiers = speaker_words()
    position, previous = 0, ""
    for index, match in enumerate(_WORD.finditer(after)):
        if after[position:match.start()].strip(" "):
            return None  # punctuation between: another clause
        word = match.group().rstrip(".").lower()
        if word in cues and previous not in modifiers:
            past = word.endswith("ed") or word in ("said", "told")
            return None if past and _PASSIVE_AFTER.match(after[match.end():]) else word
        if index >= MAX_ROLE_WORDS or not (word in roles or word in groups or word in modifiers):
            return None
        position, previous = match.end(), word
    return None
