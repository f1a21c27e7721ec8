"""Stages by name. Pipeline YAML names a stage; an unknown name lists the known ones."""

from __future__ import annotations

import importlib

from datafactory.stage import Stage

_STAGES: dict[str, type[Stage]] = {}
# Modules that register the shipped stages when imported.
_BUILTIN_MODULES = ("pipelines.entity_swap", "pipelines.generate_article", "pipelines.repurpose_image")


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available to pipeline configs under ``cls.name``."""
    existing = _STAGES.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"stage name {cls.name!r} is already registered by {existing.__module__}")
    _STAGES[cls.name] = cls
    return cls


def _load_builtin() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def get(name: str) -> type[Stage] | None:
    _load_builtin()
    return _STAGES.get(name)


def known() -> list[str]:
    _load_builtin()
    return sorted(_STAGES)
