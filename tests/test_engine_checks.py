"""Every incompatibility is a one-line config error when the sweep is planned, before any featurization.

Fast tier: tiny in-memory datasets (tests/tiny.py). Each case asserts that no feature artifact
was written, so the error came before the costly work (before, README's own example
``{ name = "minilm", layers = "all" }`` with ``logreg`` featurized MiniLM and then failed).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from enso.components import load_config
from enso.engine import run_experiment
from enso.errors import ConfigError
from tests.cli import enso
from tests.tiny import write_config

BASE = """
datasets = ["Tiny"]
train_sizes = [8]
resamples = 1
metrics = ["accuracy"]
"""


def feature_artifacts(workspace) -> list:
    """Every feature artifact (or one being written) in the workspace."""
    folder = workspace.root / "featurizers"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def register(monkeypatch, registry, name, obj):
    """``obj`` under ``name`` in ``registry`` for one test."""
    monkeypatch.setitem(registry._items, name, obj)
    monkeypatch.setitem(registry._names, name.lower(), name)


def refused(workspace, name: str, body: str, message: str, base: str = BASE) -> str:
    write_config(workspace, name, base + body)
    with pytest.raises(ConfigError, match=message) as info:
        run_experiment(load_config(name, workspace), workspace)
    with pytest.raises(ConfigError, match=message):
        run_experiment(load_config(name, workspace), workspace, dry_run=True)
    assert feature_artifacts(workspace) == [], "the error came after features were computed"
    assert not workspace.results_dir(name).exists()
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_readmes_per_layer_minilm_with_logreg_fails_before_featurizing(tiny_workspace):
    body = 'featurizers = [{ name = "minilm", layers = "all" }]\ntargets = ["logreg", "knn"]\n'
    message = refused(tiny_workspace, "readme", body, "target logreg needs 2-d features, but featurizer "
                                                      r"minilm\(layers=all\) gives \(n, layers, d\)")
    assert "use layer-mix" in message
    ran = enso("experiment", "readme", root=tiny_workspace)
    assert ran.code == 2 and len(ran.errors) == 1 and ran.stderr.strip().splitlines()[-1] == ran.errors[0]
    assert "needs 2-d features" in ran.errors[0]
    assert feature_artifacts(tiny_workspace) == []


def test_a_per_layer_target_on_plain_features_fails_before_featurizing(tiny_workspace):
    refused(tiny_workspace, "mix", 'featurizers = ["tfidf"]\ntargets = ["layer-mix"]\n',
            "target layer-mix needs 3-d features, but featurizer tfidf gives \\(n, d\\).*layers = \"all\"")


def test_sparse_features_for_a_dense_only_target_fail_before_featurizing(tiny_workspace, monkeypatch):
    from enso.targets import TARGETS
    from enso.targets.base import TargetTags

    class DenseOnly(TARGETS.get("nearest-centroid")):
        name = "dense-only"
        tags = TargetTags(accepts_sparse=False, proba=False)

    register(monkeypatch, TARGETS, "dense-only", DenseOnly)
    refused(tiny_workspace, "sparse", 'featurizers = ["tfidf"]\ntargets = ["dense-only"]\n',
            "target dense-only needs dense features, but featurizer tfidf gives sparse ones")


def test_a_target_for_another_task_type_fails_before_featurizing(tiny_workspace, monkeypatch):
    from enso.targets import TARGETS
    from enso.targets.base import TargetTags

    class Tagger(TARGETS.get("nearest-centroid")):
        name = "tagger"
        tags = TargetTags(tasks=("sequence-labelling",), proba=False)

    register(monkeypatch, TARGETS, "tagger", Tagger)
    refused(tiny_workspace, "task", 'featurizers = ["tfidf"]\ntargets = ["tagger"]\n',
            "target tagger fits sequence-labelling tasks, but dataset Tiny is a classification task")


def test_a_metric_for_another_task_type_fails_before_featurizing(tiny_workspace, monkeypatch):
    import dataclasses

    from enso.metrics import METRICS

    span_f1 = dataclasses.replace(METRICS.get("accuracy"), name="span_f1_toy", tasks=("sequence-labelling",))
    register(monkeypatch, METRICS, "span_f1_toy", span_f1)
    write_config(tiny_workspace, "metric", BASE.replace('["accuracy"]', '["accuracy", "span_f1_toy"]')
                 + 'featurizers = ["tfidf"]\n')
    with pytest.raises(ConfigError, match="metric span_f1_toy applies to sequence-labelling tasks, but dataset "
                                          "Tiny is a classification task"):
        run_experiment(load_config("metric", tiny_workspace), tiny_workspace)
    assert feature_artifacts(tiny_workspace) == []


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_protocols_own_target_is_checked_too(tiny_workspace):
    """mteb fits its own LogisticRegression: per-layer features are refused for it, not for the config's targets."""
    body = 'protocol = "mteb"\nprotocol_options = { samples_per_label = 2, n_experiments = 1 }\n' \
           'featurizers = [{ name = "minilm", layers = "all" }]\ntargets = ["layer-mix"]\n'
    # mteb draws its own samples: a config setting train_sizes or resamples for it is refused (tests/test_config.py)
    refused(tiny_workspace, "mteb", body, "target sklearn.linear_model:LogisticRegression.* needs 2-d features",
            base='datasets = ["Tiny"]\nmetrics = ["accuracy"]\n')


class FineTune:
    """Stands for a fine-tuning target in config checks (``input = "texts"``)."""

    @staticmethod
    def register(monkeypatch):
        from enso.params import Seed
        from enso.targets import TARGETS, Target
        from enso.targets.base import SourceFeaturizer, TargetTags

        class Tune(Target):
            name = "tune"
            tags = TargetTags(input="texts", accepts_sparse=False)
            _parameter_constraints: ClassVar = {"source": SourceFeaturizer(), "random_state": Seed()}

            def __init__(self, source="minilm", random_state=None):
                self.source = source
                self.random_state = random_state

        register(monkeypatch, TARGETS, "tune", Tune)
        return Tune


def test_a_fine_tuning_target_naming_a_featurizer_not_in_the_experiment_is_refused(tiny_workspace, monkeypatch):
    FineTune.register(monkeypatch)
    message = refused(tiny_workspace, "source", 'featurizers = ["tfidf"]\ntargets = [{ name = "tune", source = '
                                                '"minilm" }]\n', "source = 'minilm' is not a featurizer of this "
                                                                  "experiment")
    assert "(tfidf)" in message


def test_a_fine_tuning_target_pairs_only_with_the_featurizer_it_names(tiny_workspace, monkeypatch):
    FineTune.register(monkeypatch)
    write_config(tiny_workspace, "pairs", BASE + 'featurizers = ["tfidf", "minilm"]\n'
                                                 'targets = ["logreg", { name = "tune", source = "minilm" }]\n')
    plan = run_experiment(load_config("pairs", tiny_workspace), tiny_workspace, dry_run=True)
    groups = set(zip(plan.featurizer, plan.target))
    assert groups == {("tfidf", "logreg"), ("minilm", "logreg"), ("minilm", "tune(source=minilm)")}
    assert feature_artifacts(tiny_workspace) == []


def test_check_features_catches_a_featurizer_whose_output_ndim_is_wrong(tiny_workspace):
    from enso.config import Spec
    from enso.engine.checks import check_features
    from enso.errors import EnsoError

    with pytest.raises(EnsoError, match="declares 2-d features .* gave 3-d ones"):
        check_features(Spec("tfidf"), type("D", (), {"name": "Tiny"})(), np.zeros((2, 3, 4), dtype=np.float32))


def test_a_feature_sampler_on_a_sequence_dataset_fails_before_featurizing(tmp_path):
    # kcenter picks rows by one feature row each; a sequence dataset's features are per token, so it would
    # have read token rows as if they were sentences
    from enso.data.conll import import_conll
    from enso.workspace import Workspace

    lines = []
    for i in range(30):
        lines += [f"Word{i} B-PER", "likes O", ""] if i % 2 else [f"w{i} O", "here O", ""]
    path = tmp_path / "mine.conll"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    workspace = Workspace(tmp_path / "ws")
    import_conll(path, workspace, name="MyNER", scheme="IOB2")
    base = ('datasets = ["MyNER"]\ntrain_sizes = [8]\nresamples = 1\nmetrics = ["span_f1"]\n'
            'featurizers = ["word-shape"]\ntargets = ["token-logreg"]\n')
    refused(workspace, "kc-seq", 'samplers = ["kcenter"]\n',
            'sampler kcenter picks sentences by one feature row each, but dataset MyNER is a sequence-labelling '
            'task', base=base)
