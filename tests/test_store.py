import json

import pytest

from enso.hashing import file_sha256, stable_hash
from enso.store import (
    MANIFEST,
    artifact_lock,
    atomic_path,
    clean_temporaries,
    is_temporary,
    read_artifact,
    read_fileset,
    write_artifact,
    write_fileset,
    write_text_atomic,
)


def make(location, key="k1", payload=b"hello", meta=None):
    with write_artifact(location, key=key, kind="test", params={"a": 1}, inputs={"data": "abc"}) as writer:
        (writer.path / "payload.bin").write_bytes(payload)
        writer.meta.update(meta or {})
    return location


def test_written_artifact_reads_back_with_full_manifest(tmp_path):
    location = make(tmp_path / "art", meta={"shape": [2, 3]})
    artifact = read_artifact(location, "k1")
    assert artifact is not None
    manifest = artifact.manifest
    assert manifest["key"] == "k1" and manifest["kind"] == "test"
    assert manifest["params"] == {"a": 1} and manifest["inputs"] == {"data": "abc"}
    assert manifest["meta"] == {"shape": [2, 3]}
    assert manifest["files"]["payload.bin"] == {"sha256": file_sha256(location / "payload.bin"), "size": 5}
    assert "numpy" in manifest["versions"] and "python" in manifest["versions"]
    assert manifest["created"].endswith("+00:00")
    assert artifact.file("payload.bin").read_bytes() == b"hello"
    with pytest.raises(KeyError):
        artifact.file("other")


def test_manifest_is_the_last_file_written(tmp_path, monkeypatch):
    """While the payload is being written the artifact folder does not exist at its location."""
    location = tmp_path / "art"
    with write_artifact(location, key="k", kind="test") as writer:
        (writer.path / "payload.bin").write_bytes(b"x")
        assert not location.exists()
        assert not (writer.path / MANIFEST).exists()
    assert (location / MANIFEST).is_file()


def test_failed_write_leaves_nothing_and_keeps_the_old_artifact(tmp_path):
    location = make(tmp_path / "art", payload=b"old")
    with pytest.raises(RuntimeError), write_artifact(location, key="k2", kind="test") as writer:
        (writer.path / "payload.bin").write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert read_artifact(location, "k1").file("payload.bin").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art", "art.lock"]  # the lock file stays, by design


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest", "no-manifest"])
def test_damaged_artifact_reads_as_absent(tmp_path, damage, caplog):
    location = make(tmp_path / "art")
    payload = location / "payload.bin"
    if damage == "truncate":
        payload.write_bytes(b"hell")
    elif damage == "flip":
        payload.write_bytes(b"jello")
    elif damage == "delete":
        payload.unlink()
    elif damage == "manifest":
        (location / MANIFEST).write_text("{not json")
    else:
        (location / MANIFEST).unlink()
    with caplog.at_level("WARNING", logger="enso"):
        assert read_artifact(location, "k1") is None
    assert caplog.records, "a broken artifact must be reported, not silently ignored"


def test_stale_key_reads_as_absent_and_rewrite_replaces_it(tmp_path):
    location = make(tmp_path / "art", key="old-inputs")
    assert read_artifact(location, "new-inputs") is None
    make(location, key="new-inputs", payload=b"new")
    assert read_artifact(location, "new-inputs").file("payload.bin").read_bytes() == b"new"
    assert read_artifact(location, "old-inputs") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art", "art.lock"]


def test_missing_location_is_absent(tmp_path):
    assert read_artifact(tmp_path / "nothing", "k") is None


def test_write_text_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "sub" / "a.json"
    write_text_atomic(path, json.dumps({"a": 1}))
    write_text_atomic(path, json.dumps({"b": 2}))
    assert json.loads(path.read_text()) == {"b": 2}
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]


def test_stable_hash_ignores_key_order_and_sees_values():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
    assert stable_hash({"a": 1}) != stable_hash({"a": 1.5})


# --- concurrency, temporaries, file sets, damaged manifests (issue 10) ---

def _write_many(args):
    """One process writing the same artifact again and again; returns the errors it met."""
    location, rounds = args
    errors = []
    for i in range(rounds):
        try:
            with write_artifact(location, key="same", kind="test") as writer:
                (writer.path / "payload.bin").write_bytes(b"same payload" * 100)
                (writer.path / "sub").mkdir()
                (writer.path / "sub" / "more.txt").write_text("x")
        except Exception as exc:  # noqa: BLE001 - the test reports every failure
            errors.append(f"{type(exc).__name__}: {exc}")
    return errors


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_concurrent_writers_of_one_artifact_all_succeed(tmp_path):
    """Several processes writing one artifact at once: no writer fails, the result verifies, nothing is left."""
    import multiprocessing

    location = tmp_path / "art"
    with multiprocessing.get_context("fork").Pool(6) as pool:  # before the lock: about 1 in 100 failed
        errors = [e for errs in pool.map(_write_many, [(location, 100)] * 6) for e in errs]
    assert errors == [], f"{len(errors)} of 600 writes failed, e.g. {errors[:3]}"
    artifact = read_artifact(location, "same")
    assert artifact is not None and artifact.file("sub/more.txt").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) in (["art"], ["art", "art.lock"])


def test_temporary_names_carry_the_writers_pid(tmp_path):
    import os
    import re

    seen = []
    with write_artifact(tmp_path / "art", key="k", kind="test") as writer:
        seen.append(writer.path.name)
    with atomic_path(tmp_path / "file.txt") as temp:
        seen.append(temp.name)
        temp.write_text("x")
    assert re.fullmatch(rf"\.tmp-art-{os.getpid()}-[0-9a-f]{{8}}", seen[0]), seen
    assert re.fullmatch(rf"\.tmp-file\.txt-{os.getpid()}-[0-9a-f]{{8}}", seen[1]), seen
    assert is_temporary(seen[0]) and is_temporary(".old-art-1-abcdef12")
    assert not is_temporary("art") and not is_temporary("tmp-art") and not is_temporary(".tmpfile")


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


def test_clean_temporaries_removes_only_what_dead_writers_left(tmp_path):
    import os
    import time

    dead, live = _dead_pid(), os.getpid()
    (tmp_path / f".tmp-features-{dead}-0123abcd").mkdir()
    (tmp_path / f".tmp-features-{dead}-0123abcd" / "features.npy").write_bytes(b"0" * 1000)
    (tmp_path / f".old-art-{dead}-89abcdef").mkdir()
    (tmp_path / f".tmp-results.csv-{dead}-00000000").write_text("half")
    (tmp_path / f".tmp-busy-{live}-11111111").write_text("in progress")  # a live writer's
    old_pidless = tmp_path / ".tmp-old-format-22222222"
    old_pidless.write_text("old")
    hours_ago = time.time() - 2 * 3600
    os.utime(old_pidless, (hours_ago, hours_ago))
    (tmp_path / ".tmp-fresh-33333333").write_text("recent, no pid")
    (tmp_path / "kept").mkdir()
    nested = tmp_path / "kept" / f".tmp-cell.json-{dead}-44444444"
    nested.write_text("{")
    target = tmp_path / "outside.txt"
    target.write_text("must survive")
    (tmp_path / f".tmp-link-{dead}-55555555").symlink_to(target)

    assert clean_temporaries(tmp_path) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".tmp-busy-{live}-11111111", ".tmp-fresh-33333333", "kept", "outside.txt"])
    assert nested.exists() and target.read_text() == "must survive"
    assert clean_temporaries(tmp_path, recursive=True) == 1
    assert not nested.exists()
    assert clean_temporaries(tmp_path / "missing") == 0


def test_artifact_lock_is_reentrant_in_a_process_and_excludes_others(tmp_path):
    import subprocess
    import sys

    location = tmp_path / "art"
    probe = ("import sys, filelock; from enso.store import artifact_lock\n"
             "try:\n    artifact_lock(sys.argv[1]).acquire(timeout=0.2)\n"
             "except filelock.Timeout:\n    print('busy')\nelse:\n    print('free')\n")
    with artifact_lock(location):
        with artifact_lock(location):  # a caller holding it around check-then-build
            make(location)  # write_artifact takes it again: no deadlock
        other = subprocess.run([sys.executable, "-c", probe, str(location)], capture_output=True, text=True,
                               timeout=60, check=False)
        assert other.stdout.strip() == "busy", other.stderr
    other = subprocess.run([sys.executable, "-c", probe, str(location)], capture_output=True, text=True, timeout=60,
                           check=False)
    assert other.stdout.strip() == "free", other.stderr
    assert (tmp_path / "art.lock").is_file() and read_artifact(location, "k1") is not None


def test_fileset_round_trip_writes_the_manifest_last(tmp_path):
    folder = tmp_path / "results"
    seen = []

    def write_a(path):
        seen.append((folder / "set.manifest.json").exists())
        path.write_text("alpha")

    written = write_fileset(folder, "set.manifest.json", {"a.txt": write_a, "b.bin": lambda p: p.write_bytes(b"\0b")},
                            key="k1", kind="table", meta={"rows": 2})
    assert seen == [False]
    fileset = read_fileset(folder, "set.manifest.json", "k1")
    assert fileset is not None and fileset.manifest["files"] == written.manifest["files"]
    assert fileset.file("a.txt").read_text() == "alpha" and fileset.meta == {"rows": 2}
    assert fileset.manifest["kind"] == "table" and "python" in fileset.manifest["versions"]
    assert read_fileset(folder, "set.manifest.json") is not None
    assert read_fileset(folder, "set.manifest.json", "other") is None
    (folder / "unrelated.txt").write_text("not part of the set")
    assert read_fileset(folder, "set.manifest.json", "k1") is not None
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock")) == [
        "a.txt", "b.bin", "set.manifest.json", "unrelated.txt"]


def test_a_fileset_never_written_is_absent_without_a_warning(tmp_path, caplog):
    (tmp_path / "cells").mkdir()  # a results folder before its first table
    with caplog.at_level("WARNING", logger="enso"):
        assert read_fileset(tmp_path, "set.manifest.json") is None
    assert not caplog.records


def test_fileset_with_a_changed_file_reads_as_absent(tmp_path, caplog):
    folder = tmp_path / "results"
    write_fileset(folder, "set.manifest.json", {"a.txt": lambda p: p.write_text("0.596")}, key="k", kind="table")
    (folder / "a.txt").write_text("0.597")
    with caplog.at_level("WARNING", logger="enso"):
        assert read_fileset(folder, "set.manifest.json", "k") is None
    assert "sha256" in caplog.text


def test_a_failed_fileset_write_leaves_no_manifest_and_no_temporaries(tmp_path):
    folder = tmp_path / "results"
    write_fileset(folder, "set.manifest.json", {"a.txt": lambda p: p.write_text("old")}, key="k", kind="table")

    def crash(path):
        path.write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_fileset(folder, "set.manifest.json", {"a.txt": lambda p: p.write_text("new"), "b.txt": crash},
                      key="k2", kind="table")
    assert read_fileset(folder, "set.manifest.json") is None
    assert not [p for p in folder.iterdir() if is_temporary(p.name)]
    with pytest.raises(ValueError, match="plain file name"):
        write_fileset(folder, "set.manifest.json", {"../x": lambda p: p.write_text("x")}, key="k", kind="t")


@pytest.mark.parametrize("manifest", [
    "[]",
    '"a string"',
    "null",
    '{"key": "k1"}',
    '{"key": "k1", "files": ["payload.bin"]}',
    '{"key": "k1", "files": {"payload.bin": "abc"}}',
    '{"key": "k1", "files": {"payload.bin": {"size": "5", "sha256": "%s"}}}',
    '{"key": "k1", "files": {"payload.bin": {"size": 5}}}',
    '{"key": 7, "files": {}}',
    '{"key": "k1", "files": {}, "meta": []}',
    '{"key": "k1", "files": {"../../outside.bin": {"size": 5, "sha256": "%s"}}}',
    "[" * 100_000 + "]" * 100_000,
    b"\xff\xfe{\x00}\x00",
])
def test_a_manifest_of_the_wrong_shape_reads_as_absent_with_a_warning(tmp_path, manifest, caplog):
    location = make(tmp_path / "art")
    digest = file_sha256(location / "payload.bin")
    if isinstance(manifest, bytes):
        (location / MANIFEST).write_bytes(manifest)
    else:
        (location / MANIFEST).write_text(manifest.replace("%s", digest))
    (tmp_path / "outside.bin").write_bytes(b"hello")
    with caplog.at_level("WARNING", logger="enso"):
        assert read_artifact(location, "k1") is None
        assert read_artifact(location) is None
    assert "broken manifest" in caplog.text


def test_waiting_for_another_writer_is_said_once(tmp_path, caplog):
    import subprocess
    import sys
    import time

    location = tmp_path / "art"
    holder = subprocess.Popen([sys.executable, "-c", ("import sys, time; from enso.store import artifact_lock\n"
                               "with artifact_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(0.5)\n"),
                               str(location)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    with caplog.at_level("INFO", logger="enso"), artifact_lock(location):
        assert time.monotonic() - started > 0.3  # got it only once the holder let go
    holder.wait(timeout=60)
    assert [r.getMessage() for r in caplog.records] == [f"waiting for {location}: another enso process is writing it"]


# --- issue 11: one reuse policy; no lock file beside an artifact whose writer holds a covering lock ---

def test_write_artifact_without_its_own_lock_leaves_no_lock_file(tmp_path):
    cells = tmp_path / "cells"
    for key in ("a", "b", "c"):
        with write_artifact(cells / key, key=key, kind="cell", lock=False) as writer:
            (writer.path / "payload.bin").write_bytes(key.encode())
    assert sorted(p.name for p in cells.iterdir()) == ["a", "b", "c"]  # before: a.lock, b.lock, c.lock beside them
    assert all(read_artifact(cells / key, key) is not None for key in "abc")
    with write_artifact(cells / "a", key="a2", kind="cell", lock=False) as writer:  # replacing works too
        (writer.path / "payload.bin").write_bytes(b"new")
    assert read_artifact(cells / "a", "a2") is not None and not (cells / "a.lock").exists()
    make(cells / "d")  # the default still locks
    assert (cells / "d.lock").is_file()


def test_reuse_policy_from_flags_and_names(caplog):
    from enso.errors import ConfigError
    from enso.store import Reuse

    assert Reuse.from_flags() is Reuse.REUSE
    assert Reuse.from_flags(force=True) is Reuse.RECOMPUTE
    assert Reuse.from_flags(offline=True) is Reuse.ONLY_CACHED
    assert Reuse.from_flags(force=True, offline=True) is Reuse.ONLY_CACHED
    assert "--force does not recompute" in caplog.text
    assert [Reuse.parse(v) for v in ("reuse", "RECOMPUTE", "only_cached", "only-cached", Reuse.REUSE)] == [
        Reuse.REUSE, Reuse.RECOMPUTE, Reuse.ONLY_CACHED, Reuse.ONLY_CACHED, Reuse.REUSE]
    with pytest.raises(ConfigError, match="reuse must be one of reuse, recompute, only-cached, got 'force'"):
        Reuse.parse("force")
    assert (Reuse.REUSE.reads, Reuse.REUSE.computes) == (True, True)
    assert (Reuse.RECOMPUTE.reads, Reuse.RECOMPUTE.computes) == (False, True)
    assert (Reuse.ONLY_CACHED.reads, Reuse.ONLY_CACHED.computes) == (True, False)


def test_a_missing_artifact_under_only_cached_is_one_line_naming_the_command():
    from enso.errors import EnsoError
    from enso.store import missing

    error = missing("features tfidf on TREC", "enso featurize default")
    assert isinstance(error, EnsoError) and error.exit_code == 1
    assert str(error) == ("features tfidf on TREC are not stored and --offline (only-cached) forbids computing it; "
                          "run `enso featurize default` first")
    assert str(missing("dataset TREC", "enso download TREC")).startswith("dataset TREC is not stored")
