"""The four stages through the command line on experiments/smoke.toml, twice."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.cli import enso_process
from tests.engine_helpers import CELL_KEYS

pytestmark = [pytest.mark.network, pytest.mark.slow]


def enso(workspace, *args, timeout=600):
    """``enso ARGS`` in its own process on ``workspace``, which must succeed."""
    result = enso_process(*args, root=workspace, timeout=timeout)
    assert result.code == 0, f"{args} failed:\n{result.stderr[-3000:]}"
    return result


def snapshot(root: Path) -> dict[str, float]:
    """Every file under the stage folders with its modification time."""
    files = {}
    for folder in ("datasets", "featurizers", "results"):
        for path in (root / folder).rglob("*"):
            if path.is_file():
                files[str(path.relative_to(root))] = path.stat().st_mtime_ns
    return files


def manifests(root: Path, folder: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / folder).rglob("manifest.json"))]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from enso.workspace import Workspace
    from tests.conftest import REPO

    root = tmp_path_factory.mktemp("e2e")
    (root / "experiments").mkdir()
    (root / "experiments" / "smoke.toml").write_text((REPO / "experiments" / "smoke.toml").read_text())
    workspace = Workspace(root)
    logs = {}
    for stage, args in (("download", ("download", "PangLeeSentences")),
                        ("featurize", ("featurize", "smoke")),
                        ("experiment", ("experiment", "smoke")),
                        ("visualize", ("visualize", "smoke"))):
        logs[stage] = enso(workspace, *args)
    return workspace, logs


def test_every_stage_writes_its_artifacts(smoke_run):
    workspace, _ = smoke_run
    root = workspace.root
    data = pd.read_parquet(root / "datasets" / "PangLeeSentences" / "data.parquet")
    assert list(data.columns) == ["text", "label", "split"] and len(data) == 4000
    assert (root / "datasets" / "PangLeeSentences" / "card.json").is_file()

    feature_manifests = manifests(root, "featurizers")
    assert len(feature_manifests) == 2, "one feature artifact per featurizer for the one dataset"
    payloads = {name for m in feature_manifests for name in m["files"]}
    assert payloads & {"features.npy", "features.npz"}

    results = root / "results" / "smoke"
    assert (results / "results.parquet").is_file() and (results / "results.csv").is_file()
    assert (results / "run.json").is_file()
    assert (results / "report.html").stat().st_size > 1000
    assert (results / "report.md").stat().st_size > 100
    pngs = list(results.rglob("*.png"))
    assert pngs and all(p.stat().st_size > 5000 for p in pngs)


def test_results_have_one_row_per_cell_and_metric(smoke_run):
    workspace, _ = smoke_run
    frame = pd.read_parquet(workspace.root / "results" / "smoke" / "results.parquet")
    assert not frame.duplicated(CELL_KEYS).any()
    expected = 1 * 2 * 2 * 2 * 2 * 2  # datasets x featurizers x targets x sizes x resamples x metrics
    assert len(frame) == expected
    assert set(frame["featurizer"]) == {"tfidf", "minilm"}
    assert set(frame["target"]) == {"logreg", "knn"}
    assert set(frame["train_size"]) == {20, 50}
    assert set(frame["metric"]) == {"accuracy", "macro_f1"}
    assert frame["value"].between(0, 1).all()
    assert (frame["n_train"] == frame["train_size"]).all()
    csv = pd.read_csv(workspace.root / "results" / "smoke" / "results.csv")
    assert len(csv) == len(frame)
    # A 2-class sentiment task: 50 MiniLM-featurized examples must beat chance clearly.
    minilm = frame[(frame.featurizer == "minilm") & (frame.metric == "accuracy") & (frame.train_size == 50)]
    assert minilm["value"].mean() > 0.6


def test_training_samples_are_paired_across_featurizers_and_targets(smoke_run):
    workspace, _ = smoke_run
    frame = pd.read_parquet(workspace.root / "results" / "smoke" / "results.parquet")
    seeds = frame.groupby(["dataset", "train_size", "resample"])["seed"].nunique()
    assert (seeds == 1).all()


def test_second_run_recomputes_nothing(smoke_run):
    workspace, _ = smoke_run
    before = snapshot(workspace.root)
    before_manifests = manifests(workspace.root, "datasets") + manifests(workspace.root, "featurizers")
    frame_before = pd.read_parquet(workspace.root / "results" / "smoke" / "results.parquet")
    for args in (("download", "PangLeeSentences"), ("featurize", "smoke"), ("experiment", "smoke")):
        enso(workspace, *args)
    after = snapshot(workspace.root)
    assert before_manifests == manifests(workspace.root, "datasets") + manifests(workspace.root, "featurizers")
    changed = {name for name in before if after.get(name) != before[name]}
    new = set(after) - set(before)
    cached_artifacts = {n for n in changed | new if n.startswith(("datasets/", "featurizers/")) or "/cells/" in n}
    assert not cached_artifacts, f"a second run rewrote cached artifacts: {sorted(cached_artifacts)[:5]}"
    frame_after = pd.read_parquet(workspace.root / "results" / "smoke" / "results.parquet")
    pd.testing.assert_frame_equal(frame_before, frame_after)


def test_run_prints_where_the_report_is(smoke_run):
    workspace, _ = smoke_run
    result = enso(workspace, "run", "smoke")
    lines = result.stdout.splitlines()
    assert any(line.startswith("report:") and line.endswith("report.html") for line in lines), result.stdout
    report = Path(next(l for l in lines if l.startswith("report:")).split(None, 1)[1])
    assert report.is_file()
