"""A third-party package adds a stage with one module and one entry-point line, and it runs
end to end: its declared score becomes a column, the card and inspect show what it did."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import swap_stage, write_config
from datafactory import registry, schema
from datafactory.cli import app
from datafactory.config import load_config
from datafactory.errors import ConfigError
from datafactory.registry import DuplicateNameError, Registry, UnknownNameError
from datafactory.runner import build

# The whole third-party package: a stage that writes the title in capitals and says how much of
# it changed. Nothing in datafactory is edited to run it.
SHOUT_MODULE = '''
from datafactory.stage import Stage, StageConfig


class ShoutConfig(StageConfig):
    suffix: str = "!"
    """Put after the shouted title."""


class Shout(Stage):
    name = "shout"
    version = "1"
    Config = ShoutConfig
    scores = ("shouted_share",)

    def __call__(self, batch):
        rows = []
        for record in batch.to_pylist():
            title = record["title"] or ""
            letters = [c for c in title if c.isalpha()]
            if not letters or title.isupper():
                rows.append(self.skip(record, "nothing to shout"))
                continue
            share = sum(c.islower() for c in letters) / len(letters)
            rows.append(self.child(record, seed=self.row_seed(record["id"]), stats={"letters": len(letters)},
                                   scores={"shouted_share": share}, title=title.upper() + self.config.suffix))
        return self.output(rows)

    @classmethod
    def describe(cls, record):
        return [("title (shouted)", record["title"])]
'''


def install_fake_distribution(root: Path, name: str, module: str, code: str, entry_points: str) -> None:
    """What ``pip install`` leaves in site-packages: the module and a dist-info folder whose
    entry_points.txt importlib.metadata reads."""
    (root / f"{module}.py").write_text(code, encoding="utf-8")
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points), encoding="utf-8")


@pytest.fixture
def fresh_registries(monkeypatch):
    """Registries that read the entry points again (and forget plug-ins) after the test."""
    for reg in registry.REGISTRIES.values():
        monkeypatch.setattr(reg, "_entry_points", None)
        monkeypatch.setattr(reg, "_registered", dict(reg._registered))
    yield
    for reg in registry.REGISTRIES.values():
        reg._entry_points = None


@pytest.fixture
def shout_package(tmp_path, monkeypatch, fresh_registries):
    site = tmp_path / "site"
    site.mkdir()
    install_fake_distribution(site, "shout_plugin", "shout_plugin", SHOUT_MODULE,
                              "[datafactory.stages]\nshout = shout_plugin:Shout\n")
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("shout_plugin", None)


def test_shipped_plugins_are_found_by_name_without_importing_them():
    assert {"entity_swap", "generate_article", "repurpose_image"} <= set(registry.stages.names())
    assert {"sample", "greedy", "beam", "mcts", "rerank"} <= set(registry.strategies.names())
    assert {"tfidf", "transformer", "clip"} <= set(registry.detectors.names())
    assert {"local", "ray"} <= set(registry.executors.names())
    assert registry.stages.require("entity_swap").name == "entity_swap"


def test_a_third_party_stage_runs_end_to_end(shout_package, tmp_path):
    assert "shout" in registry.stages.names()
    config = write_config(tmp_path, stages=[swap_stage(), {"stage": "shout", "suffix": "!!"}])
    result = build(load_config(config), limit=30, progress=False)
    assert result.status == "built"

    table = pq.read_table(tmp_path / "out" / "data")
    # The declared score is a field of `scores`, after the shared ones.
    assert table.schema.field("scores").type.names == [*schema.CORE_SCORES, "shouted_share"]
    frame = pd.read_parquet(tmp_path / "out" / "data")
    children = frame[frame.falsified]
    assert len(children) > 12
    for _, row in children.iterrows():
        assert list(row.manipulations) == ["entity_swap", "shout"]
        assert row.id.endswith(":entity_swap:shout") and row.title.endswith("!!") and row.title[:-2].isupper()
        assert 0 < row.scores["shouted_share"] <= 1
        assert [p["stage"] for p in row.provenance] == ["entity_swap", "shout"]
        assert json.loads(row.provenance[-1]["params"]) == {"suffix": "!!"}
        assert len(row.spans) >= 1  # the swap's spans travel with the record
    reals = frame[~frame.falsified]
    assert reals.scores.map(lambda s: s["shouted_share"]).isna().all()

    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "title (shouted):" in card
    shown = CliRunner().invoke(app, ["inspect", str(tmp_path / "out"), "--examples", "2", "--no-schema"])
    assert shown.exit_code == 0, shown.output
    assert "title (shouted):" in shown.stdout


def test_a_stage_that_sets_an_undeclared_score_stops_the_build(shout_package, tmp_path):
    code = SHOUT_MODULE.replace('scores={"shouted_share": share}', 'scores={"loudness": share}')
    (shout_package / "shout_plugin.py").write_text(code, encoding="utf-8")
    config = write_config(tmp_path, stages=[{"stage": "shout"}])
    with pytest.raises(Exception, match="loudness.*does not declare"):
        build(load_config(config), limit=5, progress=False)


def test_two_packages_claiming_one_name_are_refused(shout_package, tmp_path):
    other = tmp_path / "other-site"
    other.mkdir()
    install_fake_distribution(other, "loud_plugin", "loud_plugin", SHOUT_MODULE.replace("Shout(", "Loud("),
                              "[datafactory.stages]\nshout = loud_plugin:Loud\n")
    sys.path.insert(0, str(other))
    try:
        with pytest.raises(DuplicateNameError, match="shout.*shout_plugin.*loud_plugin|shout.*loud_plugin.*shout"):
            registry.stages.names()
    finally:
        sys.path.remove(str(other))


def test_a_plugin_cannot_take_a_shipped_name(fresh_registries):
    class Impostor:
        name = "entity_swap"

    with pytest.raises(DuplicateNameError, match="already taken by pipelines.stages.entity_swap.EntitySwap"):
        registry.stages.register(Impostor)
    assert registry.stages.require("entity_swap").__module__ == "pipelines.stages.entity_swap"


def test_decorator_registration_for_code_that_is_not_a_package():
    local = Registry("widget", "datafactory.test-widgets")

    @local.register
    class Sprocket:
        name = "sprocket"

    assert local.require("sprocket") is Sprocket and local.names() == ["sprocket"]
    local.register(Sprocket)  # the same object again is no conflict
    with pytest.raises(UnknownNameError, match="unknown widget 'cog'; known: sprocket"):
        local.require("cog")


def test_an_unknown_stage_in_a_config_lists_the_installed_ones(shout_package, tmp_path):
    config = write_config(tmp_path, stages=[{"stage": "shuot"}])
    with pytest.raises(ConfigError, match="unknown stage 'shuot'.*Known stages: entity_swap, .*shout"):
        load_config(config)



def test_a_plugin_that_cannot_be_imported_is_a_config_error(tmp_path, monkeypatch, fresh_registries):
    site = tmp_path / "site"
    site.mkdir()
    install_fake_distribution(site, "broken_plugin", "broken_plugin", "import a_module_nobody_installed\n",
                              "[datafactory.stages]\nbroken = broken_plugin:Broken\n")
    monkeypatch.syspath_prepend(str(site))
    config = write_config(tmp_path, stages=[{"stage": "broken"}])
    with pytest.raises(ConfigError, match="stages\\[0\\].stage: stage 'broken' is installed but cannot be imported "
                                          ".*a_module_nobody_installed"):
        load_config(config)
