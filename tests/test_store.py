import json

import pytest

from enso.hashing import file_sha256, stable_hash
from enso.store import MANIFEST, read_artifact, write_artifact, write_text_atomic


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
    with pytest.raises(RuntimeError):
        with write_artifact(location, key="k2", kind="test") as writer:
            (writer.path / "payload.bin").write_bytes(b"half")
            raise RuntimeError("crash mid-write")
    assert read_artifact(location, "k1").file("payload.bin").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]


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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]


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
