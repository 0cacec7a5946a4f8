"""Import-path targets (issue 10): reading a config never runs code, and scikit-learn classifiers still work."""

from __future__ import annotations

import sys
import textwrap
from importlib import metadata

import numpy as np
import pytest

from enso.errors import ConfigError
from enso.sampling import SAMPLERS
from enso.targets import make_target, with_seed
from tests.engine_helpers import tfidf_matrices


@pytest.fixture(scope="module")
def trec_tfidf(shared_datasets):
    return tfidf_matrices(shared_datasets)


def test_a_config_cannot_start_a_process_or_run_a_shell_command(tmp_path):
    popen_marker, system_marker = tmp_path / "popen-ran", tmp_path / "system-ran"
    with pytest.raises(ConfigError, match="'subprocess' is not one, so it was not imported"):
        make_target("subprocess:Popen", {"args": ["touch", str(popen_marker)]})
    with pytest.raises(ConfigError, match="'os' is not one"):
        make_target("os:system", {"command": f"touch {system_marker}"})
    assert not popen_marker.exists() and not system_marker.exists()


def test_a_module_outside_the_allow_list_is_never_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "booby_trap.py").write_text(textwrap.dedent(f"""
        from pathlib import Path
        Path({str(marker)!r}).touch()
        from sklearn.svm import LinearSVC as Classifier
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="must come from sklearn"):
        make_target("booby_trap:Classifier", {})
    assert not marker.exists() and "booby_trap" not in sys.modules


@pytest.mark.parametrize("path, message", [
    ("sklearn.decomposition:PCA", "is not a scikit-learn classifier"),
    ("sklearn.linear_model:Ridge", "is not a scikit-learn classifier"),
    ("sklearn.svm:LinearSVC.fit", "write an import path as 'package.module:Class'"),
    ("sklearn.svm.._base:LinearSVC", "write an import path"),
    ("sklearn.utils:check_array", "is not a class"),
])
def test_only_scikit_learn_classifier_classes_are_accepted(path, message):
    with pytest.raises(ConfigError, match=message):
        make_target(path, {})


def test_a_target_plugin_package_is_allowed(tmp_path, monkeypatch):
    package = tmp_path / "enso_toy_targets"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent("""
        from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
        from sklearn.dummy import DummyClassifier

        class Registered(DummyClassifier):
            pass

        class Other(DummyClassifier):
            pass

        class NotAClassifier(TransformerMixin, BaseEstimator):
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = metadata.EntryPoint("toy", "enso_toy_targets:Registered", "enso.targets")
    real = metadata.entry_points

    def entry_points(**selection):
        return [entry] if selection.get("group") == "enso.targets" else real(**selection)

    monkeypatch.setattr("enso.targets.external.metadata.entry_points", entry_points)
    target = make_target("enso_toy_targets:Other", {"strategy": "prior"})
    assert target.fit(np.zeros((4, 1)), ["a", "b", "b", "b"]).predict(np.zeros((1, 1)))[0] == "b"
    with pytest.raises(ConfigError, match="not a scikit-learn classifier"):
        make_target("enso_toy_targets:NotAClassifier", {})


def test_linear_svc_by_import_path_still_works_with_the_target_contract(trec_tfidf):
    X_train, y_train, X_test, y_test = trec_tfidf
    rows = SAMPLERS.get("random").sample(y_train, 300, np.random.default_rng(3))
    target = make_target("sklearn.svm:LinearSVC", {"C": 0.5, "random_state": 4, "resampler": "oversample"})
    assert target.name == "sklearn.svm:LinearSVC"
    assert target.get_params(deep=False) == {"estimator_path": "sklearn.svm:LinearSVC", "params": {"C": 0.5},
                                             "random_state": 4, "resampler": "oversample"}
    target.fit(X_train[rows], y_train[rows], validation=(X_test[:10], y_test[:10]))
    assert target.model_.random_state == 4 and target.model_.C == 0.5
    assert target.n_fit_ == np.unique(y_train[rows], return_counts=True)[1].max() * 6  # resampled before its fit
    assert np.mean(target.predict(X_test) == y_test) > 0.5  # TREC test: 0.19 for the majority class
    assert target.scores(X_test)[0] == "decision" and target.chosen_params_ == {"search": "fixed"}
    # the engine's seed reaches an estimator that takes one, unless the config set it
    seeded = with_seed(make_target("sklearn.ensemble:ExtraTreesClassifier", {"n_estimators": 5}), 11, {})
    assert seeded.fit(X_train[rows], y_train[rows]).model_.random_state == 11
    kept = make_target("sklearn.ensemble:ExtraTreesClassifier", {"n_estimators": 5, "random_state": 2})
    assert with_seed(kept, 11, {"random_state": 2}).fit(X_train[rows], y_train[rows]).model_.random_state == 2
