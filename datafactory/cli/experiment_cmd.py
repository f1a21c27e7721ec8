"""``datafactory experiment``: does factory data help a detector on real data it has not seen?"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from datafactory.cli.common import handle_errors


@handle_errors
def experiment_cli(
    config: Path = typer.Argument(..., help="The experiment file (YAML): base, factory and test datasets, "
                                  "label maps, detector, field, arms, splits."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Folder for experiment.json, .md and "
                                          ".png (default: the file's output)."),
    repeats: Optional[int] = typer.Option(None, "--repeats", "-k", min=1, help="Override splits.repeats (K)."),
    quiet: bool = typer.Option(False, "--quiet", help="Only the verdicts and the files written."),
) -> None:
    """Train the same detector on several arms (base alone; base + the builds' real rows only,
    the control; base + their manipulated rows only; base + whole builds; builds alone; a
    mixing ratio) over K story-grouped splits of the base data, the same for every arm, and
    score each on the base's held-out stories and on outside test sets.

    Labels of other datasets are mapped onto real / falsified by each dataset's label_map
    (null drops a row). Leak guards: one story id space across datasets (parent_id, and
    normalised titles, so a headline in two datasets is one story); factory rows whose story
    is held out, and base rows whose story is in a test set, are removed and counted.

    Reports accuracy, macro-F1, ROC AUC, the share predicted falsified and the confusion
    matrix as mean ± sd, and each arm against the baseline and the control: mean paired
    difference, paired bootstrap interval and wins k/K. Writes experiment.json (every number,
    the config, versions, sha256 of every input), experiment.md and experiment.png. The same
    file and seed give the same numbers.

    Example: datafactory experiment examples/quickstart_experiment.yaml --output out/experiment
    """
    from detectors.evaluation.experiment import output_folder, run_experiment
    from detectors.evaluation.experiment_config import load_experiment
    from detectors.evaluation.experiment_report import test_title, write_report

    loaded = load_experiment(config)
    if repeats is not None:
        loaded = loaded.model_copy(update={"splits": loaded.splits.model_copy(update={"repeats": repeats})})
    folder = output_folder(loaded, output)
    result = run_experiment(loaded, source=str(config), log=None if quiet else lambda line: typer.echo(line, err=True))
    files = write_report(result, folder)
    guards = result["guards"]
    typer.echo(f"leak guards removed: {guards['base_rows_in_test_sets']} base and "
               f"{guards['factory_rows_in_test_sets']} factory rows of test-set stories; "
               f"{guards['factory_rows_in_split_test']['mean']:.0f} factory rows per split of held-out stories")
    for test, lines in result["verdicts"].items():
        typer.echo(f"\n{test_title(test)}:")
        for arm in result["arms"]:
            auc = result["results"][test][arm]["roc_auc"]
            f1 = result["results"][test][arm]["macro_f1"]
            auc_text = "n/a" if auc["mean"] is None else f"{auc['mean']:.3f} ± {auc['sd']:.3f}"
            typer.echo(f"  {arm:<14} AUC {auc_text}, macro-F1 {f1['mean']:.3f} ± {f1['sd']:.3f}")
        for line in lines:
            typer.echo(f"  - {line['text']}")
    typer.echo(f"\nwrote {', '.join(files.values())} ({result['seconds']} s)")
