"""The ``datafactory`` command: help, one-line errors with codes, build / validate / inspect,
and the installed console script in a real subprocess."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SAMPLE, sample_rows, swap_stage, write_config, write_jsonl
from datafactory.cli import app

SPAN = re.compile(r"\[[^\[\]\n]+ -> [^\[\]\n]+\]")



@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def stderr_of(result) -> str:
    try:
        return result.stderr
    except ValueError:  # a runner that mixes the streams
        return result.output


@pytest.fixture
def small_config(tmp_path) -> Path:
    """40 sample rows in 2 shards of 20, output in tmp_path/out."""
    rows = write_jsonl(tmp_path / "news.jsonl", sample_rows()[:40])
    return write_config(tmp_path, input_path=rows, shard_size=20)


def console_script() -> str:
    found = shutil.which("datafactory", path=str(Path(sys.executable).parent))
    assert found, f"the datafactory console script is not installed beside {sys.executable}"
    return found


# -- help ---------------------------------------------------------------------------------


def test_app_help(runner):
    result = invoke(runner, "--help")
    assert result.exit_code == 0, result.output
    for command in ("build", "validate", "inspect"):
        assert command in result.output
    assert "datafactory build pipelines/quickstart.yaml" in result.output


def test_no_arguments_shows_help(runner):
    result = invoke(runner)
    assert "Usage" in result.output and "build" in result.output


@pytest.mark.parametrize("command", ["build", "validate", "inspect"])
def test_each_command_has_help_with_an_example(runner, command):
    result = invoke(runner, command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"datafactory {command}" in result.output
    assert invoke(runner, command, "-h").exit_code == 0


def test_version(runner):
    from datafactory import __version__

    result = invoke(runner, "--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"datafactory {__version__}"


# -- validate --------------------------------------------------------------------------------


def test_validate_a_good_config(runner, tmp_path):
    config = write_config(tmp_path)
    result = invoke(runner, "validate", config)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{config}: valid"
    assert f"  input:  {SAMPLE} (jsonl)" in lines
    assert f"  output: {tmp_path / 'out'}" in lines
    assert "  stages: entity_swap" in lines
    assert not (tmp_path / "out").exists(), "validate writes nothing"


def test_validate_an_unknown_stage_is_one_line_on_stderr(runner, tmp_path):
    config = write_config(tmp_path, stages=[{"stage": "entity_swapp"}])
    result = invoke(runner, "validate", config)
    assert result.exit_code == 2
    err = stderr_of(result)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error[E101]: ")
    assert f"{config}: stages[0].stage: unknown stage 'entity_swapp'" in lines[0]
    assert "Known stages: entity_swap" in lines[0]
    assert "Traceback" not in result.output
    assert "valid" not in result.stdout


def test_debug_adds_the_traceback(runner, tmp_path):
    config = write_config(tmp_path, stages=[{"stage": "entity_swapp"}])
    result = invoke(runner, "--debug", "validate", config)
    assert result.exit_code == 2
    err = stderr_of(result)
    assert "Traceback" in err and "UnknownStageError" in err
    assert err.strip().splitlines()[-1].startswith("error[E101]: "), "the one-line error still comes last"


def test_debug_does_not_stick_to_the_next_command(runner, tmp_path):
    config = write_config(tmp_path, stages=[{"stage": "entity_swapp"}])
    invoke(runner, "--debug", "validate", config)
    assert "Traceback" not in invoke(runner, "validate", config).output


def test_validate_a_missing_model(runner, tmp_path):
    config = write_config(tmp_path, stages=[swap_stage(model="xx_no_such_pipeline_sm")])
    result = invoke(runner, "validate", config)
    assert result.exit_code == 2
    (line,) = stderr_of(result).strip().splitlines()
    assert line.startswith("error[E103]: ") and "stages[0](entity_swap).model" in line and "Install it" in line


def test_validate_a_wrong_type(runner, tmp_path):
    config = write_config(tmp_path, stages=[swap_stage(max_swaps="two")])
    result = invoke(runner, "validate", config)
    assert result.exit_code == 2
    (line,) = stderr_of(result).strip().splitlines()
    assert line.startswith("error[E100]: ") and f"{config}: stages[0](entity_swap).max_swaps" in line


def test_validate_a_missing_config_file(runner, tmp_path):
    result = invoke(runner, "validate", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert stderr_of(result).startswith("error[E100]: ") and "config file not found" in stderr_of(result)


# -- build -----------------------------------------------------------------------------------


def test_build_then_build_again(runner, small_config, tmp_path):
    out = tmp_path / "out"
    result = invoke(runner, "build", small_config, "--no-progress")
    assert result.exit_code == 0, result.output
    (line,) = [l for l in result.stdout.splitlines() if l.startswith("built ")]
    assert line.startswith(f"built {out}: ") and "40 real" in line and "in 2 shard(s)" in line
    assert sorted(p.name for p in (out / "data").iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    assert (out / "manifest.json").is_file() and (out / "README.md").is_file()

    mtime = (out / "manifest.json").stat().st_mtime_ns
    again = invoke(runner, "build", small_config, "--no-progress")
    assert again.exit_code == 0, again.output
    assert f"already built, nothing to do: {out}: " in again.stdout
    assert "in 2 shard(s)" in again.stdout
    assert (out / "manifest.json").stat().st_mtime_ns == mtime


def test_build_dry_run_writes_nothing(runner, small_config, tmp_path):
    result = invoke(runner, "build", small_config, "--dry-run")
    assert result.exit_code == 0, result.output
    plan = dict(line.strip().split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert plan["rows"] == "40" and plan["stages"] == "['entity_swap']" and plan["format"] == "jsonl"
    assert plan["output"] == str(tmp_path / "out") and plan["would"] == "build from scratch"
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.rglob("part-*.parquet"))


def test_build_dry_run_with_limit_after_a_build(runner, small_config, tmp_path):
    assert invoke(runner, "build", small_config, "--no-progress").exit_code == 0
    result = invoke(runner, "build", small_config, "--dry-run", "--limit", "10")
    assert result.exit_code == 0, result.output
    assert "    rows: 10" in result.stdout
    would = next(line for line in result.stdout.splitlines() if line.strip().startswith("would:"))
    # The dry run says what the build itself would say, with the option that gets past it.
    assert "refuse:" in would and "another input or --limit" in would and "--overwrite" in would
    overwrite = invoke(runner, "build", small_config, "--dry-run", "--limit", "10", "--overwrite")
    assert "would: build from scratch, replacing what the folder holds" in overwrite.stdout
    same = invoke(runner, "build", small_config, "--dry-run")
    assert "would: nothing (already built)" in same.stdout


def test_build_resume_and_overwrite_exclude_each_other(runner, small_config, tmp_path):
    result = invoke(runner, "build", small_config, "--resume", "--overwrite")
    assert result.exit_code != 0
    lines = stderr_of(result).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error[E200]: ") and "--resume" in lines[0] and "--overwrite" in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_build_a_bad_config_is_one_line(runner, tmp_path):
    result = invoke(runner, "build", write_config(tmp_path, batch_size=0))
    assert result.exit_code == 2
    (line,) = stderr_of(result).strip().splitlines()
    assert line.startswith("error[E100]: ") and "batch_size" in line


def test_build_output_option_writes_there(runner, small_config, tmp_path):
    target = tmp_path / "elsewhere" / "built"
    result = invoke(runner, "build", small_config, "--output", target, "--limit", "20", "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"built {target}: " in result.stdout
    assert [p.name for p in (target / "data").iterdir()] == ["part-00000.parquet"]
    assert not (tmp_path / "out").exists()


def test_build_relative_output_option_starts_at_the_working_directory(runner, small_config, tmp_path,
                                                                       monkeypatch):
    # A path typed on the command line is relative to where the command runs, as in the build
    # help's own example (datafactory build pipelines/quickstart.yaml --output out/qs).
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = invoke(runner, "build", small_config, "--output", "rel/out", "--dry-run")
    assert result.exit_code == 0, result.output
    (output_line,) = [l.strip() for l in result.stdout.splitlines() if l.strip().startswith("output: ")]
    assert output_line == f"output: {work / 'rel' / 'out'}", (
        "--output is resolved against the config "
        f"file's folder, not the working directory: {output_line}")


def test_build_with_a_list_config_and_output_is_a_config_error(runner, tmp_path):
    config = tmp_path / "pipeline.yaml"
    config.write_text("- stage: entity_swap\n", encoding="utf-8")
    result = invoke(runner, "build", config, "--output", tmp_path / "out")
    line = stderr_of(result).strip().splitlines()[-1]
    assert result.exit_code == 2 and line.startswith("error[E100]: "), (
        f"a list config with --output gives exit {result.exit_code}: {line}")


# -- inspect ---------------------------------------------------------------------------------


def test_inspect_a_build(runner, small_config, tmp_path):
    out = tmp_path / "out"
    assert invoke(runner, "build", small_config, "--no-progress").exit_code == 0
    result = invoke(runner, "inspect", out)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert f"test  ({out})" in text
    rows = re.search(r"^rows: (\d+) in 2 shard\(s\); built ", text, flags=re.M)
    assert rows and int(rows.group(1)) > 40
    by_label = re.search(r"^by label: (.*)$", text, flags=re.M)
    assert by_label and "real=40" in by_label.group(1).split(", "), text
    assert re.search(r"\bfalsified=\d+", by_label.group(1)), text
    assert re.search(r"^by manipulation: .*entity_swap=\d+", text, flags=re.M), text
    assert re.search(r"^rejects: \d+", text, flags=re.M)
    assert "\nschema:\n" in text
    for field in ("  id: string", "  falsified: bool", "  parent_id: string", "  spans: list<"):
        assert field in text, field
    assert SPAN.search(text), text
    assert "\x1b[" not in text, "no colour codes when not on a terminal"
    assert len(re.findall(r"^news-\d{4}:entity_swap  parent=news-\d{4}$", text, flags=re.M)) == 3


def test_inspect_options(runner, small_config, tmp_path):
    assert invoke(runner, "build", small_config, "--no-progress").exit_code == 0
    result = invoke(runner, "inspect", tmp_path / "out", "--examples", "1", "--no-schema")
    assert result.exit_code == 0, result.output
    assert "schema:" not in result.stdout
    assert len(SPAN.findall(result.stdout)) >= 1
    assert result.stdout.count(":entity_swap  parent=") == 1
    none = invoke(runner, "inspect", tmp_path / "out", "-e", "0")
    assert none.exit_code == 0 and not SPAN.search(none.stdout) and "rows: " in none.stdout


def test_inspect_a_folder_without_manifest(runner, tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke(runner, "inspect", tmp_path / "empty")
    assert result.exit_code != 0
    (line,) = stderr_of(result).strip().splitlines()
    assert line.startswith("error[E300]: ") and "no manifest.json" in line


def test_inspect_a_missing_folder(runner, tmp_path):
    result = invoke(runner, "inspect", tmp_path / "nope")
    assert result.exit_code != 0
    assert stderr_of(result).startswith("error[E300]: ") and "is not a folder" in stderr_of(result)


# -- the installed console script -----------------------------------------------------------------


def test_console_script_help():
    done = subprocess.run([console_script(), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "build" in done.stdout and "validate" in done.stdout and "inspect" in done.stdout


def test_console_script_builds(tmp_path):
    rows = write_jsonl(tmp_path / "news.jsonl", sample_rows()[:40])
    config = write_config(tmp_path, input_path=rows, shard_size=20)
    done = subprocess.run([console_script(), "build", str(config), "--no-progress"], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "data" / "part-00000.parquet").is_file()
    assert (tmp_path / "out" / "data" / "part-00001.parquet").is_file()
    assert f"built {tmp_path / 'out'}: " in done.stdout
    assert "Traceback" not in done.stderr


def test_console_script_error_is_one_line(tmp_path):
    config = write_config(tmp_path, stages=[{"stage": "entity_swapp"}])
    done = subprocess.run([console_script(), "validate", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error[E101]: ")
