"""Named plug-ins: stages, decoding strategies, detector kinds and executors, one mechanism.

Each kind of plug-in is a :class:`Registry` bound to a Python entry-point group, as spaCy's
catalogue registries are. The shipped ones are declared in datafactory's own
``pyproject.toml``; a third-party package adds its own with one module and one line::

    [project.entry-points."datafactory.stages"]
    claim_edit = "my_package.claim_edit:ClaimEdit"

Entry points are resolved lazily, by name: looking up ``entity_swap`` imports spaCy, not torch.
Code that is not installed as a package (a notebook, a test) registers with the decorator::

    @registry.stages.register
    class MyStage(Stage):
        name = "my_stage"

A name is refused when two different objects claim it (two packages, or a package and a
decorator), so a plug-in never silently shadows another.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class DuplicateNameError(ValueError):
    """Two different objects registered under one name."""


class UnknownNameError(KeyError):
    """No plug-in of this kind has the name."""

    def __init__(self, registry: "Registry[Any]", name: str):
        self.registry, self.name, self.known = registry, name, registry.names()
        super().__init__(name)

    def __str__(self) -> str:
        return (f"unknown {self.registry.kind} {self.name!r}; known: {', '.join(self.known) or '(none)'} "
                f"(plug-ins register under the entry-point group {self.registry.group!r})")


class Registry(Generic[T]):
    """Plug-ins of one kind by name: entry points of ``group``, plus decorator registrations."""

    def __init__(self, kind: str, group: str):
        self.kind = kind
        self.group = group
        self._registered: dict[str, T] = {}
        self._entry_points: dict[str, metadata.EntryPoint] | None = None

    def register(self, obj: T | None = None, *, name: str | None = None) -> Any:
        """Register ``obj`` under ``name`` (default: its ``name`` attribute). Usable as a
        decorator, bare or with ``name=``."""
        def add(target: T) -> T:
            key = name or getattr(target, "name", None)
            if not isinstance(key, str) or not key:
                raise ValueError(f"a {self.kind} needs a name: give it a `name` attribute or pass name=")
            existing = self._registered.get(key)
            if existing is None and key in self._points():
                existing = self._load(key)
            if existing is not None and existing is not target:
                raise DuplicateNameError(f"{self.kind} name {key!r} is already taken by {_origin(existing)}; "
                                         f"{_origin(target)} must use another name")
            self._registered[key] = target
            return target

        return add if obj is None else add(obj)

    def unregister(self, name: str) -> None:
        """Forget a decorator registration (for tests that register a throw-away plug-in)."""
        self._registered.pop(name, None)

    def get(self, name: str) -> T | None:
        """The plug-in called ``name``, or None; an entry point is imported on first use."""
        if name in self._registered:
            return self._registered[name]
        if name in self._points():
            return self._load(name)
        return None

    def require(self, name: str) -> T:
        """Like :meth:`get`, but an unknown name raises :class:`UnknownNameError` listing the known ones."""
        found = self.get(name)
        if found is None:
            raise UnknownNameError(self, name)
        return found

    def names(self) -> list[str]:
        """Every known name, sorted, without importing any plug-in."""
        return sorted({*self._registered, *self._points()})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._registered or name in self._points())

    # -- entry points ---------------------------------------------------------------------------

    def _points(self) -> dict[str, metadata.EntryPoint]:
        if self._entry_points is None:
            points: dict[str, metadata.EntryPoint] = {}
            for point in metadata.entry_points(group=self.group):
                other = points.get(point.name)
                # The same target listed twice (an editable install seen on two paths) is one plug-in.
                if other is not None and other.value != point.value:
                    raise DuplicateNameError(
                        f"{self.kind} name {point.name!r} is declared by two packages: {_dist(other)} "
                        f"({other.value}) and {_dist(point)} ({point.value}); uninstall one of them")
                points[point.name] = point
            self._entry_points = points
        return self._entry_points

    def _load(self, name: str) -> T:
        point = self._points()[name]
        try:
            obj = point.load()
        except ImportError as exc:
            raise ImportError(f"{self.kind} {name!r} ({point.value}, from {_dist(point)}) cannot be imported: "
                              f"{exc}") from exc
        declared = getattr(obj, "name", name)
        if declared != name:
            raise DuplicateNameError(f"entry point {name!r} of group {self.group!r} points at {point.value}, "
                                     f"whose name is {declared!r}: make the two agree")
        self._registered[name] = obj
        return obj


def _origin(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _dist(point: metadata.EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return f"package {dist.name}" if dist is not None else "an unknown package"


#: Stages by the name pipeline YAML gives them (``stage: entity_swap``).
stages: Registry[Any] = Registry("stage", "datafactory.stages")
#: Decoding strategies by the name ``generate_article``'s ``strategy`` option gives them.
strategies: Registry[Any] = Registry("decoding strategy", "datafactory.strategies")
#: Detector classes by the ``kind`` a detector folder's card names.
detectors: Registry[Any] = Registry("detector kind", "datafactory.detectors")
#: Executors by the name ``datafactory build --executor`` gives them.
executors: Registry[Any] = Registry("executor", "datafactory.executors")

REGISTRIES: dict[str, Registry[Any]] = {"stages": stages, "strategies": strategies, "detectors": detectors,
                                        "executors": executors}

