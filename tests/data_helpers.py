"""A loopback HTTP server that misbehaves on purpose, and small builders for test archives."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Route:
    """What the server does for one path; ``faults`` are used up one request at a time.

    A fault is one of ``"500"``, ``"503"``, ``"429"``, ``"404"``, ``"drop"`` (send the
    headers and half the body, then close), ``"stall"`` (send the headers, then wait far
    longer than any client timeout). When no fault is left the body is served, honouring
    ``Range`` unless ``ranges`` is False.
    """

    body: bytes
    faults: list[str] = field(default_factory=list)
    ranges: bool = True
    always: str | None = None  # a fault repeated on every request


class FaultServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.stop = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002
                pass

            def do_GET(self):  # noqa: N802
                server.requests.append((self.path, self.headers.get("Range")))
                route = server.routes.get(self.path)
                if route is None:
                    return self._status(404)
                fault = route.always or (route.faults.pop(0) if route.faults else None)
                if fault in ("500", "503", "404"):
                    return self._status(int(fault))
                if fault == "429":
                    return self._status(429, {"Retry-After": "0"})
                body, start = route.body, 0
                range_header = self.headers.get("Range")
                if route.ranges and range_header and range_header.startswith("bytes="):
                    start = int(range_header[6:].split("-")[0])
                    if start >= len(body):
                        return self._status(416)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Accept-Ranges", "bytes" if route.ranges else "none")
                self.end_headers()
                if fault == "drop":
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if fault == "stall":
                    self.wfile.write(payload[:10])
                    self.wfile.flush()
                    server.stop.wait(30)
                    self.close_connection = True
                    return
                self.wfile.write(payload)

            def _status(self, code: int, headers: dict[str, str] | None = None):
                message = f"status {code}\n".encode()
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                self.wfile.write(message)

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # clients that hang up on a stalled or dropped response are expected here

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def add(self, path: str, body: bytes, *faults: str, ranges: bool = True, always: str | None = None) -> str:
        self.routes[path] = Route(body, list(faults), ranges, always)
        return self.url + path

    def hits(self, path: str) -> list[str | None]:
        return [rng for p, rng in self.requests if p == path]

    def __enter__(self) -> "FaultServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        time.sleep(0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zip_with(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, target)
    return path


def tar_with(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None,
             hardlinks: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for kind, links in ((tarfile.SYMTYPE, symlinks or {}), (tarfile.LNKTYPE, hardlinks or {})):
            for name, target in links.items():
                info = tarfile.TarInfo(name)
                info.type = kind
                info.linkname = target
                archive.addfile(info)
    return path
