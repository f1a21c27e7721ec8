"""Two parts of the generation eval that read more than the texts: an independent judge's
verdict on the target class, and the time each generated token cost.

**Judge.** Guided decoding steers towards a class of its discriminator; judged by that same
discriminator, success is guaranteed and means little (the search may have found its blind
spots). So the target accuracy is measured with another classifier, the judge: the share of
bodies whose most probable class under the judge is the target, on the generated bodies and
on the reference bodies as a baseline. When the judge is the build's own guide (the same path
or the same model version), the report says so (``judge_is_guide``) and a warning is logged.

**Speed.** A build's manifest records per stage ``run_stats`` = ``{rows, tokens, seconds,
lm_forwards, discriminator_calls}`` (``resumed: true`` when they cover only the shards written
after a resume); from them ``seconds_per_token`` and ``lm_forwards_per_token``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from datafactory.errors import ConfigError

log = logging.getLogger(__name__)


def load_judge(judge: str, target: str | int | None, *, kind: str = "auto", device: str = "auto",
               batch_size: int = 32) -> Any:
    """The judge classifier (see :func:`pipelines.generation.discriminators.load_classifier`); without a
    target, an error that lists its classes."""
    from pipelines.generation.discriminators import check_classifier, load_classifier

    found = check_classifier(judge, kind, "--judge", None)  # a bad path fails before any loading
    if target is None:
        classes = ", ".join(found.classes) if found.classes else "see the model"
        raise ConfigError("--judge", None, "needs --target, the class the generated articles should be judged as",
                          f"Its classes: {classes}")
    if found.classes is not None:
        check_classifier(judge, kind, "--target", None, target=target)
    return load_classifier(judge, target, kind=kind, device=device, batch_size=batch_size, source="--judge")


def judge_texts(judge: Any, generated: Sequence[str], reference: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """``target_accuracy`` and ``judge_target_probability`` (mean) on each side."""
    metrics: dict[str, dict[str, float | None]] = {"target_accuracy": {}, "judge_target_probability": {}}
    for side, texts in (("generated", generated), ("reference", reference)):
        proba = judge.proba(list(texts)) if texts else np.zeros((0, len(judge.classes)))
        if len(proba):
            metrics["target_accuracy"][side] = float(np.mean(proba.argmax(axis=1) == judge.target_index))
            metrics["judge_target_probability"][side] = float(np.mean(proba[:, judge.target_index]))
        else:
            metrics["target_accuracy"][side] = metrics["judge_target_probability"][side] = None
    return metrics


def guides(manifest: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(stage, discriminator)`` for every stage of the build's config with a
    ``discriminator`` option (a name or path, or a mapping holding one under model/path/name)."""
    for stage in (manifest.get("config") or {}).get("stages") or []:
        value = stage.get("discriminator")
        if isinstance(value, dict):
            value = value.get("model") or value.get("path") or value.get("name")
        if isinstance(value, str) and value:
            yield str(stage.get("stage")), value


def _resolved(value: str, base: Path) -> set[str]:
    """Where a model name may point: itself, and as a path from the config's folder and from
    the working directory (the manifest keeps relative paths as the config wrote them)."""
    names = {value}
    path = Path(value).expanduser()
    for candidate in ([path] if path.is_absolute() else [base / path, path]):
        # Lexically first: "config/../judges" must not depend on the config's folder still existing.
        candidate = Path(os.path.abspath(candidate))
        if candidate.exists():
            names.add(str(candidate.resolve()))
    return names


def guide_of(judge_name: str, judge_version: str | None, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The guiding discriminator the judge is, if any: ``{"stage", "discriminator", "by"}``
    where ``by`` is ``path`` (same file or folder) or ``version`` (a copy of the same model)."""
    base = Path(manifest.get("config_source") or ".").expanduser().parent
    judge = _resolved(judge_name, Path.cwd())
    for stage, value in guides(manifest):
        if judge & _resolved(value, base):
            return {"stage": stage, "discriminator": value, "by": "path"}
    if judge_version:
        for entry in manifest.get("stages") or []:
            for model in entry.get("models") or []:
                if model.get("version") == judge_version:
                    return {"stage": entry.get("name"), "discriminator": model.get("name"), "by": "version"}
    return None


def judge_section(judge_name: str, judge: Any, manifest: dict[str, Any]) -> dict[str, Any]:
    """The report's ``judge`` entry: who judged, for which class, and whether it is the guide."""
    info = judge.info()
    guide = guide_of(judge_name, info.get("version"), manifest)
    if guide is not None:
        log.warning("the judge %s is the discriminator that guided %s (same %s): its target accuracy is not an "
                    "independent measure; judge with another classifier", judge_name, guide["stage"], guide["by"])
    return {**info, "path": judge_name, "judge_is_guide": guide is not None, "guide": guide}


def speed(manifest: dict[str, Any], stage: str) -> dict[str, Any]:
    """Per-token costs of ``stage`` from its manifest ``run_stats``; nulls when there are none."""
    stats: dict[str, Any] = {}
    for entry in manifest.get("stages") or []:
        if entry.get("name") == stage and isinstance(entry.get("run_stats"), dict):
            stats = entry["run_stats"]
    tokens = stats.get("tokens") or 0

    def per_token(key: str) -> float | None:
        value = stats.get(key)
        return float(value) / tokens if tokens and isinstance(value, (int, float)) else None

    return {
        "seconds_per_token": per_token("seconds"),
        "lm_forwards_per_token": per_token("lm_forwards"),
        "discriminator_calls_per_token": per_token("discriminator_calls"),
        "rows": stats.get("rows"), "tokens": stats.get("tokens"), "seconds": stats.get("seconds"),
        # After a resume the figures cover only the shards the last process wrote.
        "partial": bool(stats.get("resumed")) if stats else None,
    }
