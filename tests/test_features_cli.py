"""``enso featurize``: filters, listing, errors before work, and a second run that computes nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.cli import enso

CONFIG = """
name = "feat"
datasets = ["SST2"]
featurizers = ["tfidf", {{ name = "tfidf", ngram_max = 1 }}, "glove-6b-50d"{extra}]
targets = ["logreg"]
max_examples = 400
"""


@pytest.fixture(scope="module")
def sst2_workspace(tmp_path_factory, real_root):
    """The session's real datasets with a feature cache of its own (the tests count what is computed)."""
    from enso.workspace import Workspace

    workspace = Workspace(tmp_path_factory.mktemp("featurize-cli"))
    (workspace.root / "datasets").symlink_to(real_root / "datasets", target_is_directory=True)
    (workspace.root / "experiments").mkdir()
    (workspace.root / "experiments" / "feat.toml").write_text(CONFIG.format(extra=""))
    (workspace.root / "experiments" / "typo.toml").write_text(CONFIG.format(extra=', "glove-6b-5d"'))
    (workspace.root / "experiments" / "badparam.toml").write_text(
        CONFIG.format(extra=', { name = "word2vec", algorithm = "skip-gram" }'))
    return workspace


def invoke(workspace, *args):
    return enso("featurize", *args, root=workspace, catch_exceptions=False)


def feature_files(workspace) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in workspace.featurizers.rglob("*") if p.is_file()}


def test_featurize_then_rerun_computes_nothing(sst2_workspace):
    first = invoke(sst2_workspace, "feat")
    assert first.exit_code == 0, first.output
    lines = first.stdout.strip().splitlines()
    assert len(lines) == 3 and all("computed" in line for line in lines)
    manifests = sorted(sst2_workspace.featurizers.rglob("manifest.json"))
    assert len(manifests) == 3
    for path in manifests:
        manifest = json.loads(path.read_text())
        assert manifest["meta"]["rows"] == 400 and manifest["meta"]["dataset"] == "SST2"
    before = feature_files(sst2_workspace)
    second = invoke(sst2_workspace, "feat", "-v")
    assert second.exit_code == 0
    assert all("cached" in line for line in second.stdout.strip().splitlines())
    assert "3 cached, 0 computed" in second.stderr
    assert feature_files(sst2_workspace) == before


def test_filters_pick_a_subset(sst2_workspace):
    result = invoke(sst2_workspace, "feat", "--featurizers", "glove", "--datasets", "sst-2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and "glove-6b-50d-" in lines[0]
    path = lines[0].split("\t")[-1]
    X = np.load(path, mmap_mode="r", allow_pickle=False)
    assert X.shape == (400, 50) and X.dtype == np.float32


def test_filter_naming_something_not_in_the_config_is_refused(sst2_workspace):
    result = invoke(sst2_workspace, "feat", "--featurizers", "minilm")
    assert result.exit_code == 2
    assert "not in experiment 'feat'" in result.stderr
    result = invoke(sst2_workspace, "feat", "--datasets", "TREC")
    assert result.exit_code == 2 and "TREC" in result.stderr


@pytest.mark.parametrize("config, message", [
    ("typo", "unknown featurizer 'glove-6b-5d'; did you mean 'glove-6b-50d'?"),
    ("badparam", "algorithm must be one of 'skipgram', 'cbow'"),
])
def test_config_errors_stop_before_any_work(sst2_workspace, config, message):
    before = feature_files(sst2_workspace)
    result = invoke(sst2_workspace, config, "--force")
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert feature_files(sst2_workspace) == before


def test_cuda_on_a_machine_without_one_is_a_clear_error(sst2_workspace, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # runs on GPU machines too
    config = sst2_workspace.root / "experiments" / "minilm.toml"
    config.write_text('name = "minilm"\ndatasets = ["SST2"]\nfeaturizers = ["minilm"]\nmax_examples = 50\n')
    result = invoke(sst2_workspace, "minilm", "--device", "cuda")
    assert result.exit_code == 2 and "no CUDA device" in result.stderr


def test_list_shows_every_featurizer_with_parameters():
    result = enso("featurize", "--list")
    assert result.exit_code == 0
    for name in ("tfidf", "glove-6b-50d", "static-vectors", "word2vec", "fasttext", "doc2vec", "minilm",
                 "hf-encoder", "random-encoder"):
        assert f"\n{name}" in "\n" + result.stdout
    assert "ngram_max=2" in result.stdout and "path=<required>" in result.stdout


def test_help_is_complete_and_fast():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "enso.featurize", "--help"],
                            capture_output=True, text=True, check=True)
    for option in ("--datasets", "--featurizers", "--device", "--batch-size", "--precision", "--list", "--force",
                   "--root"):
        assert option in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not imported & {"torch", "transformers", "gensim", "sklearn", "pandas"}


_STUCK = r"""
import sys, time
import numpy as np
from enso.features import FEATURIZERS, Featurizer

class Stuck(Featurizer):
    '''Fills its full-size features.npy, then hangs until killed.'''
    def featurize_into(self, texts, allocate, progress=None):
        out = allocate((len(texts), 64))
        out[...] = 1.0
        print("written", flush=True)
        time.sleep(300)
        return out

FEATURIZERS.register("stuck", Stuck)
from enso.featurize import main
main(sys.argv[1:])
"""


@pytest.mark.slow
def test_a_killed_featurize_leaves_nothing_after_the_next_run(sst2_workspace, tmp_path):
    import signal

    config = sst2_workspace.root / "experiments" / "stuck.toml"
    config.write_text('name = "stuck"\ndatasets = ["SST2"]\nfeaturizers = ["stuck"]\ntargets = ["logreg"]\n'
                      'max_examples = 400\n')
    proc = subprocess.Popen([sys.executable, "-c", _STUCK, "stuck", "--root", str(sst2_workspace.root)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written", proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    left = [p for p in sst2_workspace.featurizers.rglob(".tmp-*")]
    assert left and any((p / "features.npy").is_file() for p in left)  # what the kill left behind
    result = invoke(sst2_workspace, "feat")
    assert result.exit_code == 0, result.output
    assert list(sst2_workspace.featurizers.rglob(".tmp-*")) == [] and list(sst2_workspace.featurizers.rglob(".old-*")) == []
