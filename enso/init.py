"""``enso init [DIR]``: a new workspace with the shipped experiments/default.toml and a commented example.

The example (``experiments/mine.toml``) shows one's own CSV (imported with ``enso download
--csv``) against one's own model folder (``hf-encoder``), with every key commented. Existing
files are never replaced: the command refuses with one line naming the first one.
"""

from __future__ import annotations

from pathlib import Path

import click

from enso.cli_common import common_options, pass_workspace
from enso.errors import ConfigError

#: the shipped default config, used when enso runs from a source tree without experiments/
#: (an installed wheel); ``tests/test_init.py`` checks it matches experiments/default.toml's keys
FALLBACK_DEFAULT = """\
# The main job: which representation and target model work best on small samples
# of two real sentiment datasets, and how much does the answer vary?
name = "default"
description = "Learning curves of TF-IDF (in-domain), GloVe 6B 50-d means (static word vectors) and all-MiniLM-L6-v2 (sentence encoder) features with logistic regression and k-NN on two real sentiment datasets."
datasets = ["PangLeeSentences", "AirlineSentiment"]
featurizers = ["tfidf", "glove-6b-50d", "minilm"]
targets = ["logreg", "knn"]
train_sizes = [50, 100, 200, 500]
# 10 paired resamples: with 5, no Wilcoxon signed-rank test can reach p < 0.05.
resamples = 10
metrics = ["accuracy", "macro_f1"]
seed = 0
"""

EXAMPLE_NAME = "mine"
#: the line after which the example's config lines start
EXAMPLE_MARK = " --- the config: remove the '# ' in front of each line below ---"
EXAMPLE = """\
# Your own data against your own model. Steps:
#
# 1. Import your CSV once (a text column and a label column; with --split-column COLUMN holding
#    train/test, else enso draws a stratified test split of --test-fraction 0.2):
#      enso download --csv reviews.csv --name Reviews --text-column text --label-column label
#    (`enso download --info Reviews` shows its card: classes, counts, splits.)
# 2. Point `path` below at your model folder: any local transformers or sentence-transformers
#    folder (config.json, tokenizer files, model.safetensors). `label` is what the report calls it.
# 3. Uncomment the lines below, then:  enso run mine
#    (or, with no config: enso compare /path/to/my-model minilm --datasets Reviews)
#
#{MARK}
# name = "mine"                                  # results go to results/mine/ (default: the file name)
# description = "my model against MiniLM and TF-IDF on my reviews"
# datasets = ["Reviews"]                         # your imported dataset, and any of `enso download --list`
# featurizers = [
#     { name = "hf-encoder", path = "/path/to/my-model", label = "my-model" },  # see `enso featurize --list`
#     "minilm",                                  # all-MiniLM-L6-v2, a strong small sentence encoder
#     "tfidf",                                   # in-domain baseline, fit on your train split only
# ]
# targets = ["logreg", { name = "knn", n_neighbors = 5, label = "5-nn" }]   # see `enso experiment --list`
# train_sizes = [50, 100, 200, 500]              # labelled examples drawn from the train split
# resamples = 10                                 # samples per size: 6 or more for a paired test at p < 0.05
# metrics = ["accuracy", "macro_f1"]             # the first ranks the summary
# seed = 0
# max_examples = 5000                            # cap per dataset (or { Reviews = 3000 })
""".replace("{MARK}", EXAMPLE_MARK)


def shipped_default() -> str:
    """The text of the shipped experiments/default.toml (the source tree's, else the copy above)."""
    source = Path(__file__).resolve().parents[1] / "experiments" / "default.toml"
    try:
        return source.read_text(encoding="utf-8")
    except OSError:
        return FALLBACK_DEFAULT


def init_workspace(root: Path) -> list[Path]:
    """Write experiments/default.toml and experiments/mine.toml into ``root``; the files written.

    ``ConfigError`` (nothing written) when any of them exists already.
    """
    root = Path(root).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is a file; give a folder for the workspace")
    files = {root / "experiments" / "default.toml": shipped_default(),
             root / "experiments" / f"{EXAMPLE_NAME}.toml": EXAMPLE}
    for path in files:
        if path.exists() or path.is_symlink():
            raise ConfigError(f"{path} exists; enso init never replaces a file: remove it, or init another folder")
    (root / "experiments").mkdir(parents=True, exist_ok=True)
    written = []
    for path, text in files.items():
        with open(path, "x", encoding="utf-8") as handle:  # "x": never over a file made meanwhile
            handle.write(text)
        written.append(path)
    return written


@click.command("init", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("folder", required=False, type=click.Path(file_okay=False), metavar="[DIR]")
@common_options
@pass_workspace
def main(workspace, folder) -> None:
    """Make a workspace in DIR (default: the workspace root: --root, $ENSO_ROOT or the current folder).

    Writes experiments/default.toml (the shipped demo: two sentiment datasets, TF-IDF, GloVe and
    MiniLM features, logistic regression and k-NN) and experiments/mine.toml (a commented
    example for your own CSV and your own model), then prints the next steps. Refuses, with
    one line, to replace a file that exists.
    """
    root = Path(folder).expanduser().resolve() if folder else workspace.root
    written = init_workspace(root)
    for path in written:
        click.echo(f"wrote {path}")
    flag = "" if root == Path.cwd() else f" --root {root}"
    click.echo("next steps:")
    click.echo(f"  enso{flag} run default                    # the demo: 4 stages, report in results/default/")
    click.echo(f"  enso{flag} download --csv FILE --name NAME --text-column text --label-column label")
    click.echo(f"  enso{flag} compare /path/to/model minilm --datasets NAME   # your model against MiniLM")
    click.echo(f"  edit {root / 'experiments' / (EXAMPLE_NAME + '.toml')}, then: enso{flag} run {EXAMPLE_NAME}")
