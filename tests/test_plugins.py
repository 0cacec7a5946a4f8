"""A toy protocol and a toy target from a package of their own, registered through entry points, run end
to end through the command line on a tiny dataset: adding either is a new module and an entry point,
with no edit to enso (issue 11)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.cli import enso_process
from tests.plugins import plugin_env, plugin_package
from tests.tiny import tiny_workspace, write_config

TOY = '''
import numpy as np

from enso.params import Integer, Number
from enso.protocols import Draw, Protocol
from enso.targets import Target
from enso.targets.base import COMMON_CONSTRAINTS, TargetTags


class FirstRows(Protocol):
    """Train on the first ``n`` train rows, in file order; score on the test split."""

    description = "the first n train rows, scored on the test split"
    defaults = {"n": 12}
    _parameter_constraints = {"n": Integer(4)}

    def build(self, config, dataset, plan):
        options = self.check_options(config.protocol_options)
        rows = dataset.split_index("train")[: options["n"]]
        draw = Draw(dataset.name, "first-rows", len(rows), 0, 0, rows=rows)
        for featurizer in config.featurizers:
            for target in config.targets:
                plan.add_cell(dataset=dataset, featurizer=featurizer, target=target, sampler="first-rows",
                              resampler="none", train_size=len(rows), resample=0, seed=0, draw=draw,
                              test_rows=dataset.split_index("test"), options=options)


class NearestMean(Target):
    """The class whose mean training vector is nearest (its own name left unset: the entry point names it)."""

    tags = TargetTags(proba=False)
    _parameter_constraints = {**COMMON_CONSTRAINTS, "shrink": Number(0, 1)}

    def __init__(self, shrink=0.0, resampler="none", random_state=None):
        self.shrink = shrink
        self.resampler = resampler
        self.random_state = random_state

    def fit(self, X, y, *, validation=None):
        self._validate_params()
        X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        centre = X.mean(axis=0)
        self.means_ = np.stack([(1 - self.shrink) * X[y == c].mean(axis=0) + self.shrink * centre
                                for c in self.classes_])
        self.n_fit_ = len(y)
        self.chosen_params_ = {"search": "none", "shrink": self.shrink}
        return self

    def decision_function(self, X):
        X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
        return -((X[:, None, :] - self.means_[None, :, :]) ** 2).sum(axis=2)

    def predict(self, X):
        return self.classes_[self.decision_function(X).argmax(axis=1)]
'''

ENTRY_POINTS = """
    [enso.protocols]
    first-rows = toy_plugins:FirstRows

    [enso.targets]
    nearest-mean = toy_plugins:NearestMean
"""


@pytest.fixture
def toy(tmp_path):
    """A tiny workspace, and the environment of a process that has the toy plug-ins installed."""
    site = plugin_package(tmp_path / "site", "toy_plugins", {"__init__.py": TOY}, ENTRY_POINTS)
    return tiny_workspace(tmp_path / "ws", datasets=("Tiny",)), plugin_env(site)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_toy_protocol_and_target_from_entry_points_run_end_to_end(toy):
    workspace, env = toy
    write_config(workspace, "toy", """
        protocol = "first-rows"
        protocol_options = { n = 12 }
        datasets = ["Tiny"]
        featurizers = ["tfidf"]
        targets = ["nearest-mean", { name = "Nearest-Mean", shrink = 0.5 }, "logreg"]
        metrics = ["accuracy", "macro_f1"]
    """)
    ran = enso_process("run", "toy", root=workspace, env=env)
    assert ran.code == 0, ran.output
    table = pd.read_parquet(workspace.results_dir("toy") / "results.parquet")
    assert set(table.protocol) == {"first-rows"} and set(table.sampler) == {"first-rows"}
    assert set(table.target) == {"nearest-mean", "nearest-mean(shrink=0.5)", "logreg"}, set(table.target)
    assert (table.train_size == 12).all() and (table.n_train == 12).all()
    toy_rows = table[table.target.str.startswith("nearest-mean") & (table.metric == "accuracy")]
    assert len(toy_rows) == 2 and (toy_rows.value > 0.6).all(), toy_rows  # Tiny's classes are learnable
    assert (workspace.results_dir("toy") / "report.html").is_file()
    assert "report:" in ran.stdout


BAD = {  # a config line -> the one error line it gives
    'protocol_options = { n = 2 }': "protocol_options: n must be an integer >= 4, got 2",
    'protocol_options = { m = 8 }': "protocol_options: 'm' is not an option of protocol 'first-rows'",
    'targets = [{ name = "nearest-mean", shrink = 2 }]': "bad parameters for target 'nearest-mean': shrink must",
    'targets = [{ name = "nearest-mean", shrnk = 0.1 }]': "did you mean 'shrink'?",
    'targets = ["nearest-man"]': "unknown target 'nearest-man'; did you mean 'nearest-mean'?",
}

#: One child process runs every bad config in-process (a process per config would cost seconds each).
DRIVER = """
import json, sys
from click.testing import CliRunner
from enso.cli import main

out = {}
for name in sys.argv[1:]:
    result = CliRunner().invoke(main, ["experiment", name] if name != "--list" else ["experiment", "--list"])
    out[name] = [result.exit_code, result.stdout, result.stderr]
print(json.dumps(out))
"""


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_the_plugins_are_listed_and_their_parameters_checked_like_a_builtins_before_any_work(toy):
    import json
    import subprocess
    import sys

    from tests.cli import process_env

    workspace, env = toy
    names = []
    for number, line in enumerate(BAD):
        key = line.split(" ", 1)[0]
        body = {"protocol": 'protocol = "first-rows"', "datasets": 'datasets = ["Tiny"]', key: line}
        write_config(workspace, f"bad{number}", "\n".join(body.values()) + "\n")
        names.append(f"bad{number}")
    done = subprocess.run([sys.executable, "-c", DRIVER, "--list", *names], env=process_env(workspace, env),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    ran = json.loads(done.stdout.splitlines()[-1])
    code, listing, _ = ran["--list"]
    assert code == 0 and "nearest-mean" in listing and "first-rows" in listing
    assert "the first n train rows" in listing
    for name, (line, message) in zip(names, BAD.items()):
        code, _, stderr = ran[name]
        errors = [error for error in stderr.splitlines() if error.startswith("error:")]
        assert code == 2 and len(errors) == 1 and message in errors[0], (line, stderr)
        assert not workspace.results_dir(name).exists()
    assert not workspace.featurizers.exists()  # refused before any work
