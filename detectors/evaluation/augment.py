"""``augment-eval``: the experiment (:mod:`detectors.evaluation.experiment`) with three arms,
base alone, base + the factory's real rows (the control) and base + whole builds, scored on
the base's held-out stories (in domain) and on one outside test set::

    report = augment_eval("data/liar.jsonl", ["out/swap_and_generate"], "data/other.jsonl",
                          output=Path("out/augment"), base_columns={"label": "verdict"})
    report["runs"]["base"]["out_of_domain"]["roc_auc"], report["runs"]["augmented"]["out_of_domain"]["roc_auc"]

Writes the experiment's files and ``augment.json`` / ``augment.md``, the means over the K
splits in the shape earlier versions wrote. For label maps, other arms or several test sets,
write an experiment file and run ``datafactory experiment``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from datafactory.output import write_text_atomic
from detectors.evaluation.experiment import IN_DOMAIN, run_experiment
from detectors.evaluation.experiment_config import DatasetConfig, ExperimentConfig, SplitsConfig
from detectors.evaluation.experiment_report import render_markdown, write_report

ARMS = ("base", "control", "augmented")
RUN_TITLES = {"base": "real data alone", "control": "real + the factory's real rows (control)",
              "augmented": "real + factory data"}


def augment_eval(base: str | Path, factory: Sequence[str | Path], test: str | Path, *, output: Path,
                 field: str = "text", label: str = "falsified", base_columns: dict[str, str] | None = None,
                 test_columns: dict[str, str] | None = None, seed: int = 0, max_rows: int | None = None,
                 min_df: int = 1, repeats: int = 5, bootstrap: int = 1000) -> dict[str, Any]:
    config = ExperimentConfig(
        name="augment-eval", field=field, seed=seed, bootstrap=bootstrap, arms=list(ARMS),
        base=[DatasetConfig(path=Path(base), label=label, columns=base_columns or {}, max_rows=max_rows)],
        factory=[DatasetConfig(path=Path(p), max_rows=max_rows) for p in factory],
        test=[DatasetConfig(path=Path(test), label=label, columns=test_columns or {}, max_rows=max_rows)],
        detector={"kind": "tfidf", "min_df": min_df}, splits=SplitsConfig(repeats=repeats))
    result = run_experiment(config, source="augment-eval")
    write_report(result, output)
    outside = result["tests"][1]
    runs = {arm: {"train_rows": result["train_rows"][arm]["mean"],
                  "in_domain": _means(result, IN_DOMAIN, arm), "out_of_domain": _means(result, outside, arm)}
            for arm in ARMS}
    factory_rows = sum(i["rows"] for i in result["inputs"].values() if i["role"] == "factory")
    report = {"format": "datafactory-augment-eval/2", "detector": "tfidf", "field": field, "base": str(base),
              "factory": [str(p) for p in factory], "test": str(test), "seed": seed, "repeats": repeats,
              "factory_rows": factory_rows, "runs": runs, "verdicts": result["verdicts"]}
    write_text_atomic(json.dumps(report, indent=2) + "\n", output / "augment.json")
    write_text_atomic(render_markdown(result), output / "augment.md")
    return report


def _means(result: dict[str, Any], test: str, arm: str) -> dict[str, Any]:
    scores = result["results"][test][arm]
    return {"n_test": scores["n_test"][0], **{m: v["mean"] for m, v in scores.items() if isinstance(v, dict)
                                               and "mean" in v and m != "confusion"}}
