"""One way to run enso's commands in tests.

``enso(*args, root=...)`` runs the ``enso`` command in-process with click's CliRunner (no start-up
cost); ``enso_process(*args, root=...)`` runs ``python -m enso ...`` in a real process, for tests
that need one (import side effects, exit codes set by the interpreter, signals, two processes at
once); ``start(*args, root=...)`` starts that process and returns the ``Popen``. All three take the
workspace as ``root`` (a ``Workspace`` or a path), passed as ``ENSO_ROOT`` so it works wherever
the command puts its ``--root`` option, and return or wrap the same ``Ran`` result:
``code``, ``stdout``, ``stderr``, ``output`` and ``errors`` (the ``error:`` lines on stderr).

    from tests.cli import enso
    ran = enso("download", "--csv", str(path), "--name", "Mine", root=workspace)
    assert ran.code == 0, ran.output
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT_ENV = "ENSO_ROOT"


@dataclass
class Ran:
    """What a command did: its exit code and its two streams."""

    code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None  # in-process only: what escaped the command, if anything

    @property
    def output(self) -> str:
        """Both streams, for assertion messages."""
        return self.stdout + self.stderr

    @property
    def errors(self) -> list[str]:
        """The ``error:`` lines the command printed on stderr."""
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    # the names click's Result and subprocess.CompletedProcess use
    @property
    def exit_code(self) -> int:
        return self.code

    @property
    def returncode(self) -> int:
        return self.code


def _root(root: Any) -> str | None:
    """A workspace's root folder as text; ``root`` is a ``Workspace`` or a path."""
    if root is None:
        return None
    if isinstance(root, (str, os.PathLike)):
        return os.fspath(root)
    return os.fspath(root.root)


def _env(root: Any, env: dict[str, str] | None) -> dict[str, str]:
    extra = dict(env or {})
    if root is not None:
        extra[ROOT_ENV] = _root(root)
    return extra


def enso(*args: str | Path, root: Any = None, env: dict[str, str] | None = None, input: str | None = None,
         catch_exceptions: bool = True) -> Ran:
    """``enso ARGS`` in-process; ``catch_exceptions=False`` lets a traceback reach the test."""
    from click.testing import CliRunner

    from enso.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args], env=_env(root, env), input=input,
                                catch_exceptions=catch_exceptions)
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return Ran(result.exit_code, result.stdout, result.stderr, exception)


def command(*args: str | Path) -> list[str]:
    """The argv of ``python -m enso ARGS`` with this interpreter."""
    return [sys.executable, "-m", "enso", *[str(a) for a in args]]


def process_env(root: Any = None, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child enso process: this one's, with ``ENSO_ROOT`` and ``env`` set."""
    return {**os.environ, **_env(root, env)}


def enso_process(*args: str | Path, root: Any = None, env: dict[str, str] | None = None, timeout: float = 300,
                 cwd: str | Path | None = None, input: str | None = None) -> Ran:
    """``python -m enso ARGS`` in a real process, waited for (``timeout`` seconds at most)."""
    done = subprocess.run(command(*args), env=process_env(root, env), cwd=cwd, input=input, capture_output=True,
                          text=True, timeout=timeout, check=False)
    return Ran(done.returncode, done.stdout, done.stderr)


def _default_sigint() -> None:
    """A shell that starts a job with ``&`` has it ignore SIGINT, and children inherit that: the
    command under test must see SIGINT as a user's Ctrl-C does."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args: str | Path, root: Any = None, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen:
    """``python -m enso ARGS`` started, not waited for (stdout and stderr piped unless given)."""
    popen.setdefault("preexec_fn", _default_sigint)
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    popen.setdefault("text", True)
    return subprocess.Popen(command(*args), env=process_env(root, env), **popen)


def finish(process: subprocess.Popen, timeout: float = 300) -> Ran:
    """Wait for a ``start``ed process and return what it did."""
    stdout, stderr = process.communicate(timeout=timeout)
    return Ran(process.returncode, stdout or "", stderr or "")
