"""Progress of long loops: a bar on a terminal, a log line every few seconds elsewhere.

Every stage uses :func:`bar` (or :func:`track` around an iterable)::

    with progress.bar(len(tasks), "cells", "cell") as bar:
        for task in tasks:
            ...
            bar.update()

On a terminal (stderr is a TTY) it is a tqdm bar, and while any bar is open the ``enso``
logger's console output is printed above the bars instead of into them. Anywhere else (a log
file, CI, a cluster job, a captured stderr) there is no bar: every ``interval`` seconds (5 by
default) an update logs one line at INFO on ``enso.progress`` with done / total, the share,
the rate and the time left, and a loop that logged any such line logs a last one when it
ends. ``$ENSO_PROGRESS_INTERVAL`` sets the interval (seconds, 0: every update). Lines are
written when the loop reports progress (``update``), never from a thread, so forking workers
stays safe. ``enabled=False`` shows nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, TypeVar

log = logging.getLogger("enso.progress")

#: seconds between two progress lines when stderr is not a terminal
INTERVAL_S = 5.0
#: environment variable that sets those seconds (``ENSO_PROGRESS_INTERVAL=30`` in a cluster job's log)
INTERVAL_ENV = "ENSO_PROGRESS_INTERVAL"
#: the loggers whose console output is printed above open bars
REDIRECTED_LOGGERS = ("enso", "")

T = TypeVar("T")

_open_bars = 0
_redirected: list[tuple[logging.Logger, list[logging.Handler]]] = []


class Progress:
    """One loop's progress; :func:`bar` makes it and closes it."""

    def __init__(self, total: int | None, desc: str, unit: str, *, initial: int = 0, unit_scale: bool = False,
                 mode: str, interval: float, leave: bool, stream: TextIO):
        self.desc, self.unit, self.unit_scale = desc, unit, unit_scale
        self.mode = mode  # "bar", "log" or "off"
        self.interval = interval
        self.n = initial
        self._total = total
        self._initial = initial
        self._postfix = ""
        self._started = self._last = time.monotonic()
        self._lines = 0
        self._tqdm = None
        if mode == "bar":
            from tqdm import tqdm

            self._tqdm = tqdm(total=total, initial=initial, desc=desc, unit=unit, unit_scale=unit_scale,
                              unit_divisor=1024 if unit_scale else 1000, leave=leave, file=stream,
                              dynamic_ncols=True)

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int | None) -> None:
        self._total = value
        if self._tqdm is not None:
            self._tqdm.total = value
            self._tqdm.refresh()

    def update(self, n: int = 1) -> None:
        """``n`` more units done."""
        self.n += n
        if self._tqdm is not None:
            self._tqdm.update(n)
        elif self.mode == "log":
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                self._log_line(now)

    def set_postfix_str(self, text: str) -> None:
        """What the loop works on now (shown on the bar and at the end of the next log line)."""
        self._postfix = text
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(text, refresh=False)

    def set_description(self, desc: str) -> None:
        self.desc = desc
        if self._tqdm is not None:
            self._tqdm.set_description(desc, refresh=False)

    def line(self, now: float | None = None) -> str:
        """The progress line as the log shows it: ``cells: 120/480 cells (25%), 3.2 cells/s, ETA 1m52s``."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - self._started, 1e-9)
        rate = (self.n - self._initial) / elapsed
        if self._total:
            text = f"{self.desc}: {self._quantity(self.n, bare=True)}/{self._quantity(self._total)}"
            text += f" ({min(self.n / self._total, 1):.0%})"
        else:
            text = f"{self.desc}: {self._quantity(self.n)}"
        parts = [text, f"{self._quantity(rate, rate=True)}/s"]
        if self._total and self.n >= self._total:
            parts.append("ETA 0s")
        elif self._total and rate > 0:
            parts.append(f"ETA {_duration((self._total - self.n) / rate)}")
        else:
            parts.append(f"{_duration(elapsed)} elapsed")
        text = ", ".join(parts)
        return f"{text} [{self._postfix}]" if self._postfix else text

    def _quantity(self, value: float, *, rate: bool = False, bare: bool = False) -> str:
        """``120 cells``, ``3.2 cells`` (a rate), ``1.2k texts``, ``3.4 MiB``; ``bare``: the number only."""
        binary = self.unit == "B"
        number = _amount(value, self.unit_scale, rate=rate, binary=binary)
        if bare and not (binary and self.unit_scale):
            return number
        if binary:
            return f"{number} B" if number[-1].isdigit() else f"{number}B"
        return f"{number} {_plural(self.unit, 2 if rate else value)}"

    def _log_line(self, now: float) -> None:
        self._lines += 1
        log.info("%s", self.line(now))

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
        elif self.mode == "log" and self._lines:
            now = time.monotonic()
            log.info("%s: %s in %s", self.desc, self._quantity(self.n), _duration(now - self._started))


@contextlib.contextmanager
def bar(total: int | None, desc: str, unit: str = "it", *, initial: int = 0, unit_scale: bool = False,
        enabled: bool = True, leave: bool = False, interval: float | None = None,
        stream: TextIO | None = None) -> Iterator[Progress]:
    """Show the progress of a loop of ``total`` units (``None``: unknown) while the block runs.

    ``unit_scale`` shows amounts as 1.2k / 3.4M (bytes in KiB/MiB when ``unit="B"``);
    ``interval`` overrides :data:`INTERVAL_S`; ``stream`` is where a bar goes (default stderr,
    looked up when the bar opens, so a captured stderr is seen).
    """
    stream = sys.stderr if stream is None else stream
    mode = "off" if not enabled else ("bar" if _is_terminal(stream) else "log")
    progress = Progress(total, desc, unit, initial=initial, unit_scale=unit_scale, mode=mode,
                        interval=default_interval() if interval is None else interval, leave=leave, stream=stream)
    redirect = _redirect_logging() if mode == "bar" else contextlib.nullcontext()
    try:
        with redirect:
            yield progress
    finally:
        progress.close()


def default_interval() -> float:
    """Seconds between progress lines: ``$ENSO_PROGRESS_INTERVAL`` when it is a number >= 0, else :data:`INTERVAL_S`."""
    text = os.environ.get(INTERVAL_ENV, "").strip()
    if not text:
        return INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        log.warning("%s=%r is not a number of seconds >= 0; using %gs", INTERVAL_ENV, text, INTERVAL_S)
        return INTERVAL_S
    return value


def track(iterable: Iterable[T], desc: str, unit: str = "it", *, total: int | None = None,
          **options: Any) -> Iterator[T]:
    """``iterable``'s items, with a :func:`bar` that advances by one per item."""
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    with bar(total, desc, unit, **options) as progress:
        for item in iterable:
            yield item
            progress.update()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # a closed or odd stream
        return False


class _AboveBars(logging.Handler):
    """Writes what ``handler`` would write, through ``tqdm.write`` so open bars are redrawn below it."""

    def __init__(self, handler: logging.StreamHandler):
        super().__init__(handler.level)
        self.handler = handler
        self.filters = list(handler.filters)

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.handler.format(record), file=self.handler.stream)
        except Exception:  # noqa: BLE001 - logging must not break the loop
            self.handleError(record)


@contextlib.contextmanager
def _redirect_logging() -> Iterator[None]:
    """While the outermost bar is open, console log handlers print above the bars."""
    global _open_bars
    _open_bars += 1
    if _open_bars == 1:
        for name in REDIRECTED_LOGGERS:
            logger = logging.getLogger(name)
            original = list(logger.handlers)
            replaced = [_AboveBars(h) if _is_console(h) else h for h in original]
            if replaced != original:
                logger.handlers[:] = replaced
                _redirected.append((logger, original))
    try:
        yield
    finally:
        _open_bars -= 1
        if _open_bars == 0:
            while _redirected:
                logger, original = _redirected.pop()
                logger.handlers[:] = original


def _is_console(handler: logging.Handler) -> bool:
    return (type(handler) is logging.StreamHandler
            and getattr(handler, "stream", None) in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
            and _is_terminal(handler.stream))


def _plural(unit: str, count: float) -> str:
    if unit in ("B", "it", "") or count == 1 or unit.endswith("s"):
        return unit
    return unit + "s"


def _amount(value: float, scale: bool, *, rate: bool = False, binary: bool = False) -> str:
    if scale:
        for factor, suffix in ((1 << 30, "Gi"), (1 << 20, "Mi"), (1 << 10, "Ki")) if binary else \
                ((10**9, "G"), (10**6, "M"), (10**3, "k")):
            if abs(value) >= factor:
                return f"{value / factor:.1f} {suffix}" if binary else f"{value / factor:.1f}{suffix}"
    if rate or not float(value).is_integer():
        return f"{value:.1f}" if value >= 1 or value == 0 else f"{value:.2g}"
    return f"{int(value):,}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
