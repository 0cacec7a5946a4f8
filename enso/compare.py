"""``enso compare``: one command for the common question, "is my model better than these?".

    enso compare ~/models/my-bert minilm --datasets PangLeeSentences,AirlineSentiment --sizes 50,100

Each MODEL is a model folder (a path: it becomes ``{ name = "hf-encoder", path = "...", label =
"<folder name>" }``, the folder name made unique with its parents when two share one) or a
registered featurizer name (``minilm``, ``tfidf``: kept as it is); ``LABEL=MODEL`` gives the label.
The command writes the config into ``experiments/<name>.toml`` (never replacing a different
existing file unless ``--force``), runs the four stages as ``enso run`` does, and prints the
answer first: per dataset, the best featurizer · target at the largest training size with its
score and intervals, and the report's verdict across datasets; then where the report is.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import click

from enso.cli_common import (
    check_scheduler,
    common_options,
    echo_report,
    pass_workspace,
    run_stages,
)
from enso.errors import ConfigError

#: what a compare config uses where the command line does not say
DEFAULT_SIZES = (50, 100, 200, 500)
DEFAULT_RESAMPLES = 10
DEFAULT_TARGETS = ("logreg",)
DEFAULT_METRICS = ("accuracy", "macro_f1")
MAX_AUTO_NAME = 60


def _split(value: str | None, what: str) -> list[str]:
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    if value is not None and not items:
        raise ConfigError(f"--{what} is empty; give a comma-separated list")
    return items


def _sizes(value: str | None) -> list[int]:
    if value is None:
        return list(DEFAULT_SIZES)
    sizes = []
    for item in _split(value, "sizes"):
        try:
            sizes.append(int(item))
        except ValueError:
            raise ConfigError(f"--sizes: {item!r} is not a whole number; give sizes like 50,100,200") from None
    return sizes


def _is_path(text: str) -> bool:
    return os.path.exists(os.path.expanduser(text)) or any(c in text for c in "/\\") or text.startswith(("~", "."))


def model_entries(models: list[str], registered) -> list[dict[str, Any] | str]:
    """The config's featurizer entries for the command line's MODELs.

    A path becomes an ``hf-encoder`` table with the absolute path and a short unique label; a
    registered featurizer name stays itself (``registered.canonical`` refuses an unknown one
    with the closest name); ``LABEL=MODEL`` labels either.
    """
    from enso.config import path_labels

    parsed = []
    for model in models:
        label, target = None, model
        if "=" in model and not os.path.exists(os.path.expanduser(model)):
            label, target = (part.strip() for part in model.split("=", 1))
            if not label or not target:
                raise ConfigError(f"{model!r}: write LABEL=MODEL_FOLDER or LABEL=FEATURIZER, or just the folder "
                                  "or name")
        if _is_path(target):
            folder = Path(target).expanduser().resolve()
            if not folder.exists():
                raise ConfigError(f"model folder {target} does not exist; give a folder holding a transformers "
                                  "model (config.json and its weights) or a registered featurizer name (see "
                                  "`enso featurize --list`)")
            if not folder.is_dir():
                raise ConfigError(f"{target} is a file; give the model's folder (the one holding config.json)")
            parsed.append(("path", str(folder), label))
        else:
            parsed.append(("name", registered.canonical(target), label))
    names = {name.casefold() for kind, name, label in parsed if kind == "name" and label is None}
    names |= {label.casefold() for _, _, label in parsed if label}
    folders = [i for i, (kind, _, label) in enumerate(parsed) if kind == "path" and label is None]
    defaults = dict(zip(folders, _unique_labels([parsed[i][1] for i in folders], names, path_labels)))
    entries: list[dict[str, Any] | str] = []
    for i, (kind, value, label) in enumerate(parsed):
        if kind == "path":
            entries.append({"name": "hf-encoder", "path": value, "label": label or defaults[i]})
        else:
            entries.append({"name": value, "label": label} if label else value)
    return entries


def _unique_labels(paths: list[str], taken: set[str], path_labels) -> list[str]:
    """Folder names made unique among themselves (by their parents) and against the other entries' labels."""
    labels = path_labels(paths)
    out = []
    for path, label in zip(paths, labels):
        parts = [p for p in Path(path).parts if p not in ("/", "\\")]
        depth = label.count("/") + 1
        while label.casefold() in taken and depth < len(parts):
            depth += 1
            label = "/".join(parts[-depth:])
        base, n = label, 2
        while label.casefold() in taken:
            label, n = f"{base}-{n}", n + 1
        taken.add(label.casefold())
        out.append(label)
    return out


def default_name(entries: list[dict[str, Any] | str]) -> str:
    """``compare-<label>-vs-<label>...``, as a plain folder name."""
    labels = [entry if isinstance(entry, str) else entry.get("label") or entry["name"] for entry in entries]
    slug = "-vs-".join(re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-._") or "model" for label in labels)
    return "compare-" + slug[:MAX_AUTO_NAME].rstrip("-._")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def config_text(raw: dict[str, Any], command: str) -> str:
    """The config file: a comment with the command that wrote it, then one key per line."""
    lines = [f"# written by: {command}", "# edit it and rerun with `enso run <name>`; labels do not change results", ""]
    lines += [f"{key} = {_toml_value(value)}" for key, value in raw.items()]
    return "\n".join(lines) + "\n"


def write_config(path: Path, raw: dict[str, Any], text: str, *, force: bool) -> bool:
    """Write ``text`` to ``path`` unless an equal config is there; refuse a different one without ``force``.

    Returns whether the file was written.
    """
    import tomllib

    if path.exists():
        try:
            same = tomllib.loads(path.read_text(encoding="utf-8")) == tomllib.loads(text)
        except (OSError, UnicodeError, tomllib.TOMLDecodeError):
            same = False
        if same:
            return False
        if not force:
            raise ConfigError(f"{path} exists and holds another config; choose another name with --name NAME, or "
                              "pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return True


def answer(name: str, workspace, alpha: float | None = None) -> list[str]:
    """The answer, as the report gives it: per dataset the best featurizer · target at the largest size
    (mean ± sd over resamples, the test-set interval), and the verdict across datasets."""
    from enso.engine import load_results
    from enso.report.across import across_datasets
    from enso.report.leaderboard import best_per_dataset, entry_columns, scores, with_entry
    from enso.report.sections import across_text
    from enso.report.significance import ALPHA
    from enso.report.stats import higher_is_better

    alpha = ALPHA if alpha is None else alpha
    frame = load_results(name, workspace)
    if not len(frame):
        return ["no results: every training size was skipped (see the warnings above)"]
    metric = str(frame["metric"].iloc[0])
    size = int(frame["train_size"].max())
    entry = entry_columns(frame)
    table = scores(frame, entry)
    best = best_per_dataset(frame[frame["train_size"] == size], table[table["train_size"] == size], entry,
                            metric, alpha)
    direction = "higher" if higher_is_better(metric) else "lower"
    lines = [f"best at {size} training examples, by {metric} ({direction} is better; mean ± sd over resamples, "
             "95% test-set interval):"]
    labelled = with_entry(table[(table["train_size"] == size) & (table["metric"] == metric)], entry)
    for _, row in best.iterrows():
        interval = (f", test interval ±{row['test_halfwidth']:.3f}" if row["test_halfwidth"] == row["test_halfwidth"]
                    else "")
        tied = list(row["not_significantly_worse"])
        others = int(row["n_entries"]) - 1
        here = labelled[labelled["dataset"] == row["dataset"]]
        equal = [e for e in here.loc[here["mean"] == row["mean"], "entry"] if e != row["best"]]
        if equal:  # the same mean (the same features, say): the first listed is shown, not a winner
            verdict = f"the same mean as {', '.join(equal)}"
        elif tied:
            verdict = (f"not significantly better than {tied[0]}" if len(tied) == 1
                       else f"not significantly better than {len(tied)} of the {others} others")
        else:
            verdict = "significantly better than the others" if others else "the only configuration"
        lines.append(f"  {row['dataset']}: {row['best']}  {row['mean']:.3f} ± {row['sd']:.3f} "
                     f"(n={int(row['n'])}{interval}); {verdict}")
    across = across_datasets(with_entry(table, entry), metric, size, alpha)
    lines.append(f"across datasets: {across_text(across, alpha)}")
    return lines


EPILOG = """\b
Examples:
  enso compare ~/models/my-bert minilm --datasets PangLeeSentences,AirlineSentiment
  enso compare mine=~/models/my-bert tfidf minilm --datasets TREC --sizes 50,100 --resamples 5
  enso compare ./a/model ./b/model --datasets Mine --targets logreg,knn --name ab

\b
A model folder is any local transformers or sentence-transformers folder (config.json,
tokenizer files, model.safetensors); its label is its folder name (with parent folders when two
share a name), or LABEL= in front of it. Datasets are registered names (`enso download --list`)
or your own, imported first with `enso download --csv FILE --name NAME ...`. The config goes
to experiments/NAME.toml: edit it and rerun it with `enso run NAME`; stored artifacts are
reused, so a rerun computes only what changed.
"""


@click.command("compare", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("models", nargs=-1, required=True, metavar="PATH_OR_NAME [PATH_OR_NAME ...]")
@click.option("--datasets", "datasets", required=True, metavar="A,B",
              help="Comma-separated dataset names (registered, or imported with `enso download --csv`).")
@click.option("--sizes", metavar="N,N", help="Training sizes drawn from each train split "
                                            f"[default: {','.join(map(str, DEFAULT_SIZES))}].")
@click.option("--targets", metavar="T,T", help="Target models fitted on every model's features "
                                              f"[default: {','.join(DEFAULT_TARGETS)}; see `enso experiment --list`].")
@click.option("--resamples", type=click.IntRange(min=1), default=DEFAULT_RESAMPLES, show_default=True,
              help="Training samples per size (with fewer than 6 no paired test can reach p < 0.05).")
@click.option("--metrics", metavar="M,M", help="Metrics; the first ranks the answer "
                                              f"[default: {','.join(DEFAULT_METRICS)}].")
@click.option("--max-examples", type=click.IntRange(min=1), default=None,
              help="Cap each dataset at this many rows (a stratified subset, the same for every model).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="The experiment's seed.")
@click.option("--name", metavar="NAME", help="Config and results name [default: compare-<labels>].")
@click.option("--force", is_flag=True, help="Replace experiments/NAME.toml when it holds another config (stored "
                                            "features and cells are still reused where they match).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes for the experiment stage (N cells at once).")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Run the cells on this Dask scheduler instead.")
@click.option("--mirror", envvar="ENSO_MIRROR", show_envvar=True, metavar="URL|DIR",
              help="Dataset mirror tried before upstream (laid out as MIRROR/HOST/PATH).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where transformer featurizers run.")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png", show_default=True,
              help="File format of the figures.")
@click.option("--offline", is_flag=True, help="Fetch nothing: use only the datasets already in datasets/.")
@common_options
@pass_workspace
def main(workspace, models, datasets, sizes, targets, resamples, metrics, max_examples, seed, name, force, jobs,
         scheduler, mirror, device, fmt, offline) -> None:
    """Compare model folders and registered featurizers on DATASETS, and say which is best.

    Writes experiments/NAME.toml, runs download -> featurize -> experiment -> visualize as
    `enso run NAME` does, and prints the answer (the best featurizer · target per dataset at
    the largest size, with its score and intervals, and the verdict across datasets) before
    the paths of the report and figures.
    """
    from enso.components import parse_config, registries
    from enso.config import LABEL_KEY
    from enso.store import Reuse

    check_scheduler(scheduler)
    bundle = registries(workspace)
    entries = model_entries(list(models), bundle.featurizers)
    config_name = name or default_name(entries)
    raw: dict[str, Any] = {
        "name": config_name,
        "description": "enso compare: " + ", ".join(e if isinstance(e, str) else e.get(LABEL_KEY, e["name"])
                                                    for e in entries),
        "datasets": _split(datasets, "datasets"),
        "featurizers": entries,
        "targets": _split(targets, "targets") if targets is not None else list(DEFAULT_TARGETS),
        "train_sizes": _sizes(sizes),
        "resamples": resamples,
        "metrics": _split(metrics, "metrics") if metrics is not None else list(DEFAULT_METRICS),
        "seed": seed,
    }
    if max_examples is not None:
        raw["max_examples"] = max_examples
    path = workspace.experiments / f"{config_name}.toml"
    parse_config(raw, workspace, source=path, default_name=config_name)  # every name and value, before writing
    command = " ".join(["enso compare", *map(shlex.quote, models), "--datasets", ",".join(raw["datasets"]),
                        "--sizes", ",".join(map(str, raw["train_sizes"])), "--resamples", str(resamples),
                        "--targets", ",".join(raw["targets"]), "--name", config_name])
    written = write_config(path, raw, config_text(raw, command), force=force)
    click.echo(f"config:  {path} ({'written' if written else 'unchanged'})", err=True)
    from enso.components import load_config

    config = load_config(path, workspace)
    report = run_stages(config, workspace, jobs=jobs, scheduler=scheduler, mirror=mirror, device=device, fmt=fmt,
                        reuse=Reuse.ONLY_CACHED if offline else Reuse.REUSE)
    for line in answer(config.name, workspace):
        click.echo(line)
    click.echo(f"config:  {path}")
    echo_report(workspace, config.name, report)
