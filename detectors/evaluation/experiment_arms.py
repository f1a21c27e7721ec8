"""Which rows each arm trains on in one split: indices into the base and the factory rows.

``allowed`` marks the factory rows the split may use (its leak guard has removed those of
held-out stories). A mix arm draws ``round(R x base training rows)`` of the allowed factory
rows (fewer when the builds hold fewer); :func:`cap_rows` then samples an arm down to
``max_train_rows``, base and factory rows alike, so a capped arm keeps its proportions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.evaluation.experiment_config import ExperimentConfig, MixArm


def arm_rows(arm: str, config: ExperimentConfig, base: dict[str, Any], factory: dict[str, Any],
             train_idx: np.ndarray, allowed: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """``{"base": base row indices, "factory": factory row indices}`` for ``arm``."""
    real = factory.get("real", np.zeros(len(allowed), dtype=bool))
    pools = {"control": allowed & real, "manipulated": allowed & ~real, "augmented": allowed}
    none = np.array([], dtype=int)
    if arm == "base":
        return {"base": train_idx, "factory": none}
    if arm == "factory_only":
        return {"base": none, "factory": np.flatnonzero(allowed)}
    if arm in pools:
        return {"base": train_idx, "factory": np.flatnonzero(pools[arm])}
    mix = next(a for a in config.arms if isinstance(a, MixArm) and a.arm_name == arm)
    pool = np.flatnonzero(allowed)
    wanted = min(len(pool), int(round(mix.mix * len(train_idx))))
    drawn = np.sort(np.random.default_rng(seed).choice(pool, size=wanted, replace=False)) if wanted else none
    return {"base": train_idx, "factory": drawn}


def cap_rows(rows: dict[str, np.ndarray], cap: int | None, seed: int) -> dict[str, np.ndarray]:
    """At most ``cap`` rows in all, drawn without replacement over base and factory rows."""
    total = len(rows["base"]) + len(rows["factory"])
    if cap is None or total <= cap:
        return rows
    keep = np.sort(np.random.default_rng(seed).choice(total, size=cap, replace=False))
    split = len(rows["base"])
    return {"base": rows["base"][keep[keep < split]], "factory": rows["factory"][keep[keep >= split] - split]}
