"""Misattribution replaces the speaker of a reported claim, and only the speaker."""

from __future__ import annotations

import pytest

from conftest import SPACY_MODEL
from pipelines.claims.speech import speech_cue
from pipelines.stages.misattribute import Misattribute, MisattributeConfig
from test_swap_rules import table


@pytest.mark.parametrize("text, name, label, cue", [
    ("Lopez says talks will resume", "Lopez", "PERSON", "says"),
    ("Chile foreign ministry warns of sanctions", "Chile", "GPE", "warns"),
    ("Acme's chief executive says sales will slow", "Acme", "ORG", "says"),
    ("Talks must go on: Lopez", "Lopez", "PERSON", "closing attribution"),
    ("Deal is near, Chile says", "Chile", "GPE", "says"),
    ("Lopez: we will win", "Lopez", "PERSON", "opening colon"),
    ("Prices will rise, according to Acme", "Acme", "ORG", "according to"),
    ("Public hospitals are running out of drugs, Kenyan doctors warn", "Kenyan", "NORP", "warn"),
])
def test_speakers_are_found(text, name, label, cue):
    start = text.index(name)
    assert speech_cue(text, start, start + len(name), label) == cue


@pytest.mark.parametrize("text, name, label", [
    ("Lopez accused of fraud", "Lopez", "PERSON"),               # spoken of, not speaking
    ("Acme said to weigh bid for rival", "Acme", "ORG"),
    ("Qatar confirmed as host of the 2030 games", "Qatar", "GPE"),
    ("Farmers in Chile say drought is worst in decades", "Chile", "GPE"),  # farmers speak
    ("Russia's Lavrov says talks failed", "Russia", "GPE"),       # Lavrov speaks
    ("Lima: a city of kings", "Lima", "GPE"),                     # a dateline or topic
    ("Germany beat France, says coach", "France", "GPE"),         # a clause between
    ("Chile hikes rates as inflation climbs", "Chile", "GPE"),
    ("Serbia and Kosovo trade blame after border clashes", "Kosovo", "GPE"),  # "trade" qualifies, never speaks
])
def test_names_that_do_not_speak_are_not_speakers(text, name, label):
    start = text.index(name)
    assert speech_cue(text, start, start + len(name), label) is None


BANK = [
    {"id": "b1", "title": "Germany and Poland sign energy pact",
     "text": "Germany and Poland signed a pact in Berlin. Czech and Slovak officials attended with Lithuania."},
    {"id": "b2", "title": "France and Spain talk trade",
     "text": "France, Spain, Italy and Portugal met. Egypt and Sudan and Lebanon and Japan and Thailand spoke."},
    {"id": "b3", "title": "Ukraine and Belarus hold talks", "text": "Ukraine, Belarus, Russia and Slovakia met."},
    {"id": "b4", "title": "Sudan and Lebanon report growth", "text": "Sudan and Lebanon grew. Thailand and Japan too."},
]


@pytest.fixture(scope="module")
def stage():
    items = [{"id": "s", "title": "Germany says it will not raise tariffs on steel from Japan",
              "text": "Germany said on Monday that tariffs on steel from Japan would stay."},
             {"id": "n", "title": "Farmers in Germany say drought is the worst in decades"},
             {"id": "q", "title": "Steel tariffs will stay: Poland"}]
    stage = Misattribute(MisattributeConfig(model=SPACY_MODEL, min_count=1), seed=3)
    stage.setup()
    stage.fit([table(BANK + items)])
    return stage, {r["parent_id"]: r for r in stage(table(items)).to_pylist()}


def test_the_speaker_changes_and_the_other_names_stay(stage):
    _, out = stage
    child = out["s"]
    assert child["reject_reason"] is None and child["manipulations"] == ["misattribute"]
    assert child["id"] == "s:misattribute" and child["falsified"]
    (span,) = child["spans"]
    assert span["original"] == "Germany" and span["replacement"] not in ("Germany", "Japan")
    assert span["stage"] == "misattribute" and span["kind"] == "country"
    assert child["title"].endswith("says it will not raise tariffs on steel from Japan")
    assert child["title"][span["start"]:span["end"]] == span["replacement"]
    assert Misattribute.describe(child) == [("speaker", f"Germany -> {span['replacement']} (country)")]


def test_a_closing_attribution_is_a_speaker(stage):
    _, out = stage
    child = out["q"]
    assert child["reject_reason"] is None
    assert child["title"].startswith("Steel tariffs will stay: ") and not child["title"].endswith("Poland")


def test_an_item_with_no_named_speaker_is_skipped(stage):
    _, out = stage
    assert out["n"]["reject_reason"] == "no named speaker of quoted or reported speech"
    assert out["n"]["title"] == "Farmers in Germany say drought is the worst in decades"


def test_the_same_row_gets_the_same_speaker(stage):
    first, out = stage
    again = Misattribute(MisattributeConfig(model=SPACY_MODEL, min_count=1), seed=3)
    again.setup()
    again.bank = first.bank
    item = {"id": "s", "title": "Germany says it will not raise tariffs on steel from Japan",
            "text": "Germany said on Monday that tariffs on steel from Japan would stay."}
    assert again(table([item])).to_pylist()[0]["title"] == out["s"]["title"]
