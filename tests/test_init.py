"""``enso init [DIR]``: a workspace with the shipped default config and a commented example; never replaces a file."""

from __future__ import annotations

import tomllib
from pathlib import Path

from enso.init import EXAMPLE, EXAMPLE_MARK, FALLBACK_DEFAULT
from tests.cli import enso

REPO = Path(__file__).resolve().parents[1]


def test_init_writes_the_shipped_default_and_a_commented_example_and_prints_next_steps(tmp_path):
    root = tmp_path / "bench"
    ran = enso("init", root)
    assert ran.code == 0, ran.output
    assert (root / "experiments" / "default.toml").read_bytes() == (REPO / "experiments" / "default.toml").read_bytes()
    example = (root / "experiments" / "mine.toml").read_text()
    assert example == EXAMPLE
    assert tomllib.loads(example) == {}, "every line of the example is a comment until the user edits it"
    assert "next steps:" in ran.stdout and f"--root {root.resolve()} run default" in ran.stdout
    assert "download --csv" in ran.stdout and "compare" in ran.stdout


def test_the_example_uncommented_is_a_valid_config_for_ones_own_csv_and_model(tmp_path):
    from enso.components import load_config
    from enso.workspace import Workspace
    from tests.tiny import tiny_workspace

    ws = tiny_workspace(tmp_path / "ws", datasets=("Tiny",))
    model = tmp_path / "my-model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    after = EXAMPLE.split("#" + EXAMPLE_MARK + "\n", 1)[1]
    text = "\n".join(line.removeprefix("# ") for line in after.splitlines()).replace('"Reviews"', '"Tiny"').replace("/path/to/my-model", str(model))
    text = text.replace("{ Reviews = 3000 }", "")
    path = ws.experiments / "mine.toml"
    path.write_text(text)
    config = load_config("mine", Workspace(ws.root))
    assert [f.label for f in config.featurizers] == ["my-model", "minilm", "tfidf"]
    assert [t.label for t in config.targets] == ["logreg", "5-nn"]
    assert config.datasets == ["Tiny"] and config.resamples == 10


def test_init_refuses_to_replace_an_existing_file_with_one_line(tmp_path):
    root = tmp_path / "bench"
    (root / "experiments").mkdir(parents=True)
    (root / "experiments" / "mine.toml").write_text("datasets = ['TREC']\n")
    ran = enso("init", root)
    assert ran.code == 2 and len(ran.errors) == 1 and ran.stderr.strip() == ran.errors[0], ran.output
    assert "mine.toml exists; enso init never replaces a file" in ran.errors[0]
    assert not (root / "experiments" / "default.toml").exists(), "nothing written when one file is in the way"
    assert (root / "experiments" / "mine.toml").read_text() == "datasets = ['TREC']\n"
    assert enso("init", tmp_path / "other").code == 0
    assert enso("init", tmp_path / "other").code == 2  # a second init of the same folder


def test_init_without_dir_uses_the_workspace_root(tmp_path):
    ran = enso("init", root=tmp_path / "ws")
    assert ran.code == 0, ran.output
    assert (tmp_path / "ws" / "experiments" / "default.toml").is_file()


def test_the_fallback_default_is_the_shipped_config():
    """An installed wheel has no experiments/ beside the package: the copy it falls back to is the same config."""
    assert tomllib.loads(FALLBACK_DEFAULT) == tomllib.loads((REPO / "experiments" / "default.toml").read_text())
