"""Where cells run: in this process, in local worker processes, or on a Dask cluster.

Local workers never outlive the run. When the run stops early (an error, SIGINT, SIGTERM
raised as ``Terminated`` by the command line, a consumer that stops reading), the ``finally``
of the executor kills its workers before returning. When the parent dies without a chance to
clean up (SIGKILL), each worker dies too: on Linux the kernel sends it SIGKILL
(``prctl(PR_SET_PDEATHSIG)``, set in the worker initializer); everywhere a watch thread in the
worker ends it when its parent process is gone. Workers ignore SIGINT: Ctrl-C reaches the
whole process group, and the parent alone decides what to stop.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

from enso.engine.worker import CellTask, configure_threads, run_cell
from enso.errors import EnsoError

log = logging.getLogger(__name__)

#: How long to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = "10s"

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                     "NUMEXPR_NUM_THREADS")


def default_threads(jobs: int) -> int:
    """BLAS/OpenMP threads per worker for cells on features: one.

    The fits of a sweep are small; on them, threads cost more in hand-offs than they win,
    and on a busy machine they oversubscribe the cores (measured: sparse L-BFGS fits 10x
    slower with 2 threads under load). ``--jobs`` is the way to use more cores. A cell that
    fine-tunes a model gets the cores divided among the workers instead
    (``enso.engine.prepare.text_threads``): each task carries its own count.
    """
    return 1


def execute(tasks: list[CellTask], *, jobs: int = 1, scheduler: str | None = None) -> Iterator[dict]:
    """Results of ``tasks`` in the order they finish."""
    if not tasks:
        return iter(())
    if scheduler:
        return _dask(tasks, scheduler)
    if jobs <= 1 or len(tasks) == 1:  # one cell: no worker would be up before this process has run it
        return _serial(tasks)
    return _processes(tasks, jobs)


def _serial(tasks: list[CellTask]) -> Iterator[dict]:
    """In this process; each run of tasks with the same thread count under one (restored) limit."""
    here = _InParent()
    try:
        for task in tasks:
            yield here.run(task)
    finally:
        here.close()


def _in_process(task: CellTask) -> CellTask:
    task.threads = None  # limits are already set for this process, by the context above
    return task


#: Seconds between a worker's checks that its parent is still alive (the fallback to PDEATHSIG).
PARENT_WATCH_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Make this process end when ``parent`` (the process that started it) does."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watch thread below still works
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_WATCH_SECONDS)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="enso-parent-watch", daemon=True).start()


def _init_worker(threads: int, parent: int | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent is not None:
        _die_with_parent(parent)
    configure_threads(threads)


def _stop_workers(executor) -> None:
    """Kill the pool's worker processes now (no waiting for the cells they run) and reap them."""
    processes = list(getattr(executor, "_processes", {}).values())  # CPython's pool keeps them here
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError, AssertionError):
            process.join(timeout=5)


@contextlib.contextmanager
def _thread_environment(threads: int):
    """Workers inherit these at start-up, before their BLAS (or torch) loads."""
    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in _THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


#: Cells handed to the pool per worker known to be up: one running and one waiting, so a worker never idles
#: between cells and none hoards the last cells of a sweep while others could run them.
WINDOW_PER_WORKER = 2
#: Whether this process runs cells while no worker is up yet; tests turn it off to send every cell to a worker.
PARENT_RUNS_CELLS = True
#: The longest cell (by the dry run's estimate) this process runs while waiting for its workers: a longer
#: one would keep it from handing cells to workers that come up meanwhile.
PARENT_CELL_SECONDS = 5.0


def _warm() -> int:
    """Run in a new worker first: import what ``run_cell`` needs, and say it is up (its pid)."""
    import enso.engine.assemble  # noqa: F401 - imported here so the first cell does not pay for it
    import enso.engine.cellstore  # noqa: F401
    import enso.sampling  # noqa: F401
    import enso.targets  # noqa: F401

    return os.getpid()


class _InParent:
    """Cells run in this process between the pool's results, each under its own thread limit."""

    def __init__(self):
        self._limits = None
        self._threads: object = object()  # no limit set yet

    def run(self, task: CellTask) -> dict:
        if task.threads != self._threads:
            self.close()
            if task.threads is not None:
                from threadpoolctl import threadpool_limits

                self._limits = threadpool_limits(limits=task.threads)
            self._threads = task.threads
        return run_cell(_in_process(task))

    def close(self) -> None:
        if self._limits is not None:
            self._limits.restore_original_limits()
        self._limits, self._threads = None, object()


def _processes(tasks: list[CellTask], jobs: int) -> Iterator[dict]:
    """``jobs`` worker processes, ``jobs`` cells at a time.

    Workers are spawned (a fresh interpreter each, seconds of imports), so until the first is up
    this process runs short cells itself (``PARENT_CELL_SECONDS``, by the dry run's estimate): the
    sweep starts at once, and a small one is often done before a worker is up. A worker gets cells
    only once it has said it is up (``_warm``), at most ``WINDOW_PER_WORKER`` each. Numbers are the
    same wherever a cell runs: the same code, the same thread limits (``task.threads``). When every
    cell is done the idle workers are killed, not left to tear their interpreters down while the
    run waits.
    """
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = min(task.threads or 1 for task in tasks)  # a task that may use more sets them itself
    context = multiprocessing.get_context("spawn")
    with _thread_environment(threads):
        executor = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                                       initargs=(threads, os.getpid()))
    here = _InParent()
    try:
        warming = {executor.submit(_warm) for _ in range(jobs)}
        cells: set = set()
        up = 0
        pending = deque(tasks)
        while True:
            done = {future for future in warming | cells if future.done()}
            for future in done & warming:
                warming.discard(future)
                if _result(future, BrokenProcessPool, warming=True) is not None:
                    up += 1
            while pending and len(cells) < WINDOW_PER_WORKER * up:
                cells.add(executor.submit(run_cell, pending.popleft()))
            for future in done & cells:
                cells.discard(future)
                yield _result(future, BrokenProcessPool)
            if done:
                continue
            if pending and not up and (not warming or (PARENT_RUNS_CELLS and _short(pending[0]))):
                yield here.run(pending.popleft())  # (no worker could start: every cell runs here)
                continue
            if not pending and not cells:
                break
            wait(cells | warming, return_when=FIRST_COMPLETED)
    finally:
        here.close()
        # every cell done: the workers are idle (or still starting) and are killed rather than waited for;
        # stopped early (error, signal, consumer gone): the cells in flight are dropped
        _stop_workers(executor)
        # wait in both cases: with its workers dead the pool's manager thread ends at once, and one left
        # running would make the interpreter's exit hook write to its closed wake-up pipe (EBADF traceback)
        executor.shutdown(wait=True, cancel_futures=True)


def _short(task: CellTask) -> bool:
    """Whether the dry run's estimate of ``task`` is at most ``PARENT_CELL_SECONDS``."""
    from enso.engine.estimate import cell_seconds

    return cell_seconds(task.target_name, task.config_params or task.target_params, len(task.train),
                        len(task.test)) <= PARENT_CELL_SECONDS


def _result(future, broken, *, warming: bool = False):
    """A finished future's result; a dead pool is an error, a worker that could not warm up a warning (None)."""
    try:
        return future.result()
    except broken as exc:
        raise EnsoError("a worker process died (killed, or out of memory?); finished cells are kept, "
                        "so a rerun computes only the missing ones (try fewer --jobs)") from exc
    except Exception as exc:  # noqa: BLE001 - a worker that cannot import is left unused; this process runs on
        if not warming:
            raise
        log.warning("a worker process could not start (%s: %s); its cells run in this process",
                    type(exc).__name__, exc)
        return None


def _dask(tasks: list[CellTask], scheduler: str) -> Iterator[dict]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - dask[distributed] is a dependency
        raise EnsoError("--scheduler needs dask[distributed]; pip install 'dask[distributed]'") from exc
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise EnsoError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
                        "`dask scheduler` and workers with `dask worker ADDRESS`, or run without --scheduler") from exc
    try:
        log.info("running %d cells on the Dask cluster at %s (%d workers)", len(tasks), scheduler,
                 len(client.scheduler_info().get("workers", {})))
        futures = [client.submit(run_cell, task, key=f"enso-cell-{task.key}", pure=False) for task in tasks]
        for future in as_completed(futures, loop=client.loop):
            yield future.result()
            future.release()
    finally:
        client.close()
