"""One build per output folder at a time.

The lock is an ``flock`` on ``OUT/.datafactory/lock``: the kernel releases it when the
holder dies, even by SIGKILL, so a crashed build never blocks the next one. The file also
records who holds it, so a refused build can say which process to wait for, and a build
that finds a dead holder's record says it is taking over a stale lock.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from datafactory.errors import OutputLockedError

log = logging.getLogger(__name__)


class BuildLock:
    def __init__(self, folder: Path):
        self.path = Path(folder) / "lock"
        self._fh = None
        self.stale_holder: dict | None = None

    def __enter__(self) -> "BuildLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fh)
            fh.close()
            who = f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')}" if holder else "another process"
            raise OutputLockedError(
                f"{self.path.parent.parent} is being built by {who}; wait for it to finish or choose another --output"
            ) from None
        previous = _read_holder(fh)
        if previous:
            # A record left behind while nobody holds the lock: its owner died mid-build.
            self.stale_holder = previous
            log.warning("stale lock from pid %s (no longer running) taken over", previous.get("pid"))
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            self._fh.seek(0)
            self._fh.truncate()
            self._fh.flush()
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def _read_holder(fh) -> dict | None:
    fh.seek(0)
    content = fh.read().strip()
    if not content:
        return None
    try:
        return json.loads(content)
    except json.JSONDecodeError:
        return {"pid": "?", "host": "?", "since": "?"}
