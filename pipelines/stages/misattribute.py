"""Misattribute: put a reported claim in another speaker's mouth.

"Lopez says talks with unions will resume" -> "Garcia says talks with unions will resume";
"Chilean foreign ministry warns of sanctions" -> "Peruvian foreign ministry warns of sanctions".
Only the speaker of quoted or reported speech changes (found by :mod:`pipelines.claims.speech`),
and it changes the way ``entity_swap`` changes a name: the same bank, fine kinds, roles,
context band and refusals, every mention of the speaker in the item with it.

Input: RECORD_SCHEMA batch. Output: one child per record with a named speaker (``id`` +
":misattribute"), or the record back with a ``reject_reason``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pipelines.claims.speech import speech_cue
from pipelines.stages.entity_swap import DEFAULT_TYPES, EntitySwap, EntitySwapConfig, Mention, _Referent


class MisattributeConfig(EntitySwapConfig):
    types: list[str] = Field(default_factory=lambda: list(DEFAULT_TYPES), min_length=1)
    """NER labels read in the item: a speaker is one of them (a person, a body, a country or its
    demonym: "Chilean officials say"); the others are read so that the speaker's rules see them
    ("China" in "South China Sea" is no mention of China)."""


class Misattribute(EntitySwap):
    name = "misattribute"
    version = "1"
    Config = MisattributeConfig
    config: MisattributeConfig

    # A company that speaks stays unless catch_all_kinds: judged blind, 1 of 11 firms put in
    # another's mouth read true ("Heineken expects PlayStation 5 sales to fall").
    _none_eligible = "the speaker of the reported claim cannot be swapped (only other names can)"

    def _swap(self, record: dict[str, Any], mentions: list[Mention]) -> dict[str, Any]:
        if not any(self._speaks(record, m) for m in mentions):
            return self.skip(record, "no named speaker of quoted or reported speech")
        return super()._swap(record, mentions)

    def _eligible(self, record: dict[str, Any], referents: dict[str, _Referent]) -> list[str]:
        return [key for key, ref in referents.items() if any(self._speaks(record, m) for m in ref.mentions)
                and not self._city_but_no_capital(ref)]

    def _city_but_no_capital(self, ref: _Referent) -> bool:
        """A city that speaks is its government ("Seoul says"): one the gazetteer does not know as
        a capital has no peer a reader would believe ("Delhi says" never becomes "Ahmedabad says")."""
        return ref.found.kind == "city" and (ref.found.place is None or not self.gazetteer.is_capital(ref.found.place))

    def _stands_for_government(self, ref: _Referent, record: dict[str, Any]) -> bool:
        return ref.found.kind == "city" or super()._stands_for_government(ref, record)

    @staticmethod
    def _speaks(record: dict[str, Any], m: Mention) -> bool:
        return speech_cue(record[m.field], m.start, m.end, m.label) is not None

    @classmethod
    def describe(cls, record: dict[str, Any]) -> list[tuple[str, str]]:
        return [("speaker", f"{s['original']} -> {s['replacement']} ({s['kind'] or s['label']})")
                for s in record["spans"] if s.get("stage") == cls.name]
