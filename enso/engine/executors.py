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
    if jobs <= 1:
        return _serial(tasks)
    return _processes(tasks, jobs)


def _serial(tasks: list[CellTask]) -> Iterator[dict]:
    """In this process; each run of tasks with the same thread count under one (restored) limit."""
    import itertools

    from threadpoolctl import threadpool_limits

    for threads, group in itertools.groupby(tasks, key=lambda task: task.threads):
        with threadpool_limits(limits=threads):
            for task in group:
                yield run_cell(_in_process(task))


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


def _processes(tasks: list[CellTask], jobs: int) -> Iterator[dict]:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = min(task.threads or 1 for task in tasks)  # a task that may use more sets them itself
    context = multiprocessing.get_context("spawn")
    with _thread_environment(threads):
        executor = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                                       initargs=(threads, os.getpid()))
    completed = False
    try:
        # a bounded window of submitted tasks keeps memory flat on sweeps of many thousands of cells
        pending = set()
        queue = iter(tasks)
        window = jobs * 4
        for task in queue:
            pending.add(executor.submit(run_cell, task))
            if len(pending) >= window:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    raise EnsoError("a worker process died (killed, or out of memory?); finished cells are kept, "
                                    "so a rerun computes only the missing ones (try fewer --jobs)") from exc
                yield result
                for task in queue:
                    pending.add(executor.submit(run_cell, task))
                    break
        completed = True
    finally:
        if not completed:  # stopped early (error, signal, consumer gone): the cells in flight are dropped
            _stop_workers(executor)
        # wait in both cases: with its workers dead the pool's manager thread ends at once, and one left
        # running would make the interpreter's exit hook write to its closed wake-up pipe (EBADF traceback)
        executor.shutdown(wait=True, cancel_futures=True)


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
