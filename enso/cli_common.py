"""What every stage command shares: the workspace option, logging, signals and error handling."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterator

import click

from enso.errors import EnsoError, Terminated
from enso.workspace import ROOT_ENV, Workspace

log = logging.getLogger("enso")

RESUME_HINT = "finished artifacts are kept and a rerun resumes"


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("enso: %(message)s" if verbose < 2 else "enso %(name)s %(levelname)s: %(message)s"))
    root = logging.getLogger("enso")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread.

    So a ``timeout``/systemd/Docker/Slurm stop unwinds like Ctrl-C: ``finally`` blocks shut
    workers down and remove temporaries. A second SIGTERM during that shutdown gets the
    default action (immediate exit). A process forked inside the block (a worker) that gets
    SIGTERM dies by the default action too, instead of raising in the child. Outside the
    main thread (no signal handlers there) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if os.getpid() != owner:  # a forked worker: die the default way, as if no handler were set
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def one_line(message: str) -> str:
    """``message`` with control characters (newlines in a file name, NUL, ...) shown escaped."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) == "Cc" else c for c in message)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {one_line(message)}", err=True)
    sys.exit(code)


def common_options(func: Callable) -> Callable:
    """``--root``, ``-v`` and ``-q``; the command receives ``workspace`` instead of ``root``."""

    @click.option("--root", type=click.Path(file_okay=False), envvar=ROOT_ENV, show_envvar=True,
                  help="Workspace folder holding datasets/, featurizers/, experiments/, results/ "
                       "[default: the current directory].")
    @click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
    @click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
    @functools.wraps(func)
    def wrapper(*args, root=None, verbose=0, quiet=False, **kwargs):
        setup_logging(verbose, quiet)
        try:
            with sigterm_raises():
                workspace = Workspace.resolve(root)
                from enso.data import DATASETS

                DATASETS.attach(workspace)  # the user's own datasets in this workspace become names
                return func(*args, workspace=workspace, **kwargs)
        except EnsoError as exc:
            _fail(str(exc), exc.exit_code)
        except BrokenPipeError:
            # stdout was closed early (`enso ... | head`): nothing left to tell anyone
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}; check the path, its permissions and the free disk space", 1)
        except UnicodeError as exc:
            _fail(f"cannot decode text ({exc}); save text files as UTF-8", 1)
        except KeyboardInterrupt:
            _fail(f"interrupted; {RESUME_HINT}", 130)
        except Terminated as exc:
            _fail(f"terminated (SIGTERM); {RESUME_HINT}", exc.exit_code)

    return wrapper


SCHEDULER_SCHEMES = ("tcp://", "tls://", "inproc://", "ws://", "wss://", "ucx://")


def check_scheduler(address: str | None) -> None:
    """Refuse a ``--scheduler`` that is not a Dask address, before any stage does work."""
    if address and not address.startswith(SCHEDULER_SCHEMES):
        from enso.errors import ConfigError

        raise ConfigError(f"--scheduler {address!r} is not a scheduler address; write it as tcp://HOST:PORT")


def force_option(func: Callable) -> Callable:
    return click.option("--force", is_flag=True,
                        help="Recompute even when a valid cached artifact exists.")(func)


def experiment_argument(func: Callable) -> Callable:
    return click.argument("experiment", default="default", required=False, metavar="[EXPERIMENT]")(func)


EXPERIMENT_HELP = ("EXPERIMENT is a config name in experiments/ (default: 'default') "
                   "or a path to a .toml file.")
