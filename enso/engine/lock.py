"""One run per experiment at a time: an exclusive ``filelock`` lock in the results folder.

The lock is an OS file lock (``flock`` on Unix, ``LockFileEx`` on Windows, through
``filelock``), so it is released when its process dies, even by SIGKILL: a stale lock file
never blocks a later run. The holder writes who it is (pid, host, start time) to
``.lock.holder`` beside it, which a refused run quotes; the lock file itself is left to
``filelock``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
from collections.abc import Iterator
from pathlib import Path

import filelock

from enso.errors import EnsoError

LOCK = ".lock"
HOLDER = ".lock.holder"


@contextlib.contextmanager
def experiment_lock(results_dir: Path, experiment: str) -> Iterator[None]:
    """Hold the experiment's lock for the block; ``EnsoError`` at once when another run holds it."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(os.fspath((results_dir / LOCK).absolute()), thread_local=False)
    try:
        lock.acquire(blocking=False)
    except filelock.Timeout:
        raise EnsoError(f"experiment {experiment!r} is already running ({_holder(results_dir)}); wait for it to "
                        "finish or stop it, then rerun: finished cells are kept and only missing ones run") from None
    try:
        started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        with contextlib.suppress(OSError):  # who holds it is for the message of a refused run only
            (results_dir / HOLDER).write_text(f"pid {os.getpid()} on {platform.node()}, since {started}\n",
                                              encoding="utf-8")
        yield
    finally:
        lock.release()


def _holder(results_dir: Path) -> str:
    try:
        return (results_dir / HOLDER).read_text(encoding="utf-8").strip() or "another process"
    except OSError:
        return "another process"
