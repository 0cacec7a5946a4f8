"""Errors that the command line turns into a one-line message and an exit code."""


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
