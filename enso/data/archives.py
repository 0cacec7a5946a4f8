"""Reading zip and tar archives without trusting their member names.

An archive is refused as a whole when any member would land outside the folder it is
extracted into: a name with a ``..`` part, an absolute path or drive, or a symbolic or
hard link, or a device. Members are read into memory, never extracted to disk.
"""

from __future__ import annotations

import posixpath
import tarfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from enso.errors import EnsoError


class UnsafeArchiveError(EnsoError):
    """An archive member that would escape the extraction folder."""


def _check_name(archive: Path, name: str) -> str:
    problem = None
    windows = PureWindowsPath(name)
    if name.startswith(("/", "\\")) or windows.drive or windows.root:
        problem = "is an absolute path"
    elif ".." in PurePosixPath(name.replace("\\", "/")).parts:
        problem = "climbs out with '..'"
    elif "\x00" in name:
        problem = "contains a NUL byte"
    if problem:
        raise UnsafeArchiveError(
            f"archive {archive.name} has member {name!r} that {problem} and would land outside "
            "its folder; refusing the whole archive (delete it and fetch a trustworthy copy)")
    return posixpath.normpath(name.replace("\\", "/"))


def _is_zip_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return (mode & 0o170000) == 0o120000


class Archive:
    """Members of a zip (``.zip``, ``.whl``) or tar (``.tar``, ``.tar.gz``, ...) file, checked on open."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._members: dict[str, object] = {}
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        try:
            if zipfile.is_zipfile(self.path):
                self._zip = zipfile.ZipFile(self.path)
                for info in self._zip.infolist():
                    name = _check_name(self.path, info.filename)
                    if _is_zip_symlink(info):
                        raise UnsafeArchiveError(
                            f"archive {self.path.name} has member {info.filename!r} that is a symbolic link; "
                            "refusing the whole archive (links can point outside its folder)")
                    if not info.is_dir():
                        self._members[name] = info
            elif tarfile.is_tarfile(self.path):
                self._tar = tarfile.open(self.path)
                for info in self._tar.getmembers():
                    name = _check_name(self.path, info.name)
                    if info.issym() or info.islnk():
                        raise UnsafeArchiveError(
                            f"archive {self.path.name} has member {info.name!r} that is a link to "
                            f"{info.linkname!r}; refusing the whole archive (links can point outside its folder)")
                    if info.isfile():
                        self._members[name] = info
                    elif not info.isdir():
                        raise UnsafeArchiveError(
                            f"archive {self.path.name} has member {info.name!r} that is not a file or folder "
                            "(a device or pipe); refusing the whole archive")
            else:
                raise EnsoError(f"{self.path.name} is neither a zip nor a tar archive")
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            self.close()
            raise EnsoError(f"cannot read archive {self.path.name}: {exc}; delete it and download it again") from exc
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()

    def names(self) -> list[str]:
        return list(self._members)

    def read(self, member: str) -> bytes:
        key = posixpath.normpath(member)
        if key not in self._members:
            close = [n for n in self._members if n.rsplit("/", 1)[-1] == key.rsplit("/", 1)[-1]]
            hint = f"; it has {close[0]!r}" if close else ""
            raise EnsoError(f"archive {self.path.name} has no file {member!r}{hint}")
        info = self._members[key]
        try:
            if self._zip is not None:
                return self._zip.read(info)  # type: ignore[arg-type]
            handle = self._tar.extractfile(info)  # type: ignore[union-attr, arg-type]
            assert handle is not None
            return handle.read()
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise EnsoError(f"cannot read {member!r} from {self.path.name}: {exc}; "
                            "delete the archive and download it again") from exc

