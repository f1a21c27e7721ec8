"""One progress-bar policy for every long step (build, fit, tokenize, fine-tune, audit...).

``progress=None`` (the default everywhere) shows a bar only to a person at a terminal: under
cron, systemd or CI, or with output piped to a file, the log lines alone. ``True``/``False``
force it on or off (``--progress/--no-progress``). Bars go to stderr so stdout stays clean
for ``--json``.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable

from tqdm.auto import tqdm


def hidden(progress: bool | None) -> bool:
    """True when no bar should be drawn."""
    if progress is None:
        return not (sys.stderr.isatty() and sys.stdout.isatty())
    return not progress


def bar(iterable: Iterable[Any] | None = None, *, progress: bool | None, desc: str, unit: str = "row",
        total: float | None = None, initial: float = 0) -> Any:
    """A tqdm bar on stderr, shown according to ``progress`` (see the module's docstring)."""
    return tqdm(iterable, total=total, initial=initial, unit=unit, desc=desc, disable=hidden(progress),
                file=sys.stderr)
