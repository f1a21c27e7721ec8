"""What a person is in the news (a senator, a coach, a host), by the words written next to their
name: "Sen. Maria Lopez", "coach Maria Lopez", "Maria Lopez, the chief executive, said".

Two people are peers when the corpus writes them with a word of one group of
``person_roles.txt`` (a data file, so that a user can extend it): a debate moderator is not
swapped for a candidate, nor a rapper for a senator, however often they share a story.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

ROLE_FILE = Path(__file__).with_name("person_roles.txt")
#: Words before a name read for its role (after it, up to the next comma of an apposition).
WORDS_BEFORE = 4
WORDS_AFTER = 6
_TOKEN = re.compile(r"[A-Za-z][A-Za-z-]*")
_PARTICLES = frozenset({"of", "the", "for", "and"})
_CLAUSE_END = re.compile(r"[!?;:\n\"“”()\[\]]|\.\s+(?=[A-Z])")


@functools.lru_cache(maxsize=4)
def role_groups(path: Path = ROLE_FILE) -> dict[str, frozenset[str]]:
    """Each role word and the groups it belongs to."""
    groups: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, words = line.partition(":")
        for word in words.split():
            groups.setdefault(word.lower(), set()).add(name.strip())
    return {word: frozenset(names) for word, names in groups.items()}


def roles_near(text: str, start: int, end: int) -> frozenset[str]:
    """The role groups the words next to the name ``text[start:end]`` give it: the title
    written before it ("Senate Majority Leader", "former Secretary of State", "Sen.") and an
    apposition after it (", the chief executive,")."""
    groups = role_groups()
    found: set[str] = set()
    before = _TOKEN.findall(_CLAUSE_END.split(text[max(0, start - 80):start])[-1])
    strays = 0  # words read back from the name that are no role word
    for word in reversed(before[-WORDS_BEFORE - 2:]):
        lowered = word.lower()
        if lowered in groups:
            found |= groups[lowered]
            strays = 0
            continue
        if word[0].islower() and lowered not in _PARTICLES:
            break  # a verb or an adjective of the sentence: "calls", "presidential"
        strays += 1
        if strays > 2:
            break  # in a title-case headline, the words of a clause before the name
    after = text[end:end + 120]
    if after.startswith(","):
        apposition = _CLAUSE_END.split(after[1:].split(",")[0])[0]
        for word in _TOKEN.findall(apposition)[:WORDS_AFTER]:
            found |= groups.get(word.lower(), frozenset())
    return frozenset(found)
