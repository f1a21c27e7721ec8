"""Train / validation / test splits grouped by story (``parent_id``).

A real article and every manipulation made from it share a ``parent_id``; they must land on
the same side, or a detector scores well by recognising a story it saw in training. Rows
without a group (``None``) are each a group of their own.

``fractions`` are shares of *groups*, not of rows: with stories of unequal size the row
shares differ a little. The split depends only on the sorted set of group names and the
seed, so it is the same whatever the order of the rows. Example::

    from detectors.splits import split_by_story

    train, val, test = split_by_story(["s1", "s1", "s2", None, "s3"], (0.8, 0.1, 0.1), seed=0)
    # three sorted index arrays; "s1"'s two rows are on one side
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from datafactory.errors import ConfigError

DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def check_fractions(fractions: Sequence[float], source: str = "split_by_story",
                    option: str | None = "fractions") -> tuple[float, float, float]:
    """Three non-negative shares (train, val, test) that sum to 1."""
    values = tuple(float(f) for f in fractions)
    if len(values) != 3 or any(f < 0 or math.isnan(f) for f in values) or not math.isclose(sum(values), 1.0,
                                                                                           abs_tol=1e-6):
        raise ConfigError(source, option, f"{tuple(fractions)} are not three shares (train, val, test) "
                          "that are >= 0 and sum to 1", "Use e.g. (0.8, 0.1, 0.1)")
    return values  # type: ignore[return-value]


def split_by_story(groups: Sequence[str | None], fractions: Sequence[float] = DEFAULT_FRACTIONS,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices ``(train, val, test)``, each sorted, with every group wholly on one side.

    The distinct groups are sorted, shuffled with ``seed`` and cut at the cumulative
    ``fractions`` (rounded to whole groups); every row follows its group."""
    train_share, val_share, _ = check_fractions(fractions)
    keys = [group if group is not None else f"\x00row-{i}" for i, group in enumerate(groups)]
    names = sorted(set(keys))
    order = np.random.default_rng(seed).permutation(len(names))
    shuffled = [names[i] for i in order]
    # Cut on cumulative shares so that the three rounded counts always add up to the total.
    first = round(train_share * len(names))
    second = round((train_share + val_share) * len(names))
    side = {name: 0 if rank < first else 1 if rank < second else 2 for rank, name in enumerate(shuffled)}
    which = np.fromiter((side[key] for key in keys), dtype=int, count=len(keys))
    return tuple(np.flatnonzero(which == s) for s in range(3))  # type: ignore[return-value]
