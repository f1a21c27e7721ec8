"""The rules that make an entity swap believable: junk never banked, no alias for a replacement,
a country's demonym and cities follow it, a surname follows its name, kinds kept, span cap."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from conftest import SPACY_MODEL
from datafactory import schema
from pipelines.entities.entity_bank import EntityBank
from pipelines.entities.gazetteer import load_gazetteer, normalize, plural_demonym
from pipelines.entities.hygiene import CommonWords, TitleEdges, in_boilerplate, joined_names, junk_reason
from pipelines.entities.referents import anchor, referent, same_referent
from pipelines.stages.entity_swap import EntitySwap, EntitySwapConfig


@pytest.fixture(scope="module")
def gazetteer():
    return load_gazetteer()


def table(rows):
    return schema.to_table(schema.real_record(id=r["id"], dataset="t", title=r["title"], text=r.get("text", "x"))
                           for r in rows)


def swapped(rows, bank_rows=None, **options):
    stage = EntitySwap(EntitySwapConfig(model=SPACY_MODEL, min_count=1, **options), seed=3)
    stage.setup()
    stage.fit([table(bank_rows or rows)])
    return stage, {r["parent_id"]: r for r in stage(table(rows)).to_pylist()}


# -- junk ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, label, why", [
    ("https://example.org/news", "ORG", "web address"),
    ("@newsdesk", "PERSON", "web address"),
    ("Alpha, Beta, Breaking News", "ORG", "a list"),
    ("2024 2025", "GPE", "digits"),
    ("the city council of the old town and its many districts", "ORG", "too long"),
    ("Riverside news update", "ORG", "lower-case"),
    ("Serie A", "PERSON", "one-letter"),
    ("Lakeside Marathon", "PERSON", "event"),
    ("HARBOUR TOWN MEDIA", "ORG", "capitals"),
])
def test_junk_strings_are_refused(text, label, why):
    assert why in junk_reason(text, label)


@pytest.mark.parametrize("text, label", [
    ("Bank of England", "ORG"), ("Leonardo da Vinci", "PERSON"), ("Trinidad and Tobago", "GPE"),
    ("AT&T", "ORG"), ("3M", "ORG"), ("Jean-Luc Picard", "PERSON"), ("J. R. Smith", "PERSON"), ("U.S. EPA", "ORG"),
])
def test_real_names_pass(text, label):
    assert junk_reason(text, label) is None


def common_words_of(text):
    """The common words of a corpus of ``text`` three times."""
    words = CommonWords()
    for _ in range(3):
        words.add(text)
    return words.common()


def test_a_common_word_taken_for_a_name_is_refused():
    common = common_words_of("The transcript was released. A wildfire spread and another wildfire followed.")
    assert "common word" in junk_reason("Wildfire", "GPE", common_words=common)
    assert "common word" in junk_reason("Maria Lopez Transcript", "PERSON", common_words=common)
    assert junk_reason("Maria Lopez", "PERSON", common_words=common) is None


def test_names_joined_by_and_are_a_pair_unless_one_name():
    known = {"Alpha Corp", "Beta Group", "Trinidad and Tobago"}
    assert joined_names("Alpha Corp and Beta Group", known)
    assert not joined_names("Trinidad and Tobago", known)


def test_site_boilerplate_is_found_at_title_edges():
    edges = TitleEdges()
    titles = [f"Story number {i} about the harbour - Daily Planet" for i in range(20)] + ["Harbour reopens"] * 5
    for title in titles:
        edges.add(title)
    boilerplate = edges.boilerplate()
    assert boilerplate == {"Daily Planet"}
    title = titles[0]
    start = title.index("Daily Planet")
    assert in_boilerplate(title, start, start + len("Daily Planet"), boilerplate)
    assert not in_boilerplate(title, 0, 5, boilerplate)


def test_boilerplate_entities_never_enter_the_bank_nor_get_swapped():
    rows = [{"id": f"n{i}", "title": f"Floods hit {city} as rivers rise | Reuters",
             "text": f"Floods hit {city} on Monday."} for i, city in
            enumerate(["Lima", "Quito", "Bogota", "Caracas", "Santiago", "Lima", "Quito", "Bogota"])]
    stage, out = swapped(rows)
    assert "Reuters" not in {e for label in stage.bank.labels() for e in stage.bank._counts[label]}
    for child in out.values():
        assert child["title"].endswith("| Reuters") and all(s["original"] != "Reuters" for s in child["spans"])


def test_an_entity_covering_most_of_its_field_is_not_swapped():
    rows = [{"id": "a", "title": "Volkswagen", "text": "Volkswagen and Renault talk."},
            {"id": "b", "title": "Renault", "text": "Renault and Volkswagen talk."}]
    _, out = swapped(rows, types=["ORG"])
    assert all(r["reject_reason"] and "covers most of its field" in r["reject_reason"] for r in out.values())


# -- referents -----------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, label", [
    ("United States", "U.S.", "GPE"), ("United States", "America", "GPE"), ("the Netherlands", "Holland", "GPE"),
    ("Maria Lopez", "Lopez", "PERSON"), ("President Maria Lopez", "Maria Lopez", "PERSON"),
    ("European Union", "EU", "ORG"), ("Chile", "Chilean", "NORP"),
])
def test_other_names_of_one_referent_are_recognised(gazetteer, a, b, label):
    assert same_referent(a, b, label, gazetteer)


@pytest.mark.parametrize("a, b, label", [
    ("United States", "Mexico", "GPE"), ("Maria Lopez", "Anna Berg", "PERSON"), ("European Union", "NATO", "ORG"),
])
def test_different_referents_are_not_confused(gazetteer, a, b, label):
    assert not same_referent(a, b, label, gazetteer)


def test_kinds(gazetteer):
    kinds = {text: referent(text, label, gazetteer).kind for text, label in [
        ("Peru", "GPE"), ("Ohio", "GPE"), ("Lagos", "GPE"), ("Peruvian", "NORP"), ("Labour Party", "ORG"),
        ("National Assembly", "ORG"), ("Acme Motors", "ORG"), ("Bank of Canada", "ORG"), ("Oxford University", "ORG"),
        ("UN", "ORG"), ("Maria Lopez", "PERSON")]}
    assert kinds == {"Peru": "country", "Ohio": "us_state", "Lagos": "city", "Peruvian": "country",
                     "Labour Party": "party", "National Assembly": "legislature", "Acme Motors": "company",
                     "Bank of Canada": "central_bank", "Oxford University": "university", "UN": "acronym",
                     "Maria Lopez": "person"}
    assert referent("Peruvians", "NORP", gazetteer).form == "demonym_plural"
    assert anchor("Brazilian Senate", gazetteer) == "country:BR" and anchor("Senate", gazetteer) is None


def test_gazetteer_names(gazetteer):
    assert normalize("the U.S.") == "us" and normalize("Zürich") == "zurich"
    assert gazetteer.place("UN") is None  # an abbreviation names a country or nothing
    assert gazetteer.place("Chile").demonym == "Chilean" and gazetteer.capital_of("CL").name == "Santiago"
    assert plural_demonym("Chilean") == "Chileans" and plural_demonym("Swiss") == "Swiss"


def test_a_typed_draw_keeps_the_kind_and_never_picks_an_alias(gazetteer):
    bank = EntityBank()
    for label, entity in [("GPE", "United States"), ("GPE", "U.S."), ("GPE", "America"), ("GPE", "Mexico"),
                          ("GPE", "Canada"), ("GPE", "Lima"), ("GPE", "Quito"), ("GPE", "Ohio"), ("NORP", "American")]:
        for _ in range(3):
            bank.add(label, entity)
    bank.prune(1)
    bank.type_entities(gazetteer)
    original = referent("United States", "GPE", gazetteer)
    drawn = Counter()
    for seed in range(200):
        text, found, _ = bank.sample_typed("GPE", "United States", original, random.Random(seed), exclude=set(),
                                        exclude_keys={original.key}, gazetteer=gazetteer)
        drawn[text] += 1
        assert found.kind == "country"
    assert set(drawn) == {"Mexico", "Canada"}
    city = referent("Lima", "GPE", gazetteer)
    cities = {bank.sample_typed("GPE", "Lima", city, random.Random(s), exclude=set(), exclude_keys={city.key},
                                gazetteer=gazetteer)[0] for s in range(50)}
    assert cities == {"Quito"}


# -- the stage -------------------------------------------------------------------------------------

COUNTRY_ROWS = [
    {"id": "a", "title": "Chilean miners strike across Chile as copper prices fall",
     "text": "Chilean miners walked out across Chile on Monday."},
    {"id": "b", "title": "Peruvian farmers protest in Peru over water rights",
     "text": "Peruvian farmers marched in Peru and in Lima."},
    {"id": "c", "title": "Floods in Ecuador displace thousands", "text": "Ecuadorean officials said floods in Ecuador hit Quito."},
    {"id": "d", "title": "Colombia and Brazil sign trade accord", "text": "Colombia and Brazil signed in Bogota."},
]


def test_a_countrys_demonym_follows_it():
    stage, out = swapped(COUNTRY_ROWS, types=["GPE", "NORP"])
    child = out["a"]
    assert child["reject_reason"] is None, child["reject_reason"]
    country = next(s for s in child["spans"] if s["original"] == "Chile")
    place = stage.gazetteer.place(country["replacement"])
    assert place.kind == "country" and place.name != "Chile"
    demonym = next(s for s in child["spans"] if s["original"] == "Chilean")
    assert demonym["replacement"] == place.demonym
    assert child["title"] == (f"{place.demonym} miners strike across {place.name} as copper prices fall")


def test_a_countrys_capital_follows_it():
    rows = COUNTRY_ROWS + [{"id": "e", "title": "Protests in Lima as Peru raises fuel prices",
                            "text": "Protesters gathered in Lima after Peru raised prices."}]
    stage, out = swapped(rows, types=["GPE"], max_swaps=1)
    child = out["e"]
    if child["reject_reason"] is None and any(s["original"] == "Peru" for s in child["spans"]):
        country = next(s["replacement"] for s in child["spans"] if s["original"] == "Peru")
        city = next(s["replacement"] for s in child["spans"] if s["original"] == "Lima")
        new = stage.gazetteer.place(country)
        assert stage.gazetteer.place(city).region == new.key.split(":")[1]
        assert city == stage.gazetteer.capital_of(new.key.split(":")[1]).name


def test_a_surname_follows_its_full_name():
    rows = [{"id": f"p{i}", "title": f"Senator {name} wins vote as {name.split()[1]} hails result",
             "text": f"Senator {name} won a vote in parliament. {name.split()[1]} said the election went well."}
            for i, name in enumerate(["Maria Lopez", "Anna Berg", "Tomas Novak", "Laura Jensen"])]
    _, out = swapped(rows, types=["PERSON"])
    children = [c for c in out.values() if c["reject_reason"] is None]
    assert children
    for child in children:
        full = next(s for s in child["spans"] if " " in s["original"])
        surname = [s for s in child["spans"] if " " not in s["original"]]
        assert surname and all(s["replacement"] == full["replacement"].split()[-1] for s in surname), child["spans"]
        assert full["replacement"].split()[-1] != full["original"].split()[-1]


def test_version_1_draws_stay_available():
    stage, out = swapped(COUNTRY_ROWS, types=["GPE"], sampling="frequency", hygiene=False)
    assert stage.config.sampling == "frequency"
    assert sum(r["reject_reason"] is None for r in out.values()) >= 3


def test_title_case_phrases_of_common_words_are_not_organisations():
    common = common_words_of("The firm raises its dividend. The media reports on the prosecution of new nuclear "
                             "systems.")
    assert "common words" in junk_reason("Raises Dividend", "ORG", common_words=common)
    assert "common words" in junk_reason("Media on Prosecution", "ORG", common_words=common)
    assert junk_reason("Acme Systems", "ORG", common_words=common) is None


def test_two_names_of_one_firm_are_one_referent(gazetteer):
    assert same_referent("Singapore Airlines", "Singapore Air", "ORG", gazetteer)
    assert not same_referent("Air China", "Air France", "ORG", gazetteer)
