"""No hidden global: the workspace is passed (library) or made once by the ``enso`` group (CLI), never taken
from the current directory behind the caller's back."""

from __future__ import annotations

import os

import pytest

from enso.workspace import Workspace


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """The current directory is another, empty folder and no ENSO_ROOT is set."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    monkeypatch.delenv("ENSO_ROOT", raising=False)
    return other


@pytest.fixture
def tiny(tmp_path):
    from tests.tiny import tiny_workspace

    return tiny_workspace(tmp_path / "ws", datasets=("Tiny",))


def test_a_config_naming_a_local_dataset_loads_from_any_current_directory(tiny, elsewhere):
    from enso.components import load_config

    config = load_config("tiny", tiny)  # by name, in the workspace's experiments/
    assert config.datasets == ["Tiny"] and config.source == tiny.experiments / "tiny.toml"
    assert load_config(tiny.experiments / "tiny.toml", tiny).datasets == ["Tiny"]
    from enso.data import resolve_dataset

    assert resolve_dataset("tiny", tiny) == "Tiny"
    with pytest.raises(Exception, match="unknown dataset 'tiny'"):  # the current directory is no fallback
        resolve_dataset("tiny", Workspace.resolve(None))


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_load_results_works_from_another_current_directory(tiny, elsewhere):
    from enso.components import load_config
    from enso.engine import run_experiment
    from enso.engine.results import load_results

    config = load_config("tiny", tiny)
    os.chdir(tiny.root)  # run it in the workspace, read it back from elsewhere
    table = run_experiment(config, tiny)
    os.chdir(elsewhere)
    loaded = load_results("tiny", tiny)
    assert len(loaded) == len(table) > 0 and set(loaded["dataset"]) == {"Tiny"}


def _invoke(*args):
    from click.testing import CliRunner

    from enso.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_the_group_makes_the_workspace_and_a_commands_own_root_replaces_it(tiny, elsewhere, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    before = _invoke("download", "--list")  # the current directory: no local dataset
    assert before.exit_code == 0 and "Tiny " not in before.stdout
    for args in (("--root", tiny.root, "download", "--list"),  # the group's option
                 ("download", "--list", "--root", tiny.root),  # the command's
                 ("--root", empty, "download", "--list", "--root", tiny.root)):  # the command's wins
        result = _invoke(*args)
        assert result.exit_code == 0, result.output
        assert any(line.startswith("Tiny ") and line.rstrip().endswith("local") for line in result.stdout.splitlines()), (
            args, result.stdout)
    result = _invoke("--root", tiny.root, "featurize", "tiny")  # a command that names the local dataset
    assert result.exit_code == 0, result.output
    assert "Tiny\t" in result.stdout and str(tiny.featurizers) in result.stdout
    assert not (elsewhere / "featurizers").exists()


def test_enso_root_is_used_when_no_root_is_given(tiny, elsewhere, monkeypatch):
    monkeypatch.setenv("ENSO_ROOT", str(tiny.root))
    result = _invoke("experiment", "tiny", "--dry-run")
    assert result.exit_code == 0, result.output
    assert not (elsewhere / "results").exists()


def test_a_root_that_is_a_file_is_refused_by_the_group_and_by_the_command(tmp_path, elsewhere):
    from click.testing import CliRunner

    from enso.cli import main

    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    for args in (["--root", str(afile), "download", "--list"], ["download", "--list", "--root", str(afile)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and "is a file" in result.stderr, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_verbosity_given_to_the_group_reaches_the_command(tiny, elsewhere):
    quiet = _invoke("-q", "--root", tiny.root, "featurize", "tiny", "--force")
    chatty = _invoke("--root", tiny.root, "featurize", "tiny", "--force")
    assert quiet.exit_code == chatty.exit_code == 0
    assert "enso:" not in quiet.stderr and "enso:" in chatty.stderr, (quiet.stderr, chatty.stderr)


def test_no_command_attaches_a_workspace_to_a_registry(tiny, elsewhere):
    """What the old DATASETS.attach did: a command left its workspace behind in a module global."""
    from enso.data import DATASETS
    from enso.errors import UnknownNameError

    assert _invoke("--root", tiny.root, "download", "--list").exit_code == 0
    assert "Tiny" not in DATASETS.in_workspace(None).names()
    with pytest.raises(UnknownNameError):
        DATASETS.canonical("Tiny")
