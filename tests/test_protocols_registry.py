"""The protocol registry, and a third-party protocol added through an entry point with no edit to enso.

A package's entry points are read by ``importlib.metadata`` from its ``*.dist-info`` folder on
``sys.path``; a temporary one stands in for an installed test package.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from enso.errors import UnknownNameError
from tests.engine_helpers import write_config

TOY_MODULE = '''
import numpy as np

from enso.protocols import Protocol
from enso.protocols.base import check_min_int


class FirstRows(Protocol):
    """Train on the first ``n`` train rows, in file order; score on the test split."""

    description = "the first n train rows"
    defaults = {"n": 30}
    checks = {"n": check_min_int(6)}

    def build(self, config, dataset, plan):
        from enso.engine.plan import Draw

        options = self.check_options(config.protocol_options)
        rows = dataset.split_index("train")[: options["n"]]
        draw = Draw(dataset.name, "first-rows", len(rows), 0, 0, rows=rows)
        for featurizer in config.featurizers:
            for target in config.targets:
                plan.add_cell(dataset=dataset, featurizer=featurizer, target=target, sampler="first-rows",
                              resampler="none", train_size=len(rows), resample=0, seed=0, draw=draw,
                              test_rows=dataset.split_index("test"), options=options)


not_a_protocol = object()
'''


def toy_package(root, entry_points: str):
    """A package ``toy_protocols`` with a dist-info declaring ``entry_points`` (an entry_points.txt body)."""
    (root / "toy_protocols").mkdir(parents=True)
    (root / "toy_protocols" / "__init__.py").write_text(TOY_MODULE)
    info = root / "toy_protocols-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-protocols\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    return root


def test_the_three_protocols_are_registered_with_a_line_each():
    from enso.protocols import PROTOCOLS, Protocol

    assert PROTOCOLS.names()[:3] == ["enso", "mteb", "senteval"]
    for name in ("enso", "mteb", "senteval"):
        protocol = PROTOCOLS.get(name.upper())
        assert isinstance(protocol, Protocol) and protocol.name == name
        assert protocol.description and "\n" not in protocol.description
    with pytest.raises(UnknownNameError, match="unknown protocol 'mtb'; did you mean 'mteb'"):
        PROTOCOLS.get("mtb")


def test_an_entry_point_may_name_the_class_or_an_instance_and_bad_ones_are_skipped(tmp_path, monkeypatch, caplog):
    from enso.protocols import ProtocolRegistry

    toy_package(tmp_path, """
        [enso.protocols]
        first-rows = toy_protocols:FirstRows
        broken = toy_protocols:Missing
        junk = toy_protocols:not_a_protocol
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ProtocolRegistry("protocol", "enso.protocols")
    with caplog.at_level(logging.WARNING, logger="enso"):
        names = registry.names()
    assert "first-rows" in names and "broken" not in names and "junk" not in names
    protocol = registry.get("First-Rows")
    assert type(protocol).__name__ == "FirstRows" and protocol.name == "first-rows"
    assert protocol.check_options({}) == {"n": 30}
    assert "could not load protocol plug-in 'broken'" in caplog.text
    assert "ignoring protocol plug-in 'junk'" in caplog.text and "not an enso.protocols.Protocol" in caplog.text


@pytest.mark.slow
def test_a_protocol_from_an_entry_point_runs_an_experiment_with_no_edit_to_enso(tmp_path, engine_ws):
    package = toy_package(tmp_path / "site", """
        [enso.protocols]
        first-rows = toy_protocols:FirstRows
    """)
    write_config(engine_ws, "toy", """
        protocol = "first-rows"
        protocol_options = { n = 40 }
        datasets = ["TREC"]
        targets = ["logreg", "nearest-centroid"]
        metrics = ["accuracy"]
        max_examples = 600
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "enso.experiment", "toy", "--root", str(engine_ws.root)],
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr
    table = pd.read_parquet(engine_ws.results_dir("toy") / "results.parquet")
    assert set(table.protocol) == {"first-rows"} and set(table.sampler) == {"first-rows"}
    assert sorted(table.target) == ["logreg", "nearest-centroid"]
    assert (table.train_size == 40).all() and (table.n_train == 40).all()
    # the plug-in's options are checked like a built-in's, before any work
    write_config(engine_ws, "toybad", 'protocol = "first-rows"\nprotocol_options = { n = 2 }\ndatasets = ["TREC"]\n')
    done = subprocess.run([sys.executable, "-m", "enso.experiment", "toybad", "--root", str(engine_ws.root)],
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and last.endswith("protocol_options: n must be an integer >= 6, got 2")


@pytest.fixture
def engine_ws(mirror_url, tmp_path):
    from enso.data import download
    from enso.workspace import Workspace

    workspace = Workspace(tmp_path / "ws")
    (workspace.root / "experiments").mkdir(parents=True)
    download(["TREC"], workspace, mirror=mirror_url)
    return workspace
