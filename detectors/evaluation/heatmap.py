"""Heatmaps of cross-evaluation matrices: one PNG, one panel per metric, side by side.

Rows are the dataset a detector was trained on, columns the dataset it was tested on. Every
cell shows its value to two decimals (``n/a`` on grey where undefined); the diagonal, the
held-out score on a detector's own data, is outlined. The colour scale is fixed to [0, 1]
for every metric, ROC AUC included, so that colours mean the same in every panel and in
every run (chance is 0.5 for AUC and for balanced accuracy). Example::

    from detectors.evaluation.heatmap import plot_matrices

    plot_matrices({"accuracy": {"a": {"a": 0.9, "b": 0.6}, "b": {"a": 0.55, "b": 0.8}}},
                  ["a", "b"], "out/crosseval.png", title="tfidf detector")
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

from datafactory.errors import ModelNotFoundError
from detectors.metrics import TITLES
CMAP = "viridis"


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ModelNotFoundError("<environment>", None, "the heatmap needs matplotlib",
                                 "Install it: pip install -c constraints.txt 'datafactory[detect]'") from None
    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    return plt


def plot_matrices(matrices: Mapping[str, Mapping[str, Mapping[str, float | None]]], names: Sequence[str],
                  path: str | Path, *, title: str = "") -> Path:
    """Write ``{metric: {trained on: {tested on: value}}}`` as heatmaps to ``path`` (PNG)."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    import numpy as np

    names = list(names)
    n = len(names)
    metrics = list(matrices)
    side = 1.2 + 0.75 * n  # inches per panel: room for the labels and readable cell text
    fig, axes = plt.subplots(1, len(metrics), figsize=(side * len(metrics) + 1.2, side + 1.3), squeeze=False,
                             constrained_layout=True)
    cmap = plt.get_cmap(CMAP).with_extremes(bad="#d0d0d0")
    image = None
    for ax, metric in zip(axes[0], metrics):
        values = np.array([[_number(matrices[metric][t][s]) for s in names] for t in names], dtype=float)
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0.0, vmax=1.0)
        for i in range(n):
            for j in range(n):
                value = values[i, j]
                text = "n/a" if math.isnan(value) else f"{value:.2f}"
                # Dark text on the light (yellow-green) end of viridis, white on the dark end.
                colour = "black" if math.isnan(value) or value > 0.6 else "white"
                ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=11,
                        fontweight="bold" if i == j else "normal")
            ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5))
        ax.set_xticks(range(n), names, rotation=30 if n > 2 else 0, ha="right" if n > 2 else "center")
        ax.set_yticks(range(n), names)
        ax.set_xlabel("tested on")
        ax.set_ylabel("trained on")
        ax.set_title(TITLES.get(metric, metric))
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="score (0 to 1)")
    heading = f"Cross-dataset evaluation: {title}" if title else "Cross-dataset evaluation"
    fig.suptitle(f"{heading}\n(rows: trained on; columns: tested on; outlined: own held-out test split)",
                 fontsize=12)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)
