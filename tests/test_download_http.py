"""The HTTPS downloader against a loopback server that fails in the ways real networks do."""

from __future__ import annotations

import os

import pytest

from enso.data.downloader import Downloader, mirror_location
from enso.errors import ChecksumError, DownloadError
from tests.data_helpers import FaultServer, sha256

BODY = os.urandom(200_000)
GOOD = sha256(BODY)


@pytest.fixture
def server():
    with FaultServer() as running:
        yield running


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def downloader(sleeps):
    return Downloader(timeout=0.5, retries=3, backoff=0.01, progress=False, sleep=sleeps.append)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_plain_download_is_verified_and_placed(server, downloader, tmp_path):
    url = server.add("/data/file.txt", BODY)
    dest = downloader.fetch(url, tmp_path / "file.txt", sha256=GOOD)
    assert dest.read_bytes() == BODY
    assert leftovers(tmp_path) == ["file.txt"]
    # A verified file is not fetched again.
    downloader.fetch(url, tmp_path / "file.txt", sha256=GOOD)
    assert len(server.hits("/data/file.txt")) == 1


def test_500_then_success_is_retried_with_backoff(server, downloader, sleeps, tmp_path):
    url = server.add("/f", BODY, "500", "503")
    dest = downloader.fetch(url, tmp_path / "f", sha256=GOOD)
    assert dest.read_bytes() == BODY
    assert len(server.hits("/f")) == 3
    assert sleeps == [0.01, 0.02]  # exponential backoff


def test_429_honours_retry_after(server, downloader, sleeps, tmp_path):
    url = server.add("/f", BODY, "429")
    downloader.fetch(url, tmp_path / "f", sha256=GOOD)
    assert sleeps == [0.0]  # the server's Retry-After, not the backoff


def test_dropped_connection_is_resumed_with_range(server, downloader, tmp_path):
    url = server.add("/f", BODY, "drop")
    dest = downloader.fetch(url, tmp_path / "f", sha256=GOOD)
    assert dest.read_bytes() == BODY
    ranges = server.hits("/f")
    assert ranges[0] is None
    resumed_at = int(ranges[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= len(BODY) // 2  # asked only for the rest
    assert leftovers(tmp_path) == ["f"]


def test_server_ignoring_range_restarts_cleanly(server, downloader, tmp_path):
    url = server.add("/f", BODY, "drop", ranges=False)
    dest = downloader.fetch(url, tmp_path / "f", sha256=GOOD)
    assert dest.read_bytes() == BODY  # not half a body followed by the whole one


def test_partial_file_from_an_earlier_run_is_resumed(server, downloader, tmp_path):
    (tmp_path / "f.part").write_bytes(BODY[:1000])
    url = server.add("/f", BODY)
    downloader.fetch(url, tmp_path / "f", sha256=GOOD)
    assert server.hits("/f") == ["bytes=1000-"]
    assert (tmp_path / "f").read_bytes() == BODY


def test_wrong_checksum_names_file_and_hashes_and_keeps_nothing(server, downloader, tmp_path):
    url = server.add("/data/file.txt", BODY)
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as caught:
        downloader.fetch(url, tmp_path / "file.txt", sha256=wrong)
    message = str(caught.value)
    assert "file.txt" in message and wrong in message and GOOD in message
    assert "\n" not in message
    assert leftovers(tmp_path) == []


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_stalled_server_times_out_and_gives_up(server, downloader, sleeps, tmp_path):
    url = server.add("/f", BODY, always="stall")
    with pytest.raises(DownloadError) as caught:
        downloader.fetch(url, tmp_path / "f", sha256=GOOD)
    assert "timed out" in str(caught.value)
    assert "gave up after 4 attempts" in str(caught.value)
    assert len(server.hits("/f")) == 4
    assert not (tmp_path / "f").exists()


def test_404_is_not_retried(server, downloader, sleeps, tmp_path):
    url = server.add("/f", BODY, "404")
    with pytest.raises(DownloadError) as caught:
        downloader.fetch(url, tmp_path / "f", sha256=GOOD)
    assert "HTTP 404" in str(caught.value)
    assert len(server.hits("/f")) == 1
    assert sleeps == []
    assert leftovers(tmp_path) == []


def test_connection_refused_is_retried_then_reported(downloader, sleeps, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError) as caught:
        downloader.fetch(f"http://127.0.0.1:{port}/f", tmp_path / "f", sha256=GOOD)
    assert "connection refused" in str(caught.value)
    assert len(sleeps) == 3


def test_http_mirror_is_tried_before_upstream(server, downloader, tmp_path):
    upstream = "https://example.invalid/some/dir/file.txt"
    server.add("/example.invalid/some/dir/file.txt", BODY)
    dest = downloader.fetch(upstream, tmp_path / "file.txt", sha256=GOOD, mirror=server.url)
    assert dest.read_bytes() == BODY


def test_folder_mirror_and_fallback_to_upstream(server, downloader, tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "127.0.0.1").mkdir(parents=True)
    url = server.add("/f", BODY)
    # Not on the mirror (the host folder lacks the port): upstream is used.
    assert mirror_location(str(mirror), url).startswith(str(mirror / "127.0.0.1:"))
    out = tmp_path / "out"
    out.mkdir()
    downloader.fetch(url, out / "f", sha256=GOOD, mirror=str(mirror))
    assert len(server.hits("/f")) == 1
    # On the mirror: upstream is not asked again.
    target = mirror_location(str(mirror), url)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as handle:
        handle.write(BODY)
    downloader.fetch(url, out / "g", sha256=GOOD, mirror=str(mirror))
    assert len(server.hits("/f")) == 1


def test_corrupt_mirror_copy_falls_back_to_upstream(server, downloader, tmp_path):
    url = server.add("/f", BODY)
    server.add(f"/127.0.0.1:{server.httpd.server_address[1]}/f", b"tampered")
    dest = downloader.fetch(url, tmp_path / "f", sha256=GOOD, mirror=server.url)
    assert dest.read_bytes() == BODY


def test_stale_destination_is_replaced(server, downloader, tmp_path):
    (tmp_path / "f").write_bytes(b"old bytes")
    url = server.add("/f", BODY)
    downloader.fetch(url, tmp_path / "f", sha256=GOOD)
    assert (tmp_path / "f").read_bytes() == BODY


def test_parameters_are_validated():
    with pytest.raises(ValueError):
        Downloader(timeout=0)
    with pytest.raises(ValueError):
        Downloader(retries=-1)


def test_concurrent_fetches_of_one_file_download_it_once(server, tmp_path):
    import threading

    url = server.add("/f", BODY)
    results, errors = [], []

    def fetch():
        try:
            loader = Downloader(timeout=5, retries=0, progress=False)
            results.append(loader.fetch(url, tmp_path / "f", sha256=GOOD).read_bytes())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and results == [BODY] * 4
    assert len(server.hits("/f")) == 1
