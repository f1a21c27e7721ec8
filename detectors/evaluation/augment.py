"""Does factory data help? The same detector trained on real data alone and on real plus
factory data, both scored on a test set from another dataset::

    report = augment_eval("data/liar.jsonl", ["out/swap_and_generate"], "data/other.jsonl",
                          output=Path("out/augment"), base_columns={"label": "verdict"})
    report["runs"]["base"]["accuracy"], report["runs"]["augmented"]["accuracy"]

The base dataset is split by story (train / held out); only its training stories are used,
so its held-out stories give an in-domain score beside the out-of-domain one. Labels must name
the same classes in every dataset (a build's are ``real`` and ``falsified``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from datafactory.errors import ConfigError
from datafactory.output import write_text_atomic
from detectors.data import LabelledData, load_labelled_data
from detectors.metrics import evaluate
from detectors.splits import split_by_story
from detectors.tfidf import TfidfDetector
from detectors.train import pick


def augment_eval(base: str | Path, factory: Sequence[str | Path], test: str | Path, *, output: Path,
                 field: str = "text", label: str = "falsified", base_columns: dict[str, str] | None = None,
                 test_columns: dict[str, str] | None = None, seed: int = 0, max_rows: int | None = None,
                 min_df: int = 1) -> dict[str, Any]:
    base_data = load_labelled_data(base, field, label, base_columns, max_rows)
    extra = LabelledData()
    for path in factory:
        extra.extend(load_labelled_data(path, field, "falsified", None, max_rows))
    test_data = load_labelled_data(test, field, label, test_columns, max_rows)
    classes = set(base_data.labels)
    for name, data in (("factory data", extra), ("the test set", test_data)):
        unknown = set(data.labels) - classes
        if unknown:
            raise ConfigError("augment-eval", None, f"{name} has classes {sorted(unknown)} the base data lacks "
                              f"({sorted(classes)})", "Map the labels so that every dataset names the same classes, "
                              "e.g. real and falsified")
    train, _, held = split_by_story(base_data.groups, (0.8, 0.0, 0.2), seed)
    texts, labels = pick(base_data.texts, train), pick(base_data.labels, train)
    runs = {}
    for run, (run_texts, run_labels) in {"base": (texts, labels),
                                         "augmented": (texts + extra.texts, labels + extra.labels)}.items():
        detector = TfidfDetector(min_df=min_df).fit(run_texts, run_labels, field=field, label=label)
        runs[run] = {"train_rows": len(run_labels),
                     "in_domain": _score(detector, pick(base_data.texts, held), pick(base_data.labels, held)),
                     "out_of_domain": _score(detector, test_data.texts, test_data.labels)}
    report = {"format": "datafactory-augment-eval/1", "detector": TfidfDetector.name, "field": field,
              "base": str(base), "factory": [str(p) for p in factory], "test": str(test), "seed": seed,
              "factory_rows": len(extra.labels), "runs": runs}
    output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json.dumps(report, indent=2) + "\n", output / "augment.json")
    write_text_atomic(render_markdown(report), output / "augment.md")
    return report


def _score(detector: Any, texts: list[str], labels: list[str]) -> dict[str, Any]:
    """``n_test`` and the :mod:`detectors.metrics` scores (accuracy, macro_f1, roc_auc)."""
    return {"n_test": len(labels), **evaluate(detector, texts, labels)}


def render_markdown(report: dict[str, Any]) -> str:
    def cell(value: Any) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = ["| trained on | rows | in-domain acc | in-domain AUC | out-of-domain acc | out-of-domain F1 | out-of-domain AUC |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for run, label in (("base", "real data alone"), ("augmented", "real + factory data")):
        r = report["runs"][run]
        lines.append(f"| {label} | {r['train_rows']} | {cell(r['in_domain']['accuracy'])} | "
                     f"{cell(r['in_domain']['roc_auc'])} | {cell(r['out_of_domain']['accuracy'])} | "
                     f"{cell(r['out_of_domain']['macro_f1'])} | {cell(r['out_of_domain']['roc_auc'])} |")
    return (f"# Augmentation: {report['detector']} on `{report['field']}`\n\nBase `{report['base']}`, factory "
            f"{', '.join(f'`{p}`' for p in report['factory'])} ({report['factory_rows']} rows), test "
            f"`{report['test']}` (out of domain).\n\n" + "\n".join(lines) + "\n")
