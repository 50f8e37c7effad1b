"""fenchel.infra._pool.run_parallel: results, and a prompt stop on Ctrl-C or an error."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fenchel.infra._pool import run_parallel

REPO = pathlib.Path(__file__).resolve().parents[1]

# Tasks of the worker processes: a module of their own, so that the spawned workers
# import nothing heavy besides fenchel.infra._pool.
TASKS = '''
import os, pathlib, sys, time

def nap(folder, index, seconds):
    """Mark the task as started (file named by the worker's pid), then sleep."""
    pathlib.Path(folder, f"started-{index}-{os.getpid()}").touch()
    time.sleep(seconds)
    pathlib.Path(folder, f"finished-{index}").touch()
    return index

def fail(folder, index, seconds):
    if index == 0:
        time.sleep(1.0)
        raise ValueError("task 0 failed")
    return nap(folder, index, seconds)

if __name__ == "__main__":
    from fenchel.infra._pool import run_parallel
    folder, mode = sys.argv[1], sys.argv[2]
    task = fail if mode == "fail" else nap
    run_parallel(task, [(folder, i, 60.0) for i in range(6)], 2)
'''


def _start(tmp_path: pathlib.Path, mode: str) -> subprocess.Popen:
    (tmp_path / "tasks.py").write_text(TASKS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    return subprocess.Popen([sys.executable, str(tmp_path / "tasks.py"), str(tmp_path), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def _wait_for_tasks(tmp_path: pathlib.Path, process: subprocess.Popen, count: int) -> list[int]:
    deadline = time.monotonic() + 60
    while len(started := list(tmp_path.glob("started-*"))) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the workers did not start in 60 s"
        time.sleep(0.05)
    return [int(path.name.split("-")[2]) for path in started]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _finish(process: subprocess.Popen) -> tuple[str, float]:
    start = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return stderr, time.monotonic() - start


def test_results_come_back_in_the_main_process():
    results = []
    run_parallel(divmod, [(7, 2), (9, 4)], 2, on_result=results.append)
    assert sorted(results) == [(2, 1), (3, 1)]
    with pytest.raises(ValueError, match="jobs"):
        run_parallel(divmod, [(7, 2)], 0)


def test_sigint_to_the_main_process_interrupts_the_running_tasks(tmp_path):
    """``kill -INT <main pid>`` (not the process group): the main process interrupts its
    workers, which stop their 60 s tasks at once; queued tasks never start."""
    process = _start(tmp_path, "nap")
    workers = _wait_for_tasks(tmp_path, process, 2)
    os.kill(process.pid, signal.SIGINT)
    stderr, elapsed = _finish(process)
    assert process.returncode != 0 and "KeyboardInterrupt" in stderr
    assert elapsed < 10, f"took {elapsed:.1f} s to stop"
    assert len(list(tmp_path.glob("started-*"))) == 2 and not list(tmp_path.glob("finished-*"))
    assert not [pid for pid in workers if _alive(pid)]


def test_a_failing_task_stops_the_others(tmp_path):
    process = _start(tmp_path, "fail")
    stderr, elapsed = _finish(process)
    assert "task 0 failed" in stderr
    assert elapsed < 20
    assert not list(tmp_path.glob("finished-*"))
