"""Flip the polarity of a headline's main predicate, reading its dependency parse.

"Parliament approves budget" -> "Parliament rejects budget", "Crime fell" -> "Crime rose",
"Trump will not raise taxes" -> "Trump will raise taxes", "Boeing to cut jobs" -> "Boeing not to cut
jobs", "Shares up 5%" -> "Shares down 5%". The predicate is the head of the title's first clause
(of the reported clause in "X says Y"); it is flipped by an antonym from a curated lexicon
(``antonyms.tsv``, in the tense of the original) or, failing that, by adding or removing a negation
with the auxiliaries English asks for ("signs" -> "does not sign", "did not sign" -> "signed").
Whatever cannot be flipped cleanly comes back as a reason instead of a :class:`Flip`.

Everything here is a pure function of a parsed ``Doc``, the original text (the parse may have read a
recased copy of it, see :func:`parse_text`) and the :class:`Lexicon`; offsets are character offsets
in that text.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable
from typing import Any, Callable

LEXICON_PATH = Path(__file__).with_name("antonyms.tsv")

#: Slots of a verb's forms, in the lexicon's column order.
BASE, THIRD, PAST, GERUND, PARTICIPLE = range(5)
_TAG_SLOT = {"VB": BASE, "VBP": BASE, "VBZ": THIRD, "VBD": PAST, "VBG": GERUND, "VBN": PARTICIPLE}
#: The auxiliary "do" that carries a negation, by the slot the bare verb takes when it goes.
_DO_SLOT = {"do": BASE, "does": THIRD, "did": PAST}
_CONTRACTED_AUX = {"wo": "will", "ca": "can", "sha": "shall"}
_NEGATIVE_WORDS = frozenset({"no", "nothing", "none", "nobody", "neither", "nor", "never", "without", "nowhere",
                             "barely", "hardly", "scarcely", "rarely", "seldom"})
#: Contracted auxiliaries spelt out when a negation joins them ("We'll see" -> "We will not see").
_SPELT_OUT = {"'ll": " will", "'d": " would", "'ve": " have", "'re": " are", "'m": " am"}
_SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass", "csubj", "csubjpass", "expl"})
#: Words a Title Case headline leaves in lower case: inserted words follow the same rule.
_SMALL_WORDS = frozenset({"a", "an", "the", "to", "of", "in", "on", "at", "for", "and", "or", "but", "by"})
#: Longer function words Title Case styles also lower-case, left out when measuring a headline's case.
_FUNCTION_WORDS = frozenset({"with", "from", "into", "over", "onto", "upon", "than", "that", "this", "after",
                             "about", "amid", "when", "what", "will", "off", "out", "via", "per", "nor", "yet", "vs"})
_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
_BE_FORMS = frozenset({"be", "is", "are", "was", "were", "am", "'s", "’s", "'re", "’re", "'m", "’m"})


@dataclass(frozen=True)
class Lexicon:
    """The curated lexicon (see the header of ``antonyms.tsv``)."""

    verb_antonyms: dict[str, str]
    adj_antonyms: dict[str, str]
    forms: dict[str, tuple[str, ...]]
    """Verb lemma -> its five forms (base, 3rd person singular, past, gerund, past participle)."""
    only: dict[str, frozenset[str]]
    idioms: dict[str, frozenset[str]]
    reporting: frozenset[str]
    movement: frozenset[str]
    """Verbs of movement up or down ("rise", "plunge"): they turn with a record they reach."""
    levels: frozenset[str]
    """Words of ``adj_antonyms`` that give a level ("higher", "up"): flipped after a verb too."""
    settle: frozenset[str]
    """Verbs after which a level that is no comparative reports where a value settled ("end up")."""
    ditransitive: frozenset[str]
    """Verbs a headline uses in a passive with an object ("denied bail")."""
    infinitive_nouns: frozenset[str]
    """Nouns with a to-infinitive of their own ("plan to"): no subject of a headline future."""
    linking: frozenset[str]
    """Linking verbs ("looks", "remains"): their predicate adjective carries the claim."""
    say: frozenset[str]
    """Verbs of saying: "X says" with no reported clause has no claim of its own to flip."""
    negatable: frozenset[str]
    """Verbs of decisions, plans, agreements and expected outcomes: the only ones negated with
    do-support ("does not sign") or as a headline passive ("not charged")."""
    extremes: frozenset[str]
    """Words of an extreme or a bound ("highest", "record", "below"): an antonym is refused when one
    stands elsewhere in the headline."""
    negative_polarity: frozenset[str]
    """Words that fit only a negated clause ("yet", "anymore", "for now"): a negation is not removed
    where one stands."""
    times: frozenset[str]
    """Nouns of a time ("Tuesday", "weekend"): "on Tuesday" is no cause."""
    causes: frozenset[str]
    """Prepositions and markers that tie a cause, a means or a circumstance to the predicate ("on
    chip demand", "after weak quarter"): an antonym is refused when one depends on it."""
    positive_polarity: frozenset[str] = frozenset()
    """Words that fit only a clause that is not negated ("too", "already"): no negation is added
    where one depends on the predicate."""
    stance: frozenset[str] = frozenset()
    """Reporting verbs that take a side on what they report ("warn", "urge", "vow"): the reported
    clause is not flipped, the verb would then contradict it ("X warns cuts will not hurt")."""
    verbs: frozenset[str] | None = None
    """Verbs the parser's lemmatizer knows (see :func:`with_vocabulary`): a predicate that is none
    ("SQL server" tagged as a verb) is a misparse. None: unknown, any word the tagger calls a verb."""
    adjectives: frozenset[str] | None = None
    """Adjectives the parser's lemmatizer knows: a verbless "X hopeful" is negated only when the
    word is one. None: unknown, any word the tagger calls an adjective."""
    exceptions: dict[str, frozenset[str]] | None = None
    """Verb lemma -> the forms regular spelling gets wrong ("win" -> "won", "winning"; "ban" ->
    "banned"), from the parser's lemmatizer (:func:`with_vocabulary`). None: unknown, then a verb
    ending in a short vowel and a consonant ("ban", "visit") counts as irregular unless listed."""


@dataclass(frozen=True)
class Change:
    start: int
    end: int
    replacement: str
    label: str
    """What the changed words are: ``VERB``, ``AUX``, ``ADJ`` or ``ADV``."""


@dataclass(frozen=True)
class Flip:
    kind: str
    """``antonym``, ``negation_added`` or ``negation_removed``."""
    lemma: str
    """The flipped predicate's lemma (a body sentence flips the same predicate)."""
    target: str | None
    """The antonym's lemma, for an antonym."""
    changes: tuple[Change, ...] = field(default=())


# -- the lexicon -----------------------------------------------------------------------------------

#: Entry kinds that list words, and the Lexicon field each fills.
_WORD_LISTS = {"REPORT": "reporting", "SAY": "say", "MOVE": "movement", "SETTLE": "settle",
               "DITRANSITIVE": "ditransitive", "INFINITIVE_NOUN": "infinitive_nouns", "LINK": "linking",
               "NEGATE": "negatable", "EXTREME": "extremes", "CAUSE": "causes",
               "NPI": "negative_polarity", "TIME": "times", "STANCE": "stance",
               "PPI": "positive_polarity"}


@functools.lru_cache(maxsize=4)
def load_lexicon(path: str | Path = LEXICON_PATH) -> Lexicon:
    """Read a lexicon file (format in the header of ``antonyms.tsv``); ValueError on a bad line."""
    verb_antonyms: dict[str, str] = {}
    adj_antonyms: dict[str, str] = {}
    forms: dict[str, tuple[str, ...]] = {}
    conditions: dict[str, dict[str, set[str]]] = {"ONLY": {}, "IDIOM": {}}
    lists: dict[str, set[str]] = {name: set() for name in (*_WORD_LISTS.values(), "levels")}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        kind, *columns = line.split("\t")
        try:
            if kind in ("VERB", "VERB>", "FORMS"):
                verbs = [tuple(column.split()) for column in columns]
                if not verbs or any(len(verb) != 5 for verb in verbs):
                    raise ValueError("a verb needs its five forms")
                for verb in verbs:
                    forms.setdefault(verb[BASE], verb)
                if kind != "FORMS":
                    left, right = verbs
                    verb_antonyms.setdefault(left[BASE], right[BASE])
                    if kind == "VERB":
                        verb_antonyms.setdefault(right[BASE], left[BASE])
            elif kind in ("ADJ", "ADJ>", "LEVEL", "LEVEL>"):
                left, right = columns
                adj_antonyms.setdefault(left, right)
                if not kind.endswith(">"):
                    adj_antonyms.setdefault(right, left)
                if kind.startswith("LEVEL"):
                    lists["levels"].update((left, right))
            elif kind in conditions:
                verb, words = columns
                conditions[kind].setdefault(verb, set()).update(words.split())
            elif kind in _WORD_LISTS:
                (words,) = columns
                lists[_WORD_LISTS[kind]].update(words.split())
            else:
                raise ValueError(f"unknown entry kind {kind!r}")
        except ValueError as error:  # also a wrong number of columns
            raise ValueError(f"{path}:{number}: {error}") from None
    lists["reporting"] |= lists["say"]
    return Lexicon(verb_antonyms=verb_antonyms, adj_antonyms=adj_antonyms, forms=forms,
                   only={k: frozenset(v) for k, v in conditions["ONLY"].items()},
                   idioms={k: frozenset(v) for k, v in conditions["IDIOM"].items()},
                   **{name: frozenset(words) for name, words in lists.items()})


def with_vocabulary(lex: Lexicon, nlp: Any) -> Lexicon:
    """``lex`` with what the pipeline's rule lemmatizer knows of English words: its verbs and
    adjectives, and the verb forms regular spelling gets wrong. Unchanged where it has no tables."""
    try:
        tables = nlp.get_pipe("lemmatizer").lookups
        index, exceptions = tables.get_table("lemma_index"), tables.get_table("lemma_exc")["verb"]
        verbs, adjectives = frozenset(index["verb"]), frozenset(index["adj"])
    except (KeyError, AttributeError, ValueError):
        return lex
    found: dict[str, set[str]] = {}
    for form, lemmas in exceptions.items():
        for lemma in lemmas:
            found.setdefault(lemma, set()).add(form)
    return dataclasses.replace(lex, verbs=verbs, adjectives=adjectives,
                               exceptions={lemma: frozenset(forms) for lemma, forms in found.items()})


# -- verb forms ------------------------------------------------------------------------------------

def verb_form(lemma: str, slot: int, lex: Lexicon) -> str | None:
    """The form of ``lemma`` in ``slot``, from the lexicon or by regular spelling; None when
    regular spelling may be wrong for this verb and the lexicon does not list it."""
    if lemma in lex.forms:
        return lex.forms[lemma][slot]
    if not lemma.isalpha() or not lemma.islower():
        return None
    if slot in (BASE, THIRD):  # regular for every verb outside the lexicon (be, have, do, go are in it)
        return _regular_form(lemma, slot)
    if lex.exceptions is None:
        # A final short vowel and consonant may double ("ban" -> "banned", but "visit" -> "visited").
        return None if re.search(r"[^aeiou][aeiou][bdgklmnprt]$", lemma) else _regular_form(lemma, slot)
    listed = lex.exceptions.get(lemma)
    if not listed:
        return _regular_form(lemma, slot)
    doubled = [f for f in listed if f.endswith("ing" if slot == GERUND else "ed")]
    others = [f for f in listed if not f.endswith(("ing", "ed"))]
    # Only a doubled consonant is sure ("banned"); a listed "-t" may be the one form ("left") or an
    # old variant ("addrest"), so such a verb is left to the lexicon.
    return doubled[0] if len(doubled) == 1 and not others else None


def _known_form(lemma: str, slot: int, word: str, lex: Lexicon) -> bool:
    """Whether ``word`` may be ``lemma`` in ``slot``: the lexicon's form, the regular one (a
    headline never writes "winned", so meeting it means the lemma is right) or a form the
    lemmatizer lists for the lemma."""
    if lemma in lex.forms:
        return lex.forms[lemma][slot] == word
    if not lemma.isalpha() or not lemma.islower():
        return False
    if _regular_form(lemma, slot) == word:
        return True
    listed = (lex.exceptions or {}).get(lemma, frozenset())
    return word in listed and slot in (PAST, PARTICIPLE, GERUND) and word.endswith("ing") == (slot == GERUND)


def _regular_form(lemma: str, slot: int) -> str:
    if slot == BASE:
        return lemma
    if slot == THIRD:
        if re.search(r"(?:s|x|z|ch|sh|o)$", lemma):
            return lemma + "es"
        return lemma[:-1] + "ies" if re.search(r"[^aeiou]y$", lemma) else lemma + "s"
    if slot == GERUND:
        if lemma.endswith("ie"):
            return lemma[:-2] + "ying"
        return lemma[:-1] + "ing" if re.search(r"[^aeioy]e$", lemma) else lemma + "ing"
    if lemma.endswith("e"):
        return lemma + "d"
    return lemma[:-1] + "ied" if re.search(r"[^aeiou]y$", lemma) else lemma + "ed"


def verb_slot(token: Any, lex: Lexicon) -> int | None:
    """The slot of a verb token's form, its tag checked against its spelling: a tag the word
    cannot have (the tagger's guess on a headline) gives None."""
    slot = _TAG_SLOT.get(token.tag_)
    if slot is None or not _known_form(token.lemma_.lower(), slot, token.lower_, lex):
        return None
    return slot


def ambiguous_participle(token: Any, lex: Lexicon) -> bool:
    """Whether a verb's past and past participle are one word ("rejected", "won"): a bare one in
    a headline may be active ("Growth slowed") or passive ("Proposal rejected")."""
    lemma = token.lemma_.lower()
    if lemma in lex.forms:
        return lex.forms[lemma][PAST] == lex.forms[lemma][PARTICIPLE]
    listed = [f for f in (lex.exceptions or {}).get(lemma, ()) if not f.endswith("ing")]
    return len(listed) < 2  # "went"/"gone" are two; "won" is both


# -- casing ----------------------------------------------------------------------------------------

_SHOUTED = re.compile(r"(?<![\w'’])[A-Z][A-Z'’]{3,}(?![\w'’])")
_CLICKBAIT = re.compile(r"!|…|\.\.\.|[\[(](?:video|watch|photos?|audio|tweets?)[\])]", re.IGNORECASE)


def unreadable_headline(text: str) -> str | None:
    """Why a headline's grammar cannot be trusted to a flip, or None: shouted words in a headline
    that is not all capitals ("BREAKING: PELOSI'S Latest Claim"), or the marks of click-bait
    ("!", an ellipsis, "[VIDEO]"), where the parser and a reader part ways."""
    if _CLICKBAIT.search(text):
        return "a click-bait headline (!, an ellipsis or a [VIDEO] mark): its grammar is not a claim's"
    shouted = _SHOUTED.findall(text)
    if not text.isupper() and (len(shouted) >= 2 or any(len(w) >= 6 for w in shouted)):
        return "words shouted in capitals inside the headline: the parse cannot be trusted"
    return None


def headline_case(text: str) -> str:
    """``upper`` (ALL CAPS), ``title`` (Title Case) or ``sentence``."""
    words = _WORD.findall(text)
    if len(words) >= 2 and not any(c.islower() for c in text):
        return "upper"
    # (a word glued to a dot, "SPACE.com", is part of a name)
    glued = {m.group() for m in _WORD.finditer(text) if m.start() and text[m.start() - 1] == "."}
    content = [w for w in words if len(w) >= 3 and w.lower() not in _FUNCTION_WORDS | _SMALL_WORDS and w not in glued
               and not any(c.isupper() for c in w[1:])]  # "iPod", "NATO", "McCain" say nothing of the style
    # Title Case capitalizes every longer word: one in lower case makes a headline full of names
    # ("Jane Pauley to succeed Charles Osgood") a sentence.
    if len(content) >= 2 and all(w[0].isupper() for w in content):
        return "title"
    return "sentence"


def parse_text(text: str, style: str, body: str | None = None) -> str:
    """A copy of a Title Case or ALL CAPS ``text`` the parser reads better, of the same length:
    words in sentence case, except the first and the names ``body`` writes only capitalized (a
    small parser takes "Senate Passes Tax Bill" for a name; "Senate passes tax bill" it parses)."""
    text = text.replace("’", "'")  # the tagger knows "isn't", not "isn’t"
    if style == "sentence":
        return text
    names, lower = _names(body or "")

    def recase(match: re.Match[str]) -> str:
        word = match.group()
        if style == "title" and word.isupper() and len(word) > 1:
            # An acronym, unless a shouted word the body writes in lower case ("HAMMERS").
            return word.lower() if word.lower() in lower and len(word) >= 4 else word
        if style == "title" and not word[0].isupper():
            return word  # a word the headline leaves lower case
        spelt = names.get(word.lower())
        if spelt is not None and len(spelt) == len(word):
            return spelt
        if match.start() == 0:
            return word[0] + word[1:].lower()
        return word.lower()

    recased = _WORD.sub(recase, text)
    return recased if len(recased) == len(text) else text


def _names(body: str) -> tuple[dict[str, str], set[str]]:
    """Words the body writes with a capital and never in lower case, as it spells them; and the
    words it writes in lower case."""
    lower, capitalized = set(), {}
    for word in _WORD.findall(body.replace("’", "'")):
        if word.islower():
            lower.add(word)
        else:
            capitalized.setdefault(word.lower(), word)
    return {k: v for k, v in capitalized.items() if k not in lower}, lower


def _styled(parts: Iterable[tuple[str, bool]], original: str, style: str) -> str:
    """A replacement from ``parts`` (text, new?): kept words as the text wrote them, new ones in the
    headline's case; a new first word takes the capital of the word it replaces."""
    out = []
    shouting = original.isupper() and len(original) > 1  # "it WAS home" -> "it WAS NOT home"
    for k, (text, new) in enumerate(parts):
        if new:
            if style == "upper" or shouting:
                text = text.upper()
            elif k and text[:1].isalpha():
                pass  # glued to the word before it: "Can" + "not"
            elif style == "title":
                text = re.sub(r"[A-Za-z]+", lambda m, k=k: m.group() if m.group() in _SMALL_WORDS and (k or m.start())
                              else m.group()[0].upper() + m.group()[1:], text)
            elif k == 0 and original[:1].isupper():
                text = text[:1].upper() + text[1:]
        out.append(text)
    return "".join(out)


# -- the predicate ---------------------------------------------------------------------------------

def claim_predicate(doc: Any, lex: Lexicon) -> Any | str:
    """The token that carries the claim of a headline, or why there is none: the head of the
    first clause with a verb (or a predicate adjective), the reported clause of "X says Y", the
    direction word of a verbless "Shares up 5%"."""
    for sentence in doc.sents:
        found = _sentence_predicate(sentence.root, lex, depth=0)
        if found is not None:
            return found
    return "no verb: a noun-phrase headline"


def _sentence_predicate(root: Any, lex: Lexicon, depth: int) -> Any | str | None:
    if _is_verb(root):
        lemma = root.lemma_.lower()
        if lemma in lex.reporting and depth < 2:
            reported = [c for c in root.children if c.dep_ == "ccomp" and (_is_verb(c) or _is_adjectival(c))
                        or c.dep_ == "acomp" and _is_adjectival(c)]  # "X says ready to talk"
            if len(reported) > 1:
                return f"two clauses around {root.lower_!r}: which one is the claim is unclear"
            if reported and lemma in lex.stance:
                return f"a claim reported by {root.lower_!r}, which takes a side on it: a flip would contradict it"
            if reported:
                return _sentence_predicate(reported[0], lex, depth + 1) or reported[0]
            if lemma in lex.say:
                return "reported speech with no reported clause"
        return _unless_wh(root)
    if _is_adjectival(root) and (depth or any(c.dep_ in _SUBJECT_DEPS for c in root.children)):
        return _unless_wh(root)
    if root.pos_ in ("NOUN", "PROPN") and depth == 0:
        for child in root.rights:
            if child.dep_ in ("advmod", "amod", "npadvmod", "acomp") and child.tag_ != "RP" and (
                    child.lower_ in lex.levels or child.lower_ in lex.adj_antonyms and child.tag_.startswith("JJ")):
                return child  # "Shares up 5%", "Dollar lower against yen", "Rationale for deal still strong"
        for child in root.rights:
            if child.dep_ == "acl" and child.tag_ == "VBN" and child.i == root.i + 1 \
                    and _subject_phrase(root.sent, child.i, lex) and root.sent[0].tag_ != "DT":
                # ("The damage done by ..." with its article is a noun phrase, not a headline's claim)
                return child  # a headline passive parsed as a noun phrase: "Two journalists wounded in attack"
        return _headline_future(root.sent, lex)
    return None


def _headline_future(sentence: Any, lex: Lexicon) -> Any | None:
    """The verb of "Yukos to vote on bankruptcy" when the parse made the sentence a noun phrase:
    a noun phrase, "to", a bare verb."""
    for token in sentence:
        if token.tag_ == "TO":
            verb = token.doc[token.i + 1] if token.i + 1 < sentence.end else None
            if verb is not None and verb.tag_ == "VB" and token.head.i == verb.i \
                    and token.doc[token.i - 1].lower_ not in lex.infinitive_nouns \
                    and _subject_phrase(sentence, token.i, lex):
                return verb
            return None
    return None


_NOUN_PHRASE_TAGS = frozenset({"DT", "JJ", "JJR", "JJS", "NN", "NNS", "NNP", "NNPS", "POS", "CD", "HYPH", "PRP$",
                               ",", "CC", "NFP"})


def _subject_phrase(sentence: Any, end: int, lex: Lexicon) -> bool:
    """Whether the sentence's words before ``end`` are one noun phrase ending in a noun, with no
    plural before its last word that may be a verb the parse read as a noun ("Iran names team
    member", "Rights group voices")."""
    words = sentence.doc[sentence.start:end]
    labels = [t.i for t in words if t.tag_ == ":"]
    if labels:  # "White House: Michelle Obama to join husband on trip"
        words = sentence.doc[labels[-1] + 1:end]
    if not len(words) or not words[-1].tag_.startswith("NN"):
        return False
    if any(t.tag_ not in _NOUN_PHRASE_TAGS for t in words):
        return False
    return not any(t.tag_ == "NNS" and lex.verbs is not None and t.lemma_.lower() in lex.verbs for t in words[:-1])


def _unless_wh(predicate: Any) -> Any | str:
    first = min((t for t in predicate.subtree), key=lambda t: t.i)
    if first.tag_ in ("WDT", "WP", "WP$", "WRB") or any(c.tag_ in ("WP", "WRB") and c.i < predicate.i
                                                         for c in predicate.children):
        return "a wh-clause (a question or an explainer)"
    return predicate


def _is_verb(token: Any) -> bool:
    return token.tag_.startswith("VB") or token.tag_ == "MD"


def _is_adjectival(token: Any) -> bool:
    """An adjective or adverb that may be a headline's predicate ("hopeful", "higher", "up")."""
    return token.tag_ in ("JJ", "JJR", "JJS", "RB", "RBR")


# -- flipping --------------------------------------------------------------------------------------

def flip_predicate(predicate: Any, text: str, lex: Lexicon, modes: Iterable[str] = ("antonym", "negation"),
                   style: str = "sentence") -> Flip | str:
    """Flip ``predicate`` (a token of a doc parsed from ``text`` or its recased copy): a
    :class:`Flip` whose changes apply to ``text``, or why it cannot be flipped cleanly."""
    modes = frozenset(modes)
    if _capitalized_inside(predicate):
        return f"{_word(predicate, text)!r} is capitalized inside a sentence: part of a name"
    subordinate = _subordinate(predicate)
    if subordinate:
        return subordinate
    negation = _negation(predicate)
    if _is_verb(predicate) and predicate.lemma_.lower() not in _BE_FORMS and predicate.lower_ not in _BE_FORMS:
        if negation is not None:
            return _remove_negation(predicate, negation, text, lex, style) if "negation" in modes \
                else "a negated predicate, and negation is not among the modes"
        misparse = _disagreement(predicate, lex) or _unknown_verb(predicate, lex) or _subjectless(predicate, lex)
        if misparse:
            return misparse
        return _first_flip(
            modes,
            antonym=lambda: _unless(_direction_flip(predicate, text, lex) or _verb_antonym(predicate, text, lex),
                                    lambda flip: _antonym_conflict(predicate, flip, text, lex)),
            negation=lambda: _unless(_positive_only(predicate, lex) or _add_verb_negation(predicate, text, lex, style),
                                     lambda flip: _counted_non_event(predicate)))
    # A predicate adjective, adverb or "be": "Economy is strong", "Shares up 5%", "X likely to".
    if negation is not None:
        return _remove_negation(predicate, negation, text, lex, style) if "negation" in modes \
            else "a negated predicate, and negation is not among the modes"
    if _bare_root(predicate) and lex.verbs is not None and predicate.lower_ in lex.verbs and any(
            c.dep_ in _SUBJECT_DEPS and c.tag_ in ("NNS", "NNPS") for c in predicate.children):
        # A singular subject would have made the verb "opens"; a plural one leaves it open.
        return f"{_word(predicate, text)!r} with no copula: an adjective or a verb (\"Games open\")?"
    complement = predicate
    if predicate.lower_ in _BE_FORMS or predicate.lemma_.lower() in _BE_FORMS:  # "Economy is strong"
        complement = next((c for c in predicate.children if c.dep_ == "acomp" and c.i > predicate.i), predicate)
    lemma = None if complement is predicate else complement.lower_
    return _first_flip(
        modes,
        antonym=lambda: _unless(_adjective_antonym(complement, text, lex, lemma=lemma),
                                lambda flip: _antonym_conflict(predicate, flip, text, lex)),
        negation=lambda: _positive_only(predicate, lex) or _add_copula_negation(predicate, text, lex, style))


def _first_flip(modes: frozenset[str], *, antonym: Callable[[], Flip | str],
                negation: Callable[[], Flip | str]) -> Flip | str:
    """The antonym, else the negation (each tried only when its mode is on), or every reason why not."""
    reasons = []
    for mode, attempt in (("antonym", antonym), ("negation", negation)):
        if mode in modes:
            found = attempt()
            if isinstance(found, Flip):
                return found
            reasons.append(found)
    return "; ".join(r for r in reasons if r) or "no mode to flip it"


def _unless(found: Flip | str, objection: Callable[[Flip], str | None]) -> Flip | str:
    """``found``, or why it must not be used: what ``objection`` says of a flip."""
    return (objection(found) or found) if isinstance(found, Flip) else found


#: Marks of a subordinate clause that still may carry a reported claim ("says that ...").
_REPORTED_MARKS = frozenset({"that", "whether"})
#: Auxiliaries whose negation forbids rather than denies ("must not check"): no opposite claim.
_PROHIBITIVE = frozenset({"must"})


def _counted_non_event(predicate: Any) -> str | None:
    """Why no negation may be added to a verb with no auxiliary: a count or an amount of an event
    that happened ("Acme fined $1.35M", "Rovers cut lead to three") is news only when it happened."""
    if _auxiliaries(predicate):  # a plan or a forecast ("not to cut 1,000 jobs") may be news
        return None
    subjects = {t.i for c in predicate.children if c.dep_ in _SUBJECT_DEPS for t in c.subtree}
    for token in predicate.subtree:
        if token.i not in subjects and (token.like_num or token.tag_ == "CD") and token.i > predicate.i:
            return f"{token.text!r}: a number of an event that did not happen is no news"
    return None


def _positive_only(predicate: Any, lex: Lexicon) -> str | None:
    """Why no negation may be added: a word of the clause that fits only a positive one."""
    for token in predicate.subtree:
        if token.lower_ in lex.positive_polarity and predicate.i in (token.head.i, token.head.head.i):
            return f"{token.lower_!r} fits only a clause that is not negated"
    return None


def _subordinate(predicate: Any) -> str | None:
    """A predicate under "as", "after", "because"... states a circumstance of the claim, not the
    claim (a parse that made "buyer walks away" the head of "X collapses as buyer walks away")."""
    for child in predicate.children:
        if child.dep_ == "mark" and child.lower_ not in _REPORTED_MARKS:
            return f"under {child.lower_!r}: a subordinate clause, not the headline's claim"
    return None


def _is_passive(verb: Any) -> bool:
    """A passive, with its auxiliary or as a headline's bare participle ("Sprinter banned")."""
    return verb.tag_ == "VBN" or verb.dep_ == "acl" or any(c.dep_ in ("nsubjpass", "auxpass") for c in verb.children)


def _antonym_conflict(predicate: Any, flip: Flip, text: str, lex: Lexicon) -> str | None:
    """Why the rest of the headline would contradict an antonym of ``predicate`` (a reason, a result,
    a second predicate, an extreme that only fits the original), or None when nothing does."""
    if ":" in text[:predicate.idx]:
        return "a label before the claim frames it: an antonym may contradict the label"
    if _is_verb(predicate) and _is_passive(predicate):
        return f"{predicate.lower_!r} is a passive: its antonym depends on the sense ('closed' by a burst pipe)"
    lemma = predicate.lemma_.lower()
    second = _second_predicate(predicate)
    if second:
        return second
    if _is_verb(predicate) and _bare_past_without_object(predicate, lex):
        return f"bare {predicate.lower_!r} with no object may be a headline passive ('Sprinter banned')"
    for child in [*predicate.children, *(g for c in predicate.children if c.dep_ == "dobj" for g in c.children)]:
        if child.dep_ == "advcl" and child.head.i == predicate.i:
            return f"the clause of {child.lower_!r} gives a reason or a result that fits only the original"
        if child.dep_ == "xcomp" and any(g.tag_ == "TO" for g in child.children) \
                and "XCOMP" not in lex.only.get(lemma, frozenset()) and child.lower_ not in lex.extremes:
            return f"'to {child.lower_}' gives a purpose or a result that fits only the original"
        if child.dep_ in ("prep", "mark", "agent") and child.lower_ in lex.causes \
                and not any(g.dep_ == "pobj" and g.lower_ in lex.times for g in child.children):  # "on Tuesday"
            return f"'{child.lower_} ...' gives a cause or a circumstance that fits only the original"
    if lemma in lex.movement:
        goal = next((g for c in predicate.subtree if c.dep_ == "prep" and c.lower_ in ("to", "into")
                     for g in c.children if g.dep_ == "pobj" and not _is_value(g, lex)), None)
        if goal is not None:
            return f"'{lemma} to {goal.lower_}' moves to no value: no movement up or down"
    changed = [t for t in predicate.doc if any(c.start <= t.idx < c.end for c in flip.changes)]
    # "record low" turns with its level ("record" just before a level word that is flipped)
    near = {t.i for t in changed} | {t.i - 1 for t in changed if t.lower_ in lex.levels}
    for token in predicate.doc:
        if token.lower_ in lex.extremes and token.i not in near:
            return f"{token.lower_!r} elsewhere in the headline fits only the original direction"
    return None


def _is_value(noun: Any, lex: Lexicon) -> bool:
    """A value a movement may reach: a number, an amount, a level ("7.5 million", "31%", "four-year low")."""
    return noun.tag_ == "CD" or noun.lower_ in lex.levels or noun.lower_ in lex.extremes \
        or any(c.tag_ == "CD" or c.dep_ == "nummod" for c in noun.children)


def _second_predicate(predicate: Any) -> str | None:
    """A second finite verb joined to the predicate ("vetoes law, sends it back", "improves, but gap
    widens"): it states what followed from the claim, or its reason, and would contradict the flip."""
    for child in predicate.children:
        if child.dep_ in ("conj", "dep", "parataxis") and child.tag_ in ("VBZ", "VBD", "VBP", "MD") \
                or child.dep_ == "conj" and _is_verb(child):
            return f"a second predicate {child.lower_!r} would contradict the flipped one"
    return None


def _bare_past_without_object(verb: Any, lex: Lexicon) -> bool:
    """A bare past whose participle is the same word ("banned", "closed"), with no auxiliary and
    no object: "Sprinter banned for four years" is a passive, and its antonym ("allowed") nonsense."""
    return verb.tag_ in ("VBD", "VBN") and not _auxiliaries(verb) and ambiguous_participle(verb, lex) \
        and not any(c.dep_ in ("dobj", "dative", "ccomp", "xcomp") for c in verb.children)


def _bare_root(predicate: Any) -> bool:
    """A headline's adjective with no copula or auxiliary heading its clause ("Musharraf hopeful")."""
    return predicate.dep_ == "ROOT" and predicate.lower_ not in _BE_FORMS and not _auxiliaries(predicate) \
        and _is_adjectival(predicate)


def _word(token: Any, text: str) -> str:
    """The token as the original text writes it (the parse may have read a recased copy)."""
    return text[token.idx:token.idx + len(token)]


def _capitalized_inside(token: Any) -> bool:
    """Capitalized where a sentence does not begin, in the parsed text (where a Title Case
    headline is recased, only names keep their capital): a name ("Rise Against"), not a predicate."""
    if not token.text[:1].isupper() or token.is_sent_start:
        return False
    before = token.doc.text[:token.idx].rstrip()
    return not before.endswith((":", "'", '"', "‘", "“", "-", "—", "|", ".", "!", "…"))


def _subjectless(verb: Any, lex: Lexicon) -> str | None:
    """A verb with no subject, unless a headline's grammar leaves it out: an auxiliary ("to cut",
    "will cut"), a headline passive parsed as a modifier, a clause reported by "says"."""
    if any(c.dep_ in _SUBJECT_DEPS for c in verb.children) or _auxiliaries(verb) or verb.dep_ == "acl" \
            or verb.head.lemma_.lower() in lex.reporting and verb.head.i != verb.i \
            or verb.dep_ == "conj" and any(c.dep_ in _SUBJECT_DEPS for c in verb.head.children):
        return None  # (the last: "Trump celebrates 100 days, blasts media" shares its subject)
    return "no subject: a fragment, an imperative or a misparse"


def _unknown_verb(verb: Any, lex: Lexicon) -> str | None:
    lemma = verb.lemma_.lower()
    if lex.verbs is None or lemma in lex.verbs or lemma in lex.forms or verb.tag_ == "MD":
        return None
    return f"{lemma!r} is no verb the lemmatizer knows: a misparse?"


#: Dependencies of a noun phrase's words: a finite verb in one of them is a misparse.
_NOMINAL_DEPS = frozenset({"nsubj", "nsubjpass", "compound", "dobj", "pobj", "amod", "appos", "nmod"})


def _disagreement(verb: Any, lex: Lexicon) -> str | None:
    """A present verb whose subject does not agree with it ("Rights group voices fears" read with
    "voices" as the subject of "fears"): the parse is wrong, and so would the flip be."""
    subjects = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")]
    if len(subjects) != 1 or any(c.dep_ == "conj" for c in subjects[0].children):
        return None  # "Kaine, Pence feel pressure"
    subject = subjects[0]
    nominal = next((t for t in subject.subtree if t.tag_ in ("VBZ", "VBD") and t.dep_ in _NOMINAL_DEPS
                    and any(c.dep_ == "prep" for c in t.children)), None)
    if nominal is not None:  # "Takeover collapses as buyer walks away" read with "collapses as buyer" a noun phrase
        # (a verb-like noun with no phrase of its own, "Housing starts drop", is a noun)
        return f"the verb {nominal.text!r} was read as part of the subject of {verb.text!r}: a misparse"
    following = verb.doc[verb.i + 1] if verb.i + 1 < len(verb.doc) else None
    if following is not None and following.tag_ in ("VBZ", "VBP", "VBD") and following.dep_ != "conj":
        return f"{verb.text!r} is followed by the verb {following.text!r}: a misparse"
    if subject.tag_ == "NNS" and subject.i + 1 == verb.i and any(c.i < subject.i for c in subject.children) \
            and lex.forms.get(subject.lemma_.lower(), ("",) * 5)[THIRD] == subject.lower_:
        # "California governor signs climate policy": "signs" is the verb the parser took for a noun.
        return f"its subject {subject.text!r} is a verb of the lexicon: a misparse"
    if verb.tag_ == "VBZ" and subject.tag_ in ("NNS", "NNPS") and subject.text[:1].islower() or \
            verb.tag_ == "VBP" and subject.tag_ == "NN" and verb.lower_ not in _BE_FORMS:
        return f"{subject.text!r} ({subject.tag_}) does not agree with {verb.text!r} ({verb.tag_}): a misparse"
    return None


def _negation(predicate: Any) -> Any | None:
    for child in predicate.children:
        if child.dep_ == "neg" or child.lower_ == "never" and child.dep_ in ("neg", "advmod"):
            return child
    return None


def _auxiliaries(predicate: Any) -> list[Any]:
    """Auxiliaries (and copulas) before the predicate, in order."""
    return sorted((c for c in predicate.children if c.dep_ in ("aux", "auxpass", "cop") and c.i < predicate.i),
                  key=lambda t: t.i)


def _arguments(verb: Any) -> set[str]:
    """Lemmas of what a verb acts on: objects, objects of its prepositions, a passive subject."""
    bare_passive = verb.tag_ == "VBN" and not _auxiliaries(verb)
    found = {verb.head.lemma_.lower()} if verb.dep_ == "acl" else set()
    for child in verb.children:
        if child.dep_ in ("dobj", "nsubjpass", "attr", "dative") or bare_passive and child.dep_ == "nsubj":
            found.add(child.lemma_.lower())
            found.add(child.lower_)
        elif child.dep_ in ("prep", "agent"):
            found.update(g.lemma_.lower() for g in child.children if g.dep_ == "pobj")
    return found


def _idiom_words(verb: Any) -> set[str]:
    words = set()
    for child in verb.children:
        if child.dep_ in ("nsubj", "nsubjpass"):  # "Hurricane slams coast" is no criticism
            words.update(w for t in child.subtree if t.dep_ in ("nsubj", "nsubjpass", "compound")
                         for w in (t.lower_, t.lemma_.lower()))
        if child.dep_ in ("dobj", "prt", "prep", "acomp", "oprd", "advmod", "attr"):
            words.update((child.lower_, child.lemma_.lower()))
        if child.dep_ == "dobj":
            words.add("OBJ")
        if child.dep_ == "xcomp" and any(g.tag_ == "TO" for g in child.children):
            words.add("XCOMP")
        if child.dep_ == "prep":
            words.update(w for g in child.children if g.dep_ == "pobj" for w in (g.lower_, g.lemma_.lower()))
    return words


def _direction_flip(verb: Any, text: str, lex: Lexicon) -> Flip | None:
    """ "Stocks close higher" -> "Stocks close lower"; "hits record high" -> "hits record low"; a
    verb of movement turns with the record it reaches ("falls to record low" -> "rises to record high")."""
    lemma = verb.lemma_.lower()
    for child in verb.children:
        if child.i > verb.i and child.dep_ == "acomp" and lemma in lex.linking and child.lower_ in lex.adj_antonyms:
            found = _adjective_antonym(child, text, lex, lemma=lemma)  # "vote looks unlikely"
            return found if isinstance(found, Flip) else None
        if child.i > verb.i and child.dep_ in ("acomp", "advmod", "oprd") and child.lower_ in lex.levels \
                and child.tag_ != "RP" and (child.tag_ in ("JJR", "RBR") or lemma in lex.settle):
            found = _adjective_antonym(child, text, lex, lemma=lemma)
            return found if isinstance(found, Flip) else None
    objects = [c for c in verb.rights if c.dep_ == "dobj"] + [
        g for c in verb.rights if c.dep_ == "prep" for g in c.children if g.dep_ == "pobj"]
    records = [t for t in verb.subtree if t.i > verb.i and _is_record(t, lex)] or [
        o for o in objects if o.lower_ in lex.levels and any(m.dep_ in ("amod", "compound", "nummod")
                                                             for m in o.children)]  # "six-month low"
    if not records:
        return None
    record = _adjective_antonym(records[0], text, lex, lemma=lemma)
    if not isinstance(record, Flip):
        return None
    if lemma in lex.movement:
        turned = _verb_antonym(verb, text, lex)
        if not isinstance(turned, Flip):
            return None  # half a turn ("rises to record low") says nothing a reader believes
        return Flip("antonym", lemma, turned.target, turned.changes + record.changes)
    return record


def _is_record(token: Any, lex: Lexicon) -> bool:
    """ "record high", "all-time low", however the parser attached them."""
    return token.lower_ in lex.levels and token.i > 0 and token.doc[token.i - 1].lower_ in ("record", "all-time")


def _verb_antonym(verb: Any, text: str, lex: Lexicon) -> Flip | str:
    lemma = verb.lemma_.lower()
    antonym = lex.verb_antonyms.get(lemma)
    if antonym is None:
        return f"{lemma!r} is not in the lexicon"
    if any(c.dep_ == "prt" for c in verb.children):
        return f"'{lemma} {next(c.lower_ for c in verb.children if c.dep_ == 'prt')}' is a phrasal verb"
    if lemma in lex.only and not (_arguments(verb) | _idiom_words(verb) & {"XCOMP"}) & lex.only[lemma]:
        return f"{lemma!r} flips only with {'/'.join(sorted(lex.only[lemma])[:3])}..."
    if lemma in lex.movement and any(c.dep_ == "dobj" for c in verb.children):
        return f"{lemma!r} with an object is no movement up or down (\"dips its toe\")"
    idiom = _idiom_words(verb) & lex.idioms.get(lemma, frozenset())
    if idiom:
        return f"{lemma!r} with {min(idiom)!r} is an idiom"
    slot = verb_slot(verb, lex)
    if slot is None:
        return f"the form {_word(verb, text)!r} does not fit its tag {verb.tag_}"
    original = _word(verb, text)
    replacement = _case_like(lex.forms[antonym][slot], original)
    return Flip("antonym", lemma, antonym, (Change(verb.idx, verb.idx + len(verb), replacement, "VERB"),))


def _adjective_antonym(word: Any, text: str, lex: Lexicon, lemma: str | None = None) -> Flip | str:
    original = _word(word, text)
    following = word.doc[word.i + 1] if word.i + 1 < len(word.doc) else None
    if following is not None and following.lower_ == "of":
        return f"'{original.lower()} of' is a fixed phrase ('ahead of schedule')"
    antonym = lex.adj_antonyms.get(original.lower())
    if antonym is None:
        return f"{original.lower()!r} is not in the lexicon"
    label = "ADV" if word.pos_ == "ADV" or word.tag_.startswith("RB") else "ADJ"
    replacement = _case_like(antonym, original)
    return Flip("antonym", lemma or original.lower(), antonym,
                (Change(word.idx, word.idx + len(word), replacement, label),))


def _case_like(replacement: str, original: str) -> str:
    """An antonym in the case of the word it replaces, whatever the headline's style."""
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _already_negative(predicate: Any) -> str | None:
    for token in predicate.subtree:
        if token.lower_ in _NEGATIVE_WORDS and token.i != predicate.i:
            return f"already negative ({token.lower_!r})"
    return None


def _add_verb_negation(verb: Any, text: str, lex: Lexicon, style: str) -> Flip | str:
    negative = _already_negative(verb)
    if negative:
        return negative
    if any(c.dep_ == "preconj" for c in verb.children):
        return "'either ... or' around the predicate"
    lemma = verb.lemma_.lower()
    auxiliaries = _auxiliaries(verb)
    if auxiliaries and auxiliaries[0].tag_ == "TO" and verb.dep_ == "ROOT" and not (
            _subject_phrase(verb.sent, auxiliaries[0].i, lex)
            and verb.doc[auxiliaries[0].i - 1].lower_ not in lex.infinitive_nouns):
        # "Boeing to cut jobs" is a headline future; "team of bosses to shake up" or "To learn more" no claim.
        return "a to-infinitive with no subject of its own before it"
    result = _result_clause(verb) or _second_predicate(verb)
    if result:
        return result
    if auxiliaries:
        if auxiliaries[0].lower_ in _PROHIBITIVE:
            return f"'{auxiliaries[0].lower_} not' forbids: it does not deny the claim"
        return _negate_auxiliary(auxiliaries[0], lemma, text, style)
    if lemma not in lex.negatable:
        # An event that simply happens is news only when it happens: "Avalanche does not kill three" no
        # paper prints; a decision or an expected outcome that did not come is ("Senate does not pass bill").
        return f"{lemma!r} is no decision or expected outcome: its bare negation is no headline"
    headline_passive = verb.dep_ == "acl"  # "Two journalists wounded in attack"
    slot = verb_slot(verb, lex)
    if slot is None:
        return f"base form of {_word(verb, text)!r} unknown (or its tag {verb.tag_} is wrong)"
    original = _word(verb, text)

    def change(parts: list[tuple[str, bool]]) -> Flip:
        return Flip("negation_added", lemma, None,
                    (Change(verb.idx, verb.idx + len(verb), _styled(parts, original, style), "VERB"),))

    passive = headline_passive or any(c.dep_ in ("nsubjpass", "agent") for c in verb.children)
    active = any(c.dep_ in ("dobj", "dative") for c in verb.children)
    if slot in (PAST, PARTICIPLE) and ambiguous_participle(verb, lex):
        # "Bishop indicted" (passive) or "Trump signed bill" (active): an object says active; with
        # none, the tagger's VBN is trusted ("X not slowed" still reads as a headline passive),
        # its VBD is not (a passive read as "did not kill" is nonsense).
        if passive and active or not (passive or active) and slot == PAST:
            return f"bare {original!r}: active past or headline passive, the parse cannot tell"
        if active and lemma in lex.ditransitive:
            return f"bare {original!r} with an object: active, or a passive like 'denied bail'?"
        slot = PAST if active else PARTICIPLE
    if slot == PARTICIPLE and not active or slot == PAST and passive:
        return change([("not ", True), (original, False)])  # headline passive: "Bishop not indicted"
    if slot in (THIRD, BASE, PAST) and verb.tag_ != "VB":
        if verb.i > 0 and verb.doc[verb.i - 1].dep_ == "advmod" and verb.doc[verb.i - 1].head.i == verb.i:
            return f"an adverb before {original!r}: 'does not' would split it from its verb"
        do = {THIRD: "does", BASE: "do", PAST: "did"}[slot]
        return change([(f"{do} not {lemma}", True)])
    return f"a bare {verb.tag_} {original!r} with no auxiliary to negate"


def _result_clause(verb: Any) -> str | None:
    """A participle clause ("..., killing dozens", "citing cost") or a purpose ("to go top") that
    depends on the verb: it states what followed from the claim, so the negated claim contradicts it."""
    for child in verb.children:
        if child.dep_ != "advcl" or any(g.dep_ == "mark" for g in child.children):
            continue
        if child.tag_ == "VBG" or any(g.tag_ == "TO" for g in child.children):
            return f"the clause of {child.lower_!r} follows from the claim: negated, the claim contradicts it"
    return None


def _negate_auxiliary(auxiliary: Any, lemma: str, text: str, style: str) -> Flip | str:
    original = _word(auxiliary, text)
    spelt = _SPELT_OUT.get(original.lower().replace("’", "'"))
    if spelt is not None:
        parts = [(spelt + " not", True)]
    elif "'" in original or "’" in original:
        parts = [(original, False), (" not", True)]  # "Trump's running" -> "Trump's not running" (is or has)
    elif auxiliary.lower_ == "to":
        parts = [("not ", True), (original, False)]  # headline future: "Boeing not to cut jobs"
    elif auxiliary.lower_ == "can":
        parts = [(original, False), ("not", True)]
    elif auxiliary.lower_ in _DO_SLOT:
        return "an emphatic do"
    elif auxiliary.lemma_.lower() == "get" and auxiliary.tag_ in ("VBZ", "VBP", "VBD"):
        do = {"VBZ": "does", "VBP": "do", "VBD": "did"}[auxiliary.tag_]  # "gets suspended" -> "does not get suspended"
        parts = [(f"{do} not get", True)]
    else:
        parts = [(original, False), (" not", True)]
    replacement = _styled(parts, original, style)
    return Flip("negation_added", lemma, None,
                (Change(auxiliary.idx, auxiliary.idx + len(auxiliary), replacement, "AUX"),))


def _add_copula_negation(predicate: Any, text: str, lex: Lexicon, style: str) -> Flip | str:
    negative = _already_negative(predicate)
    if negative:
        return negative
    lemma = predicate.lemma_.lower()
    if predicate.lower_ in _BE_FORMS or lemma in _BE_FORMS:  # "X is the nominee": "be" heads its clause
        if not any(c.dep_ in _SUBJECT_DEPS for c in predicate.children):
            return "no subject: a fragment"
        auxiliaries = _auxiliaries(predicate)
        return _negate_auxiliary(auxiliaries[0] if auxiliaries else predicate, "be", text, style)
    auxiliaries = _auxiliaries(predicate)
    if auxiliaries:
        return _negate_auxiliary(auxiliaries[0], lemma, text, style)
    if lex.adjectives is not None and predicate.lower_ not in lex.adjectives:
        return f"{_word(predicate, text)!r} is no adjective the lemmatizer knows: a misparse?"
    if predicate.dep_ == "ROOT" and any(c.dep_ in _SUBJECT_DEPS for c in predicate.children) or \
            predicate.dep_ in ("acomp", "ccomp") and predicate.head.lemma_.lower() in lex.reporting:
        original = _word(predicate, text)  # headline ellipsis: "Musharraf hopeful" -> "Musharraf not hopeful"
        replacement = _styled([("not ", True), (original, False)], original, style)
        return Flip("negation_added", lemma, None,
                    (Change(predicate.idx, predicate.idx + len(predicate), replacement, "ADJ"),))
    return f"no copula or auxiliary to negate {_word(predicate, text)!r}"


def _remove_negation(predicate: Any, negation: Any, text: str, lex: Lexicon, style: str) -> Flip | str:
    lemma = predicate.lemma_.lower()
    doc = predicate.doc
    polar = next((t for t in predicate.subtree if t.lower_ in lex.negative_polarity), None)
    if polar is not None:  # "will not close plants for now" -> "will close plants for now" reads wrong
        return f"{polar.lower_!r} fits only the negated claim"
    before = doc[negation.i - 1] if negation.i > 0 else None
    after = doc[negation.i + 1] if negation.i + 1 < len(doc) else None
    if negation.lower_ == "never" and after is not None:
        return _drop_word(negation, after, text, lemma)  # "has never paid" -> "has paid"
    if before is not None and (before in _auxiliaries(predicate) or before.i == predicate.i
                               and before.lower_ in _BE_FORMS):
        spoken = before.lower_
        if spoken == "ai":
            return "'ain't' is left alone"
        if spoken in _DO_SLOT:
            return _drop_do_support(predicate, before, negation, text, lex, style)
        return _drop_negation(before, negation, _CONTRACTED_AUX.get(spoken, spoken), text, lemma)
    if after is not None and after.lower_ == "to":  # "X not to run" -> "X to run"
        if before is not None and before.pos_ in ("VERB", "AUX"):
            return f"'not to' after {before.lower_!r}: only a headline future's 'not to' is dropped"
        return _drop_word(negation, after, text, lemma, label="AUX")
    if after is not None and after.i == predicate.i:  # "Bishop not indicted" -> "Bishop indicted"
        return _drop_word(negation, after, text, lemma)
    return "the negation is not next to an auxiliary or the predicate"


def _drop_word(negation: Any, kept: Any, text: str, lemma: str, label: str = "VERB") -> Flip:
    """The negation out, the next word kept (with the negation's capital if it had one)."""
    replacement = _word(kept, text)
    if _word(negation, text)[:1].isupper() and replacement[:1].islower():
        replacement = replacement[:1].upper() + replacement[1:]
    return Flip("negation_removed", lemma, None, (Change(negation.idx, kept.idx + len(kept), replacement, label),))


def _drop_negation(auxiliary: Any, negation: Any, positive: str, text: str, lemma: str) -> Flip:
    """ "will not" -> "will", "won't" -> "will", "cannot" -> "can", "isn't" -> "is"."""
    written = _word(auxiliary, text)
    if written.lower().replace("’", "'") == positive.replace("’", "'"):
        replacement = written
    else:
        replacement = _case_like(positive, written)
    return Flip("negation_removed", lemma, None,
                (Change(auxiliary.idx, negation.idx + len(negation), replacement, "AUX"),))


def _drop_do_support(verb: Any, auxiliary: Any, negation: Any, text: str, lex: Lexicon, style: str) -> Flip | str:
    """ "did not sign" -> "signed", "does not back" -> "backs", "don't want" -> "want"."""
    lemma = verb.lemma_.lower()
    if verb.tag_ != "VB" or verb_form(lemma, BASE, lex) != verb.lower_:
        return f"{_word(verb, text)!r} after {auxiliary.lower_!r} is not a base form"
    form = verb_form(lemma, _DO_SLOT[auxiliary.lower_], lex)
    if form is None:
        return f"the {auxiliary.lower_!r}-form of {lemma!r} is unknown (irregular, not in the lexicon)"
    between = text[negation.idx + len(negation):verb.idx].lstrip()  # "did not immediately sign"
    original = text[auxiliary.idx:verb.idx + len(verb)]
    replacement = _styled([(between, False), (form, True)], original, style)
    replacement = _case_like(replacement, _word(auxiliary, text)) if not between else replacement
    return Flip("negation_removed", lemma, None,
                (Change(auxiliary.idx, verb.idx + len(verb), replacement, "VERB"),))


# -- the body --------------------------------------------------------------------------------------

def flip_like(doc: Any, text: str, flip: Flip, lex: Lexicon, modes: Iterable[str]) -> Flip | None:
    """The same flip on a sentence of the body (``doc``, parsed from ``text``): its predicate of the
    same lemma, flipped the same way (same kind, same antonym), or None."""
    for token in doc:
        if token.lemma_.lower() != flip.lemma or not (_is_verb(token) or _is_adjectival(token)):
            continue
        if token.dep_ not in ("ROOT", "ccomp", "conj", "advcl", "xcomp"):
            continue
        found = flip_predicate(token, text, lex, modes, style="sentence")
        if isinstance(found, Flip) and found.kind == flip.kind and found.target == flip.target:
            return found
    return None


#: Predicates too common to tie a body sentence to the title on their own ("is", "has").
_LIGHT_VERBS = frozenset({"be", "have", "do", "get", "make", "take", "go", "come", "give"})


def shares_topic(title: str, sentence: str, lemma: str) -> bool:
    """Whether a body sentence speaks of what the title does: it shares a content word with it
    besides the predicate (two with a light verb like "be" or "have")."""
    stop_words = _stop_words()

    def words(text: str) -> set[str]:
        return {w for w in re.findall(r"[a-z]{3,}", text.lower()) if w not in stop_words and not w.startswith(lemma)}
    return len(words(title) & words(sentence)) >= (2 if lemma in _LIGHT_VERBS else 1)


@functools.lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS  # spaCy's own list, imported only where bodies are read

    return frozenset(STOP_WORDS)


def surface_forms(lemma: str, lex: Lexicon) -> set[str]:
    """Words a sentence may write the lemma as (to pick body sentences before parsing them)."""
    if lemma in lex.forms:
        return set(lex.forms[lemma])
    forms = {lemma}
    for slot in (THIRD, PAST, GERUND, PARTICIPLE):
        form = verb_form(lemma, slot, lex)
        if form:
            forms.add(form)
    return forms
