"""polarity_flip: the headline's main predicate says the opposite (antonym in the same tense, negation
added or removed with the right auxiliaries), the case of the headline kept, spans and stats recorded,
and what cannot be flipped cleanly skipped with a reason."""

from __future__ import annotations

import json

import pydantic
import pytest

from conftest import SPACY_MODEL
from datafactory import schema
from datafactory.spans import Edit, rewrite
from pipelines.claims.polarity import (BASE, GERUND, PAST, THIRD, flip_predicate, load_lexicon, shares_topic,
                                       verb_form, with_vocabulary)
from pipelines.stages.polarity_flip import PolarityFlip, PolarityFlipConfig


@pytest.fixture(scope="module")
def stage():
    flipper = PolarityFlip(PolarityFlipConfig(model=SPACY_MODEL), seed=7)
    flipper.setup()
    return flipper


@pytest.fixture(scope="module")
def body_stage():
    flipper = PolarityFlip(PolarityFlipConfig(model=SPACY_MODEL, fields=["title", "text"]), seed=7)
    flipper.setup()
    return flipper


def record(title, text="x", id="r1", spans=None):
    row = schema.real_record(id=id, dataset="t", title=title, text=text)
    row["spans"] = spans or []
    return row


def run(stage, *titles):
    out = stage(schema.to_table([record(t, id=f"r{i}") for i, t in enumerate(titles)])).to_pylist()
    return out[0] if len(titles) == 1 else out


def flipped(stage, title):
    row = run(stage, title)
    assert row["reject_reason"] is None, f"{title!r} was skipped: {row['reject_reason']}"
    return row["title"]


def stats(row):
    return json.loads(row["provenance"][-1]["stats"])


# -- antonyms ------------------------------------------------------------------------------------

@pytest.mark.parametrize("title, expected", [
    ("Parliament approves budget", "Parliament rejects budget"),
    ("Crime fell sharply in 2016", "Crime rose sharply in 2016"),
    ("Senate rejected the health bill", "Senate approved the health bill"),
    ("Clinton wins Nevada caucus", "Clinton loses Nevada caucus"),
    ("Fed cuts interest rates again", "Fed raises interest rates again"),
    ("Supreme Court upholds travel ban", "Supreme Court overturns travel ban"),
])
def test_antonym_keeps_the_tense(stage, title, expected):
    assert flipped(stage, title) == expected


def test_an_idiom_or_a_phrasal_verb_gets_no_antonym(stage):
    # "cut ties" is no "raise ties" (ONLY), "back down" no "oppose down" (a particle): negated instead.
    assert flipped(stage, "Company cuts ties with supplier") == "Company does not cut ties with supplier"
    assert flipped(stage, "Governor backs down on tax plan") == "Governor does not back down on tax plan"


def test_a_level_after_a_verb_or_in_a_verbless_headline_flips(stage):
    assert flipped(stage, "Shares up 5% in early trade") == "Shares down 5% in early trade"
    assert flipped(stage, "European stocks close higher") == "European stocks close lower"


@pytest.mark.parametrize("title, expected", [
    ("Repeat presidential vote looks unlikely", "Repeat presidential vote looks likely"),  # a linking verb
    ("Unemployment falls to record low", "Unemployment rises to record high"),  # a movement turns with its record
    ("Oil prices hit six-month high", "Oil prices hit six-month low"),
])
def test_levels_records_and_linking_verbs(stage, title, expected):
    assert flipped(stage, title) == expected


def test_a_predicate_adjective_flips(stage):
    assert flipped(stage, "Senator says the deal is likely to pass") == "Senator says the deal is unlikely to pass"


# -- negation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("title, expected", [
    ("Trump will visit China next year", "Trump will not visit China next year"),
    ("Budget talks could collapse this week", "Budget talks could not collapse this week"),
    ("Voters can trust the new system", "Voters cannot trust the new system"),
    ("Police are investigating the fire", "Police are not investigating the fire"),
])
def test_negation_goes_after_the_first_auxiliary(stage, title, expected):
    assert flipped(stage, title) == expected


def test_headline_future_to_gets_not(stage):
    assert flipped(stage, "Boeing to cut 500 jobs") == "Boeing not to cut 500 jobs"
    assert flipped(stage, "Boeing not to cut 500 jobs") == "Boeing to cut 500 jobs"


@pytest.mark.parametrize("title, expected", [
    ("Governor appoints flood envoy", "Governor does not appoint flood envoy"),
    ("Police arrest protesters in capital", "Police do not arrest protesters in capital"),
    ("Police arrested the suspect last year", "Police did not arrest the suspect last year"),
])
def test_a_bare_verb_gets_do_support_with_its_base_form(stage, title, expected):
    assert flipped(stage, title) == expected


def test_a_headline_passive_gets_not(stage):
    assert flipped(stage, "Three soldiers arrested in raid") == "Three soldiers not arrested in raid"
    # A bare "-ed" the tagger calls a past: active ("did not indict") or passive? Refused.
    assert "cannot tell" in run(stage, "Bishop indicted on fraud charges")["reject_reason"]


@pytest.mark.parametrize("title, expected", [
    ("Trump did not sign the bill", "Trump signed the bill"),
    ("Governor does not visit flood zone", "Governor visits flood zone"),
    ("Clinton did not win Ohio", "Clinton won Ohio"),  # the past from the lexicon's forms
    ("Trump will not raise taxes", "Trump will raise taxes"),
    ("U.S. won't back Iran deal, official says", "U.S. will back Iran deal, official says"),
    ("Minister says economy is not ready for rate rise", "Minister says economy is ready for rate rise"),
])
def test_removing_a_negation_restores_the_tense(stage, title, expected):
    row = run(stage, title)
    assert row["title"] == expected
    assert stats(row)["flip"] == "negation_removed"


def test_a_sentence_already_negative_is_not_negated_again(stage):
    row = run(stage, "Obama makes no mention of Trump in speech")
    assert "already negative" in row["reject_reason"]


# -- case ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("title, expected", [
    ("Senate Approves Budget", "Senate Rejects Budget"),
    ("Governor Appoints Flood Envoy", "Governor Does Not Appoint Flood Envoy"),
    ("Motorola to Cut 1,000 Jobs", "Motorola Not to Cut 1,000 Jobs"),
    ("PARLIAMENT APPROVES BUDGET", "PARLIAMENT REJECTS BUDGET"),
    ("Approves budget, parliament says", None),  # no subject: skipped, not capitalised wrongly
])
def test_the_headline_case_is_kept(stage, title, expected):
    row = run(stage, title)
    assert row["title"] == (expected or title)
    assert (row["reject_reason"] is None) == (expected is not None)


# -- the predicate -------------------------------------------------------------------------------

def test_reported_speech_flips_the_reported_clause(stage):
    assert flipped(stage, "Minister says parliament will approve budget") == \
        "Minister says parliament will reject budget"
    assert flipped(stage, "Trade deal will hurt farmers, senator says") == \
        "Trade deal will not hurt farmers, senator says"


@pytest.mark.parametrize("title, reason", [
    ("Fears for pension after talks", "no verb"),
    ("Will the Fed raise rates?", "a question"),
    ("Minister says", "reported speech with no reported clause"),
])
def test_what_cannot_be_flipped_is_skipped_with_a_reason(stage, title, reason):
    row = run(stage, title)
    assert row["title"] == title and reason in row["reject_reason"]
    assert row["id"] == "r0" and not row["falsified"]


@pytest.mark.parametrize("title, reason", [
    ("To learn more", "no subject of its own"),
    ("Hurricane slams Florida coast", "no subject"),  # "Hurricane" parsed as a modifier of the verb
    ("Rwigara and her mother denied bail", "denied bail"),  # was denied bail, or denied it?
])
def test_a_parse_that_leaves_the_claim_unclear_is_refused(stage, title, reason):
    assert reason in run(stage, title)["reject_reason"]


def test_a_verb_inside_a_name_is_refused(stage):
    title = "Fans cheer as Rise Against plays in Chicago"
    doc = stage.nlp(title)
    rise = next(t for t in doc if t.text == "Rise")
    assert "part of a name" in flip_predicate(rise, title, stage.lexicon)


def test_an_earlier_stages_span_is_never_edited(stage):
    title = "Parliament approves budget"
    earlier = rewrite(record(title), [Edit("title", 11, 19, "passes", "VERB", "other")], stage="other")
    row = stage(schema.to_table([{**record(earlier["title"]), "spans": earlier["spans"]}])).to_pylist()[0]
    assert "earlier stage" in row["reject_reason"]


# -- what the child records ------------------------------------------------------------------------

def test_spans_stats_and_describe(stage):
    row = run(stage, "Trump will visit China")
    assert row["id"] == "r0:polarity_flip" and row["falsified"] and row["manipulations"] == ["polarity_flip"]
    (span,) = row["spans"]
    assert span["field"] == "title" and span["original"] == "will" and span["replacement"] == "will not"
    assert (span["orig_start"], span["orig_end"]) == (6, 10)
    assert row["title"][span["start"]:span["end"]] == "will not"
    assert span["label"] == "AUX" and span["kind"] == "negation_added" and span["stage"] == "polarity_flip"
    assert stats(row) == {"flip": "negation_added", "from": "will", "to": "will not"}
    assert PolarityFlip.describe(row) == [("edit", "negation_added will -> will not")]
    antonym = run(stage, "Parliament approves budget")
    assert PolarityFlip.describe(antonym) == [("edit", "antonym approves -> rejects")]
    assert antonym["spans"][0]["label"] == "VERB" and antonym["spans"][0]["kind"] == "antonym"


def test_same_input_same_output(stage):
    titles = ["Parliament approves budget", "Governor appoints flood envoy", "Fears for pension after talks"]
    again = PolarityFlip(PolarityFlipConfig(model=SPACY_MODEL), seed=7)
    again.setup()
    first, second = run(stage, *titles), run(again, *titles)
    assert first == second
    # One item's flip does not depend on its batch.
    assert run(stage, titles[1])["title"] == first[1]["title"]


def test_chains_after_another_stage(stage):
    """A span an earlier stage made elsewhere in the title moves with the flip."""
    title = "Parliament approves budget in Oslo"
    earlier = rewrite(record(title), [Edit("title", 30, 34, "Bergen", "GPE", "city")], stage="entity_swap")
    parent = {**record(earlier["title"]), "spans": earlier["spans"], "manipulations": ["entity_swap"]}
    row = stage(schema.to_table([parent])).to_pylist()[0]
    assert row["title"] == "Parliament rejects budget in Bergen"
    swap, flipped_span = row["spans"]
    assert row["title"][swap["start"]:swap["end"]] == "Bergen" and swap["stage"] == "entity_swap"
    assert row["manipulations"] == ["entity_swap", "polarity_flip"]
    assert row["title"][flipped_span["start"]:flipped_span["end"]] == "rejects"


# -- the body ------------------------------------------------------------------------------------

def test_the_body_sentence_stating_the_claim_flips_the_same_way(body_stage):
    text = ("OSLO (Reuters) - Norway's parliament approved the 2018 budget on Tuesday. "
            "The vote approved spending on roads too.")
    row = body_stage(schema.to_table([record("Norway parliament approves budget", text)])).to_pylist()[0]
    assert row["title"] == "Norway parliament rejects budget"
    assert row["text"].startswith("OSLO (Reuters) - Norway's parliament rejected the 2018 budget on Tuesday.")
    assert stats(row)["body"] == "flipped"
    assert [s["field"] for s in row["spans"]] == ["title", "text"]


def test_a_body_that_does_not_state_the_claim_is_kept(body_stage):
    text = "OSLO (Reuters) - Lawmakers met on Tuesday. Weather was cold."
    row = body_stage(schema.to_table([record("Norway parliament approves budget", text)])).to_pylist()[0]
    assert row["text"] == text and stats(row)["body"] == "kept"
    assert ("body", "kept as it was (no sentence states the claim the same way)") in PolarityFlip.describe(row)


def test_a_body_sentence_must_share_the_titles_topic():
    assert shares_topic("Norway parliament approves budget", "The parliament approved it.", "approve")
    assert not shares_topic("Britain must be clearer on Brexit bill", "These are difficult issues.", "be")


# -- lexicon and forms ---------------------------------------------------------------------------

def test_the_lexicon_file_is_well_formed():
    lexicon = load_lexicon()
    assert lexicon.verb_antonyms["approve"] == "reject" and lexicon.verb_antonyms["reject"] == "approve"
    assert "accept" not in lexicon.verb_antonyms.get("reject", "")  # one-way entry
    assert all(len(forms) == 5 for forms in lexicon.forms.values())
    assert {"say", "tell"} <= lexicon.say and "up" in lexicon.levels


def test_verb_forms_regular_irregular_and_doubled(stage):
    lexicon = stage.lexicon
    assert verb_form("sign", PAST, lexicon) == "signed" and verb_form("study", THIRD, lexicon) == "studies"
    assert verb_form("visit", PAST, lexicon) == "visited" and verb_form("win", PAST, lexicon) == "won"
    assert verb_form("ban", PAST, lexicon) == "banned" and verb_form("ban", GERUND, lexicon) == "banning"
    assert verb_form("jab", PAST, lexicon) == "jabbed"  # doubled: from the lemmatizer's exceptions
    bare = load_lexicon()  # without the lemmatizer's tables, a doubling verb is refused, not misspelt
    assert verb_form("jab", PAST, bare) is None and verb_form("sign", BASE, bare) == "sign"
    assert with_vocabulary(bare, object()) is bare


def test_config_needs_the_title():
    with pytest.raises(pydantic.ValidationError, match="title"):
        PolarityFlipConfig(fields=["text"])
    assert PolarityFlipConfig().modes == ["antonym", "negation"]


def test_modes_limit_the_flips(stage):
    only_antonyms = PolarityFlip(PolarityFlipConfig(model=SPACY_MODEL, modes=["antonym"]), seed=7)
    only_antonyms.setup()
    assert run(only_antonyms, "Parliament approves budget")["title"] == "Parliament rejects budget"
    assert run(only_antonyms, "Governor appoints flood envoy")["reject_reason"] is not None


def test_a_custom_lexicon_replaces_the_shipped_one_and_a_bad_line_names_itself(tmp_path):
    custom = tmp_path / "lexicon.tsv"
    custom.write_text("# mine\nVERB\tvisit visits visited visiting visited\tavoid avoids avoided avoiding avoided\n")
    flipper = PolarityFlip(PolarityFlipConfig(model=SPACY_MODEL, lexicon=str(custom)), seed=7)
    flipper.setup()
    assert run(flipper, "Governor visits flood zone")["title"] == "Governor avoids flood zone"
    bad = tmp_path / "bad.tsv"
    bad.write_text("VERB\tvisit visits visited\tavoid avoids avoided avoiding avoided\n")
    with pytest.raises(ValueError, match="bad.tsv:1: a verb needs its five forms"):
        load_lexicon(bad)


# -- what the rest of the headline says must still fit the flip ------------------------------------

@pytest.mark.parametrize("title, avoided", [
    ("European stocks close higher on bank gains", "lower on bank gains"),  # a cause that fits only the original
    ("Brewer beats profit forecasts on strong sales", "misses"),  # (the parse hangs the cause on the object)
    ("Retail sales fall 0.8% as shoppers cut back", "rise"),  # a clause of its own
    ("Watchdog refuses to approve drug, citing cost", "agrees"),  # a participle clause
    ("Rovers beat United 3-1 to go top of league", "did not beat"),  # a purpose or result
    ("Rovers rally from 18 down to stun United", "slump"),  # a movement to no value
    ("President vetoes media law, sends it back to parliament", "signs"),  # a second predicate
    ("Retailer denies price gouging, says margins are modest", "confirms"),  # which clause is the claim?
    ("Jobless claims rise to highest since August", "fall"),  # an extreme elsewhere in the headline
    ("Championship record falls in Berlin", "rises"),
    ("Annual inflation drops below 100%", "rises below"),
    ("New cycle lane opens ahead of schedule", "behind of"),  # a fixed phrase
    ("Takeover collapses as buyer walks away", "does not walk"),  # a verb read as part of the subject
])
def test_the_rest_of_the_headline_must_fit_the_flip(stage, title, avoided):
    assert avoided not in run(stage, title)["title"]


@pytest.mark.parametrize("title, avoided", [
    ("Console sells 3 million units in four days", "buys"),
    ("Snow closes 150 schools across county", "opens"),
    ("Mathematician wins top maths prize", "loses"),
    ("Zoo welcomes birth of two tiger cubs", "rejects"),
    ("Alliance to boost troop presence in region", "hurt"),
])
def test_pairs_whose_sense_depends_on_the_object_are_not_used(stage, title, avoided):
    assert avoided not in run(stage, title)["title"]


def test_a_bare_participle_with_no_object_gets_no_antonym(stage):
    assert "allowed" not in run(stage, "Sprinter banned for four years")["title"]  # a passive: "allowed" is nonsense


@pytest.mark.parametrize("title, reason", [
    ("Avalanche kills three climbers in Alps", "no decision or expected outcome"),
    ("Scientists discover 27 new species in rainforest", "no decision or expected outcome"),
    ("Three soldiers killed in bomb attack", "no decision or expected outcome"),
    ("Earthquake strikes city, killing dozens", "follows from the claim"),
    ("Social media firms must check users' ages", "forbids"),
])
def test_only_decisions_and_expected_outcomes_get_a_bare_negation(stage, title, reason):
    row = run(stage, title)
    assert row["title"] == title and reason in row["reject_reason"]


def test_a_decision_gets_do_support(stage):
    assert flipped(stage, "Senate passes spending bill") == "Senate does not pass spending bill"


def test_a_negative_polarity_word_keeps_the_negation(stage):
    assert "fits only the negated claim" in run(stage, "Carmaker will not close plants for now")["reject_reason"]
    assert flipped(stage, "Carmaker will not close plants") == "Carmaker will close plants"


def test_a_short_lower_case_word_makes_a_sentence_case_headline(stage):
    assert flipped(stage, "Royal Mail to axe Sunday Deliveries") == "Royal Mail not to axe Sunday Deliveries"


@pytest.mark.parametrize("title", [
    "Acme warns supply problems will delay jet deliveries",  # warning of bad news: its flip contradicts it
    "Unions urge government to raise the minimum wage",
])
def test_a_claim_reported_by_a_verb_that_takes_a_side_is_not_flipped(stage, title):
    row = run(stage, title)
    assert row["reject_reason"] is not None, row["title"]


def test_no_negation_where_a_word_fits_only_a_positive_clause(stage):
    row = run(stage, "Chip curbs will hurt Korean firms too")
    assert row["reject_reason"] is not None and "'too'" in row["reject_reason"], row["title"]


def test_pass_gets_its_antonym_only_for_what_is_passed(stage):
    row = run(stage, "Comet passes close to Earth")
    assert row["reject_reason"] is not None or "fail" not in row["title"].lower(), row["title"]


@pytest.mark.parametrize("title", [
    "BREAKING: PELOSI'S Latest Claim Stuns Reporters",
    "Senator Blasts Media Over Story!",
    "Mayor signs budget… and nobody noticed",
    "Mayor signs budget [VIDEO]",
])
def test_click_bait_and_shouted_headlines_are_left_alone(stage, title):
    assert run(stage, title)["reject_reason"] is not None


def test_not_to_after_a_verb_is_not_dropped_alone(stage):
    row = run(stage, "Rabbi decides not to speak at convention")
    assert row["reject_reason"] is not None or row["title"] == "Rabbi decides to speak at convention"


def test_no_negation_of_an_event_with_its_count(stage):
    row = run(stage, "Governor appointed 300 new judges")
    assert row["reject_reason"] is not None and "number" in row["reject_reason"], row["title"]
