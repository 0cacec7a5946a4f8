"""What every stage command shares: the workspace option, logging, and error handling."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable

import click

from enso.errors import EnsoError
from enso.workspace import ROOT_ENV, Workspace

log = logging.getLogger("enso")


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("enso: %(message)s" if verbose < 2 else "enso %(name)s %(levelname)s: %(message)s"))
    root = logging.getLogger("enso")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


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
            workspace = Workspace.resolve(root)
            from enso.data import DATASETS

            DATASETS.attach(workspace)  # the user's own datasets in this workspace become names
            return func(*args, workspace=workspace, **kwargs)
        except EnsoError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}; check the path, its permissions and the free disk space",
                       err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("error: interrupted; finished artifacts are kept and a rerun resumes", err=True)
            sys.exit(130)

    return wrapper


def force_option(func: Callable) -> Callable:
    return click.option("--force", is_flag=True,
                        help="Recompute even when a valid cached artifact exists.")(func)


def experiment_argument(func: Callable) -> Callable:
    return click.argument("experiment", default="default", required=False, metavar="[EXPERIMENT]")(func)


EXPERIMENT_HELP = ("EXPERIMENT is a config name in experiments/ (default: 'default') "
                   "or a path to a .toml file.")
