import subprocess
import sys

import pytest


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_filesystem_error_is_one_line_not_a_traceback(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "datasets").write_text("a file where the datasets folder should be")
    csv = tmp_path / "mine.csv"
    csv.write_text("text,label\nhello there,a\ngood day,a\nbad day,b\nawful,b\nnice,a\nworse,b\n")
    result = subprocess.run([sys.executable, "-m", "enso.download", "--csv", str(csv), "--name", "Mine",
                             "--text-column", "text", "--label-column", "label", "--root", str(root)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "datasets" in last, result.stderr
    assert (root / "datasets").read_text() == "a file where the datasets folder should be"


SLEEPER = """
import multiprocessing, os, sys, time
import click
from enso.cli_common import common_options, pass_workspace

def child(ready):
    ready.set()
    time.sleep(30)

@click.command()
@common_options
@pass_workspace
def main(workspace):
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    worker = context.Process(target=child, args=(ready,))
    worker.start()
    # a signal that reaches the child before Python's after-fork setup there is dropped: wait until it runs
    ready.wait(30)
    try:
        print(worker.pid, flush=True)  # inside the try: a signal sent once this is read finds it entered
        time.sleep(60)
    finally:
        worker.terminate()  # what the engine's shutdown does: SIGTERM to its workers
        worker.join()
        print("cleanup ran", worker.exitcode, flush=True)

main()
"""


def _start_sleeper(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    process = subprocess.Popen([sys.executable, str(script), "--root", str(tmp_path)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    worker_pid = int(process.stdout.readline())
    return process, worker_pid


def test_sigterm_is_a_clean_exit_with_one_error_line(tmp_path):
    """What timeout, systemd, Docker and Slurm send: finally blocks run, one error line, exit 143."""
    import signal

    process, _ = _start_sleeper(tmp_path)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, (process.returncode, err)
    assert out.strip() == f"cleanup ran {-signal.SIGTERM}"  # the worker died by SIGTERM, as by default
    assert err.strip() == "error: terminated (SIGTERM); finished artifacts are kept and a rerun resumes", err


def test_sigint_is_still_a_clean_exit(tmp_path):
    import signal

    process, _ = _start_sleeper(tmp_path)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (process.returncode, err)
    assert "cleanup ran" in out and err.strip().startswith("error: interrupted") and "Traceback" not in err


def test_a_forked_worker_dies_on_sigterm_without_a_traceback(tmp_path):
    import os
    import signal

    process, worker_pid = _start_sleeper(tmp_path)
    os.kill(worker_pid, signal.SIGTERM)  # a worker killed on its own (Slurm signals the whole job)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143 and "Traceback" not in err, err
    assert out.strip() == f"cleanup ran {-signal.SIGTERM}"


def test_error_lines_show_control_characters_escaped(tmp_path):
    from click.testing import CliRunner

    from enso.cli_common import common_options, pass_workspace
    from enso.errors import EnsoError

    @click_command()
    @common_options
    @pass_workspace
    def fails(workspace):
        raise EnsoError("bad name 'a\nb\x00c'")

    @click_command()
    @common_options
    @pass_workspace
    def undecodable(workspace):
        b"\xff".decode("utf-8")

    result = CliRunner().invoke(fails, ["--root", str(tmp_path)])
    assert result.exit_code == 1 and result.stderr == "error: bad name 'a\\nb\\x00c'\n"
    result = CliRunner().invoke(undecodable, ["--root", str(tmp_path)])
    assert result.exit_code == 1 and result.stderr.startswith("error: cannot decode text"), result.stderr
    assert result.stderr.count("\n") == 1


def click_command():
    import click

    return click.command()


CHATTY = """
import click
from enso.cli_common import common_options, pass_workspace

@click.command()
@common_options
@pass_workspace
def main(workspace):
    for i in range(100_000):
        click.echo(f"line {i}")

main()
"""


def test_a_closed_stdout_is_not_a_misleading_error(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "chatty.py"
    script.write_text(CHATTY)
    listing = subprocess.Popen([sys.executable, str(script), "--root", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    listing.stdout.close()  # `enso ... --list | head -0`
    err = listing.stderr.read().decode()
    listing.wait(timeout=120)
    assert listing.returncode == 1
    assert "check the path" not in err and "Traceback" not in err, err


def test_the_listing_shows_every_registered_protocol_with_its_description():
    from enso.experiment import _listing
    from enso.protocols import PROTOCOLS

    lines = _listing().splitlines()
    start = lines.index("protocols:")
    for name, protocol in PROTOCOLS.items():
        assert any(line.split()[:1] == [name] and protocol.description in line for line in lines[start:]), name
