"""The experiment's files: ``experiment.json`` (every number, the config, versions, the sha256
of every input), ``experiment.md`` (tables and the verdicts) and ``experiment.png`` (one panel
per metric: arms x test sets, mean with ± sd error bars). Example::

    files = write_report(result, Path("out/experiment"))   # {"json": ..., "md": ..., "png": ...}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from datafactory.output import write_text_atomic
from detectors.evaluation.heatmap import _pyplot
from detectors.evaluation.paired import METRICS, TITLES

FILES = {"json": "experiment.json", "md": "experiment.md", "png": "experiment.png"}


def test_title(name: str) -> str:
    return "base, held-out stories" if name == "in_domain" else name


def _cell(summary: dict[str, Any]) -> str:
    if summary["mean"] is None:
        return "n/a"
    return f"{summary['mean']:.3f} ± {summary['sd']:.3f}"


def _diff(c: dict[str, Any]) -> str:
    if c["difference"] is None:
        return "n/a"
    return f"{c['difference']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}] {c['wins']}/{c['splits']}"


def render_markdown(result: dict[str, Any]) -> str:
    config = result["config"]
    k, pct = config["splits"]["repeats"], f"{config['confidence']:.0%}"
    lines = [f"# Experiment: {result['name']}", "",
             f"Detector `{result['detector']}` on `{result['field']}`; {k} story-grouped splits of the base data "
             f"(test fraction {config['splits']['test_fraction']}), the same for every arm; seed {config['seed']}. "
             f"Scores are mean ± sd over the splits; differences are the mean paired difference, its {pct} paired "
             f"bootstrap interval (over splits × rows, {config['bootstrap']} resamples) and wins k/{k}.", "",
             "## Inputs", "", "| dataset | role | rows | classes | stories | dropped | sha256 |", "|---|---|---:|---|---:|---|---|"]
    for name, info in result["inputs"].items():
        classes = ", ".join(f"{c} {n}" for c, n in info["rows_per_class"].items())
        dropped = "; ".join(f"{r}: {n}" for r, n in info["dropped"].items()) or "none"
        lines.append(f"| {name} | {info['role']} | {info['rows']} | {classes} | {info['stories']} | {dropped} | "
                     f"`{str(info['sha256'])[:12] if isinstance(info['sha256'], str) else ' '.join(h[:12] for h in info['sha256'])}` |")
    guards = result["guards"]
    per_split = guards["factory_rows_in_split_test"]["per_split"]
    lines += ["", "## Leak guards", "",
              f"- base rows whose story is in an outside test set, removed: {guards['base_rows_in_test_sets']}",
              f"- factory rows whose story is in an outside test set, removed: {guards['factory_rows_in_test_sets']}",
              f"- factory rows whose parent story is held out in the split, left out of it: "
              f"{', '.join(map(str, per_split))} (per split)", "", "## Training rows", "",
              "| arm | rows (mean over splits) |", "|---|---:|"]
    lines += [f"| {arm} | {result['train_rows'][arm]['mean']:.0f} |" for arm in result["arms"]]
    for test in result["tests"]:
        scores = result["results"][test]
        n_test = scores[result["arms"][0]]["n_test"]
        lines += ["", f"## {test_title(test)} ({min(n_test)}–{max(n_test)} rows)" if min(n_test) != max(n_test)
                  else f"## {test_title(test)} ({n_test[0]} rows)", "",
                  "| arm | " + " | ".join(TITLES[m] for m in METRICS) + " | confusion (truth × predicted) |",
                  "|---|" + "---:|" * len(METRICS) + "---|"]
        for arm in result["arms"]:
            c = scores[arm]["confusion"]["mean"]
            confusion = f"real→real {c[0][0]:g}, real→fals. {c[0][1]:g}, fals.→real {c[1][0]:g}, fals.→fals. {c[1][1]:g}"
            lines.append(f"| {arm} | " + " | ".join(_cell(scores[arm][m]) for m in METRICS) + f" | {confusion} |")
        for reference, by_arm in result["comparisons"][test].items():
            lines += ["", f"Against **{reference}** (difference [interval] wins):", "",
                      "| arm | " + " | ".join(TITLES[m] for m in METRICS) + " |", "|---|" + "---:|" * len(METRICS)]
            lines += [f"| {arm} | " + " | ".join(_diff(c[m]) for m in METRICS) + " |" for arm, c in by_arm.items()]
        lines += ["", "**Verdicts:**", ""] + [f"- {v['text']}" for v in result["verdicts"][test]]
    lines += ["", f"Run time {result['seconds']} s.", ""]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> Path:
    """One panel per metric; in each, a group of bars per test set, one bar per arm."""
    plt = _pyplot()
    import numpy as np

    arms, tests = result["arms"], result["tests"]
    width = 0.8 / len(arms)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.2 + 1.1 * len(tests) * len(METRICS) + 0.25 * len(arms) *
                                                       len(tests) * len(METRICS) / 2, 4.4), squeeze=False,
                             constrained_layout=True)
    colours = plt.get_cmap("tab10")
    for ax, metric in zip(axes[0], METRICS):
        for a, arm in enumerate(arms):
            means = [result["results"][t][arm][metric]["mean"] for t in tests]
            sds = [result["results"][t][arm][metric]["sd"] for t in tests]
            x = np.arange(len(tests)) + (a - (len(arms) - 1) / 2) * width
            ax.bar(x, [np.nan if m is None else m for m in means], width, yerr=[0 if s is None else s for s in sds],
                   capsize=2, color=colours(a % 10), label=arm)
        if metric in ("roc_auc",):
            ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)  # chance
        ax.set_ylim(0, 1)
        ax.set_xticks(range(len(tests)), [test_title(t) for t in tests], rotation=20 if len(tests) > 1 else 0,
                      ha="right" if len(tests) > 1 else "center", fontsize=8)
        ax.set_title(TITLES[metric])
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), title="arm")
    k = result["config"]["splits"]["repeats"]
    fig.suptitle(f"{result['name']}: {result['detector']} on {result['field']} (mean ± sd over {k} splits)",
                 fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(result: dict[str, Any], output: Path) -> dict[str, str]:
    """Write the three files into ``output`` (created if needed); returns their paths."""
    output.mkdir(parents=True, exist_ok=True)
    paths = {kind: output / name for kind, name in FILES.items()}
    files = {kind: str(path) for kind, path in paths.items()}
    write_text_atomic(render_markdown(result), paths["md"])
    plot(result, paths["png"])
    write_text_atomic(json.dumps({**result, "files": files}, indent=2, ensure_ascii=False) + "\n", paths["json"])
    return files
