"""``python -m enso.experiment``: run the sweep of an experiment config into results/<experiment>/."""

from __future__ import annotations

import click

from enso.cli_common import (
    EXPERIMENT_HELP,
    check_scheduler,
    common_options,
    experiment_argument,
    pass_workspace,
    reuse_options,
)


#: target parameters the engine sets per cell (unless the config sets them)
ENGINE_SET = {"scoring": "the experiment's selection_metric", "resampler": "each of resamplers",
              "random_state": "derived from the cell"}


def _parameters(obj, title: str) -> str:
    """``parameters: C=None, cv=3, ...``: a target's ``__init__`` defaults, or a protocol's options."""
    import inspect

    if title == "protocols":
        options = getattr(obj, "defaults", {}) or {}
        shown = ", ".join(f"{k}={v!r}" for k, v in options.items())
        return f"protocol_options: {shown or 'none'}"
    try:
        signature = inspect.signature(obj.__init__)
    except (TypeError, ValueError):
        return "parameters: see its documentation"
    shown = []
    for parameter in signature.parameters.values():
        if parameter.name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.name in ENGINE_SET:
            shown.append(f"{parameter.name}=<{ENGINE_SET[parameter.name]}>")
        elif parameter.default is inspect.Parameter.empty:
            shown.append(f"{parameter.name}=<required>")
        else:
            shown.append(f"{parameter.name}={parameter.default!r}")
    return f"parameters: {', '.join(shown) or 'none'}"


def _listing(workspace=None) -> str:
    """Targets, metrics, samplers, resamplers and protocols of the default registries, plug-ins included."""
    from enso.components import registries
    from enso.workspace import Workspace

    bundle = registries(workspace or Workspace.resolve(None))

    def first_line(obj) -> str:
        doc = (getattr(obj, "description", None) or obj.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    lines = []
    for title in ("targets", "metrics", "samplers", "resamplers", "protocols"):
        registry = getattr(bundle, title)
        lines.append(f"{title}:")
        for name, obj in registry.items():
            aliases = registry.aliases_of(name)
            alias_text = f" (also: {', '.join(sorted(aliases))})" if aliases else ""
            default = " [default]" if title == "protocols" and name == "enso" else ""
            lines.append(f"  {name:<18} {first_line(obj)}{default}{alias_text}")
            if title in ("targets", "protocols"):
                lines.append(f"  {'':<18}   {_parameters(obj, title)}")
        if title == "targets":
            lines.append(f"  {'module.path:Class':<18} a scikit-learn classifier, e.g. sklearn.svm:LinearSVC")
    return "\n".join(lines)


@click.command(epilog=EXPERIMENT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@experiment_argument
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes, N cells at once (this process runs short cells until they are up); use as many as cores.")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run the cells on this Dask distributed scheduler instead of local processes "
                   "(its workers must see the workspace folder).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="BLAS/OpenMP threads per worker [default: 1; small fits run fastest single-threaded].")
@click.option("--dry-run", is_flag=True,
              help="Print the plan (cells in total, done, to run, skipped sizes, time estimate) and stop.")
@click.option("--list", "list_", is_flag=True, help="List targets, metrics, samplers, resamplers and protocols, and exit.")
@common_options
@reuse_options()
@pass_workspace
def main(workspace, experiment, jobs, scheduler, threads, dry_run, list_, reuse) -> None:
    """Fit every target on every training sample of EXPERIMENT and score it on the test split.

    Writes results/<experiment>/results.parquet (and results.csv): one row per dataset,
    featurizer, target, sampler, resampler, training size, resample and metric. Finished
    cells are kept in results/<experiment>/cells/, so an interrupted run resumes with the
    missing cells only; --force recomputes them all.
    """
    if list_:
        click.echo(_listing(workspace))
        return
    from enso.components import load_config
    from enso.engine import describe_plan, run_experiment

    check_scheduler(scheduler)
    config = load_config(experiment, workspace)
    table = run_experiment(config, workspace, jobs=jobs, scheduler=scheduler, dry_run=dry_run, threads=threads,
                           reuse=reuse)
    if dry_run:
        click.echo(describe_plan(table))
        return
    results = workspace.results_dir(config.name)
    click.echo(f"results: {results / 'results.parquet'} ({len(table)} rows)")
    if len(table):
        summary = (table.groupby(["dataset", "featurizer", "target", "metric"], sort=False)["value"]
                   .mean().unstack("metric").round(4))
        click.echo(summary.to_string())


if __name__ == "__main__":
    main()
