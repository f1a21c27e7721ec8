"""``datafactory train-detector``: train a detector on builds or labelled corpora and save it,
for evaluation, as a judge in eval-generation, or as the discriminator of guided decoding."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from datafactory.cli.common import handle_errors
from datafactory.cli.finetune_cmd import parse_columns
from datafactory.errors import ConfigError

# Options train-detector and crosseval share.
DETECTOR_OPTION = typer.Option("tfidf", "--detector", help="Detector kind, a name in the datafactory.detectors "
                               "entry-point group. Shipped: tfidf (TF-IDF word 1-2-grams + logistic "
                               "regression), transformer (fine-tunes --model) and clip (image-caption pairs of "
                               "builds, on frozen CLIP --model features).")
MODEL_OPTION = typer.Option(None, "--model", help="transformer: an AutoModelForSequenceClassification folder or "
                            "cached hub id to fine-tune; clip: a CLIPModel folder or id.")
LABEL_MAP_HELP = ("Labels onto classes, e.g. 'true=real,mostly-true=real,false=falsified,half-true=null' "
                  "(null drops the row; true/True/TRUE, 1/1.0 are one label).")


def parse_label_map(values: List[str] | None, source: str, option: str = "--label-map") -> dict[str, str | None] | None:
    """``["true=real,false=falsified", "half-true=null"]`` -> ``{true: real, false: falsified, half-true: None}``."""
    if not values:
        return None
    mapping: dict[str, str | None] = {}
    for value in values:
        for item in filter(None, (part.strip() for part in value.split(","))):
            label, sep, target = (part.strip() for part in item.rpartition("="))
            if not sep or not label or not target:
                raise ConfigError(source, option, f"{item!r} is not LABEL=CLASS", "Write e.g. true=real,false=falsified,"
                                  "half-true=null")
            mapping[label] = None if target.lower() in ("null", "none", "drop") else target
    return mapping


DEVICE_OPTION = typer.Option("auto", "--device", help="transformer, clip: auto (GPU when present), cpu, cuda[:N].")


@handle_errors
def train_detector_cli(
    data: List[Path] = typer.Argument(..., help="Output folders of datafactory build, or .jsonl/.csv/.parquet "
                                      "files with a text and a label column; several are concatenated."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the detector (model.skops, "
                                "detector_card.json, held_out_groups.txt)."),
    detector: str = DETECTOR_OPTION,
    model: Optional[str] = MODEL_OPTION,
    epochs: int = typer.Option(3, "--epochs", min=1, help="transformer: most epochs (early stopping on a "
                               "validation tenth of the training stories)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="transformer: texts per step."),
    lr: float = typer.Option(5e-5, "--lr", min=0, help="transformer: AdamW learning rate (linear schedule)."),
    max_length: int = typer.Option(256, "--max-length", min=8, help="transformer: tokens per text."),
    device: str = DEVICE_OPTION,
    field: str = typer.Option("text", "--field", help="Text to classify: title, text or caption of a build, or "
                              "a file's column (mapped through --columns); title+text joins both."),
    label: str = typer.Option("falsified", "--label", help="Label column. A build's falsified gives the classes "
                              "real and falsified."),
    columns: Optional[List[str]] = typer.Option(None, "--columns", "-c", help="For files: record field=column, "
                                                "e.g. text=body (fields: id, title, text, caption, image, label)."),
    min_df: int = typer.Option(1, "--min-df", min=1, help="Ignore n-grams found in fewer documents."),
    max_rows: Optional[int] = typer.Option(None, "--max-rows", "-n", min=1, help="Use the first N usable rows "
                                           "of each DATA."),
    holdout: float = typer.Option(0.2, "--holdout", min=0.0, max=0.95, help="Share of stories (parent_id groups) "
                                  "held out to score the detector; 0 trains on everything and scores nothing."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seeds the held-out split."),
    label_map: Optional[List[str]] = typer.Option(None, "--label-map", help=LABEL_MAP_HELP),
    test: Optional[List[Path]] = typer.Option(None, "--test", help="An outside labelled file or build to score "
                                              "the detector on, whole (repeatable); never trained on."),
    test_label: Optional[str] = typer.Option(None, "--test-label", help="Label column of --test (default: --label)."),
    test_columns: Optional[List[str]] = typer.Option(None, "--test-columns", help="field=column for --test "
                                                     "(default: --columns)."),
    test_label_map: Optional[List[str]] = typer.Option(None, "--test-label-map", help="Label map of --test "
                                                       "(default: --label-map)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the detector the output folder holds."),
) -> None:
    """Train a detector and report its held-out accuracy and rows per class.

    The held-out split is grouped by parent_id, so a real story and its manipulations never
    sit on both sides. The model saved is the one scored. Load it with
    pipelines.generation.discriminators.load_classifier, pass it to eval-generation --judge, or name it as
    the discriminator of guided decoding.

    Example: datafactory train-detector out/swap_and_generate --field text --output out/real-vs-generated

    (a real-vs-generated detector, from a build of pipelines/swap_and_generate.yaml, which writes
    each real item beside its generated child).

    Example: datafactory train-detector labelled.jsonl --columns text=body --label verdict --output out/verdict

    Example: datafactory train-detector claims.jsonl --field title --label rating --label-map
    'true=real,false=falsified,half-true=null' --test headlines.csv --test-label-map '0=real,1=falsified'
    --output out/claims-detector

    Example: datafactory train-detector out/swap_and_generate --detector transformer --model
    sentence-transformers/all-MiniLM-L6-v2 --epochs 2 --output out/minilm-detector
    """
    from detectors.train import train_detector

    card = train_detector(data, output, detector=detector, field=field, label=label,
                          columns=parse_columns(columns, "train-detector"), min_df=min_df, max_rows=max_rows,
                          holdout=holdout, seed=seed, overwrite=overwrite, model=model,
                          detector_options={"epochs": epochs, "batch_size": batch_size, "learning_rate": lr,
                                            "max_length": max_length, "device": device, "progress": True},
                          label_map=parse_label_map(label_map, "train-detector"), tests=test or (),
                          test_label=test_label, test_columns=parse_columns(test_columns, "train-detector") or None,
                          test_label_map=parse_label_map(test_label_map, "train-detector", "--test-label-map"))
    split, held = card["split"], card["holdout"]
    counts = ", ".join(f"{name} {n}" for name, n in card["rows_per_class_all"].items())
    skipped = sum(card["skipped"].values())
    typer.echo(f"rows: {counts}" + (f" ({skipped} skipped: {card['skipped']})" if skipped else ""))
    grouped = f"grouped by {split['grouped_by']}" if split["grouped_by"] else "rows have no parent_id: not grouped"
    typer.echo(f"split: {split['train_rows']} train, {split['held_out_rows']} held out ({grouped})")
    typer.echo(f"training accuracy: {card['training_accuracy']:.4f}")
    if held is not None:
        per_class = ", ".join(f"{name} {n}" for name, n in held["rows_per_class"].items())
        auc = "" if held["roc_auc"] is None else f", ROC AUC {held['roc_auc']:.4f}"
        typer.echo(f"held-out accuracy: {held['accuracy']:.4f}, macro F1 {held['macro_f1']:.4f}{auc} ({per_class})")
    for name, scored in (card.get("tests") or {}).items():
        auc = "" if scored["roc_auc"] is None else f", ROC AUC {scored['roc_auc']:.4f}"
        typer.echo(f"test {name}: accuracy {scored['accuracy']:.4f}, macro F1 {scored['macro_f1']:.4f}{auc} "
                   f"({scored['rows']} rows)")
    typer.echo(f"saved {card['output']} ({card['kind']}, classes {', '.join(card['classes'])})")
