"""``python -m enso.visualize``: figures, tables and a report from an experiment's results."""

from __future__ import annotations

import click

from enso.cli_common import (
    common_options,
    experiment_argument,
    pass_workspace,
    reuse_options,
)

DIMENSION_HELP = "dataset, featurizer, target, metric, sampler, resampler, protocol"
EPILOG = ("EXPERIMENT is a config name in experiments/ (default: 'default'), a path to a .toml file, or the "
          "name of a folder in results/. The full report (every option at its default) goes to "
          "results/<experiment>/; a filtered view (--datasets, --size, --format, any other option) goes to its "
          "own folder, results/<experiment>/views/<its options>/ (or --out DIR), and leaves the full report "
          "as the last full run drew it. A report holds report.html "
          "(self-contained), report.md, learning_curves, variance, targets_by_featurizer_<metric>, "
          "optimizer_<metric>, finetune_<metric> and bars_<size> figures, leaderboard.csv/.md, scores.csv, "
          "summary.csv, significance.csv, and finetune.csv and per_type.csv where they apply. Results that do "
          "not match their results.manifest.json are refused (rerun the experiment stage to rebuild them); "
          "what a killed run left behind is removed first.")


@click.command("visualize", epilog=EPILOG)
@experiment_argument
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png", show_default=True,
              help="File format of the figures (report.html always embeds SVG).")
@click.option("--datasets", metavar="NAMES", help="Comma-separated datasets to report on [default: all].")
@click.option("--featurizers", metavar="NAMES",
              help="Comma-separated featurizers [default: all]; a name matches every parameter variant of it.")
@click.option("--targets", metavar="NAMES", help="Comma-separated targets [default: all].")
@click.option("--metric", "metrics", metavar="NAMES",
              help="Comma-separated metrics [default: all]; the first ranks the summary, comparisons and bars.")
@click.option("--lines", default="featurizer,target", show_default=True, metavar="DIMS",
              help=f"Comma-separated dimensions with one line each ({DIMENSION_HELP}); any other dimension "
                   "that varies is added to them.")
@click.option("--rows", default="dataset", show_default=True, metavar="DIM",
              help="Dimension of the facet rows, or 'none'.")
@click.option("--cols", default="metric", show_default=True, metavar="DIM",
              help="Dimension of the facet columns, or 'none'.")
@click.option("--size", type=click.IntRange(min=1), default=None,
              help="Training size of the bar charts [default: the largest].")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Significance level of the paired tests, after Holm correction.")
@click.option("--holm-family", type=click.Choice(["cell", "all"]), default="cell", show_default=True,
              help="Holm-correct over the featurizer pairs of each dataset, target, size and metric ('cell'), "
                   "or over every test in the report ('all').")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=str), default=None, metavar="DIR",
              help="Folder to write the report to [default: results/<experiment>/ for the full report, "
                   "results/<experiment>/views/<options>/ for a filtered view].")
@common_options
@reuse_options()
@pass_workspace
def main(workspace, experiment, fmt, datasets, featurizers, targets, metrics, lines, rows, cols, size, alpha,
         holm_family, out, reuse) -> None:
    """Draw learning curves, comparisons and variance plots, rank configurations, test differences,
    and write report.html and report.md beside EXPERIMENT's results."""
    from enso.report import build_report
    from enso.report.build import view_folder

    # build_report splits the comma-separated lists itself
    options = dict(fmt=fmt, datasets=datasets, featurizers=featurizers, targets=targets, metric=metrics,
                   lines=lines, rows=rows.strip(), cols=cols.strip(), size=size, alpha=alpha,
                   holm_family=holm_family)
    if out is None:  # a filtered view never lands on the full report
        out = view_folder(experiment, workspace, **options)
    report = build_report(experiment, workspace, **options, reuse=reuse, out=out)
    click.echo(f"report:  {report.html}")
    click.echo(f"         {report.markdown}")
    for figure in report.figures:
        click.echo(f"figure:  {figure}")
    for table in report.tables:
        click.echo(f"table:   {table}")


if __name__ == "__main__":
    main()
