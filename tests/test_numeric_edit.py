"""Numeric edit: a number changes by a plausible, clearly different amount in its own form, never to
an impossible value, and numbers that belong to names, ranks, ranges or scores stay."""

from __future__ import annotations

import json
import random

import pytest
from pydantic import ValidationError

from conftest import SPACY_MODEL
from datafactory import schema
from pipelines.claims import numbers
from pipelines.claims.numbers import Quantity, Refusal
from pipelines.stages.numeric_edit import NumericEdit, NumericEditConfig

#: Rows per title in the tests that look at many draws: each id gives its own row seed.
DRAWS = 30


@pytest.fixture(scope="module")
def stage():
    stage = NumericEdit(NumericEditConfig(model=SPACY_MODEL), seed=7)
    stage.setup()
    return stage


def table(rows):
    return schema.to_table(schema.real_record(id=r["id"], dataset="t", title=r["title"], text=r.get("text", "x"))
                           for r in rows)


def run(stage, titles, draws=1, **record):
    """Each title ``draws`` times (ids differ, so row seeds differ): {title: [output rows]}."""
    rows = [{"id": f"n{i}-{d}", "title": title, **record} for i, title in enumerate(titles) for d in range(draws)]
    out: dict[str, list[dict]] = {}
    for row in stage(table(rows)).to_pylist():
        out.setdefault(row["title"] if row["reject_reason"] else _parent_title(row), []).append(row)
    return out


def _parent_title(row):
    title = row["title"]
    for span in reversed(row["spans"]):
        if span["field"] == "title":
            title = title[:span["start"]] + span["original"] + title[span["end"]:]
    return title


def edits(rows):
    return [json.loads(r["provenance"][-1]["stats"])["edits"][0] for r in rows if r["reject_reason"] is None]


def quantity(text, target, label="CARDINAL", names=()):
    """How ``numbers.classify`` reads the numeral of ``text`` that starts with ``target``."""
    found = next(n for n in numbers.numerals(text) if n.text.startswith(target))
    return numbers.classify(text, found, label, list(names))


def changes(text, target, label="CARDINAL", factor_range=(2.0, 10.0), draws=60, others=(), refusals=0.0):
    """The new values of many draws; at most a share ``refusals`` of them may find none."""
    q = quantity(text, target, label)
    assert isinstance(q, Quantity), q
    out = [numbers.change(text, q, random.Random(seed), factor_range=factor_range, year_offset=(3, 20),
                          day_offset=(3, 14), keep_order_with=list(others)) for seed in range(draws)]
    found = [c for c in out if not isinstance(c, str)]
    assert len(found) >= (1 - refusals) * draws, out
    return q, found


# -- format ----------------------------------------------------------------------------------------

def test_the_issue_examples(stage):
    out = run(stage, ["Unemployment rose 2 % in March", "Firm wins $1.2 billion contract",
                      "Prices have doubled since 2010", "Siemens to cut 2,000 jobs"])
    for title, rows in out.items():
        assert rows[0]["reject_reason"] is None, (title, rows[0]["reject_reason"])
    assert edits(out["Unemployment rose 2 % in March"])[0]["kind"] == "percent"
    assert edits(out["Siemens to cut 2,000 jobs"])[0]["kind"] == "count"


@pytest.mark.parametrize("text, target, label, pattern", [
    ("unemployment rose 2 % in March", "2", "PERCENT", r"\d+ %"),
    ("Party wins 20% of the vote", "20", "PERCENT", r"\d+%"),
    ("Profit falls 15.5 percent", "15.5", "PERCENT", r"\d+(\.\d)? percent"),
    ("Firm wins $1.2 billion contract", "1.2", "MONEY", r"\$\d+(\.\d)? (billion|million)"),
    ("Bank raises £300m in bonds", "300", "MONEY", r"£\d+(\.\d)?(m|bn)"),
    ("Siemens to cut 1,500 jobs", "1,500", "CARDINAL", r"\d{1,3}(,\d{3})*"),
    ("Two children were rescued", "Two", "CARDINAL", r"[A-Z][a-z]+(-[a-z]+)?"),
    ("Rebels free thirty-one hostages", "thirty", "CARDINAL", r"[a-z]+(-[a-z]+)?"),
    ("Ticket costs $1.50 at the gate", "1.50", "MONEY", r"\$\d+\.\d\d"),
])
def test_the_form_is_kept(text, target, label, pattern):
    import re
    q, out = changes(text, target, label)
    for c in out:
        assert re.fullmatch(pattern, c.written), (c.written, pattern)
        assert c.written != text[q.start:q.end]


def test_words_stay_words_within_ninety_nine():
    q, out = changes("Seven children killed in house fire", "Seven")
    lex = numbers.lexicon()
    assert all(c.written.lower() in lex.numbers and 2 <= c.value <= 99 for c in out)


def test_a_scale_word_is_promoted_or_demoted():
    n = numbers.numerals("$450 million")[0]
    assert numbers.write(1.5e9, n, "money") == (1.5e9, "1.5 billion")
    n = numbers.numerals("$500 million")[0]  # one significant digit, kept
    assert numbers.write(1.5e9, n, "money") == (2e9, "2 billion")
    n = numbers.numerals("$1.2 billion")[0]
    assert numbers.write(2.4e8, n, "money") == (2.4e8, "240 million")
    n = numbers.numerals("$1.6 million")[0]
    assert numbers.write(310_000, n, "money")[1] == "310,000"  # not "310 thousand"
    n = numbers.numerals("£350m")[0]
    assert numbers.write(1.5e9, n, "money")[1] == "1.5bn"
    n = numbers.numerals("$350M")[0]
    assert numbers.write(1.5e9, n, "money")[1] == "1.5B"


def test_precision_follows_the_original():
    n = numbers.numerals("2,000 jobs")[0]  # one significant digit
    assert numbers.write(5_740, n, "count")[1] == "6,000"
    n = numbers.numerals("15.5 percent")[0]  # one decimal at most
    assert numbers.write(4.6512, n, "percent")[1] == "4.7"
    n = numbers.numerals("3000 cafes")[0]  # written without commas, until a reader expects them
    assert numbers.write(6000, n, "count")[1] == "6000"
    assert numbers.write(30000, n, "count")[1] == "30,000"


def test_an_article_follows_the_new_number():
    q, out = changes("Sales show a 5% rise", "5", "PERCENT", draws=200)
    text = "Sales show a 5% rise"
    for c in out:
        edited = text[:c.start] + c.replacement + text[c.end:]
        assert (" an " in edited) == c.written.startswith(("8", "11", "18")), edited


# -- impossible values -----------------------------------------------------------------------------

def test_a_share_stays_at_most_100_but_a_rise_may_pass_it():
    _, shares = changes("Party wins 60% of the vote", "60", "PERCENT")
    assert all(c.value < 100 for c in shares)
    _, rises = changes("Sales jump 150% in quarter", "150", "PERCENT")
    assert any(c.value > 150 for c in rises)
    _, falls = changes("Shares fell 60% on Monday", "60", "PERCENT")
    assert all(c.value < 100 for c in falls)


def test_never_zero_negative_or_one_of_a_plural_noun():
    for text, target in [("Bomb kills 2 soldiers", "2"), ("Tokyo Stocks Shed 1 Percent", "1"),
                         ("Firm fined $3 million", "3")]:
        _, out = changes(text, target, "PERCENT" if "Percent" in text else "CARDINAL")
        assert all(c.value > 0 for c in out)
        if "soldiers" in text:
            assert all(c.value >= 2 for c in out)
    q = quantity("Bomb kills 1 soldier", "1")
    assert isinstance(numbers.change("Bomb kills 1 soldier", q, random.Random(1), factor_range=(2, 10),
                                     year_offset=(3, 20), day_offset=(3, 14)), str)


def test_the_new_value_differs_clearly():
    for text, target in [("Siemens to cut 2,000 jobs", "2,000"), ("Bus crash kills 17 people", "17"),
                         ("Profit rose 3.2 percent", "3.2")]:
        q, out = changes(text, target, "PERCENT" if "percent" in text else "CARDINAL")
        old = q.numeral.value
        assert all(max(c.value, old) / min(c.value, old) >= 2 - 1e-9 for c in out)


def test_a_year_never_moves_later_in_a_text_about_the_past():
    _, past = changes("Prices have doubled since 2010", "2010", "DATE")
    assert all(1990 <= c.value <= 2007 for c in past)
    _, future = changes("EU to cut emissions by 2030", "2030", "DATE")
    assert all(2033 <= c.value <= 2050 for c in future)
    for text in ("Beijing gears up for 2008", "He says he'll run for president in 2008",
                 "Williams Says He Won't Return in 2008"):
        _, ahead = changes(text, "2008", "DATE")
        assert all(c.value > 2008 for c in ahead), text
    _, cycle = changes("Ryan on 2016 presidential race", "2016", "DATE")
    assert all((2016 - c.value) % 4 == 0 for c in cycle)


def test_a_day_stays_a_day_of_its_month():
    _, out = changes("Vote set for Feb. 20, 2017", "20", "DATE")
    assert all(20 < c.value <= 28 for c in out)  # future ("set for"), 2017 is no leap year
    _, out = changes("Markets closed on Aug. 28", "28", "DATE")
    assert all(14 <= c.value <= 25 for c in out)
    assert isinstance(quantity("Trump to speak on Monday, Jan. 9", "9", "DATE"), Refusal)  # its weekday would lie


def test_an_age_stays_an_adults_or_a_childs():
    _, adult = changes("Swimmer, 77, believed killed in shark attack", "77", "DATE", factor_range=(1.5, 4))
    assert all(18 <= c.value <= 100 for c in adult)
    _, child = changes("Police called after 9-year-old says word", "9", "DATE", factor_range=(1.5, 4))
    assert all(2 <= c.value < 18 for c in child)


def test_a_voting_age_lowered_to_18_has_nowhere_to_go():
    q = quantity("Parliament lowers voting age to 18 ahead of election", "18")
    assert q.kind == "age" and q.direction == "down"
    assert isinstance(numbers.change("Parliament lowers voting age to 18", q, random.Random(1), factor_range=(1.5, 4),
                                     year_offset=(3, 20), day_offset=(3, 14)), str)


def test_a_duration_stays_plausible():
    _, out = changes("King abdicates after 6 decades", "6", "DATE", refusals=0.5)
    assert all(c.value <= 10 for c in out)


def test_a_count_with_no_noun_or_with_a_capped_one_only_moves_down():
    for text, target in [("Car bombs kill 11 in Baghdad", "11"), ("Clinton leads Trump by 5 points", "5"),
                         ("Jobless mom of 5 shouts at police", "5")]:
        _, out = changes(text, target, refusals=0.5)
        assert all(c.value < float(target) for c in out)


# -- consistency -----------------------------------------------------------------------------------

def test_from_to_keeps_the_direction_of_the_verb(stage):
    rows = run(stage, ["Inflation rose from 5% to 7% last year"], draws=DRAWS)["Inflation rose from 5% to 7% last year"]
    for row in rows:
        assert row["reject_reason"] is None
        first, second = (float(v) for v in __import__("re").findall(r"(\d+(?:\.\d+)?)%", row["title"]))
        assert first < second, row["title"]


def test_a_level_reached_by_a_change_moves_the_way_of_the_verb():
    _, down = changes("Trump wants to drop the corporate tax rate to 15 percent", "15", "PERCENT")
    assert all(c.value < 15 for c in down)
    _, up = changes("Death toll rises to 50", "50")  # a count with no noun, which alone would only fall
    assert all(c.value > 50 for c in up)


def test_numbers_keep_their_order_with_those_ner_missed(stage):
    title = "Car Bomb North of Baghdad Kills 7, Wounds 19 (Reuters)"  # NER tags 19, not 7
    for row in run(stage, [title], draws=DRAWS)[title]:
        if row["reject_reason"] is None:
            assert float(row["spans"][-1]["replacement"]) > 7, row["title"]


def test_a_pair_that_states_its_unit_once_is_refused():
    text = "Tax rose from 5 to 7 percent"
    found = [numbers.classify(text, n, "PERCENT") for n in numbers.numerals(text)]
    links = numbers.link(text, found)
    assert set(links.refused) == {0, 1}


def test_the_same_number_changes_the_same_way_in_every_field():
    stage = NumericEdit(NumericEditConfig(model=SPACY_MODEL, fields=["title", "text"]), seed=7)
    stage.setup()
    row = stage(table([{"id": "a", "title": "Siemens to cut 2,000 jobs",
                        "text": "Siemens said it would cut 2,000 jobs in Germany."}])).to_pylist()[0]
    assert row["reject_reason"] is None
    new = row["spans"][0]["replacement"]
    assert row["text"] == f"Siemens said it would cut {new} jobs in Germany."
    assert {s["field"] for s in row["spans"]} == {"title", "text"}


def test_a_number_changed_in_every_field_counts_once():
    stage = NumericEdit(NumericEditConfig(model=SPACY_MODEL, fields=["title", "text"], max_edits=3), seed=7)
    stage.setup()
    for i in range(10):
        row = stage(table([{"id": f"b{i}", "title": "Siemens to cut 2,000 jobs",
                            "text": "Siemens said it would cut 2,000 jobs."}])).to_pylist()[0]
        assert len(json.loads(row["provenance"][-1]["stats"])["edits"]) == 1
        assert len(row["spans"]) == 2


def test_max_edits_changes_numbers_that_are_not_linked():
    stage = NumericEdit(NumericEditConfig(model=SPACY_MODEL, max_edits=2), seed=7)
    stage.setup()
    title = "Quake kills 250 people in Peru, government says 2,000 homes lost since 2010 earthquake"
    row = stage(table([{"id": "a", "title": title}])).to_pylist()[0]
    assert len(json.loads(row["provenance"][-1]["stats"])["edits"]) == 2


# -- refusals --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, target, names", [
    ("G7 leaders meet in Italy", "7", ()),
    ("Boeing 737 grounded after crash", "737", [(0, 6)]),
    ("COVID-19 cases surge in Peru", "19", ()),
    ("F-35 program delayed again", "35", ()),
    ("Microsoft ships Windows 10 update", "10", ()),
    ("Sparkle starts shipping GeForce 6600 GT cards", "6600", ()),
    ("Titans Release No. 3 QB Jason Gesser", "3", ()),
    ("Boeing to build cargo version of 777", "777", ()),
    ("Infocus: Deploying Network Access Quarantine Control, Part 2", "2", ()),
    ("Microsoft Updates SQL Server 2005", "2005", ()),
    ("Japan #39;s baseball players avert strike", "39", ()),
    ("Redskins Trail, 14-10", "14", ()),
    ("Urlacher to miss 4-6 weeks", "4", ()),
    ("Leading Indicators Down for 5th Month", "5", ()),
    ("Talks resume at 10 a.m. in Geneva", "10", ()),
    ("Senate to override 9/11 lawsuit veto", "9", ()),
    ("Call 555 1234 for tickets", "555", ()),
    ("Rebels lose one of their leaders", "one", ()),
    ("Kumble learns a thing or two", "two", ()),
    ("One in five adults smoke", "five", ()),
    ("Firefox 1.0 presents threat to IE", "1.0", ()),
    ("Magnitude 7.1 quake hits Mexico", "7.1", ()),
    ("NEWS CORP. NET PROFIT SOARS 27", "27", ()),
    ("This Tweet Proves Him 100% Wrong", "100", ()),
    ("Wariner Succeeds Johnson as 400 Meter Champion", "400", ()),
    ("Heatwave pushes Jacobabad past 50 degrees Celsius", "50", ()),
    ("Ireland beat France in Six Nations match at Aviva Stadium", "Six", ()),
    ("Reds pick up the option for 2005", "2005", ()),
    ("Leinart, Bush, White and Peterson lead final 5", "5", ()),
    ("Bulls beat Jazz, 101 - 99", "101", ()),
    ("Interpublic posts wider 3Q loss", "3", ()),
    ("Nostalgia for the 1990s grows", "1990", ()),
])
def test_numbers_that_are_part_of_something_else_are_refused(text, target, names):
    label = "DATE" if target in ("2005", "1990") else "CARDINAL"
    assert isinstance(quantity(text, target, label, names), Refusal)


def test_ranges_and_scores_are_refused():
    for text in ("Fine of 5 to 10 percent of revenue", "Astros 10, Pirates 5", "Spurs 88, 76ers 80"):
        found = [numbers.classify(text, n, "CARDINAL") for n in numbers.numerals(text)]
        links = numbers.link(text, found)
        assert all(isinstance(f, Refusal) or i in links.refused for i, f in enumerate(found)), text


def test_an_item_with_no_number_or_no_fit_number_is_skipped_with_why(stage):
    out = run(stage, ["Pakistan police clash with doctors", "G7 leaders meet in Italy", "Titans Release No. 3 QB"])
    assert out["Pakistan police clash with doctors"][0]["reject_reason"].startswith("no number (")
    assert "no number fit to change" in out["Titans Release No. 3 QB"][0]["reject_reason"]
    assert "rank" in out["Titans Release No. 3 QB"][0]["reject_reason"]


def test_a_number_an_earlier_stage_changed_stays(stage):
    records = [schema.real_record(id="a", dataset="t", title="Siemens to cut 2,000 jobs", text="x")]
    records[0]["spans"] = [{"field": "title", "start": 15, "end": 20, "orig_start": 15, "orig_end": 20,
                            "original": "3,000", "replacement": "2,000", "label": "CARDINAL", "kind": "count",
                            "similarity": None, "stage": "other"}]
    row = stage(schema.to_table(records)).to_pylist()[0]
    assert "changed by an earlier stage" in row["reject_reason"]


# -- records ---------------------------------------------------------------------------------------

def test_spans_locate_the_original_and_the_replacement(stage):
    titles = ["Siemens to cut 2,000 jobs", "Firm wins $1.2 billion contract", "Sales show a 5% rise in May"]
    for title, rows in run(stage, titles, draws=5).items():
        for row in rows:
            span = row["spans"][-1]
            assert title[span["orig_start"]:span["orig_end"]] == span["original"]
            assert row["title"][span["start"]:span["end"]] == span["replacement"]
            assert row["title"] == title[:span["orig_start"]] + span["replacement"] + title[span["orig_end"]:]
            assert span["stage"] == "numeric_edit" and span["kind"] in numbers.KINDS
            assert row["manipulations"] == ["numeric_edit"] and row["falsified"]


def test_each_row_gets_the_same_edit_whatever_its_batch(stage):
    rows = [{"id": f"r{i}", "title": t} for i, t in enumerate(
        ["Siemens to cut 2,000 jobs", "Firm wins $1.2 billion contract", "Prices have doubled since 2010"])]
    together = stage(table(rows)).to_pylist()
    alone = [stage(table([r])).to_pylist()[0] for r in reversed(rows)][::-1]
    assert [r["title"] for r in together] == [r["title"] for r in alone]
    other = NumericEdit(NumericEditConfig(model=SPACY_MODEL), seed=8)
    other.nlp = stage.nlp
    assert [r["title"] for r in other(table(rows)).to_pylist()] != [r["title"] for r in together]


def test_stats_and_describe_say_what_changed(stage):
    row = run(stage, ["Unemployment rose 2 % in March"])["Unemployment rose 2 % in March"][0]
    edit = edits([row])[0]
    assert edit["kind"] == "percent" and edit["from"] == "2 %" and edit["to"] != "2 %"
    (label, line), = NumericEdit.describe(row)
    assert label == "edit"
    assert line.startswith(f"percent 2 % -> {edit['to']} (") and ("(x" in line or "(/" in line)
    year = run(stage, ["Prices have doubled since 2010"])["Prices have doubled since 2010"][0]
    assert NumericEdit.describe(year)[0][1].endswith(f"({edits([year])[0]['offset']:+d})")


def test_config_refuses_ranges_that_would_not_change_a_number():
    with pytest.raises(ValidationError):
        NumericEditConfig(factor_range=(1.0, 3.0))
    with pytest.raises(ValidationError):
        NumericEditConfig(year_offset=(5, 2))
    with pytest.raises(ValidationError):
        NumericEditConfig(kind_factors={"count": (0.5, 2.0)})
