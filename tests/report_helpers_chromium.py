"""Open a page in headless Chromium over the DevTools protocol (on a pipe, no extra packages).

``open_page(path)`` loads the file, waits for the load event, and returns the console
messages, uncaught exceptions, log entries, requested URLs, a full-page PNG screenshot, and
answers to a few JavaScript questions about the page.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
         "--remote-debugging-pipe", "--window-size=1280,1600")


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageVisit:
    console: list[dict] = field(default_factory=list)      # Runtime.consoleAPICalled params
    exceptions: list[dict] = field(default_factory=list)   # Runtime.exceptionThrown params
    log_entries: list[dict] = field(default_factory=list)  # Log.entryAdded params["entry"]
    requests: list[str] = field(default_factory=list)      # every URL the page asked for
    screenshot: bytes = b""
    answers: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        found = [f"console.{m.get('type')}: {_args_text(m)}" for m in self.console
                 if m.get("type") in ("error", "assert", "warning")]
        found += [f"exception: {e.get('exceptionDetails', {}).get('text')}" for e in self.exceptions]
        found += [f"log {e.get('source')} {e.get('level')}: {e.get('text')}" for e in self.log_entries
                  if e.get("level") in ("error", "warning")]
        return found


def _args_text(message: dict) -> str:
    return " ".join(str(a.get("value", a.get("description", ""))) for a in message.get("args", []))


class _Pipe:
    def __init__(self, process: subprocess.Popen, write_fd: int, read_fd: int, timeout: float):
        self.process = process
        self.write_fd = write_fd
        self.read_fd = read_fd
        self.deadline = time.monotonic() + timeout
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        for index, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(index)
        while True:
            event = self._read()
            if event.get("method") == method:
                return event
            self.events.append(event)

    def drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.read_fd], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                break
            self.events.append(self._read())

    def _read(self) -> dict:
        while b"\0" not in self.buffer:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self.read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium closed the DevTools pipe (exit code {self.process.poll()})")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)


def open_page(path: Path, *, executable: str | None = None, timeout: float = 60.0,
              questions: dict[str, str] | None = None) -> PageVisit:
    executable = executable or find_chromium()
    if executable is None:
        raise FileNotFoundError("chromium")
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()

    def plumb():  # Chromium reads commands on fd 3 and writes replies on fd 4
        high_r = os.dup(to_child_r) if to_child_r < 5 else to_child_r
        high_w = os.dup(from_child_w) if from_child_w < 5 else from_child_w
        os.dup2(high_r, 3)
        os.dup2(high_w, 4)

    with tempfile.TemporaryDirectory(prefix="enso-chromium-") as profile:
        process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=plumb, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        pipe = _Pipe(process, to_child_w, from_child_r, timeout)
        visit = PageVisit()
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page", "Network"):
                pipe.send(f"{domain}.enable", session=session)
            pipe.send("Emulation.setDeviceMetricsOverride",
                      {"width": 1280, "height": 1600, "deviceScaleFactor": 1, "mobile": False}, session=session)
            pipe.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
            pipe.wait_for("Page.loadEventFired")
            pipe.drain(0.5)
            for name, expression in (questions or {}).items():
                result = pipe.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                   session=session)
                visit.answers[name] = result.get("result", {}).get("value")
            shot = pipe.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False},
                             session=session)
            visit.screenshot = base64.b64decode(shot["data"])
            pipe.drain(0.2)
        finally:
            try:
                pipe.send("Browser.close")
            except Exception:
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            os.close(to_child_w)
            os.close(from_child_r)
        for event in pipe.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                visit.console.append(params)
            elif method == "Runtime.exceptionThrown":
                visit.exceptions.append(params)
            elif method == "Log.entryAdded":
                visit.log_entries.append(params.get("entry", {}))
            elif method == "Network.requestWillBeSent":
                visit.requests.append(params.get("request", {}).get("url", ""))
        return visit
