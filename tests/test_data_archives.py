"""Archives whose members would escape their folder are refused; good ones are read in memory."""

from __future__ import annotations


import pytest

from enso.data.archives import Archive, UnsafeArchiveError
from enso.errors import EnsoError
from tests.data_helpers import tar_with, zip_with

GOOD = {"pkg/data/a.csv": b"1,hello\n", "pkg/data/b.txt": b"x"}


@pytest.mark.parametrize("build", [zip_with, tar_with], ids=["zip", "tar"])
def test_good_archive_members_are_read_in_memory(tmp_path, build):
    path = build(tmp_path / "good.archive", GOOD)
    with Archive(path) as archive:
        assert sorted(archive.names()) == sorted(GOOD)
        assert archive.read("pkg/data/a.csv") == b"1,hello\n"
        with pytest.raises(EnsoError, match="has no file 'pkg/a.csv'; it has 'pkg/data/a.csv'"):
            archive.read("pkg/a.csv")


@pytest.mark.parametrize("build", [zip_with, tar_with], ids=["zip", "tar"])
@pytest.mark.parametrize("evil", ["../escape.txt", "pkg/../../escape.txt", "/etc/evil", "C:\\evil.txt"])
def test_escaping_member_refuses_the_whole_archive(tmp_path, build, evil):
    path = build(tmp_path / "evil.archive", {**GOOD, evil: b"owned"})
    with pytest.raises(UnsafeArchiveError) as caught:
        Archive(path)
    assert repr(evil) in str(caught.value)


def test_zip_symlink_is_refused(tmp_path):
    path = zip_with(tmp_path / "link.zip", GOOD, symlinks={"pkg/passwd": "/etc/passwd"})
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        Archive(path)


@pytest.mark.parametrize("kind", ["symlinks", "hardlinks"])
def test_tar_links_are_refused(tmp_path, kind):
    path = tar_with(tmp_path / "link.tar.gz", GOOD, **{kind: {"pkg/passwd": "/etc/passwd"}})
    with pytest.raises(UnsafeArchiveError, match="link to '/etc/passwd'"):
        Archive(path)


def test_not_an_archive_is_a_clear_error(tmp_path):
    path = tmp_path / "plain.whl"
    path.write_bytes(b"not an archive at all")
    with pytest.raises(EnsoError, match="neither a zip nor a tar"):
        Archive(path)
