"""Fetching one file over HTTP(S) the way a package manager would.

The body streams into ``<dest>.part`` with progress on stderr (``enso.progress``). Connection errors,
timeouts, HTTP 429 and 5xx are retried with exponential backoff (``Retry-After`` is
honoured, capped); other 4xx answers, 404 included, fail at once. A retry after a
dropped connection asks for the rest with an HTTP Range request and appends when the
server answers 206. The finished file is checked against its sha256 and only then
renamed to ``dest``; a mismatch deletes it and names the file, the expected and the
actual hash. A lock file beside the download (``filelock``) keeps two runs from writing one file.
A mirror (an ``http(s)://`` base or a local folder holding ``HOST/PATH``) is tried
before the upstream address.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from enso.errors import ChecksumError, DownloadError
from enso.hashing import file_sha256

log = logging.getLogger(__name__)

_CHUNK = 1 << 16
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0


def mirror_location(mirror: str, url: str) -> str:
    """Where ``https://HOST/PATH`` lies in ``mirror``: ``MIRROR/HOST/PATH``."""
    parts = urlsplit(url)
    relative = f"{parts.netloc}{parts.path}"
    if mirror.startswith(("http://", "https://")):
        return f"{mirror.rstrip('/')}/{relative}"
    return str(Path(mirror).expanduser() / relative)


class _NotFound(Exception):
    """An answer that retrying cannot change (404 and other 4xx)."""


class _Transient(Exception):
    """A failure worth retrying, possibly after ``wait`` seconds."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


@dataclass
class Downloader:
    """Streams files over HTTP(S); parameters only, the work happens in ``fetch``.

    ``timeout`` is the connect and the per-read timeout in seconds; ``retries`` is how many
    times a transient failure is retried; waits are ``backoff * 2**attempt`` seconds.
    """

    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0
    progress: bool | None = None  # None or True: enso.progress (a bar on a terminal, log lines elsewhere); False: none
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")
        if self.retries < 0:
            raise ValueError(f"retries must be zero or more, got {self.retries}")
        if self.backoff < 0:
            raise ValueError(f"backoff must be zero or more, got {self.backoff}")

    def fetch(self, url: str, dest: str | Path, *, sha256: str, mirror: str | None = None,
              reuse=True) -> Path:
        """``dest`` holding the verified bytes of ``url``.

        A verified ``dest`` is kept as is unless ``reuse`` is False (or ``Reuse.RECOMPUTE``);
        then it is replaced only once the new copy has been fetched and verified.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        from enso.store import Reuse, artifact_lock

        if isinstance(reuse, Reuse):
            reuse = reuse.reads
        with artifact_lock(dest):  # <dest>.lock: two runs never write one partial file
            return self._fetch_locked(url, dest, sha256=sha256, mirror=mirror, reuse=reuse)

    def _fetch_locked(self, url: str, dest: Path, *, sha256: str, mirror: str | None, reuse: bool) -> Path:
        if dest.is_file() and reuse:
            if file_sha256(dest) == sha256:
                return dest
            log.warning("%s does not match its sha256; downloading it again", dest)
            dest.unlink()
        elif dest.is_file():
            log.info("fetching %s again (--force)", dest.name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        candidates = ([mirror_location(mirror, url)] if mirror else []) + [url]
        failures = []
        for location in candidates:
            try:
                if location.startswith(("http://", "https://")):
                    self._fetch_http(location, dest, sha256)
                else:
                    self._copy_local(location, dest, sha256)
                return dest
            except ChecksumError as exc:
                failures.append(exc)
                if location != url:
                    log.warning("mirror copy is wrong (%s); trying upstream", exc)
            except DownloadError as exc:
                failures.append(exc)
                if location != url:
                    log.info("not on the mirror (%s); trying upstream", exc)
        checksum = [f for f in failures if isinstance(f, ChecksumError)]
        if checksum:
            raise checksum[0]
        detail = "; ".join(str(f) for f in failures)
        raise DownloadError(f"could not fetch {urlsplit(url).path.rsplit('/', 1)[-1]}: {detail}")

    def _copy_local(self, location: str, dest: Path, sha256: str) -> None:
        source = Path(location)
        if not source.is_file():
            raise DownloadError(f"{source} does not exist")
        part = _part(dest)
        try:
            shutil.copyfile(source, part)
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise DownloadError(f"cannot copy {source}: {exc.strerror}") from exc
        _verify_and_place(part, dest, sha256, location)

    def _fetch_http(self, url: str, dest: Path, sha256: str) -> None:
        import requests
        import urllib3

        part = _part(dest)
        attempt = 0
        with requests.Session() as session:
            session.headers["User-Agent"] = "enso-downloader (+https://pypi.org/project/enso)"
            while True:
                try:
                    self._stream(session, url, part)
                    break
                except _NotFound as exc:
                    part.unlink(missing_ok=True)
                    raise DownloadError(f"{url}: {exc}") from None
                except _Transient as exc:
                    reason, wait = str(exc), exc.wait
                except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                        urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
                    reason, wait = _describe(exc), None
                if attempt >= self.retries:
                    raise DownloadError(f"{url}: {reason}; gave up after {attempt + 1} attempts "
                                        "(check the network, or pass --mirror)") from None
                wait = self.backoff * 2 ** attempt if wait is None else min(wait, MAX_RETRY_AFTER)
                attempt += 1
                have = part.stat().st_size if part.exists() else 0
                log.warning("%s: %s; retry %d of %d in %.1fs%s", url, reason, attempt, self.retries, wait,
                            f" (resuming at byte {have})" if have else "")
                self.sleep(wait)
        _verify_and_place(part, dest, sha256, url)

    def _stream(self, session, url: str, part: Path) -> None:
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-", "Accept-Encoding": "identity"} if have else {"Accept-Encoding": "identity"}
        with session.get(url, stream=True, timeout=(self.timeout, self.timeout), headers=headers) as response:
            status = response.status_code
            if status == 416 and have:
                # The partial file is already whole (or wrong): start over once, cleanly.
                part.unlink(missing_ok=True)
                raise _Transient("server refused the resume range; restarting from byte 0", wait=0.0)
            if status in RETRY_STATUS:
                raise _Transient(f"HTTP {status} {response.reason}", _retry_after(response))
            if status >= 400:
                raise _NotFound(f"HTTP {status} {response.reason}")
            if status == 206 and have:
                mode, offset = "ab", have
            else:
                mode, offset = "wb", 0
                if have:
                    log.info("%s: server ignored the resume range; downloading from the start", url)
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length and length.isdigit() else None
            with open(part, mode) as handle, _progress(self.progress, total, offset, part.name[:-5]) as bar:
                # read1 hands over bytes as they arrive, so a dropped connection loses none
                # of what came before it and the resume asks only for the rest.
                while chunk := response.raw.read1(_CHUNK):
                    handle.write(chunk)
                    bar.update(len(chunk))
            size = part.stat().st_size
            if total is not None and size < total:
                raise _Transient(f"connection closed after {size} of {total} bytes")


def _part(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _verify_and_place(part: Path, dest: Path, sha256: str, location: str) -> None:
    actual = file_sha256(part)
    if actual != sha256:
        part.unlink(missing_ok=True)
        raise ChecksumError(f"{dest.name} from {location} has sha256 {actual}, expected {sha256}; "
                            "the download was deleted (the source changed or is corrupt)")
    os.replace(part, dest)


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _describe(exc: Exception) -> str:
    import requests

    text = str(exc)
    if isinstance(exc, (requests.Timeout, TimeoutError)) or "timed out" in text:
        return "timed out"
    if isinstance(exc, ConnectionResetError) or "IncompleteRead" in text or "Connection broken" in text or "ChunkedEncodingError" in type(exc).__name__:
        return "connection dropped mid-body"
    if "NameResolution" in text or "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "cannot resolve the host name"
    if "Connection refused" in text:
        return "connection refused"
    return f"connection failed ({type(exc).__name__})"


def _progress(enabled: bool | None, total: int | None, initial: int, desc: str):
    """A byte bar on a terminal, a log line every few seconds elsewhere (``enso.progress``); False: none."""
    from enso.progress import bar

    return bar(total, desc, "B", initial=initial, unit_scale=True, enabled=enabled is not False)
