"""The generation eval report as Markdown: one metric | generated | reference table, the
judge, the cost per token and the rejections. Input is the dict
:func:`detectors.evaluation.generation.evaluate_generation` returns."""

from __future__ import annotations

from typing import Any, Sequence


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4f}"
    return str(value)


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: a metric | generated | reference table, the cost per token
    (when the manifest has it) and the rejections."""
    samples, rejection = report["samples"], report["rejection"]
    rows = [("samples", samples["generated"], samples["reference"])]
    rows += [(name, m["generated"], m["reference"]) for name, m in report["metrics"].items()]
    for name in ("generator_logprob_mean", "discriminator_score_mean"):
        if report[name] is not None:
            rows.append((name, report[name], None))
    cells = [("metric", "generated", "reference")] + [(name, _fmt(g), _fmt(r)) for name, g, r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(3)]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                 for i, (cell, w) in enumerate(zip(row, widths))) + " |"

    table = [line(cells[0]), "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":"
                                            for i, w in enumerate(widths)) + "|"]
    table += [line(row) for row in cells[1:]]
    reasons = "\n".join(f"| {r['reason']} | {r['count']} |" for r in rejection["top_reasons"]) or "| (none) | 0 |"
    rate = "–" if rejection["rate"] is None else f"{rejection['rate']:.1%}"
    intro = (f"Generated bodies from `{report['out_dir']}` against the reference `{report['reference']['path']}`;\n"
             f"oracle: {_code(report['oracle'])}; {_judge_line(report['judge'])}.")
    sections = [f"# Generation eval: `{report['stage']}` in {report['dataset']}", intro]
    if report["judge"] is not None and report["judge"]["judge_is_guide"]:
        guide = report["judge"]["guide"]
        sections.append(f"**Warning: the judge is the discriminator that guided `{guide['stage']}` (same "
                        f"{guide['by']}); its target accuracy is not an independent measure.**")
    sections.append("\n".join(table))
    if report["speed"]["tokens"]:
        sections.append(_speed_section(report["speed"]))
    sections.append(f"""## Rejections

`{report['stage']}` skipped or failed on {rejection['rejected']} row(s) and generated for {rejection['generated_parents']}:
rejection rate {rate}.

| reason | rows |
|---|---|
{reasons}""")
    return "\n\n".join(sections) + "\n"


def _code(value: Any) -> str:
    return f"`{value}`" if value else "none"


def _fmt_small(value: Any) -> str:
    """Per-token costs span orders of magnitude: significant digits, not decimals."""
    return "–" if value is None else f"{value:.4g}"


def _judge_line(judge: dict[str, Any] | None) -> str:
    if judge is None:
        return "judge: none"
    return f"judge: `{judge['path']}` ({judge['kind']}), target class `{judge['target']}`"


def _speed_section(speed: dict[str, Any]) -> str:
    partial = " (after a resume: only the shards the last run wrote)" if speed["partial"] else ""
    return f"""## Cost per generated token

{_fmt(speed['tokens'])} tokens in {_fmt(speed['seconds'])} s over {_fmt(speed['rows'])} rows{partial}.

| per token | value |
|---|---:|
| seconds | {_fmt_small(speed['seconds_per_token'])} |
| LM forward passes | {_fmt_small(speed['lm_forwards_per_token'])} |
| discriminator calls | {_fmt_small(speed['discriminator_calls_per_token'])} |"""
