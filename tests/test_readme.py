"""The README stays true: CI runs its commands, and its full config example is the quickstart."""

from __future__ import annotations

import re

import yaml

from conftest import ROOT
from datafactory.config import load_config, parse_config

README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_ci_runs_the_readme_setup_and_test_commands():
    setup, quickstart = code_blocks("bash")[0].strip().splitlines()
    (test_command,) = code_blocks("bash")[1].strip().splitlines()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert setup in ci and test_command in ci
    assert ci.index(setup) < ci.index(test_command)
    assert quickstart == ".venv/bin/datafactory build pipelines/quickstart.yaml"


def test_the_full_config_example_is_the_quickstart_spelled_out():
    example = code_blocks("yaml")[0]
    documented = parse_config(yaml.safe_load(example), source="README.md", base_dir=ROOT / "pipelines")
    shipped = load_config(ROOT / "pipelines" / "quickstart.yaml")
    assert documented.to_dict() == shipped.to_dict()


def test_the_generate_article_block_lists_every_option_with_its_default():
    from pipelines.stages.generate_article import GenerateArticleConfig

    (block,) = [b for b in code_blocks("yaml") if b.lstrip().startswith("- stage: generate_article")]
    (entry,) = yaml.safe_load(block)
    assert entry.pop("stage") == "generate_article"
    assert set(entry) == set(GenerateArticleConfig.model_fields)
    defaults = GenerateArticleConfig(model=entry["model"]).model_dump()
    assert entry == defaults


def test_the_claim_edit_block_lists_every_option_of_numbers_and_polarity_with_its_default():
    from pipelines.stages.numeric_edit import NumericEditConfig
    from pipelines.stages.polarity_flip import PolarityFlipConfig

    (block,) = [b for b in code_blocks("yaml") if "stage: numeric_edit" in b]
    entries = {entry.pop("stage"): entry for entry in yaml.safe_load(block)["stages"]}
    assert set(entries) == {"numeric_edit", "polarity_flip", "misattribute"}
    for name, config in (("numeric_edit", NumericEditConfig), ("polarity_flip", PolarityFlipConfig)):
        entry = entries[name]
        assert set(entry) == set(config.model_fields), name
        defaults = config(model=entry["model"]).model_dump(mode="json")
        assert entry == {k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()}, name
