"""What every stage command shares: the workspace, logging, signals, error handling and the reuse flags.

The workspace is no global: the ``enso`` group makes one ``Workspace`` from ``--root`` /
``$ENSO_ROOT`` / the current directory as its click context object, and each command takes it
with :data:`pass_workspace` (click's ``make_pass_decorator``). A command's own ``--root`` (so
``enso experiment default --root DIR`` and ``python -m enso.experiment --root DIR`` work) replaces
it for that command. ``--force`` and ``--offline`` become one ``enso.store.Reuse``.
"""

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
from typing import Any

import click
from click.core import ParameterSource

from enso.errors import ConfigError, EnsoError, Terminated
from enso.store import Reuse
from enso.workspace import ROOT_ENV, Workspace

log = logging.getLogger("enso")

RESUME_HINT = "finished artifacts are kept and a rerun resumes"

#: ``@pass_workspace`` gives a command the ``Workspace`` of its click context as first argument
pass_workspace = click.make_pass_decorator(Workspace)
_VERBOSITY = "enso.verbosity"


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


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """What goes wrong in the block ends the command with one ``error:`` line and its exit code."""
    try:
        with sigterm_raises():
            yield
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


def _root_option(func: Callable) -> Callable:
    return click.option("--root", type=click.Path(file_okay=False), envvar=ROOT_ENV, show_envvar=True,
                        help="Workspace folder holding datasets/, featurizers/, experiments/, results/ "
                             "[default: the current directory].")(func)


def _verbosity_options(func: Callable) -> Callable:
    func = click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")(func)
    return click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")(func)


def group_options(func: Callable) -> Callable:
    """``--root``, ``-v``, ``-q`` on the ``enso`` group: the context's ``Workspace`` and the log level."""

    @_root_option
    @_verbosity_options
    @functools.wraps(func)
    def wrapper(*args: Any, root: str | None = None, verbose: int = 0, quiet: bool = False, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        ctx.meta[_VERBOSITY] = (verbose, quiet)
        setup_logging(verbose, quiet)
        with one_line_errors():
            ctx.obj = Workspace.resolve(root)
            return func(*args, **kwargs)

    return wrapper


def common_options(func: Callable) -> Callable:
    """``--root``, ``-v`` and ``-q`` on a command, one-line errors, and its ``Workspace`` in the context.

    Decorate the command function with :data:`pass_workspace` below this, so it receives the
    workspace: the command's own ``--root`` when given on its command line, else the group's,
    else ``$ENSO_ROOT`` or the current directory.
    """

    @_root_option
    @_verbosity_options
    @functools.wraps(func)
    def wrapper(*args: Any, root: str | None = None, verbose: int = 0, quiet: bool = False, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        group_verbose, group_quiet = ctx.meta.get(_VERBOSITY, (0, False))
        setup_logging(max(verbose, group_verbose), quiet or group_quiet)
        with one_line_errors():
            own = root is not None and ctx.get_parameter_source("root") is ParameterSource.COMMANDLINE
            if own or ctx.find_object(Workspace) is None:
                ctx.obj = Workspace.resolve(root)
            return func(*args, **kwargs)

    return wrapper


SCHEDULER_SCHEMES = ("tcp://", "tls://", "inproc://", "ws://", "wss://", "ucx://")


def check_scheduler(address: str | None) -> None:
    """Refuse a ``--scheduler`` that is not a Dask address, before any stage does work."""
    if address and not address.startswith(SCHEDULER_SCHEMES):
        raise ConfigError(f"--scheduler {address!r} is not a scheduler address; write it as tcp://HOST:PORT")


def force_option(func: Callable) -> Callable:
    return click.option("--force", is_flag=True,
                        help="Recompute even when a valid cached artifact exists.")(func)


def reuse_options(offline_help: str | None = None) -> Callable[[Callable], Callable]:
    """``--force`` (and, with ``offline_help``, ``--offline``) as one ``reuse: Reuse`` argument."""

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, force: bool = False, offline: bool = False, **kwargs: Any) -> Any:
            return func(*args, reuse=Reuse.from_flags(force=force, offline=offline), **kwargs)

        if offline_help:
            wrapper = click.option("--offline", is_flag=True, help=offline_help)(wrapper)
        return force_option(wrapper)

    return decorate


def experiment_argument(func: Callable) -> Callable:
    return click.argument("experiment", default="default", required=False, metavar="[EXPERIMENT]")(func)


EXPERIMENT_HELP = ("EXPERIMENT is a config name in experiments/ (default: 'default') "
                   "or a path to a .toml file.")


def run_stages(config, workspace: Workspace, *, jobs: int = 1, scheduler: str | None = None,
               mirror: str | None = None, device: str = "auto", fmt: str = "png", reuse: Reuse = Reuse.REUSE):
    """download -> featurize -> experiment -> visualize on a checked ``config``: what ``enso run`` does.

    ``reuse`` ONLY_CACHED (``--offline``) fetches nothing; the other stages compute what is
    missing. Returns the report (``enso.report.build.Report``).
    """
    from enso.data import download
    from enso.engine import run_experiment
    from enso.features import featurize_config
    from enso.report import build_report

    download(config.datasets, workspace, mirror=mirror, reuse=reuse)
    compute = Reuse.REUSE if reuse is Reuse.ONLY_CACHED else reuse  # --offline: no fetching, not no computing
    from enso.features.precision import pinned
    from enso.protocols.base import feature_precision

    with pinned(feature_precision(config)):
        featurize_config(config, workspace, device=device, reuse=compute)
    run_experiment(config, workspace, jobs=jobs, scheduler=scheduler, device=device, reuse=compute)
    return build_report(config.name, workspace, fmt=fmt, reuse=compute)


def echo_report(workspace: Workspace, name: str, report) -> None:
    """Where the results, the report and its figures are, on stdout."""
    click.echo(f"results: {workspace.results_dir(name) / 'results.parquet'}")
    click.echo(f"report:  {report.html}")
    click.echo(f"         {report.markdown}")
    for figure in report.figures:
        click.echo(f"figure:  {figure}")
