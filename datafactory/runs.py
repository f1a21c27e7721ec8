"""What a scheduler reads back from a build: an exit code, a one-line JSON summary of the run,
and the list of runs a dataset has recorded.

Exit codes: 0 the run succeeded (or had nothing to do); 3 it committed its rows but refused or
failed on some input rows (``rejects.parquet`` says which); anything else means it failed
and the dataset is as it was before the run: 1 an unexpected error, 2 a bad config, a
missing model or input, 75 another build holds the output folder (try again later), 130
interrupted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from datafactory.errors import DatafactoryError, NotADatasetError
from datafactory.manifest import iso_time, runs_of
from datafactory.output import OutputDir

EXIT_SUCCESS = 0
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130


def exit_code(result: Any) -> int:
    """0, or 3 when the run refused or failed on some rows."""
    return EXIT_PARTIAL if result.partial else EXIT_SUCCESS


def summary(*, config: Path, started: float, result: Any = None, error: BaseException | None = None,
            code: int | None = None) -> dict[str, Any]:
    """The run summary: ``status`` is success, partial or failure; counts are this run's."""
    finished = time.time()
    base = {"config": str(config), "started_at": iso_time(started), "finished_at": iso_time(finished),
            "duration_s": round(finished - started, 3)}
    if result is None:
        message = str(error) if error is not None else "interrupted"
        return {"status": "failure", "exit_code": code, **base, "outcome": None,
                "error": {"code": getattr(error, "code", None), "type": type(error).__name__, "message": message}}
    run = result.run or {}
    added = run.get("rejects_added", {})
    return {
        "status": "partial" if result.partial else "success",
        "exit_code": exit_code(result),
        **base,
        "outcome": result.status,
        "output": str(result.output),
        "run": run.get("run"),
        "executor": run.get("executor"),
        "new_input_rows": run.get("new_input_rows", 0),
        "rows_added": run.get("rows_added", 0),
        "shards_added": len(run.get("shards_added", [])),
        "rejects_added": {"invalid": added.get("invalid", 0), "error": added.get("error", 0),
                          "skipped": added.get("skipped", 0)},
        "rows_total": result.rows,
        "error": None,
    }


def failure_code(error: BaseException) -> int:
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return error.exit_code if isinstance(error, DatafactoryError) else 1


def list_runs(out_dir: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The runs a dataset recorded, and the run in progress or cut short (None if there is none)."""
    out = OutputDir(Path(out_dir))
    if not out.root.is_dir():
        raise NotADatasetError(f"{out_dir} is not a folder; give the output folder of a build")
    manifest, state = out.manifest(), out.state()
    if manifest is None and state is None:
        raise NotADatasetError(f"{out_dir} is not a datafactory output (no manifest.json)")
    runs = runs_of(manifest) if manifest is not None else []
    unfinished = None
    if state is not None:
        staged = state.get("mode") == "append"
        done = out.finished_shards(state.get("first_shard", 0), staged=staged)
        unfinished = {"run": state.get("run", 1), "mode": "incremental" if staged else "build",
                      "started_at": iso_time(state["started_at"]), "shards_written": done,
                      "phase": state.get("phase", "building")}
    return runs, unfinished


def format_runs(runs: list[dict[str, Any]], unfinished: dict[str, Any] | None) -> str:
    header = ("run", "mode", "executor", "started (UTC)", "seconds", "new input", "rows added", "shards",
              "invalid", "errors", "skipped")
    lines = []
    for run in runs:
        added = run.get("rejects_added") or {}
        lines.append((str(run["run"]), run["mode"] + (" (resumed)" if run.get("resumed") else ""),
                      run.get("executor", "local"), run["started_at"].replace("T", " ").rstrip("Z"),
                      f"{run['duration_s']:.1f}", _count(run.get("new_input_rows")), str(run["rows_added"]),
                      str(len(run.get("shards_added") or [])), str(added.get("invalid", 0)),
                      str(added.get("error", 0)), str(added.get("skipped", 0))))
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    text = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    text += ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    if unfinished is not None:
        text.append(f"unfinished: run {unfinished['run']} ({unfinished['mode']}), started "
                    f"{unfinished['started_at']}, {unfinished['shards_written']} shard(s) written, "
                    f"phase {unfinished['phase']}; the next build of this config continues or discards it")
    return "\n".join(text)


def _count(value: Any) -> str:
    return "?" if value is None else str(value)

