"""One run per experiment at a time: an exclusive lock file in the results folder.

The lock is an OS file lock, so it is released when its process dies, even by SIGKILL;
a stale lock file never blocks a later run.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from enso.errors import EnsoError

LOCK = ".lock"


@contextlib.contextmanager
def experiment_lock(results_dir: Path, experiment: str) -> Iterator[None]:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / LOCK
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open: the OS lock lives as long as it
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise EnsoError(f"experiment {experiment!r} is already running ({holder}); wait for it to finish "
                            "or stop it, then rerun: finished cells are kept and only missing ones run") from None
        handle.seek(0)
        handle.truncate()
        started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        handle.write(f"pid {os.getpid()} on {os.uname().nodename}, since {started}\n")
        handle.flush()
        yield
    finally:
        handle.close()
