"""Atomic writes: success replaces the file, failure leaves the old one and no debris."""

from __future__ import annotations

import os
import stat

import pytest

from fenchel.infra._io import atomic_file, atomic_path, write_json_atomic


def test_success_replaces_the_file_readable_by_all(tmp_path):
    target = tmp_path / "new" / "result.bin"
    with atomic_file(target, "wb") as file:
        file.write(b"payload")
    assert target.read_bytes() == b"payload"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert os.listdir(target.parent) == ["result.bin"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "plot.png"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="writer died"):
        with atomic_path(target) as tmp:
            assert tmp.endswith(".png")  # writers that pick the format from the suffix
            with open(tmp, "w") as file:
                file.write("half")
            raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["plot.png"]


def test_json_round_trip_with_non_finite_values(tmp_path):
    target = tmp_path / "r.json"
    write_json_atomic(target, {"b": float("nan"), "a": 1})
    assert target.read_text() == '{\n "a": 1,\n "b": NaN\n}\n'


# --------------------------------------------------------------------------- shared helpers
# (local to this module: tests/conftest.py is another developer's)

import contextlib
import pathlib
import errno
import json
import signal
import socket
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fenchel.infra import _io
from fenchel.infra._io import (LOCK_FILE, NotWritableError, OutputLockedError, check_writable,
                         lock_file, output_lock, write_all_or_nothing, write_problem)

HOLDER = """
import sys
from fenchel.infra._io import output_lock
with output_lock(sys.argv[1], folder=sys.argv[2] == "folder", command="fenchel fake holder"):
    print("locked", flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def held_by_another_process(target, folder=True):
    """A second process holding the lock of ``target`` until the block ends."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(target),
                                "folder" if folder else "file"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked"
        yield process
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def _chattr(path, flag):
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


@pytest.fixture
def immutable():
    """``immutable(path)``: ``chattr +i`` (refused even to root), undone at teardown;
    skips where the file system or the user cannot set it."""
    done = []

    def make(path):
        if not _chattr(path, "+i"):
            pytest.skip("chattr +i is not available here (file system or privileges)")
        done.append(path)
        return path

    yield make
    for path in reversed(done):
        _chattr(path, "-i")


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _contents(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- locks


@pytest.mark.parametrize("folder", [True, False], ids=["folder", "file"])
def test_a_second_process_is_refused_naming_the_holder(tmp_path, folder):
    target = tmp_path / ("grid" if folder else "bench.json")
    with held_by_another_process(target, folder) as holder:
        with pytest.raises(OutputLockedError) as refused:
            with output_lock(target, folder=folder):
                pass
        message = str(refused.value)
        assert "\n" not in message
        assert f"{target} is in use by another run (pid {holder.pid} on host " \
               f"{socket.gethostname()}, started " in message
        assert "running: fenchel fake holder); wait for it to end, or choose another" in message
        assert os.path.exists(lock_file(target, folder))
    # Released when the holder ends: the lock file is gone, and the lock is free.
    assert not os.path.exists(lock_file(target, folder))
    with output_lock(target, folder=folder):
        pass


def test_a_killed_holder_leaves_a_stale_lock_that_is_taken_over(tmp_path):
    target = tmp_path / "grid"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(target), "folder"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    stale = json.loads((target / LOCK_FILE).read_text())
    assert stale["pid"] == holder.pid and stale["command"] == "fenchel fake holder"
    with output_lock(target, command="fenchel next run"):
        assert json.loads((target / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (target / LOCK_FILE).exists()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("record, taken", [
    (lambda: {}, True),  # an empty lock file
    (lambda: {"pid": _dead_pid(), "host": socket.gethostname()}, True),  # stale
    (lambda: {"pid": 1, "host": socket.gethostname()}, False),  # a process that runs
    (lambda: {"pid": 12345, "host": "another-host"}, False),  # cannot be checked: held
], ids=["no record", "dead process", "live process", "other host"])
def test_without_flock_the_holders_record_decides(tmp_path, monkeypatch, record, taken):
    """On a file system without flock, a record whose process no longer runs is stale."""
    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(_io.fcntl, "flock", no_flock)
    target = tmp_path / "grid"
    target.mkdir()
    (target / LOCK_FILE).write_text(json.dumps(record()))
    lock = output_lock(target)
    if taken:
        with lock:
            pass
    else:
        with pytest.raises(OutputLockedError, match="is in use by another run"):
            with lock:
                pass


def test_the_lock_is_reentrant_and_a_refused_run_leaves_nothing(tmp_path):
    target = tmp_path / "new" / "grid"
    with output_lock(target):
        with output_lock(target):  # the same process: a grid calling locked code
            assert (target / LOCK_FILE).exists()
        assert (target / LOCK_FILE).exists()  # still held by the outer block
    assert not (tmp_path / "new").exists()  # made for the lock, still empty: removed
    with output_lock(target):
        (target / "runs").mkdir()
    assert _listing(tmp_path) == ["new", "new/grid", "new/grid/runs"]  # results are kept


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    target = tmp_path / "grid"
    target.write_text("a file")
    with pytest.raises(NotWritableError, match="it is an existing file, a folder is needed"):
        with output_lock(target):
            pass


# --------------------------------------------------------------------------- writability


def _setup(kind, tmp_path, immutable):
    """``(path, folder, expected problem or None)`` of one writability case."""
    if kind == "new file in new folders":
        return tmp_path / "a" / "b" / "r.json", False, None
    if kind == "folder where a file should be":
        (tmp_path / "r.json").mkdir()
        return tmp_path / "r.json", False, "it is an existing folder, a file name is needed"
    if kind == "file where a folder should be":
        (tmp_path / "runs").write_text("x")
        return tmp_path / "runs", True, "it is an existing file, a folder is needed"
    if kind == "file among the ancestors":
        (tmp_path / "runs").write_text("x")
        return tmp_path / "runs" / "yeast" / "s0.json", False, \
            f"{str(tmp_path / 'runs')!r} is not a folder"
    if kind == "immutable folder":
        immutable(tmp_path)
        return tmp_path / "runs" / "s0.json", False, \
            f"folder {str(tmp_path)!r} is not writable (Operation not permitted)"
    if kind == "immutable file":
        (tmp_path / "results.md").write_text("old")
        immutable(tmp_path / "results.md")
        return tmp_path / "results.md", False, "it is immutable (chattr +i or +a)"
    if kind == "read-only folder":
        if os.geteuid() == 0:
            pytest.skip("permission bits do not stop root (the immutable cases do)")
        (tmp_path / "runs").mkdir(mode=0o500)
        return tmp_path / "runs" / "s0.json", False, "is not writable (Permission denied)"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", [
    "new file in new folders", "folder where a file should be", "file where a folder should be",
    "file among the ancestors", "immutable folder", "immutable file", "read-only folder"])
def test_the_writability_check_tries_and_leaves_nothing(tmp_path, immutable, kind):
    path, folder, expected = _setup(kind, tmp_path, immutable)
    before = _listing(tmp_path)
    problem = write_problem(path, folder)
    assert _listing(tmp_path) == before  # the probe file is removed
    if expected is None:
        assert problem is None
        check_writable([path])
    else:
        assert problem is not None and expected in problem, problem
        with pytest.raises(NotWritableError) as refused:
            check_writable(folders=[path]) if folder else check_writable([path])
        assert str(refused.value) == f"cannot write {path}: {problem}"


# --------------------------------------------------------------------------- file sets


def _block(kind, out, immutable):
    """Make ``out/results.md`` (or its folder) unwritable in one of several ways."""
    if kind == "target is a folder":
        (out / "results.md").unlink()
        (out / "results.md").mkdir()
    elif kind == "target is immutable":
        immutable(out / "results.md")
    elif kind == "folder is immutable":
        immutable(out)
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["target is a folder", "target is immutable",
                                  "folder is immutable"])
def test_a_blocked_aggregate_leaves_every_file_as_it_was(tmp_path, immutable, kind):
    out = tmp_path / "out"
    out.mkdir()
    write_all_or_nothing({out / "results.json": "{}", out / "results.md": "old",
                          out / "plot.png": b"old"})
    _block(kind, out, immutable)
    before = _contents(out), _listing(out)
    with pytest.raises(NotWritableError, match=r"cannot write .*/out/results\.(md|json): "):
        write_all_or_nothing({out / "results.json": '{"new": 1}', out / "results.md": "new",
                              out / "plot.png": lambda path: pathlib.Path(path).write_bytes(b"new")})
    assert (_contents(out), _listing(out)) == before


def test_a_failing_writer_changes_nothing(tmp_path):
    write_all_or_nothing({tmp_path / "a.json": "old", tmp_path / "b.md": "old"})

    def broken(path):
        pathlib.Path(path).write_text("half")
        raise RuntimeError("plotting failed")

    with pytest.raises(RuntimeError, match="plotting failed"):
        write_all_or_nothing({tmp_path / "a.json": "new", tmp_path / "b.md": broken})
    assert _contents(tmp_path) == {"a.json": b"old", "b.md": b"old"}
    with pytest.raises(NotWritableError, match="No space left on device; none of a.json, b.md"):
        write_all_or_nothing({tmp_path / "a.json": "new", tmp_path / "b.md": lambda path: (
            _ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device"))})
    assert _contents(tmp_path) == {"a.json": b"old", "b.md": b"old"}


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(st.lists(st.booleans(), min_size=1, max_size=5), st.integers(0, 5),
       st.sampled_from(["none", "write", "rename"]))
def test_a_file_set_is_replaced_all_or_nothing(tmp_path_factory, exist, failing, stage):
    """Property: whatever file fails, at whatever stage (writing it, or renaming it after
    others were renamed), afterwards every file is the old one or every file the new one,
    and no temporary file is left."""
    out = tmp_path_factory.mktemp("set")
    names = [f"f{i}.txt" for i in range(len(exist))]
    for name, present in zip(names, exist):
        if present:
            (out / name).write_text(f"old {name}")
    old = _contents(out)
    failing %= len(names)
    files = {out / name: f"new {name}" for name in names}
    replace = os.replace
    if stage == "write":
        files[out / names[failing]] = lambda path: (_ for _ in ()).throw(
            OSError(errno.EIO, "Input/output error"))
    calls = []

    def flaky_replace(source, target):
        if stage == "rename" and os.path.basename(target) == names[failing] \
                and ".old-" not in os.path.basename(source):
            calls.append(target)
            raise OSError(errno.EIO, "Input/output error")
        return replace(source, target)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_io.os, "replace", flaky_replace)
        if stage == "none":
            write_all_or_nothing(files)
        else:
            with pytest.raises(NotWritableError, match="was changed"):
                write_all_or_nothing(files)
    if stage == "none":
        assert _contents(out) == {name: f"new {name}".encode() for name in names}
    else:
        assert _contents(out) == old
    assert not [p for p in os.listdir(out) if p.startswith(".")]
