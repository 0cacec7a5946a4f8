import subprocess
import sys
import textwrap

import pytest

from enso.config import Spec, load_config, parse_config
from enso.errors import ConfigError

BASE = {"name": "t", "datasets": ["PangLeeSentences"]}


def parse(**overrides):
    return parse_config({**BASE, **overrides}, validate_names=False)


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
        parse_config({"name": "t"}, validate_names=False)


def test_toml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("datasets = [\n")
    with pytest.raises(ConfigError, match="broken.toml: not valid TOML"):
        load_config(path)


def test_repo_configs_are_valid():
    from tests.conftest import REPO

    for path in sorted((REPO / "experiments").glob("*.toml")):
        config = load_config(path)
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
    result = subprocess.run([sys.executable, "-m", "enso.experiment", str(config), "--root", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    error_lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0], result.stderr
    assert not (tmp_path / "results").exists()


def test_unknown_dataset_is_rejected_by_the_cli(tmp_path):
    config = tmp_path / "typo.toml"
    config.write_text('datasets = ["PangLeeSentence"]\n')
    result = subprocess.run([sys.executable, "-m", "enso.featurize", str(config), "--root", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "unknown dataset 'PangLeeSentence'; did you mean 'PangLeeSentences'?" in result.stderr


def test_a_bad_protocol_option_is_rejected_when_the_config_loads(tmp_path):
    path = tmp_path / "mteb.toml"
    path.write_text('datasets = ["TREC"]\nprotocol = "mteb"\nprotocol_options = { kk = 8 }\n')
    with pytest.raises(ConfigError, match="'kk' is not an option of protocol 'mteb'"):
        load_config(path)
