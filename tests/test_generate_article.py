"""The generate_article stage with a tiny generator fine-tuned in the session: bodies, seeds,
rejection of degenerate output, configs, and resume."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from conftest import crash_at_shard, sample_rows, shard_bytes, swap_stage, write_config, write_jsonl
from datafactory import schema
from datafactory.config import load_config
from datafactory.errors import ConfigError, ModelNotFoundError
from datafactory.pipeline import assemble
from datafactory.runner import build
from pipelines.stages.generate_article import GenerateArticle, GenerateArticleConfig, degenerate_reason


def generate_stage(model, **options):
    return {"stage": "generate_article", "model": str(model), "device": "cpu", "max_new_tokens": 80,
            "min_words": 8, **options}


def real_table(n=12):
    return schema.to_table(schema.real_record(id=r["id"], dataset="sample", title=r["title"], text=r["text"])
                           for r in sample_rows()[:n])


def stage_for(model, seed=3, **options):
    options = {k: v for k, v in generate_stage(model, **options).items() if k != "stage"}
    stage = GenerateArticle(GenerateArticleConfig(**options), seed=seed)
    stage.setup()
    return stage


def test_bodies_are_generated_for_titles_with_full_provenance(trained_generator):
    stage = stage_for(trained_generator)
    rows = stage(real_table()).to_pylist()
    children = [r for r in rows if r["reject_reason"] is None]
    assert len(children) >= 8, [r["reject_reason"] for r in rows]
    for child in children:
        parent = next(r for r in sample_rows() if r["id"] == child["parent_id"])
        assert child["id"] == f"{parent['id']}:generate_article" and child["falsified"] is True
        assert child["title"] == parent["title"] and child["text"] != parent["text"]
        assert len(child["text"].split()) >= 8 and child["text"][-1] in ".!?\"'"
        assert -20 < child["scores"]["generator_logprob"] < 0
        (prov,) = child["provenance"]
        assert prov["model"] == str(trained_generator) and len(prov["model_version"]) == 16
        assert '"temperature":0.9' in prov["params"] and prov["seed"] == stage.attempt_seed(parent["id"], 0, 0) \
            or prov["seed"] in {stage.attempt_seed(parent["id"], 0, a) for a in range(3)}


def test_same_seed_same_text_whatever_the_batch_and_other_seeds_differ(trained_generator):
    table = real_table(6)
    whole = stage_for(trained_generator, generation_batch_size=6)(table).column("text").to_pylist()
    alone = [stage_for(trained_generator, generation_batch_size=1)(table.slice(i, 1)).column("text")[0].as_py()
             for i in range(6)]
    other = stage_for(trained_generator, seed=4)(table).column("text").to_pylist()
    assert whole == alone
    assert whole != other


def test_candidates_give_distinct_children(trained_generator):
    rows = stage_for(trained_generator, candidates=3)(real_table(2)).to_pylist()
    ids = [r["id"] for r in rows if r["reject_reason"] is None]
    assert {i.rsplit("#", 1)[1] for i in ids} <= {"0", "1", "2"} and len(ids) >= 4
    texts = [r["text"] for r in rows if r["reject_reason"] is None]
    assert len(set(texts)) == len(texts)


def test_degenerate_bodies_are_recognised():
    config = GenerateArticleConfig(model="x", min_words=5)
    title = "Floods hit Peru as rivers rise"
    assert degenerate_reason("Floods hit Peru as rivers rise.", title, config) == "only the title echoed"
    assert degenerate_reason("Rain fell.", title, config).startswith("too short")
    looping = "the water rose and the water rose and the water rose and the water rose and the water rose."
    assert degenerate_reason(looping, title, config).startswith("looping repetition")
    assert degenerate_reason("Heavy rain fell for days across the Andes, and rivers burst their banks.", title,
                             config) is None
    # Below three words there are no trigrams: short bodies pass when min_words allows them.
    assert degenerate_reason("Rain fell.", title, GenerateArticleConfig(model="x", min_words=1)) is None


def test_an_untrained_generator_is_rejected_after_its_retries(tiny_gpt2, tmp_path):
    import json
    import shutil

    model = tmp_path / "untrained"
    shutil.copytree(tiny_gpt2, model)
    (model / "generator_card.json").write_text(json.dumps({"separator": " | "}))
    rows = stage_for(model, max_retries=2, max_new_tokens=30)(real_table(3)).to_pylist()
    assert all(r["reject_reason"] and r["reject_reason"].startswith("degenerate output after 3 attempt(s)")
               for r in rows)
    assert all(r["id"] == r["parent_id"] for r in rows), "the unchanged record comes back with the reason"


def test_bad_generation_configs_stop_before_work(tmp_path, trained_generator):
    with pytest.raises(ConfigError, match=r"stages\[0\]\(generate_article\)\.strategy"):
        load_config(write_config(tmp_path, stages=[generate_stage(trained_generator, strategy="telepathy")]))
    with pytest.raises(ConfigError, match=r"stages\[0\]\(generate_article\)\.max_new_tokens.*greater than 0"):
        load_config(write_config(tmp_path, stages=[generate_stage(trained_generator, max_new_tokens=0)]))
    config = load_config(write_config(tmp_path, stages=[generate_stage(tmp_path / "no-such-model")]))
    with pytest.raises(ModelNotFoundError, match=r"stages\[0\]\(generate_article\)\.model: model folder .* does not exist"):
        assemble(config)
    config = load_config(write_config(tmp_path, stages=[generate_stage("someorg/not-downloaded")]))
    with pytest.raises(ModelNotFoundError, match="local Hugging Face cache"):
        assemble(config)
    assert not (tmp_path / "out").exists()



def test_a_registered_strategy_is_a_valid_option_and_reads_the_stage_config(trained_generator):
    from pydantic import ValidationError

    from datafactory import registry
    from pipelines.generation.decoding import Continuation, DecodingOptions, get_strategy, known_strategies

    body = "It rained all day. The river rose."
    received = []

    @registry.strategies.register
    class Fixed:
        name = "fixed_body"
        needs_discriminator = False

        def generate(self, generator, prompts, seeds, params):
            received.append(params)
            ids = generator.tokenizer(body, add_special_tokens=False)["input_ids"]
            return [Continuation(ids, [-1.0] * len(ids), True) for _ in prompts]

    try:
        assert "fixed_body" in known_strategies()
        stage = stage_for(trained_generator, strategy="fixed_body", min_words=3)
        rows = stage(real_table(2)).to_pylist()
        assert [r["text"] for r in rows] == [body, body]
        assert received and all(p is stage.config and isinstance(p, DecodingOptions) for p in received)
    finally:
        registry.strategies.unregister("fixed_body")
    with pytest.raises(ValueError, match=r"unknown decoding strategy 'fixed_body'; known: beam, greedy, mcts, rerank"):
        get_strategy("fixed_body")
    with pytest.raises(ValidationError, match="unknown decoding strategy 'fixed_body'"):
        GenerateArticleConfig(model="x", strategy="fixed_body")

@pytest.mark.slow
def test_swap_then_generate_end_to_end_and_resume_regenerates_the_same_text(tmp_path, trained_generator, monkeypatch):
    write_jsonl(tmp_path / "in.jsonl", sample_rows()[:40])
    stages = [swap_stage(), generate_stage(trained_generator)]
    config = write_config(tmp_path, input_path=tmp_path / "in.jsonl", stages=stages, shard_size=10, batch_size=8)
    (tmp_path / "ref").mkdir()
    reference = build(load_config(write_config(tmp_path / "ref", input_path=tmp_path / "in.jsonl", stages=stages,
                                               shard_size=10, batch_size=8)), progress=False)
    rows = pq.read_table(reference.output / "data").to_pylist()
    children = [r for r in rows if r["falsified"]]
    assert children and all(r["manipulations"] == ["entity_swap", "generate_article"] for r in children)
    assert all(r["id"].endswith(":entity_swap:generate_article") for r in children)
    assert all(s["field"] == "title" for r in children for s in r["spans"])

    with crash_at_shard(monkeypatch, 2), pytest.raises(KeyboardInterrupt):
        build(load_config(config), progress=False)
    resumed = build(load_config(config), resume=True, progress=False)
    assert resumed.status == "resumed"
    assert shard_bytes(resumed.output) == shard_bytes(reference.output)


@pytest.mark.slow
def test_the_shipped_swap_and_generate_pipeline_builds(tmp_path, trained_generator):
    import yaml

    from conftest import ROOT
    from datafactory.config import parse_config

    data = yaml.safe_load((ROOT / "pipelines" / "swap_and_generate.yaml").read_text(encoding="utf-8"))
    assert data["stages"][1]["stage"] == "generate_article"
    data["stages"][1]["model"] = str(trained_generator)  # in place of ../out/generator
    data["output"] = str(tmp_path / "out")
    result = build(parse_config(data, source="swap_and_generate.yaml", base_dir=ROOT / "pipelines"),
                   limit=16, progress=False)
    rows = pq.read_table(result.output / "data").to_pylist()
    parents = {r["id"]: r for r in rows if not r["falsified"]}
    children = [r for r in rows if r["falsified"]]
    assert len(parents) == 16 and len(children) + result.skipped == 16
    for child in children:
        parent = parents[child["parent_id"]]
        (span,) = child["spans"]
        assert span["field"] == "title" and child["title"] != parent["title"]
        assert child["text"] != parent["text"]
        assert [p["stage"] for p in child["provenance"]] == ["entity_swap", "generate_article"]
