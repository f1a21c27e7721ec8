"""``one_of`` gives each item a single kind of manipulation, the first of its stages that can make it."""

from __future__ import annotations

from collections import Counter

import pyarrow.parquet as pq
import pytest

from conftest import SPACY_MODEL, shard_bytes, write_config
from datafactory.config import load_config
from datafactory.errors import ConfigError
from datafactory.runner import build

ONE_OF = {"stage": "one_of", "stages": [{"stage": "numeric_edit", "model": SPACY_MODEL},
                                        {"stage": "entity_swap", "model": SPACY_MODEL}]}


def rows_of(out):
    return pq.read_table(out / "data").to_pylist()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one_of")
    result = build(load_config(write_config(folder, stages=[ONE_OF])), progress=False)
    return folder, result.output


def test_each_child_carries_one_manipulation_of_the_group(built):
    _, out = built
    children = [r for r in rows_of(out) if r["falsified"]]
    kinds = Counter(tuple(r["manipulations"]) for r in children)
    assert set(kinds) == {("numeric_edit",), ("entity_swap",)}, kinds
    for child in children:
        (name,) = child["manipulations"]
        assert child["id"] == f"{child['parent_id']}:{name}"
        assert [p["stage"] for p in child["provenance"]] == [name]
        assert {s["stage"] for s in child["spans"]} == {name}
    assert len({r["parent_id"] for r in children}) == len(children), "one child per item"


def test_an_item_no_stage_can_change_lists_every_reason(built):
    _, out = built
    skipped = [r for r in pq.read_table(out / "rejects.parquet").to_pylist() if r["kind"] == "skipped"]
    assert skipped and all(r["stage"] == "one_of" for r in skipped)
    assert all("numeric_edit: " in r["reason"] and "entity_swap: " in r["reason"] for r in skipped)


def test_the_manifest_names_the_group_and_the_models_of_its_stages(built):
    import json

    _, out = built
    manifest = json.loads((out / "manifest.json").read_text())
    (stage,) = manifest["stages"]
    assert stage["name"] == "one_of"
    assert {m["stage"] for m in stage["models"]} == {"numeric_edit", "entity_swap"}
    assert set(manifest["totals"]["by_manipulation"]) == {"numeric_edit", "entity_swap", "none"}  # none: real rows


def test_a_rebuild_is_byte_identical_and_a_listed_order_gives_the_first_stage_its_pick(built, tmp_path):
    _, out = built
    again = build(load_config(write_config(tmp_path, stages=[ONE_OF])), progress=False)
    assert shard_bytes(again.output) == shard_bytes(out)
    counts = {}
    for name, stages in (("numeric_first", ONE_OF["stages"]), ("swap_first", ONE_OF["stages"][::-1])):
        (tmp_path / name).mkdir()
        listed = {"stage": "one_of", "stages": stages, "order": "listed"}
        result = build(load_config(write_config(tmp_path / name, stages=[listed])), progress=False)
        counts[name] = Counter(r["manipulations"][0] for r in rows_of(result.output) if r["falsified"])
    # Listed: the first stage takes every item it can change.
    assert counts["numeric_first"]["numeric_edit"] > counts["swap_first"]["numeric_edit"]
    random_kinds = Counter(r["manipulations"][0] for r in rows_of(out) if r["falsified"])
    assert sum(random_kinds.values()) == sum(counts["swap_first"].values()) == sum(counts["numeric_first"].values())


def test_a_bad_inner_stage_is_a_config_error_that_names_it(tmp_path):
    bad = {"stage": "one_of", "stages": [{"stage": "entity_swap", "model": SPACY_MODEL, "max_swaps": 0},
                                         {"stage": "misattribute", "model": SPACY_MODEL}]}
    with pytest.raises(ConfigError, match=r"stages\[0\]\(one_of\)\.stages\[0\]\(entity_swap\)"):
        load_config(write_config(tmp_path, stages=[bad]))
    with pytest.raises(ConfigError, match="no_such_stage|Known stages"):
        load_config(write_config(tmp_path, stages=[{"stage": "one_of", "stages": [
            {"stage": "no_such_stage"}, {"stage": "entity_swap", "model": SPACY_MODEL}]}]))


def test_a_chain_keeps_every_span_on_its_words(tmp_path):
    """entity_swap, then numeric_edit on the same titles: the swap's spans move with the number's edit."""
    stages = [{"stage": "entity_swap", "model": SPACY_MODEL},
              {"stage": "numeric_edit", "model": SPACY_MODEL, "max_edits": 3}]
    result = build(load_config(write_config(tmp_path, stages=stages)), progress=False)
    children = [r for r in rows_of(result.output) if r["falsified"]]
    assert children and all(r["manipulations"] == ["entity_swap", "numeric_edit"] for r in children)
    moved = 0
    for child in children:
        stages_of = [s["stage"] for s in child["spans"]]
        assert set(stages_of) == {"entity_swap", "numeric_edit"}
        for span in child["spans"]:
            assert child[span["field"]][span["start"]:span["end"]] == span["replacement"], (child["title"], span)
        swap = next(s for s in child["spans"] if s["stage"] == "entity_swap")
        number = next(s for s in child["spans"] if s["stage"] == "numeric_edit")
        moved += number["start"] < swap["start"] and swap["start"] != swap["orig_start"]
    assert moved, "no swap after an edited number whose offsets had to move"
