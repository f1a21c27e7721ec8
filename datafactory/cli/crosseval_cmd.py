"""``datafactory crosseval``: train a detector per dataset and test each on every dataset, to
see which datasets teach something that carries over and which teach their own quirks."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from datafactory.cli.common import handle_errors
from datafactory.cli.detector_cmd import DETECTOR_OPTION, DEVICE_OPTION, MODEL_OPTION
from datafactory.cli.finetune_cmd import parse_columns
from datafactory.errors import ConfigError


@handle_errors
def crosseval_cli(
    datasets: Optional[List[Path]] = typer.Option(None, "--datasets", "-d", help="Builds or labelled "
                                                  ".jsonl/.csv/.parquet files, each evaluated as one dataset; "
                                                  "the values after --datasets are all taken."),
    more: Optional[List[Path]] = typer.Argument(None, metavar="[DATASETS]...", show_default=False,
                                                help="More datasets (what follows --datasets A)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for crosseval.csv, .md, .json and .png."),
    detector: str = DETECTOR_OPTION,
    model: Optional[str] = MODEL_OPTION,
    epochs: int = typer.Option(2, "--epochs", min=1, help="transformer: most epochs (early stop on validation)."),
    device: str = DEVICE_OPTION,
    field: str = typer.Option("text", "--field", help="Text to classify: title, text or caption of a build, "
                              "or a file's column (mapped through --columns)."),
    label: str = typer.Option("falsified", "--label", help="Label column; a build's falsified gives the "
                              "classes real and falsified. Classes are matched across datasets by name."),
    columns: Optional[List[str]] = typer.Option(None, "--columns", "-c", help="For files: record field=column, "
                                                "e.g. text=body,label=verdict."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seeds the split by story."),
    max_rows: Optional[int] = typer.Option(None, "--max-rows", "-n", min=1, help="Use the first N usable rows "
                                           "of each dataset."),
    fractions: str = typer.Option("0.8,0.1,0.1", "--fractions", help="Train, validation, test shares of each "
                                  "dataset's stories, e.g. 0.6,0.1,0.3 for a larger test split."),
    repeats: int = typer.Option(1, "--repeats", "-k", min=1, help="K story splits (seeds --seed ... --seed+K-1); "
                                "the matrices show means, crosseval.csv also the sd."),
) -> None:
    """Cross-dataset evaluation: a detector trained on each dataset, scored on every dataset.

    Each dataset is split 80/10/10 (--fractions) by story (parent_id), K times with --repeats; a detector is trained on each train
    split and scored on every test split: the diagonal is held-out data of the training
    dataset, the rest shows what carries over. Prints the accuracy matrix (rows: trained on,
    columns: tested on) and writes accuracy, macro F1 and ROC AUC (of the class falsified)
    to crosseval.csv, crosseval.md, crosseval.json and a heatmap, crosseval.png.

    Example: datafactory crosseval --datasets out/swap out/generate out/repurpose --output out/crosseval

    Example: datafactory crosseval --datasets a.jsonl b.jsonl --columns label=verdict --output out/ab
    """
    from detectors.evaluation.crosseval import cross_evaluate, markdown_matrix

    try:
        shares = [float(x) for x in fractions.split(",")]
    except ValueError:
        raise ConfigError("crosseval", "--fractions", f"{fractions!r} is not three numbers",
                          "Write e.g. --fractions 0.8,0.1,0.1") from None
    result = cross_evaluate([*(datasets or []), *(more or [])], output=output, detector=detector, field=field,
                            label=label, columns=parse_columns(columns, "crosseval"), seed=seed,
                            max_rows=max_rows, model=model,
                            detector_options={"epochs": epochs, "device": device}, fractions=shares,
                            repeats=repeats)
    for name, info in result["datasets"].items():
        typer.echo(f"{name}: {info['rows']} rows, split {info['train_rows']}/{info['val_rows']}/"
                   f"{info['test_rows']} train/val/test")
    over = f", mean of {repeats} splits" if repeats > 1 else ""
    typer.echo(f"\naccuracy ({result['detector']}{over}; rows: trained on, columns: tested on):\n")
    typer.echo(markdown_matrix(result["matrices"]["accuracy"], "accuracy"))
    typer.echo("\nwrote " + ", ".join(result["files"].values()))
