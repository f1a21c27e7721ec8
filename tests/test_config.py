"""Pipeline configs: every invalid config is a ConfigError naming the file, the field and the fix;
relative paths start at the config file's folder; the fingerprint covers what decides the rows."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import SAMPLE, SPACY_MODEL, swap_stage, write_config
from datafactory.config import load_config
from datafactory.errors import ConfigError, InputNotFoundError, ModelNotFoundError, UnknownStageError
from datafactory.pipeline import assemble


def config_error(path: Path, kind: type[ConfigError] = ConfigError, **kwargs) -> ConfigError:
    """Load ``path``, expect ``kind``, and check the message starts with the file name."""
    with pytest.raises(kind) as info:
        load_config(path, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message, "the CLI prints it on one line"
    return info.value


def write_yaml(folder: Path, text: str) -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# -- stages -------------------------------------------------------------------------------


def test_unknown_stage_lists_the_known_stages(tmp_path):
    path = write_config(tmp_path, stages=[{"stage": "entity_swapp"}])
    error = config_error(path, UnknownStageError)
    assert error.code == "E101" and error.exit_code == 2
    assert error.field == "stages[0].stage"
    message = str(error)
    assert "stages[0].stage" in message and "'entity_swapp'" in message
    assert "Known stages: " in message and "entity_swap" in message.split("Known stages: ")[1]


def test_a_stage_without_a_name_says_how_to_write_one(tmp_path):
    path = write_config(tmp_path, stages=[{"model": SPACY_MODEL}])
    message = str(config_error(path))
    assert "stages[0]" in message and "stage: NAME" in message and "entity_swap" in message


def test_wrong_type_names_the_stage_option_and_the_file(tmp_path):
    path = write_config(tmp_path, stages=[swap_stage(max_swaps="two")])
    error = config_error(path)
    message = str(error)
    assert error.field == "stages[0](entity_swap).max_swaps"
    assert "stages[0](entity_swap).max_swaps" in message and str(path) in message
    assert "'two'" in message, "the bad value is shown"
    assert "Fix this value" in message


def test_wrong_type_in_the_second_stage_is_located_there(tmp_path):
    path = write_config(tmp_path, stages=[swap_stage(), swap_stage(sampling="weighted")])
    assert config_error(path).field == "stages[1](entity_swap).sampling"


def test_unknown_stage_option_is_named_with_the_known_ones(tmp_path):
    path = write_config(tmp_path, stages=[swap_stage(max_swap=2)])
    error = config_error(path)
    message = str(error)
    assert error.field == "stages[0](entity_swap).max_swap"
    assert "stages[0](entity_swap).max_swap: unknown option" in message
    assert "Remove it or check its spelling" in message
    assert "known options:" in message and "max_swaps" in message.split("known options:")[1]


def test_unknown_top_level_key(tmp_path):
    path = write_config(tmp_path, shards=10)
    error = config_error(path)
    assert error.field == "shards"
    assert f"{path}: shards: unknown option" in str(error)
    assert "Remove it or check its spelling" in str(error)


def test_batch_size_zero(tmp_path):
    path = write_config(tmp_path, batch_size=0)
    error = config_error(path)
    message = str(error)
    assert error.field == "batch_size"
    assert "batch_size" in message and "greater than 0" in message and "(got 0)" in message
    assert "Fix this value" in message


def test_several_problems_report_the_first_and_count_the_rest(tmp_path):
    path = write_config(tmp_path, batch_size=0, shard_size=-1, seed=-3)
    error = config_error(path)
    assert error.field in {"seed", "batch_size", "shard_size"}
    assert str(error).endswith("Fix this value; 2 more problem(s) after it")


def test_a_missing_required_field_says_to_add_it(tmp_path):
    path = write_yaml(tmp_path, f"input: {{path: {SAMPLE}}}\nstages: [{{stage: entity_swap}}]\n")
    error = config_error(path)
    assert error.field == "output" and "Field required" in str(error) and "Add this field" in str(error)


def test_an_empty_stage_list_is_refused(tmp_path):
    path = write_config(tmp_path, stages=[])
    assert config_error(path).field == "stages"


# -- input -----------------------------------------------------------------------------------


def test_missing_input_file(tmp_path):
    path = write_config(tmp_path, input_path=tmp_path / "nope.jsonl")
    error = config_error(path, InputNotFoundError)
    message = str(error)
    assert error.code == "E102" and error.field == "input.path"
    assert "input.path" in message and str(tmp_path / "nope.jsonl") in message and "does not exist" in message
    assert "relative paths start at the config file's folder" in message


def test_missing_bank_input_is_located_in_its_stage(tmp_path):
    path = write_config(tmp_path, stages=[swap_stage(bank_input={"path": "bank.jsonl"})])
    error = config_error(path, InputNotFoundError)
    assert error.field == "stages[0](entity_swap).bank_input.path"
    assert str(tmp_path / "bank.jsonl") in str(error)


def test_columns_mapping_to_a_non_field(tmp_path):
    path = write_config(tmp_path, input_options={"columns": {"headline": "title"}})
    error = config_error(path)
    message = str(error)
    assert error.field == "input.columns.headline"
    assert "input.columns.headline: is not a record field" in message
    assert "Map one of: id, title, text, caption, image, label" in message


def test_columns_mapping_to_fields_is_accepted(tmp_path):
    config = load_config(write_config(tmp_path, input_options={"columns": {"title": "headline"}}))
    assert config.input.columns == {"title": "headline"}


# -- the file itself ----------------------------------------------------------------------------


def test_config_file_not_found(tmp_path):
    path = tmp_path / "missing.yaml"
    message = str(config_error(path))
    assert "config file not found" in message and "Check the path" in message


def test_not_valid_yaml(tmp_path):
    path = write_yaml(tmp_path, "name: broken\ninput: {path: [unclosed\nstages:\n  - stage: entity_swap\n")
    error = config_error(path)
    message = str(error)
    assert error.field is None
    assert "not valid YAML" in message and "line " in message and "Fix the syntax" in message


def test_tabs_in_yaml_are_a_syntax_error_not_a_crash(tmp_path):
    path = write_yaml(tmp_path, "input:\n\tpath: x.jsonl\n")
    assert "not valid YAML" in str(config_error(path))


def test_not_utf8_is_reported_as_not_valid_yaml(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    assert "not valid YAML" in str(config_error(path))


@pytest.mark.parametrize("text", ["- stage: entity_swap\n- stage: entity_swap\n", "just a string\n", "42\n", ""])
def test_a_config_that_is_not_a_mapping(tmp_path, text):
    path = write_yaml(tmp_path, text)
    message = str(config_error(path))
    assert "must be a mapping with input, output and stages" in message


def test_a_list_config_with_an_output_override_is_still_a_config_error(tmp_path):
    # ``datafactory build LIST.yaml --output DIR`` goes through load_config(path, output=...).
    path = write_yaml(tmp_path, "- stage: entity_swap\n- stage: entity_swap\n")
    try:
        outcome = load_config(path, output=tmp_path / "out")
    except Exception as exc:  # noqa: BLE001 - which exception is the point of the test
        outcome = exc
    assert isinstance(outcome, ConfigError), (
        f"load_config(list config, output=...) gave {type(outcome).__name__}: "
        f"{outcome} instead of the ConfigError 'must be a mapping with input, output and stages'")
    assert "must be a mapping" in str(outcome)


def test_an_empty_config_with_an_output_override_asks_for_input(tmp_path):
    path = write_yaml(tmp_path, "")
    error = config_error(path, output=tmp_path / "out")
    assert error.field == "input" and "Add this field" in str(error)


# -- models (checked by assemble, without loading) ---------------------------------------------


def test_spacy_model_not_installed(tmp_path):
    config = load_config(write_config(tmp_path, stages=[swap_stage(model="xx_no_such_pipeline_sm")]))
    with pytest.raises(ModelNotFoundError) as info:
        assemble(config)
    error = info.value
    message = str(error)
    assert error.code == "E103" and error.exit_code == 2
    assert message.startswith(f"{tmp_path / 'pipeline.yaml'}: stages[0](entity_swap).model: ")
    assert "'xx_no_such_pipeline_sm' is not installed" in message
    assert "python -m spacy download xx_no_such_pipeline_sm" in message and "pip install" in message


def test_a_folder_that_is_not_a_saved_pipeline(tmp_path):
    folder = tmp_path / "my_ner"
    folder.mkdir()
    (folder / "meta.json").write_text("{}", encoding="utf-8")
    config = load_config(write_config(tmp_path, stages=[swap_stage(model=str(folder))]))
    with pytest.raises(ModelNotFoundError) as info:
        assemble(config)
    message = str(info.value)
    assert "stages[0](entity_swap).model" in message
    assert f"{folder} is a folder but not a saved spaCy pipeline (no config.cfg)" in message
    assert "nlp.to_disk()" in message


def test_the_installed_model_passes_the_check(tmp_path):
    (stage,) = assemble(load_config(write_config(tmp_path)))
    assert stage.name == "entity_swap" and stage.nlp is None, "assemble does not load the model"


def test_a_saved_pipeline_folder_passes_the_check(tmp_path):
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "config.cfg").write_text("[nlp]\n", encoding="utf-8")
    (stage,) = assemble(load_config(write_config(tmp_path, stages=[swap_stage(model=str(folder))])))
    assert stage.config.model == str(folder)


def test_a_relative_model_folder_starts_at_the_config_folder(tmp_path, monkeypatch):
    # "Relative paths in a config resolve against the config file's folder, so a scheduled job
    # gives the same result whatever its working directory" (datafactory/config.py) - the model
    # is "an installed package name or a path to a saved pipeline".
    project = tmp_path / "project"
    (project / "models" / "ner").mkdir(parents=True)
    (project / "models" / "ner" / "config.cfg").write_text("[nlp]\n", encoding="utf-8")
    path = write_config(project, stages=[swap_stage(model="models/ner")])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path)
    try:
        outcome = assemble(config)
    except ModelNotFoundError as exc:
        outcome = exc
    assert not isinstance(outcome, ModelNotFoundError), (
        "a relative model folder is looked up in the "
        f"working directory, not next to the config: {outcome}")


# -- paths and fingerprint ------------------------------------------------------------------------


def test_relative_paths_start_at_the_config_folder_not_the_working_directory(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "news.jsonl").write_bytes(SAMPLE.read_bytes())
    (project / "data" / "bank.jsonl").write_bytes(SAMPLE.read_bytes())
    (project / "conf").mkdir()
    path = write_config(project / "conf", input_path=Path("../data/news.jsonl"), output="../out/run",
                        stages=[swap_stage(bank_input={"path": "../data/bank.jsonl"})])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path)
    assert config.input.path == (project / "data" / "news.jsonl").resolve()
    assert config.input.path.is_absolute()
    assert config.output == (project / "out" / "run").resolve()
    assert config.input.name == "news", "the dataset name defaults to the file's stem"
    assert config.stages[0].options.bank_input.path == (project / "data" / "bank.jsonl").resolve()
    assert not (elsewhere / "out").exists()


def test_relative_config_path_from_another_directory(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "news.jsonl").write_bytes(SAMPLE.read_bytes())
    write_config(tmp_path / "conf", input_path=Path("news.jsonl"), output="out")
    monkeypatch.chdir(tmp_path)
    config = load_config("conf/pipeline.yaml")
    assert config.input.path == tmp_path / "conf" / "news.jsonl"
    assert config.output == tmp_path / "conf" / "out"
    assert config.name == "test" and config.source == "conf/pipeline.yaml"


def test_an_absolute_output_is_kept(tmp_path):
    config = load_config(write_config(tmp_path, output=str(tmp_path / "abs" / "out")))
    assert config.output == tmp_path / "abs" / "out"


def load_variant(tmp_path: Path, folder: str, **top) -> object:
    (tmp_path / folder).mkdir()
    return load_config(write_config(tmp_path / folder, **top))


def test_fingerprint_ignores_output_but_not_the_seed_or_batch_size(tmp_path):
    base = load_variant(tmp_path, "base")
    moved = load_variant(tmp_path, "moved", output=str(tmp_path / "elsewhere"))
    rebatched = load_variant(tmp_path, "rebatched", batch_size=5)
    reseeded = load_variant(tmp_path, "reseeded", seed=8)
    assert base.output != moved.output
    assert base.fingerprint() == moved.fingerprint()
    # Batched generation pads prompts: a resume must not mix batch sizes.
    assert rebatched.fingerprint() != base.fingerprint()
    assert reseeded.fingerprint() != base.fingerprint()
    assert len(base.fingerprint()) == 64


def test_fingerprint_changes_with_what_decides_the_rows(tmp_path):
    base = load_variant(tmp_path, "base").fingerprint()
    assert load_variant(tmp_path, "shards", shard_size=50).fingerprint() != base
    assert load_variant(tmp_path, "pairs", emit_real=False).fingerprint() != base
    assert load_variant(tmp_path, "swaps", stages=[swap_stage(max_swaps=2)]).fingerprint() != base


def test_fingerprint_of_spelled_out_defaults_is_the_same(tmp_path):
    base = load_variant(tmp_path, "base")
    spelled = load_variant(tmp_path, "spelled", stages=[swap_stage(max_swaps=1, sampling="typed")],
                           limits={"max_title_chars": 1000}, emit_real=True)
    assert spelled.fingerprint() == base.fingerprint()


def test_fingerprint_is_stable_across_loads_and_output_override(tmp_path):
    path = write_config(tmp_path)
    assert load_config(path).fingerprint() == load_config(path, output=tmp_path / "other").fingerprint()
    assert load_config(path, output=tmp_path / "other").output == tmp_path / "other"


def test_the_shipped_quickstart_is_valid():
    from conftest import ROOT

    config = load_config(ROOT / "pipelines" / "quickstart.yaml")
    assert config.input.path == ROOT / "data" / "sample_news.jsonl"
    assert config.output == ROOT / "out" / "quickstart"
    assert yaml.safe_load((ROOT / "pipelines" / "quickstart.yaml").read_text())["seed"] == config.seed


def test_a_model_id_with_a_slash_that_is_no_folder_stays_an_id(tmp_path):
    from conftest import swap_stage

    config = load_config(write_config(tmp_path, stages=[swap_stage(model="someorg/ner-model")]))
    assert config.stages[0].options.model == "someorg/ner-model"
