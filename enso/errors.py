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
