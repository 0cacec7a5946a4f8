"""enso.progress: a log line every few seconds when stderr is not a terminal; a bar with log lines above it on one."""

from __future__ import annotations

import io
import logging
import re

import pytest

from enso import progress
from enso.cli_common import setup_logging


@pytest.fixture
def enso_logging(capsys):
    """Sets up the command line's logging (``enso: ...`` on stderr) when called; restored afterwards.

    Called inside the test: a handler made while fixtures are set up would hold a stream that
    pytest closes before the test body runs."""
    logger = logging.getLogger("enso")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield setup_logging
    logger.handlers[:], logger.level, logger.propagate = saved


LINE = re.compile(r"^enso: cells: (\d+)/10 cells \((\d+)%\), [\d.]+ cells/s, ETA \S+( \[.*\])?$")


def test_not_a_terminal_gives_progress_lines_in_the_captured_stderr(capsys, enso_logging, monkeypatch):
    enso_logging()
    clock = iter(range(0, 1000, 2))  # each update 2 seconds after the last
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    with progress.bar(10, "cells", "cell", interval=3) as bar:
        for i in range(10):
            bar.set_postfix_str(f"cell {i}")
            bar.update()
    err = capsys.readouterr().err.splitlines()
    lines = [line for line in err if LINE.match(line)]
    # a line at most every 3 s: updates at 2, 4, ... 20 s log at 4, 8, 12, 16, 20 (4 s since the last)
    assert [int(LINE.match(line).group(1)) for line in lines] == [2, 4, 6, 8, 10], err
    assert lines[0] == "enso: cells: 2/10 cells (20%), 0.5 cells/s, ETA 16s [cell 1]"
    assert err[-1].startswith("enso: cells: 10 cells in "), err
    assert "\r" not in "".join(err) and "|" not in "".join(err)  # no bar drawn into a log


def test_a_quick_loop_logs_nothing_and_quiet_hides_progress(capsys, enso_logging):
    enso_logging()
    with progress.bar(3, "pairs", "pair") as bar:  # done well within INTERVAL_S
        bar.update(3)
    assert capsys.readouterr().err == ""
    enso_logging(quiet=True)
    with progress.bar(3, "pairs", "pair", interval=0) as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""


def test_an_unknown_total_and_bytes_are_shown_readably(capsys, enso_logging):
    enso_logging()
    for _ in progress.track(iter(range(2)), "texts", "text", interval=0):
        pass
    with progress.bar(None, "download", "B", unit_scale=True, interval=0) as bar:
        bar.update(3 << 20)
    err = capsys.readouterr().err
    assert "enso: texts: 1 text, " in err and "elapsed" in err and "enso: texts: 2 texts in " in err
    assert "enso: download: 3.0 MiB, " in err and "B/s" in err


def test_disabled_shows_nothing(capsys, enso_logging):
    enso_logging()
    with progress.bar(2, "cells", "cell", enabled=False, interval=0) as bar:
        bar.update(2)
    assert capsys.readouterr().err == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_log_lines_are_printed_above_the_bar_and_the_handler_comes_back(monkeypatch, enso_logging):
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    enso_logging()  # the handler writes to the (fake) terminal
    logger = logging.getLogger("enso")
    handler = logger.handlers[0]
    with progress.bar(4, "cells", "cell") as bar:
        bar.update()
        assert logger.handlers != [handler]  # redirected while the bar is open
        with progress.bar(2, "inner", "text") as inner:  # nested: still one redirection
            logging.getLogger("enso.engine").info("a cell failed")
            inner.update(2)
        bar.update(3)
    assert logger.handlers == [handler]
    out = terminal.getvalue()
    assert "cells:" in out and "\r" in out  # a tqdm bar was drawn
    # tqdm.write clears the bar, prints the line on its own, and redraws the bar under it
    assert re.search(r"(^|[\r\n])enso: a cell failed\n", out.replace("\x1b[A", "")), repr(out)
    assert "ETA" not in out  # no log-style progress lines on a terminal


def test_the_interval_comes_from_the_environment(monkeypatch, capsys, enso_logging):
    monkeypatch.setenv(progress.INTERVAL_ENV, "0")
    assert progress.default_interval() == 0
    enso_logging()
    with progress.bar(3, "cells", "cell") as bar:
        bar.update()
    assert "enso: cells: 1/3 cells (33%)" in capsys.readouterr().err
    for bad in ("soon", "-1", "inf"):
        monkeypatch.setenv(progress.INTERVAL_ENV, bad)
        assert progress.default_interval() == progress.INTERVAL_S
    monkeypatch.delenv(progress.INTERVAL_ENV)
    assert progress.default_interval() == progress.INTERVAL_S


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_run_with_stderr_not_a_terminal_logs_progress_of_featurization_and_cells(tiny_workspace):
    """A real `enso run` whose stderr is a pipe (a log file, CI, a cluster job): done / total / rate / ETA lines."""
    from tests.cli import enso_process
    from tests.tiny import write_config

    write_config(tiny_workspace, "logged", 'datasets = ["Tiny"]\nfeaturizers = ["random-encoder"]\n'
                                           'targets = ["logreg"]\ntrain_sizes = [8, 16]\nresamples = 2\n'
                                           'metrics = ["accuracy"]\n')
    ran = enso_process("run", "logged", root=tiny_workspace, env={progress.INTERVAL_ENV: "0"})
    assert ran.code == 0, ran.output
    lines = ran.stderr.splitlines()
    texts = [line for line in lines if re.match(r"^enso: random-encoder Tiny: [\d,]+/48 texts \(\d+%\), "
                                                r"[\d.]+ texts/s, ETA \S+$", line)]
    cells = [line for line in lines if re.match(r"^enso: cells: \d/4 cells \(\d+%\), [\d.]+ cells/s, ETA \S+", line)]
    assert texts and cells, ran.stderr
    assert texts[-1].startswith("enso: random-encoder Tiny: 48/48 texts (100%)") and "ETA 0s" in texts[-1]
    assert any(line.startswith("enso: cells: 4/4 cells (100%)") for line in cells)
    assert "\r" not in ran.stderr  # no bar drawn into a log
