"""The entity-bias audit as one PNG: a horizontal bar per entity, read top to bottom by count.

Bar = positive share; whiskers = its Wilson 95% interval; dashed line = the dataset's base
rate; red bars lie extremely above it, blue bars extremely below, grey bars are unremarkable.
matplotlib is imported here only (the ``detect`` extra), with the Agg backend: no display needed.

It draws plain :class:`Bar` values and knows nothing of how they were counted:
:mod:`detectors.evaluation.audit` makes them and calls :func:`plot_audit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

COLOURS = {"above": "#c0392b", "below": "#2e6fb7", None: "#a6a6a6"}


@dataclass(frozen=True)
class Bar:
    """One entity's bar."""

    entity: str
    label: str  # entity type, e.g. GPE
    items: int  # items mentioning it
    share: float  # positive share
    low: float  # 95% interval of share
    high: float
    direction: Literal["above", "below"] | None = None  # flagged extreme, and on which side of the base rate

    @property
    def extreme(self) -> bool:
        return self.direction is not None


def plot_audit(stats: Sequence[Bar], path: str | Path, *, title: str, base_rate: float,
               positive: str = "falsified") -> Path:
    """Write the chart of ``stats`` (already the top N, in order) to ``path``; returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    path = Path(path)
    n = len(stats)
    fig, ax = plt.subplots(figsize=(9, 1.8 + 0.34 * max(n, 3)), layout="constrained")
    ys = list(range(n))[::-1]  # the most mentioned entity on top
    if n:
        shares = [s.share for s in stats]
        # max(0, ...): at a share of 0 or 1 rounding can put the interval a hair inside it
        err = [[max(0.0, s.share - s.low) for s in stats], [max(0.0, s.high - s.share) for s in stats]]
        ax.barh(ys, shares, color=[COLOURS[s.direction] for s in stats], height=0.7, zorder=2)
        ax.errorbar(shares, ys, xerr=err, fmt="none", ecolor="#333333", elinewidth=1, capsize=3, zorder=3)
        # A dot at the share keeps a 0% bar visible, and flagged names are coloured too.
        ax.scatter(shares, ys, s=22, color=[COLOURS[s.direction] for s in stats], edgecolors="#333333",
                   linewidths=0.6, zorder=4)
        ax.set_yticks(ys, [f"{s.entity} ({s.label}, n={s.items})" for s in stats], fontsize=9)
        for tick, s in zip(ax.get_yticklabels(), stats):
            if s.extreme:
                tick.set_color(COLOURS[s.direction])
                tick.set_fontweight("bold")
        for y, s in zip(ys, stats):  # the share in words, past the whisker so nothing overlaps
            ax.text(min(s.high + 0.015, 1.01), y, f"{s.share:.0%}", va="center", fontsize=8, color="#333333")
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no entity reaches the minimum count", ha="center", va="center",
                transform=ax.transAxes, color="#555555")
    ax.axvline(base_rate, color="black", linestyle="--", linewidth=1.2, zorder=4)
    ax.set_xlim(-0.02, 1.08)  # room for a dot at 0%
    ax.set_ylim(-0.7, max(n, 1) - 0.3)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
    ax.set_xlabel(f"share of items that are {positive} (bars: Wilson 95% interval)")
    ax.grid(axis="x", color="#e5e5e5", zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(f"Entity-bias audit: {title}", loc="left", fontsize=12, fontweight="bold")
    fig.legend(handles=[
        plt.Line2D([], [], color="black", linestyle="--", label=f"base rate {base_rate:.0%}"),
        Patch(color=COLOURS["above"], label="extreme, above base rate"),
        Patch(color=COLOURS["below"], label="extreme, below base rate"),
        Patch(color=COLOURS[None], label="not flagged"),
    ], loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
