import functools
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from enso.components import load_config as load_in
from enso.components import registries
from enso.config import Spec, parse_config
from enso.errors import ConfigError
from enso.workspace import Workspace

BASE = {"name": "t", "datasets": ["PangLeeSentences"]}


@functools.cache
def bundle():
    """The default registries for a workspace with no datasets of its own."""
    return registries(Workspace(Path(tempfile.gettempdir()) / "enso-test-config-empty-workspace"))


def parse(**overrides):
    """Structure and protocol name checked; the other names not (as ``download`` loads a config)."""
    return parse_config({**BASE, **overrides}, bundle(), validate_names=False)


def load_config(path):
    return load_in(path, Workspace(Path(path).parent))


def test_defaults_and_normalisation():
    config = parse(train_sizes=[500, 50, 100], targets=["logreg", {"name": "knn", "n_neighbors": 5}])
    assert config.train_sizes == [50, 100, 500]
    assert config.targets == [Spec("logreg"), Spec("knn", {"n_neighbors": 5})]
    assert config.targets[1].label == "knn(n_neighbors=5)"
    assert config.samplers == ["random"] and config.resamplers == ["none"] and config.protocol == "enso"
    assert config.cap_for("PangLeeSentences") is None


def test_spec_id_depends_on_parameters_only():
    assert Spec("knn", {"k": 1}).id == Spec("knn", {"k": 1}).id
    assert Spec("knn", {"k": 1}).id != Spec("knn", {"k": 2}).id
    assert Spec("knn").id.startswith("knn-")


def test_per_dataset_cap():
    config = parse(max_examples={"PangLeeSentences": 100})
    assert config.cap_for("PangLeeSentences") == 100 and config.cap_for("Other") is None


@pytest.mark.parametrize("overrides, message", [
    ({"trian_sizes": [50]}, "unknown key 'trian_sizes'; did you mean 'train_sizes'?"),
    ({"train_sizes": []}, "train_sizes must be a non-empty list"),
    ({"train_sizes": [50, 0]}, "positive integers"),
    ({"train_sizes": [50, 50]}, "duplicates"),
    ({"resamples": 0}, "resamples must be a positive integer"),
    ({"resamples": True}, "resamples must be a positive integer"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"max_examples": 0}, "max_examples must be"),
    ({"targets": [{"n_neighbors": 3}]}, "table with a 'name'"),
    ({"protocol": "mtb"}, "unknown protocol 'mtb'; did you mean 'mteb'?"),
    ({"name": "../escape"}, "plain folder name"),
])
def test_bad_values_are_rejected_with_one_line(overrides, message):
    with pytest.raises(ConfigError) as info:
        parse(**overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_missing_datasets_key():
    with pytest.raises(ConfigError, match="missing key 'datasets'"):
        parse_config({"name": "t"}, bundle(), validate_names=False)


def test_toml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("datasets = [\n")
    with pytest.raises(ConfigError, match="broken.toml: not valid TOML"):
        load_config(path)


def test_repo_configs_are_valid():
    from tests.conftest import REPO

    paths = sorted((REPO / "experiments").glob("*.toml"))
    assert {"default", "smoke"} <= {p.stem for p in paths}, "the repository's configs were not found"
    for path in paths:
        config = load_in(path.stem, Workspace(REPO))
        assert config.name == path.stem


@pytest.mark.parametrize("line, message", [
    ('featurizers = ["tfidf", "minilmm"]', "unknown featurizer 'minilmm'; did you mean 'minilm'?"),
    ('targets = ["logreg", "knnn"]', "unknown target 'knnn'; did you mean 'knn'?"),
    ('metrics = ["acuracy"]', "unknown metric 'acuracy'; did you mean 'accuracy'?"),
    ('targets = [{ name = "knn", n_neighbours = 3 }]', "did you mean 'n_neighbors'?"),
])
def test_unknown_component_names_are_rejected_by_the_cli(tmp_path, line, message):
    config = tmp_path / "typo.toml"
    config.write_text(textwrap.dedent(f"""\
        name = "typo"
        datasets = ["PangLeeSentences"]
        {line}
    """))
    from click.testing import CliRunner

    from enso.experiment import main

    result = CliRunner().invoke(main, [str(config), "--root", str(tmp_path)])  # in-process: no start-up cost
    assert result.exit_code == 2, result.output
    error_lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0], result.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_unknown_dataset_is_rejected_by_the_cli(tmp_path):
    config = tmp_path / "typo.toml"
    config.write_text('datasets = ["PangLeeSentence"]\n')
    result = subprocess.run([sys.executable, "-m", "enso.featurize", str(config), "--root", str(tmp_path)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "unknown dataset 'PangLeeSentence'; did you mean 'PangLeeSentences'?" in result.stderr


def test_a_bad_protocol_option_is_rejected_when_the_config_loads(tmp_path):
    path = tmp_path / "mteb.toml"
    path.write_text('datasets = ["TREC"]\nprotocol = "mteb"\nprotocol_options = { kk = 8 }\n')
    with pytest.raises(ConfigError, match="'kk' is not an option of protocol 'mteb'"):
        load_config(path)


# --- issue 9: selection metric and dedupe; issue 10: bounds, names, decoding, protocol registry ---

def test_selection_metric_defaults_to_the_first_metric_and_is_checked():
    assert parse(metrics=["macro_f1", "accuracy"]).selection_metric == "macro_f1"
    config = parse_config({**BASE, "metrics": ["accuracy"], "selection_metric": "LogLoss"}, bundle())
    assert config.selection_metric == "log_loss"  # any METRICS name, spelled as registered
    assert config.to_dict()["selection_metric"] == "log_loss"
    with pytest.raises(ConfigError, match="selection_metric: unknown metric 'log_los'; did you mean 'log_loss'?"):
        parse_config({**BASE, "selection_metric": "log_los"}, bundle())


def test_dedupe_is_a_boolean_off_by_default():
    assert parse().dedupe is False and parse().to_dict()["dedupe"] is False
    assert parse(dedupe=True).dedupe is True and parse(dedupe=True).to_dict()["dedupe"] is True


@pytest.mark.parametrize("overrides, message", [
    ({"resamples": 1001}, "resamples = 1001 is more than 1000"),
    ({"resamples": 100_000_000}, "resamples = 100000000 is more than 1000"),
    ({"train_sizes": [50, 10_000_001]}, "10000001 is more than 10,000,000 examples"),
    ({"train_sizes": list(range(1, 102))}, "train_sizes lists 101 sizes; at most 100"),
    ({"name": "x" * 101}, "is 101 characters long; at most 100"),
    ({"name": "two\nlines"}, r"contains the control character '\n'"),
    ({"name": "bidi\u202eevil"}, r"contains the control character '\u202e'"),
    ({"datasets": ["PangLee\x00Sentences"]}, r"datasets: 'PangLee\x00Sentences' contains the control character"),
    ({"datasets": ["d" * 300]}, "datasets: 'dddd"),
    ({"featurizers": ["tf\nidf"]}, "featurizers: 'tf\\nidf' contains the control character"),
    ({"targets": [{"name": "knn", "metric": "cos\nine"}]}, "targets: a parameter of 'knn': 'cos\\nine' contains"),
    ({"targets": [{"name": "knn", "metric": "c" * 2000}]}, "2000 characters long; at most 1024"),
    ({"targets": [{"name": "knn", "n_neighbors": __import__("datetime").date(1979, 5, 27)}]},
     "parameter values of 'knn' are strings, numbers, booleans, lists or tables, got date"),
    ({"metrics": ["acc\x07uracy"]}, "metrics: 'acc\\x07uracy' contains the control character"),
    ({"selection_metric": 3}, "selection_metric must be a metric name"),
    ({"dedupe": "yes"}, "dedupe must be true or false, got 'yes'"),
    ({"seed": 2**32}, "seed must be a non-negative integer of at most 4294967295"),
    ({"description": {"a": 1}}, "description must be a string"),
    ({"protocol": 5}, "protocol must be a protocol name"),
    ({"x" * 500: 1}, "unknown key 'xxxxx"),
])
def test_unbounded_or_unprintable_values_are_rejected_with_one_short_line(overrides, message):
    with pytest.raises(ConfigError) as info:
        parse(**overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_the_bounds_themselves_are_allowed():
    config = parse(resamples=1000, train_sizes=list(range(9_999_901, 10_000_001)), name="n" * 100,
                   datasets=["PangLeeSentences"], targets=[{"name": "knn", "metric": "/" + "p" * 1000}])
    assert config.resamples == 1000 and len(config.train_sizes) == 100 and config.name == "n" * 100


def test_a_capped_dataset_is_found_whatever_the_spelling_of_its_key():
    config = parse_config({**BASE, "max_examples": {"pangleesentences": 100}}, bundle())
    assert config.cap_for("PangLeeSentences") == 100


def test_protocols_come_from_the_registry_and_may_map_datasets():
    from enso.protocols import PROTOCOLS

    assert parse(protocol="MTEB").protocol == "mteb"
    config = parse_config({**BASE, "datasets": ["sst2"], "protocol": "senteval",
                           "max_examples": {"SST2": 500}}, bundle())
    assert config.protocol == "senteval"
    assert config.datasets == PROTOCOLS.get("senteval").resolve_datasets(["SST2"]) == ["SST2Phrases"]
    assert config.cap_for("SST2Phrases") == 500


BAD_BYTES = {
    "latin-1": ('name = "café"\ndatasets = ["TREC"]\n'.encode("latin-1"), "is not UTF-8 (byte 0xe9"),
    "utf-16 with BOM": ('datasets = ["TREC"]\n'.encode("utf-16"), "looks like UTF-16"),
    "utf-16 without BOM": ('datasets = ["TREC"]\n'.encode("utf-16-le"), "looks like UTF-16"),
    "binary": (bytes(range(256)) * 4, "contains NUL bytes"),
    "NUL in text": (b'datasets = ["TREC"]\x00\n', "contains NUL bytes"),
    "empty": (b"  \n", "is empty"),
}


@pytest.mark.parametrize("kind", list(BAD_BYTES))
def test_a_config_that_is_not_utf8_text_is_a_one_line_config_error(tmp_path, kind):
    data, message = BAD_BYTES[kind]
    path = tmp_path / "bad.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value) and "bad.toml" in str(info.value) and "\n" not in str(info.value)


def test_a_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes('\ufeffdatasets = ["TREC"]\n'.encode())
    assert load_config(path).datasets == ["TREC"]


def test_a_config_that_is_a_folder_or_a_pipe_is_a_config_error(tmp_path):
    import os

    from enso.workspace import Workspace

    (tmp_path / "folder.toml").mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path / "folder.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        Workspace(tmp_path).experiment_path(tmp_path / "folder.toml")
    os.mkfifo(tmp_path / "pipe.toml")
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_config(tmp_path / "pipe.toml")  # would block reading before
    with pytest.raises(ConfigError, match="is not a regular file"):
        Workspace(tmp_path).experiment_path(tmp_path / "pipe.toml")


STAGES = {
    "download": lambda path: ["download", "--experiment", str(path)],
    "featurize": lambda path: ["featurize", str(path)],
    "experiment": lambda path: ["experiment", str(path)],
    "visualize": lambda path: ["visualize", str(path)],
    "run": lambda path: ["run", str(path)],
}


@pytest.mark.parametrize("stage", list(STAGES))
@pytest.mark.parametrize("kind", ["latin-1", "utf-16 with BOM", "utf-16 without BOM", "binary", "folder"])
def test_every_stage_gives_one_error_line_for_a_config_it_cannot_read(tmp_path, stage, kind):
    from click.testing import CliRunner

    from enso.cli import main

    path = tmp_path / "experiments" / "bad.toml"
    path.parent.mkdir()
    if kind == "folder":
        path.mkdir()
    else:
        path.write_bytes(BAD_BYTES[kind][0])
    result = CliRunner().invoke(main, [*STAGES[stage](path), "--root", str(tmp_path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("error:") == 1 and result.stderr.startswith("error:"), result.stderr
    assert "bad.toml" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "results").exists() and not (tmp_path / "datasets").exists()


def test_a_plan_too_big_to_hold_is_refused_before_planning():
    featurizers = [{"name": "tfidf", "min_df": k} for k in range(1, 21)]
    with pytest.raises(ConfigError, match="asks for 2,000,000 cells .* more than 1,000,000"):
        parse(featurizers=featurizers, targets=[f"t{i}" for i in range(10)], train_sizes=list(range(1, 11)),
              resamples=1000)


def test_run_refuses_a_bad_scheduler_before_downloading(tmp_path):
    from click.testing import CliRunner

    from enso.cli import main

    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "t.toml").write_text('datasets = ["TREC"]\n')
    result = CliRunner().invoke(main, ["run", "t", "--scheduler", "localhost:8786", "--offline",
                                       "--root", str(tmp_path)])
    assert result.exit_code == 2 and "--scheduler 'localhost:8786' is not a scheduler address" in result.stderr
    assert not (tmp_path / "datasets").exists()


# --- issue 11: config checks names against the registries it is handed, and imports none itself ---

def test_config_validates_against_the_bundle_it_is_handed_not_a_global():
    import dataclasses
    from typing import ClassVar

    from enso.params import Number
    from enso.registry import Registry

    class Shrunk:
        _parameter_constraints: ClassVar = {"shrink": Number(0, 1)}

        def __init__(self, shrink=0.0):
            self.shrink = shrink

    datasets, targets = Registry("dataset"), Registry("target")
    datasets.register("ToyData", object(), aliases=("toy",))
    targets.register("shrunk", Shrunk)
    toy = dataclasses.replace(bundle(), datasets=datasets, targets=targets)
    config = parse_config({"datasets": ["TOY"], "targets": [{"name": "Shrunk", "shrink": 0.5}]}, toy)
    assert config.datasets == ["ToyData"] and config.targets == [Spec("shrunk", {"shrink": 0.5})]
    with pytest.raises(ConfigError, match="unknown dataset 'PangLeeSentences'"):  # the default registry is not asked
        parse_config({"datasets": ["PangLeeSentences"], "targets": ["shrunk"]}, toy)
    with pytest.raises(ConfigError, match="unknown target 'logreg'"):
        parse_config({"datasets": ["toy"], "targets": ["logreg"]}, toy)
    # the one validator: the registered class's declared constraints, one line, closest names
    with pytest.raises(ConfigError, match=r"^bad parameters for target 'shrunk': shrink must be a number in \[0, 1\], "
                                          "got 2$"):
        parse_config({"datasets": ["toy"], "targets": [{"name": "shrunk", "shrink": 2}]}, toy)
    with pytest.raises(ConfigError, match="unknown parameter of target 'shrunk': 'shrnk'; did you mean 'shrink'"):
        parse_config({"datasets": ["toy"], "targets": [{"name": "shrunk", "shrnk": 2}]}, toy)


def test_without_a_bundle_only_the_structure_is_checked():
    config = parse_config({"datasets": ["NoSuchData"], "featurizers": ["nosuch"], "protocol": "nosuch"}, None)
    assert config.datasets == ["NoSuchData"] and config.featurizers == [Spec("nosuch")] and config.protocol == "nosuch"
    with pytest.raises(ConfigError, match="resamples must be a positive integer"):
        parse_config({"datasets": ["x"], "resamples": 0}, None)


def test_config_keys_are_declared_as_constraints_of_the_one_validator():
    from enso.config import KEY_CONSTRAINTS, KEYS
    from enso.params import Constraint

    assert set(KEY_CONSTRAINTS) == set(KEYS)
    assert all(isinstance(rule, Constraint) for rule in KEY_CONSTRAINTS.values())
    with pytest.raises(ValueError, match="dedupe must be true or false"):  # usable on its own, as for a component
        KEY_CONSTRAINTS["dedupe"].check("dedupe", "yes")


# -- label = "..." on featurizer and target tables ----------------------------------------------

def full(**overrides):
    """Every name and parameter checked against the default registries."""
    return parse_config({**BASE, **overrides}, bundle())


def test_a_label_names_an_entry_and_is_no_parameter_nor_part_of_its_identity():
    config = full(featurizers=[{"name": "tfidf", "ngram_max": 1, "label": "unigrams"}, "tfidf"],
                  targets=["logreg", {"name": "knn", "n_neighbors": 5, "label": "5-nn"}])
    unigrams, plain = config.featurizers
    assert unigrams.label == "unigrams" and unigrams.params == {"ngram_max": 1} and plain.label == "tfidf"
    assert unigrams.id == Spec("tfidf", {"ngram_max": 1}).id and unigrams == Spec("tfidf", {"ngram_max": 1})
    assert config.targets[1].label == "5-nn" and config.targets[1].params == {"n_neighbors": 5}
    assert config.to_dict()["targets"][1] == {"name": "knn", "n_neighbors": 5, "label": "5-nn"}


@pytest.mark.parametrize(("entry", "message"), [
    ({"name": "tfidf", "label": ""}, "the label of 'tfidf' must be a non-empty string"),
    ({"name": "tfidf", "label": 3}, "the label of 'tfidf' must be a non-empty string, got 3"),
    ({"name": "tfidf", "label": " x"}, "starts or ends with spaces"),
    ({"name": "tfidf", "label": "x" * 41}, "is 41 characters long; at most 40 are allowed"),
    ({"name": "tfidf", "label": "a\nb"}, "contains the control character"),
])
def test_a_bad_label_is_one_line_naming_the_entry(entry, message):
    with pytest.raises(ConfigError, match=message) as info:
        full(featurizers=[entry])
    assert "\n" not in str(info.value)


def test_labels_are_unique_across_entries():
    with pytest.raises(ConfigError, match="featurizers: two entries are labelled 'mine'"):
        full(featurizers=[{"name": "tfidf", "label": "mine"}, {"name": "tfidf", "ngram_max": 1, "label": "mine"}])
    with pytest.raises(ConfigError, match=r"targets: two entries are labelled 'KNN' \(knn and logreg\)"):  # another's label
        full(targets=["knn", {"name": "logreg", "label": "KNN"}])


def test_a_model_folder_is_labelled_by_its_folder_name(tmp_path):
    a, b, c, x = (tmp_path / "a" / "model", tmp_path / "b" / "model", tmp_path / "my-bert", tmp_path / "x")
    for folder in (a, b, c, x):  # what hf-encoder checks when a config loads: a folder with config.json
        folder.mkdir(parents=True)
        (folder / "config.json").write_text('{"model_type": "bert"}')
    config = full(featurizers=[{"name": "hf-encoder", "path": str(c)},
                               {"name": "hf-encoder", "path": str(c), "layers": "all"},
                               {"name": "hf-encoder", "path": str(a)}, {"name": "hf-encoder", "path": str(b)},
                               {"name": "hf-encoder", "path": str(x), "label": "given"}])
    assert [f.label for f in config.featurizers] == ["my-bert", "my-bert(layers=all)", "a/model", "b/model", "given"]
    assert config.featurizers[0].id == Spec("hf-encoder", {"path": str(c)}).id  # the label is no identity


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_relabelled_entry_recomputes_nothing_and_the_results_show_the_new_label(tiny_workspace):
    from enso.components import load_config
    from enso.engine import load_results, run_experiment
    from tests.tiny import write_config

    body = 'datasets = ["Tiny"]\ntrain_sizes = [8]\nresamples = 2\nmetrics = ["accuracy"]\n'
    write_config(tiny_workspace, "rel", body + 'featurizers = ["tfidf"]\ntargets = ["logreg", "knn"]\n')
    run_experiment(load_config("rel", tiny_workspace), tiny_workspace)
    cells = sorted(p for p in (tiny_workspace.root / "results" / "rel" / "cells").rglob("cell.json"))
    stamps = {p: p.stat().st_mtime_ns for p in cells}
    features = sorted(p for p in (tiny_workspace.root / "featurizers").rglob("*") if p.is_file())
    write_config(tiny_workspace, "rel", body + 'featurizers = [{ name = "tfidf", label = "TF-IDF" }]\n'
                                              'targets = ["logreg", { name = "knn", label = "k-NN" }]\n')
    config = load_config("rel", tiny_workspace)
    assert run_experiment(config, tiny_workspace, dry_run=True)["to_run"].sum() == 0
    table = run_experiment(config, tiny_workspace)
    assert set(table.featurizer) == {"TF-IDF"} and set(table.target) == {"logreg", "k-NN"}
    assert set(load_results("rel", tiny_workspace).target) == {"logreg", "k-NN"}
    assert {p: p.stat().st_mtime_ns for p in cells} == stamps, "a relabel rewrote a cell"
    assert sorted(p for p in (tiny_workspace.root / "featurizers").rglob("*") if p.is_file()) == features


# -- protocols that do not use a key refuse it ----------------------------------------------------

@pytest.mark.parametrize("protocol", ["mteb", "senteval"])
@pytest.mark.parametrize(("key", "value"), [("train_sizes", [50]), ("resamples", 3), ("samplers", ["random"]),
                                            ("resamplers", ["none"])])
def test_a_key_the_protocol_ignores_is_refused_when_set(protocol, key, value):
    with pytest.raises(ConfigError, match=f"^{key}: protocol {protocol} does not use it .*remove {key}") as info:
        full(protocol=protocol, **{key: value})
    assert "\n" not in str(info.value)


def test_the_protocols_run_when_those_keys_are_left_out_and_enso_takes_them():
    assert full(protocol="mteb").protocol == "mteb"
    assert full(protocol="senteval", protocol_options={"folds": 3}).protocol == "senteval"
    assert full(train_sizes=[50], resamples=3, samplers=["random"]).train_sizes == [50]


def test_an_ignored_key_is_refused_before_any_work_by_the_command(tiny_workspace):
    from tests.cli import enso
    from tests.tiny import write_config

    write_config(tiny_workspace, "m", 'datasets = ["Tiny"]\nprotocol = "mteb"\nresamples = 3\n')
    ran = enso("run", "m", root=tiny_workspace)
    assert ran.code == 2 and ran.errors == [ran.stderr.strip().splitlines()[-1]], ran.output
    assert "resamples: protocol mteb does not use it" in ran.errors[0]
    assert not (tiny_workspace.root / "featurizers").exists() or not any(
        p.is_file() for p in (tiny_workspace.root / "featurizers").rglob("*"))


def test_f1_on_more_than_two_classes_is_refused_before_featurizing(tiny_workspace):
    from enso.components import load_config
    from enso.engine import run_experiment
    from tests.tiny import write_config

    write_config(tiny_workspace, "f", 'datasets = ["Tiny", "Tiny3"]\ntrain_sizes = [8]\nresamples = 1\n'
                                      'metrics = ["accuracy", "f1"]\n')
    with pytest.raises(ConfigError, match="metric f1 is defined for at most 2 classes, but dataset Tiny3 has 3"):
        run_experiment(load_config("f", tiny_workspace), tiny_workspace)
    assert not any(p.is_file() for p in (tiny_workspace.root / "featurizers").rglob("*"))
