"""Worker processes for the experiment grids, stopping promptly on Ctrl-C or an error.

A plain :class:`concurrent.futures.ProcessPoolExecutor` keeps going after Ctrl-C: its
workers report the interrupt of their current task and take the next one, and leaving
its ``with`` block waits for the whole queue. :func:`run_parallel` instead cancels the
queued tasks, interrupts the running ones (SIGINT, so that they unwind and the atomic
writers of :mod:`fenchel.infra._io` remove their temporary files), waits a few seconds and
then terminates what is left. Results written before the interrupt stay.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from typing import Any, Callable, Sequence

GRACE_SECONDS = 5.0
"""How long interrupted workers get to unwind before they are terminated."""

# Worker-side state (each worker process has its own copy).
_interrupted = False
_in_task = False


def _on_sigint(signum, frame) -> None:
    """Worker SIGINT handler: interrupt the running task once; later tasks then
    fail at once (:func:`_call`) and an idle worker is never interrupted mid-loop."""
    global _interrupted
    first = not _interrupted
    _interrupted = True
    if first and _in_task:
        raise KeyboardInterrupt


def _init_worker() -> None:
    signal.signal(signal.SIGINT, _on_sigint)


def _call(fn: Callable[..., Any], args: tuple) -> Any:
    global _in_task
    if _interrupted:
        raise KeyboardInterrupt
    _in_task = True
    try:
        return fn(*args)
    finally:
        _in_task = False


def _stop(pool: concurrent.futures.ProcessPoolExecutor, grace: float) -> None:
    """Cancel the queued tasks, interrupt the running ones, terminate stragglers."""
    # The executor has no public handle on its processes; snapshot them before
    # shutdown forgets them.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(process.pid, signal.SIGINT)
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join(1.0)


@contextlib.contextmanager
def _sigint_ignored():
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals go elsewhere anyway
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _sigint_as_flag():
    """Ctrl-C sets the yielded event instead of raising ``KeyboardInterrupt`` wherever
    the main thread happens to be: raised inside the executor's internals, it can leave
    a future's lock held, and the clean-up that cancels that future then waits forever."""
    interrupted = threading.Event()
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.set())
    except ValueError:  # not the main thread
        yield interrupted
        return
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def run_parallel(fn: Callable[..., Any], arguments: Sequence[tuple], jobs: int,
                 on_result: Callable[[Any], None] = lambda result: None, *,
                 grace: float = GRACE_SECONDS) -> None:
    """Run ``fn(*args)`` for every ``args`` of ``arguments`` in ``jobs`` spawned worker
    processes (JAX is not fork-safe), calling ``on_result`` in this process as each
    finishes.

    On Ctrl-C (``KeyboardInterrupt``), or when a task or ``on_result`` raises, the
    queued tasks are cancelled and the running ones interrupted (terminated after
    ``grace`` seconds), then the exception is raised again: the grid stops within
    seconds, as it does with one process.

    Args:
      fn: a module-level (picklable) function.
      arguments: one tuple of positional arguments per task.
      jobs: number of worker processes, >= 1.
      on_result: called with each task's return value, in completion order.
      grace: seconds interrupted workers get before they are terminated.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context,
                                                  initializer=_init_worker)
    try:
        with _sigint_as_flag() as interrupted:
            pending = {pool.submit(_call, fn, tuple(args)) for args in arguments}
            while pending:
                done, pending = concurrent.futures.wait(
                    pending, timeout=0.1, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    on_result(future.result())
                if interrupted.is_set():
                    raise KeyboardInterrupt
    except BaseException:
        with _sigint_ignored():  # a second Ctrl-C must not cut the clean-up short
            _stop(pool, grace)
        raise
    pool.shutdown(wait=True)


__all__ = ["GRACE_SECONDS", "run_parallel"]
