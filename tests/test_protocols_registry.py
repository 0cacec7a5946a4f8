"""The protocol registry, and a third-party protocol added through an entry point with no edit to enso.

A package's entry points are read by ``importlib.metadata`` from its ``*.dist-info`` folder on
``sys.path``; a temporary one stands in for an installed test package.
"""

from __future__ import annotations

import logging
import os

import pandas as pd
import pytest

from enso.errors import UnknownNameError
from tests.cli import enso_process
from tests.plugins import plugin_package
from tests.tiny import write_config

TOY_MODULE = '''
import numpy as np

from enso.params import Integer
from enso.protocols import Draw, Protocol


class FirstRows(Protocol):
    """Train on the first ``n`` train rows, in file order; score on the test split."""

    description = "the first n train rows"
    defaults = {"n": 30}
    _parameter_constraints = {"n": Integer(6)}

    def build(self, config, dataset, plan):
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
    return plugin_package(root, "toy_protocols", {"__init__.py": TOY_MODULE}, entry_points)


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
    env = {"PYTHONPATH": os.pathsep.join([str(package), os.environ.get("PYTHONPATH", "")])}
    done = enso_process("experiment", "toy", root=engine_ws, env=env)
    assert done.code == 0, done.stderr
    table = pd.read_parquet(engine_ws.results_dir("toy") / "results.parquet")
    assert set(table.protocol) == {"first-rows"} and set(table.sampler) == {"first-rows"}
    assert sorted(table.target) == ["logreg", "nearest-centroid"]
    assert (table.train_size == 40).all() and (table.n_train == 40).all()
    # the plug-in's options are checked like a built-in's, before any work
    write_config(engine_ws, "toybad", 'protocol = "first-rows"\nprotocol_options = { n = 2 }\ndatasets = ["TREC"]\n')
    done = enso_process("experiment", "toybad", root=engine_ws, env=env)
    assert done.code == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and last.endswith("protocol_options: n must be an integer >= 6, got 2")


@pytest.fixture
def engine_ws(real_workspace):
    return real_workspace


def test_protocol_options_are_declared_constraints_checked_by_the_one_validator(monkeypatch):
    """Options are ``enso.params`` constraints, checked by ``validate_params`` (the validator of component
    parameters and config keys) with its messages; a plug-in's plain ``checks`` functions still work."""
    from typing import ClassVar

    import enso.params
    import enso.protocols.base
    from enso.errors import ConfigError
    from enso.params import Constraint, Integer
    from enso.protocols import PROTOCOLS, Protocol
    from enso.protocols.base import check_min_int

    for name in ("mteb", "senteval"):
        constraints = PROTOCOLS.get(name).option_constraints()
        assert set(constraints) == set(PROTOCOLS.get(name).defaults)
        assert all(isinstance(c, Constraint) for c in constraints.values())
    calls = []
    real = enso.params.validate_params
    monkeypatch.setattr(enso.protocols.base, "validate_params", lambda c, p: calls.append(dict(p)) or real(c, p))
    with pytest.raises(ConfigError, match=r"^protocol_options: seed must be an integer <= 4294967295, got 4294967296$"):
        PROTOCOLS.get("mteb").check_options({"seed": 2**32})  # numpy's seed range
    assert calls == [{"seed": 2**32}]

    class Declared(Protocol):
        name = "declared"
        defaults: ClassVar = {"n": 30}
        _parameter_constraints: ClassVar = {"n": Integer(6)}

    class Legacy(Declared):
        name = "legacy"
        _parameter_constraints: ClassVar = {}
        checks: ClassVar = {"n": check_min_int(6)}

    for protocol in (Declared(), Legacy()):
        with pytest.raises(ConfigError, match=r"^protocol_options: n must be an integer >= 6, got 2$"):
            protocol.check_options({"n": 2})
        assert protocol.check_options({"n": 7}) == {"n": 7}
