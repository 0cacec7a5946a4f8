"""``enso compare``: model folders and featurizer names in, a config in experiments/, the four stages, the answer first.

Fast tier: a 2-block BERT with seeded random weights saved as a real transformers folder (the
"own model") against ``minilm`` on the two tiny in-memory datasets.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from enso.compare import default_name, model_entries
from enso.errors import ConfigError
from tests.cli import enso

ARGS = ("--datasets", "Tiny,Tiny3", "--sizes", "8,16", "--resamples", "2")


@pytest.fixture(scope="module")
def my_bert(tmp_path_factory) -> Path:
    """A real transformers folder named my-bert: seeded random weights, MiniLM's tokenizer."""
    from tests.features_helpers import write_tiny_bert

    return write_tiny_bert(tmp_path_factory.mktemp("models") / "my-bert")


def feature_files(ws) -> list[Path]:
    folder = ws.root / "featurizers"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.heavy  # a memory, peer or whole-model check: make test-heavy
@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_compare_writes_the_config_runs_the_stages_and_prints_the_answer_first(tiny_workspace, my_bert):
    ran = enso("compare", my_bert, "minilm", *ARGS, root=tiny_workspace)
    assert ran.code == 0, ran.output
    path = tiny_workspace.experiments / "compare-my-bert-vs-minilm.toml"
    config = tomllib.loads(path.read_text())
    assert config["featurizers"] == [{"name": "hf-encoder", "path": str(my_bert.resolve()), "label": "my-bert"},
                                     "minilm"]
    assert config["datasets"] == ["Tiny", "Tiny3"] and config["train_sizes"] == [8, 16] and config["resamples"] == 2
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("best at 16 training examples, by accuracy"), ran.stdout
    assert lines[1].startswith("  Tiny: ") and lines[2].startswith("  Tiny3: ")
    assert any(name in lines[1] for name in ("my-bert · logreg", "minilm · logreg")) and " ± " in lines[1]
    assert lines[3].startswith("across datasets: no claim can be made across datasets: 2 datasets")
    report = next(i for i, line in enumerate(lines) if line.startswith("report:"))
    assert report > 3 and (tiny_workspace.root / lines[report].split()[-1]).is_file()
    from enso.engine import load_results

    table = load_results("compare-my-bert-vs-minilm", tiny_workspace)
    assert set(table.featurizer) == {"my-bert", "minilm"} and set(table.dataset) == {"Tiny", "Tiny3"}
    assert len(table[table.metric == "accuracy"]) == 2 * 2 * 2 * 2  # datasets x featurizers x sizes x resamples

    # the same command again: the same config, nothing recomputed
    again = enso("compare", my_bert, "minilm", *ARGS, root=tiny_workspace)
    assert again.code == 0 and "(unchanged)" in again.stderr and "16 already done, 0 to run" in again.stderr

    # another question under the same name: refused with one line, the file as it was
    before = path.read_bytes()
    other = enso("compare", my_bert, "minilm", *ARGS[:-1], "3", root=tiny_workspace)
    assert other.code == 2 and len(other.errors) == 1, other.output
    assert "exists and holds another config" in other.errors[0] and "--name" in other.errors[0] \
        and "--force" in other.errors[0]
    assert path.read_bytes() == before
    forced = enso("compare", my_bert, "minilm", *ARGS[:-1], "3", "--force", root=tiny_workspace)
    assert forced.code == 0, forced.output
    assert tomllib.loads(path.read_text())["resamples"] == 3
    assert "16 already done, 8 to run" in forced.stderr, "the first two resamples' cells were reused"


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_labelled_model_and_a_name_of_ones_own(tiny_workspace, my_bert):
    ran = enso("compare", f"mine={my_bert}", "tfidf", "--datasets", "Tiny", "--sizes", "8", "--resamples", "2",
               "--name", "ab", root=tiny_workspace)
    assert ran.code == 0, ran.output
    config = tomllib.loads((tiny_workspace.experiments / "ab.toml").read_text())
    assert config["featurizers"][0]["label"] == "mine" and config["featurizers"][1] == "tfidf"
    assert "across datasets: no claim can be made across datasets: 1 dataset" in ran.stdout


@pytest.mark.parametrize(("model", "message"), [
    ("minlm", "unknown featurizer 'minlm'; did you mean 'minilm'?"),
    ("./no/such/folder", "model folder ./no/such/folder does not exist"),
])
def test_a_bad_model_is_one_line_before_any_work(tiny_workspace, model, message):
    ran = enso("compare", model, "tfidf", "--datasets", "Tiny", root=tiny_workspace)
    assert ran.code == 2 and len(ran.errors) == 1 and message in ran.errors[0], ran.output
    assert feature_files(tiny_workspace) == [] and not list(tiny_workspace.experiments.glob("compare-*"))


def test_a_bad_dataset_or_size_is_refused_before_the_config_is_written(tiny_workspace):
    ran = enso("compare", "tfidf", "--datasets", "Tiny,Tinny", root=tiny_workspace)
    assert ran.code == 2 and "unknown dataset 'Tinny'" in ran.errors[0], ran.output
    ran = enso("compare", "tfidf", "--datasets", "Tiny", "--sizes", "8,x", root=tiny_workspace)
    assert ran.code == 2 and "--sizes: 'x' is not a whole number" in ran.errors[0], ran.output
    assert not list(tiny_workspace.experiments.glob("compare-*")) and feature_files(tiny_workspace) == []


def test_folders_that_share_a_name_get_unique_labels(tmp_path):
    from enso.features import FEATURIZERS

    for where in ("a/model", "b/model", "c/minilm"):
        (tmp_path / where).mkdir(parents=True)
    entries = model_entries([str(tmp_path / "a/model"), str(tmp_path / "b/model"), str(tmp_path / "c/minilm"),
                             "minilm"], FEATURIZERS)
    assert [e["label"] for e in entries[:3]] == ["a/model", "b/model", "c/minilm"] and entries[3] == "minilm"
    assert default_name(entries) == "compare-a-model-vs-b-model-vs-c-minilm-vs-minilm"
    with pytest.raises(ConfigError, match="is a file; give the model's folder"):
        (tmp_path / "file.bin").write_text("x")
        model_entries([str(tmp_path / "file.bin")], FEATURIZERS)
