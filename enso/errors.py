"""Errors that the command line turns into a one-line message and an exit code.

``unknown_name_message`` is the one wording of an unknown name (a registry entry, a config
key, a component parameter): the name, the closest valid one, and the valid ones.
"""

from __future__ import annotations

import difflib


def closest(name: str, candidates: list[str]) -> str | None:
    """The candidate closest to ``name`` (case-insensitive), if any is close enough."""
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None


def unknown_name_message(what: str, name: str, valid: list[str], hint: str | None = None) -> str:
    """``unknown WHAT 'name'; did you mean 'x'? (valid: a, b, x)``, one short line however long ``name`` is."""
    hint = hint or closest(name, valid)
    suggestion = f"; did you mean {hint!r}?" if hint else ""
    shown = repr(name) if len(name) <= 100 else f"{name[:60]!r}... ({len(name)} characters)"
    return f"unknown {what} {shown}{suggestion} (valid: {', '.join(sorted(valid, key=str.lower))})"


class EnsoError(Exception):
    """A failure the user can act on; its message names the problem and the fix."""

    exit_code = 1


class ConfigError(EnsoError):
    """Bad configuration or arguments, found before any work starts."""

    exit_code = 2


class UnknownNameError(ConfigError):
    """A name that no registry knows."""


class ChecksumError(EnsoError):
    """Downloaded or stored bytes whose sha256 is not the expected one."""


class DownloadError(EnsoError):
    """A source that could not be fetched."""


class Terminated(BaseException):
    """SIGTERM arrived (``timeout``, systemd, Docker, Slurm): stop the way Ctrl-C stops.

    A ``BaseException``, like ``KeyboardInterrupt``, so ``except Exception`` in library code
    does not swallow it while ``finally`` blocks (worker shutdown, temporary files) still run.
    The command line turns it into one ``error:`` line and exit code 143 (128 + SIGTERM).
    """

    exit_code = 143
