"""``python -m enso.download`` end to end: each failure exits non-zero with one line, keeps nothing.

A test dataset is registered whose two files live on a loopback server that fails on
purpose; the real downloader, parser and artifact store run behind the command.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from enso.data import DATASETS, DataFile, DatasetRecord, Format, UrlSource, load_dataset
from enso.errors import ConfigError, EnsoError
from enso.store import read_artifact
from tests.cli import enso
from tests.data_helpers import FaultServer, sha256, tar_with, zip_with

POS = "".join(f"a fine sentence number {i}\n" for i in range(60)).encode()
NEG = "".join(f"a poor sentence number {i}\n" for i in range(40)).encode("latin-1") + b"ends \x85 here\n"


@pytest.fixture
def server():
    with FaultServer() as running:
        yield running


@pytest.fixture
def register():
    added = []

    def add(server, pos_faults=(), *, pos_body=POS, pos_sha=None, encoding="latin-1", rows=101,
            member=None, pos_path="/files/pos.txt", neg_faults=()):
        url_pos = server.add(pos_path, pos_body, *pos_faults)
        url_neg = server.add("/files/neg.txt", NEG, *neg_faults)
        record = DatasetRecord(
            name="FaultyData", aliases=("faulty",), description="test data", license="test", citation="test",
            homepage="http://127.0.0.1/", classes=("negative", "positive"), rows=rows, format=Format("lines"),
            files=(DataFile(UrlSource(url_pos, pos_sha or sha256(pos_body)), member=member, encoding=encoding,
                            label="positive"),
                   DataFile(UrlSource(url_neg, sha256(NEG)), encoding="latin-1", label="negative")))
        DATASETS.register(record.name, record, record.aliases)
        added.append(record.name)
        return record

    yield add
    for name in added:
        DATASETS.unregister(name)


def run(workspace, *args):
    """``enso download`` with short timeouts: what it did, and its ``error:`` lines."""
    ran = enso("download", "--timeout", "0.5", "--retries", "1", *args, root=workspace)
    return ran, ran.errors


def assert_nothing_accepted(workspace):
    location = workspace.dataset_dir("FaultyData")
    assert read_artifact(location) is None
    with pytest.raises(EnsoError, match="not downloaded; run `python -m enso.download FaultyData`"):
        load_dataset("FaultyData", workspace)
    downloads = workspace.datasets / ".downloads"
    verified = [p for p in downloads.iterdir() if not p.name.endswith((".part", ".lock"))] \
        if downloads.is_dir() else []
    assert all(sha256(p.read_bytes())[:12] == p.name[:12] for p in verified)  # only bytes whose checksum held
    assert not list(workspace.datasets.glob(".tmp-*"))


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_500_then_success_and_dropped_connection_succeed(server, register, workspace):
    register(server, ("500",), neg_faults=("drop",))
    result, errors = run(workspace, "faulty")
    assert result.exit_code == 0, result.stderr
    assert errors == []
    assert "HTTP 500" in result.stderr and "connection dropped mid-body" in result.stderr
    dataset = load_dataset("FaultyData", workspace)
    assert len(dataset) == 101 and dataset.frame["text"].str.contains("\x85").sum() == 1
    assert server.hits("/files/neg.txt")[1].startswith("bytes=")


def test_wrong_checksum_fails_with_one_line_naming_file_and_hashes(server, register, workspace):
    register(server, pos_sha="ab" * 32)
    result, errors = run(workspace, "FaultyData")
    assert result.exit_code == 1
    assert len(errors) == 1
    assert "pos.txt" in errors[0] and "ab" * 32 in errors[0] and sha256(POS) in errors[0]
    assert_nothing_accepted(workspace)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_stalled_server_times_out(server, register, workspace):
    record = register(server)
    server.routes["/files/pos.txt"].always = "stall"
    result, errors = run(workspace, "FaultyData")
    assert result.exit_code == 1
    assert len(errors) == 1 and "timed out" in errors[0] and "gave up after 2 attempts" in errors[0]
    assert len(server.hits("/files/pos.txt")) == 2
    assert record.files[0].source.url in errors[0]
    assert_nothing_accepted(workspace)


def test_404_fails_at_once(server, register, workspace):
    register(server, ("404",))
    result, errors = run(workspace, "FaultyData")
    assert result.exit_code == 1
    assert len(errors) == 1 and "HTTP 404" in errors[0]
    assert len(server.hits("/files/pos.txt")) == 1
    assert_nothing_accepted(workspace)


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_failure_keeps_the_dataset_the_user_had(server, register, workspace):
    register(server)
    assert run(workspace, "FaultyData")[0].exit_code == 0
    before = load_dataset("FaultyData", workspace).content_hash
    server.routes["/files/pos.txt"].always = "500"
    result, errors = run(workspace, "--force", "FaultyData")
    assert result.exit_code == 1 and len(errors) == 1 and "HTTP 500" in errors[0]
    assert load_dataset("FaultyData", workspace).content_hash == before


def test_undecodable_bytes_are_refused(server, register, workspace):
    register(server, pos_body=POS + b"caf\xe9\n", encoding="utf-8", rows=102)
    result, errors = run(workspace, "FaultyData")
    assert result.exit_code == 1
    assert len(errors) == 1 and "byte 0xe9" in errors[0] and "not valid utf-8" in errors[0]
    assert_nothing_accepted(workspace)


def test_row_count_mismatch_is_refused(server, register, workspace):
    register(server, rows=100)
    result, errors = run(workspace, "FaultyData")
    assert result.exit_code == 1
    assert len(errors) == 1 and "parsed 101 rows, the record expects 100" in errors[0]
    assert_nothing_accepted(workspace)


@pytest.mark.parametrize("build,suffix", [(zip_with, "zip"), (tar_with, "tar.gz")])
def test_archive_with_escaping_member_is_refused(server, register, workspace, tmp_path, build, suffix):
    archive = build(tmp_path / f"data.{suffix}", {"data/pos.txt": POS, "../../outside.txt": b"owned"})
    register(server, pos_body=archive.read_bytes(), member="data/pos.txt", pos_path=f"/files/data.{suffix}")
    result, errors = run(workspace, "FaultyData")
    assert result.exit_code == 1
    assert len(errors) == 1 and "'../../outside.txt'" in errors[0] and "refusing the whole archive" in errors[0]
    assert not (workspace.root.parent / "outside.txt").exists()
    assert read_artifact(workspace.dataset_dir("FaultyData")) is None


def test_archive_member_is_read_from_a_good_archive(server, register, workspace, tmp_path):
    archive = zip_with(tmp_path / "data.zip", {"data/pos.txt": POS})
    register(server, pos_body=archive.read_bytes(), member="data/pos.txt", pos_path="/files/data.zip")
    result, _ = run(workspace, "FaultyData")
    assert result.exit_code == 0, result.stderr
    assert len(load_dataset("FaultyData", workspace)) == 101


def test_offline_missing_dataset_says_how_to_get_it(workspace):
    result, errors = run(workspace, "--offline", "TREC")
    assert result.exit_code == 1
    assert len(errors) == 1 and "--offline" in errors[0] and "python -m enso.download TREC" in errors[0]


def test_the_library_takes_one_reuse_policy(server, register, workspace):
    from enso.data import download
    from enso.data.downloader import Downloader
    from enso.store import Reuse

    register(server)
    loader = Downloader(timeout=0.5, retries=0, progress=False)
    with pytest.raises(EnsoError, match=r"^dataset FaultyData is not stored and --offline \(only-cached\) forbids "
                                        r"fetching it into .*; run `python -m enso.download FaultyData` first$"):
        download(["faulty"], workspace, reuse="only-cached", downloader=loader)
    assert server.hits("/files/pos.txt") == []  # only-cached asks nothing of the network
    first = download(["faulty"], workspace, downloader=loader)[0]
    assert len(server.hits("/files/pos.txt")) == 1
    assert download(["faulty"], workspace, reuse=Reuse.ONLY_CACHED)[0].content_hash == first.content_hash
    assert download(["faulty"], workspace, downloader=loader)[0].content_hash == first.content_hash
    assert len(server.hits("/files/pos.txt")) == 1  # reuse: stored and verified, not fetched again
    rebuilt = download(["faulty"], workspace, reuse=Reuse.RECOMPUTE, downloader=loader)[0]
    assert len(server.hits("/files/pos.txt")) == 2 and rebuilt.content_hash == first.content_hash
    with pytest.raises(ConfigError, match="reuse must be one of reuse, recompute, only-cached"):
        download(["faulty"], workspace, reuse="sometimes")


def test_unknown_name_exits_2_with_closest_match(workspace):
    result, errors = run(workspace, "Subjectivty")
    assert result.exit_code == 2
    assert len(errors) == 1 and "did you mean 'Subjectivity'" in errors[0]


def test_conflicting_options_exit_2(workspace):
    assert run(workspace, "--list", "TREC")[0].exit_code == 2
    assert run(workspace, "--all", "--info", "TREC")[0].exit_code == 2
    assert run(workspace, "--name", "x")[0].exit_code == 2


def test_list_table_shows_state(server, register, workspace):
    register(server)
    run(workspace, "FaultyData")
    result, _ = run(workspace, "--list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "aliases", "classes", "rows", "license", "test-in-train", "downloaded"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert rows["FaultyData"].endswith("0 (0.0%)  yes") and rows["TREC"].endswith("-  no")
    assert "Banking77" in rows and " 77 " in rows["Banking77"]


def test_info_prints_the_card(workspace):
    result, _ = run(workspace, "--info", "subj")
    assert result.exit_code == 0
    assert result.output.startswith("Subjectivity\n")
    for part in ("license:", "citation:", "sha256 73a2dcf8", "not downloaded", "0x85"):
        assert part in result.output


def test_mirror_from_environment(server, register, workspace, monkeypatch):
    record = register(server)
    real = record.files[0].source.url
    # Upstream answers 404; the mirror named by ENSO_MIRROR has the file at MIRROR/HOST/PATH.
    server.routes["/files/pos.txt"].always = "404"
    mirror = workspace.root / "mirror"
    host_path = real.split("://", 1)[1]
    (mirror / host_path).parent.mkdir(parents=True)
    (mirror / host_path).write_bytes(POS)
    monkeypatch.setenv("ENSO_MIRROR", str(mirror))
    result, _ = run(workspace, "FaultyData")
    assert result.exit_code == 0, result.stderr
    assert server.hits("/files/pos.txt") == []


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_module_help_is_complete_and_fast():
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "enso.download", "--help"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0
    for option in ("--all", "--list", "--info", "--mirror", "ENSO_MIRROR", "--offline", "--experiment", "--csv",
                   "--jsonl", "--parquet", "--text-column", "--label-column", "--drop-empty", "--force", "--root"):
        assert option in done.stdout
    probe = subprocess.run([sys.executable, "-c", "import sys, enso.download; "
                            "print(any(m in sys.modules for m in ('pandas', 'torch', 'requests')))"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert probe.stdout.strip() == "False"


def test_one_failure_among_several_stores_the_others(server, register, workspace, mirror_url):
    register(server, ("404",))
    result, errors = run(workspace, "--mirror", mirror_url, "FaultyData", "CR")
    assert result.exit_code == 1
    assert len(errors) == 1 and errors[0].startswith("error: 1 of 2 datasets failed (1 stored): FaultyData:")
    assert len(load_dataset("CR", workspace)) == 3771
    assert read_artifact(workspace.dataset_dir("FaultyData")) is None


def test_dataset_built_from_an_older_record_is_not_accepted(server, register, workspace):
    import dataclasses

    record = register(server)
    assert run(workspace, "FaultyData")[0].exit_code == 0
    DATASETS.unregister("FaultyData")
    changed = dataclasses.replace(record, format=Format("lines", {}), split=dataclasses.replace(record.split,
                                                                                                 test_fraction=0.3))
    DATASETS.register(changed.name, changed, changed.aliases)
    with pytest.raises(EnsoError, match="built from another version of its record; run `python -m enso.download"):
        load_dataset("FaultyData", workspace)
    listing, _ = run(workspace, "--list")
    assert [line for line in listing.output.splitlines() if line.startswith("FaultyData")][0].endswith("stale")
    result, _ = run(workspace, "FaultyData")
    assert result.exit_code == 0 and "building FaultyData" in result.stderr
    assert (load_dataset("FaultyData", workspace).frame["split"] == "test").sum() == 30


def test_offline_uses_stored_datasets_even_with_force(server, register, workspace):
    register(server)
    assert run(workspace, "FaultyData")[0].exit_code == 0
    server.routes["/files/pos.txt"].always = "500"
    result, errors = run(workspace, "--offline", "--force", "FaultyData")
    assert result.exit_code == 0 and errors == []
    assert "--force does not recompute them" in result.stderr
    assert len(server.requests) == 2  # only the first run's two files


def test_a_download_removes_what_killed_downloads_left(server, register, workspace):
    register(server)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    workspace.datasets.mkdir(parents=True)
    leftovers = [workspace.datasets / f".tmp-FaultyData-{dead.pid}-0123abcd",
                 workspace.datasets / f".old-FaultyData-{dead.pid}-89abcdef"]
    for leftover in leftovers:
        leftover.mkdir()
        (leftover / "data.parquet").write_bytes(b"\0" * 1000)
    live = workspace.datasets / f".tmp-FaultyData-{os.getpid()}-00000000"  # a running writer's: kept
    live.mkdir()
    result, errors = run(workspace, "FaultyData")
    assert result.exit_code == 0 and errors == [], result.stderr
    assert not any(p.exists() for p in leftovers) and live.exists()
    listing, _ = run(workspace, "--list")
    assert ".tmp-" not in listing.output and ".old-" not in listing.output


_RACE = r"""
import pathlib, sys, time
import enso.data.build as build_module

barrier, me, args = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
read_dataset, build = build_module.read_dataset, build_module.build
calls = []

def arrive(*a, **k):
    found = read_dataset(*a, **k)
    if not calls:  # both runs have found nothing stored before either goes on
        calls.append(1)
        (barrier / f"arrived-{me}").touch()
        deadline = time.time() + 30
        while len(list(barrier.glob("arrived-*"))) < 2 and time.time() < deadline:
            time.sleep(0.01)
    return found

def slow_build(*a, **k):
    (barrier / f"build-{me}").touch()
    time.sleep(0.5)
    return build(*a, **k)

build_module.read_dataset, build_module.build = arrive, slow_build
from enso.download import main
main(args, prog_name="enso.download")
"""


def test_two_downloads_of_one_dataset_build_it_once(workspace, mirror_dir, tmp_path):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(barrier), str(i), "--root", str(workspace.root),
                               "--mirror", str(mirror_dir), "CR"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outcomes = [(proc.wait(timeout=120), proc.stdout.read(), proc.stderr.read()) for proc in procs]
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    assert len(list(barrier.glob("build-*"))) == 1, outcomes  # the other run waited and read it
    assert all("3,771 rows" in out for _, out, _ in outcomes)
