"""The ``enso`` command: the four stages as subcommands, and ``run`` for all four in order.

The group makes the one ``Workspace`` every subcommand works in (``--root``, else
``$ENSO_ROOT``, else the current directory) and hands it on as click's context object;
each subcommand takes it with ``enso.cli_common.pass_workspace``.
"""

from __future__ import annotations

import click

from enso import __version__
from enso.cli_common import (
    EXPERIMENT_HELP,
    check_scheduler,
    common_options,
    echo_report,
    experiment_argument,
    group_options,
    pass_workspace,
    reuse_options,
    run_stages,
)
from enso.compare import main as compare_command
from enso.download import main as download_command
from enso.experiment import main as experiment_command
from enso.featurize import main as featurize_command
from enso.init import main as init_command
from enso.visualize import main as visualize_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="enso")
@group_options
def main() -> None:
    """Benchmark pretrained text representations and simple target models on small labelled data.

    The stages read and write cached artifacts in the workspace: download -> datasets/,
    featurize -> featurizers/, experiment -> results/<experiment>/, visualize -> a report
    beside the results. `enso run` does all four; `enso compare` writes a config for model
    folders and featurizers and runs it; `enso init` starts a workspace.
    """


main.add_command(download_command, "download")
main.add_command(featurize_command, "featurize")
main.add_command(experiment_command, "experiment")
main.add_command(visualize_command, "visualize")
main.add_command(compare_command, "compare")
main.add_command(init_command, "init")


@main.command("run", epilog=EXPERIMENT_HELP)
@experiment_argument
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes for the experiment stage (N cells at once).")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run the experiment's cells on this Dask distributed scheduler instead of locally.")
@click.option("--mirror", envvar="ENSO_MIRROR", show_envvar=True, metavar="URL|DIR",
              help="Dataset mirror tried before upstream (laid out as MIRROR/HOST/PATH).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where transformer featurizers run.")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png", show_default=True,
              help="File format of the figures.")
@common_options
@reuse_options(offline_help="Fetch nothing: use only the datasets already in datasets/ (the other stages "
                            "compute what is missing, as without it).")
@pass_workspace
def run(workspace, experiment, jobs, scheduler, mirror, device, fmt, reuse) -> None:
    """Run all four stages on EXPERIMENT and print where the report and plots are.

    --force recomputes every stage's artifacts; --offline (only-cached) applies to the
    download stage, the one that needs the network.
    """
    from enso.components import load_config

    check_scheduler(scheduler)  # before the download and featurize stages do any work
    config = load_config(experiment, workspace)
    report = run_stages(config, workspace, jobs=jobs, scheduler=scheduler, mirror=mirror, device=device, fmt=fmt,
                        reuse=reuse)
    echo_report(workspace, config.name, report)


if __name__ == "__main__":
    main()
