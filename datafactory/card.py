"""The dataset card (README.md in the output): what was built, counts, examples, how to load."""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq

from datafactory import registry
from datafactory.output import OutputDir

_EXAMPLES = 3
#: Shards read for examples of every manipulation at most: a card stays quick on large builds.
_SHARDS_READ = 20


def highlight(text: str | None, spans: list[dict[str, Any]], field: str, *, markup: tuple[str, str, str] = ("~~", "~~ **", "**")) -> str:
    """``text`` with each replaced span shown as ``~~original~~ **replacement**`` (Markdown)."""
    if not text:
        return ""
    pieces, cursor = [], 0
    open_old, between, close_new = markup
    for span in sorted((s for s in spans if s["field"] == field), key=lambda s: s["start"]):
        pieces.append(text[cursor:span["start"]])
        pieces.append(f"{open_old}{span['original']}{between}{text[span['start']:span['end']]}{close_new}")
        cursor = span["end"]
    pieces.append(text[cursor:])
    return "".join(pieces)


def examples(out: OutputDir, count: int = _EXAMPLES, manipulation: str | None = None) -> list[dict[str, Any]]:
    """``count`` falsified records of the build, taken in turn from each manipulation that made
    the last change of a record (the first ones in shard order), or of ``manipulation`` only."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for read, path in enumerate(out.shard_files()):
        table = pq.read_table(path)
        for record in table.filter(table.column("falsified")).to_pylist():
            kind = record["manipulations"][-1] if record["manipulations"] else ""
            if manipulation is None or manipulation in record["manipulations"]:
                found = by_kind.setdefault(kind, [])
                if len(found) < count:
                    found.append(record)
        if by_kind and (all(len(found) >= count for found in by_kind.values()) or read >= _SHARDS_READ):
            break
    picked: list[dict[str, Any]] = []
    for turn in range(count):
        picked.extend(found[turn] for found in by_kind.values() if turn < len(found))
    return picked[:count]


def render_card(manifest: dict[str, Any], out: OutputDir) -> str:
    totals, rejects = manifest["totals"], manifest["rejects"]
    stage_lines = "\n".join(
        f"{i}. `{s['name']}` v{s['version']}" + "".join(f" — model `{m['name']}` {m.get('version', '')}" for m in s["models"])
        for i, s in enumerate(manifest["stages"], start=1)
    )
    label_rows = "\n".join(f"| {label} | {n} |" for label, n in totals["by_label"].items())
    manipulation_rows = "\n".join(f"| {name} | {n} |" for name, n in totals["by_manipulation"].items())
    reject_rows = "\n".join(f"| {reason} | {n} |" for reason, n in rejects["by_reason"].items()) or "| (none) | 0 |"
    example_blocks = "\n\n".join(_example(r) for r in examples(out)) or "_No falsified records._"
    return f"""# {manifest['name']}

Synthetic misinformation-detection data built by datafactory {manifest['versions']['datafactory']}
from `{manifest['input']['dataset']}` ({manifest['input']['format']}, sha256 `{manifest['input']['sha256'][:12]}…`)
with seed {manifest['seed']}. Real news items are kept with `falsified = false`; each
manipulated child has `falsified = true`, its `parent_id`, the manipulations applied, every
replaced span and the provenance of each step.

## Stages

{stage_lines}

## Counts

{totals['rows']} rows in {len(manifest['shards'])} shard(s).

| label | rows |
|---|---|
{label_rows}

| manipulations | rows |
|---|---|
{manipulation_rows}

Rows not written or not manipulated: {rejects['total']} (see `rejects.parquet`).

| reason | rows |
|---|---|
{reject_rows}

## Examples

{example_blocks}

## Loading

```python
import pandas as pd
df = pd.read_parquet("{out.root.name}/data")                  # every shard

import pyarrow.dataset as ds
table = ds.dataset("{out.root.name}/data", format="parquet").to_table()

from datasets import load_dataset
dataset = load_dataset("parquet", data_files="{out.root.name}/data/*.parquet", split="train")
```

{_built(manifest)}; config fingerprint
`{manifest['config_fingerprint'][:12]}…`; full provenance in `manifest.json`.
"""


def _built(manifest: dict[str, Any]) -> str:
    runs = manifest.get("runs") or []
    if len(runs) <= 1:
        return f"Built {manifest['finished_at']} in {manifest['duration_s']} s"
    last = runs[-1]
    return (f"Built in {len(runs)} runs (`datafactory runs`), the last on {last['finished_at']} adding "
            f"{last['rows_added']} rows")


def _example(record: dict[str, Any]) -> str:
    lines = [f"**{record['id']}** ({', '.join(record['manipulations'])})", ""]
    for field in ("title", "text", "caption"):
        if any(s["field"] == field for s in record["spans"]):
            lines.append(f"- {field}: {highlight(record[field], record['spans'], field)}")
    if len(lines) == 2:
        lines.append(f"- title: {record['title']}")
    lines.extend(f"- {label}: {snippet(text)}" for label, text in described(record))
    return "\n".join(lines)


def described(record: dict[str, Any]) -> list[tuple[str, str]]:
    """What each stage that made ``record`` says it changed besides its spans (``Stage.describe``):
    a generated body, a repurposed photo. A stage no longer installed says nothing."""
    lines: list[tuple[str, str]] = []
    for name in dict.fromkeys(record["manipulations"]):
        stage = registry.stages.get(name)
        if stage is not None:
            lines.extend(stage.describe(record))
    return lines


def snippet(text: str | None, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
