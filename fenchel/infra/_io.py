"""Files and processes: nothing lost, nothing mixed.

* Atomic file writes (:func:`atomic_path`, :func:`write_json_atomic`, ...): a crash never
  leaves a half-written result behind.
* All-or-nothing sets of files (:func:`write_all_or_nothing`): the aggregates of a grid
  (``results.json``, ``results.md``, plots) are all replaced, or none is.
* A writability pre-check (:func:`write_problem`, :func:`check_writable`): it tries to
  create a file where the outputs will go (so it sees what the writes will see, also as
  root or on a read-only file system), before anything is trained.
* Output locks (:func:`output_lock`): one run at a time per output folder, checkpoint
  folder or incrementally rewritten file; another run is refused, naming the holder.

Refusals raise subclasses of :class:`Refusal`, whose one-line message the command line
prints as ``fenchel COMMAND: error: MESSAGE`` before exiting with code 2.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pathlib
import shlex
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from typing import Any, Callable, Iterable, Iterator, Mapping, Union

try:
    import fcntl
except ImportError:  # not POSIX: locks fall back on the holder's record
    fcntl = None  # type: ignore[assignment]


class Refusal(Exception):
    """A command refuses to start or go on: an output folder in use or not writable, an
    input it cannot use, a checkpoint it cannot read. The message says what and why, for
    the user; ``fenchel`` prints it as ``fenchel COMMAND: error: MESSAGE`` and exits 2."""


class OutputLockedError(Refusal, RuntimeError):
    """The output (folder, checkpoint folder or file) is in use by another run."""


class NotWritableError(Refusal, OSError):
    """An output cannot be written (found before the work, or a set of files left as it was)."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary path beside ``path`` to write to (for writers that take a
    file name, e.g. matplotlib's ``savefig``); on success it replaces ``path``
    (``os.replace``, readable by all), on error it is removed. Parent folders
    are created.

    Example:
      >>> import os, tempfile
      >>> from fenchel.infra._io import atomic_path
      >>> path = os.path.join(tempfile.mkdtemp(), "results", "plot.txt")
      >>> with atomic_path(path) as tmp, open(tmp, "w") as f:
      ...     _ = f.write("done")
      >>> open(path).read()
      'done'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    name = os.path.basename(path)
    # The real suffix last: writers such as savefig pick the format from it.
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".tmp-{name}.",
                               suffix=os.path.splitext(name)[1])
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w") -> Iterator[Any]:
    """:func:`atomic_path`, opened: yields the temporary file opened with
    ``mode`` (``"w"`` text, ``"wb"`` bytes)."""
    with atomic_path(path) as tmp, open(tmp, mode) as file:
        yield file


def atomic_text_file(path: str | os.PathLike) -> contextlib.AbstractContextManager:
    """:func:`atomic_file` in text mode."""
    return atomic_file(path, "w")


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_text_file(path) as file:
        file.write(text)


def json_text(data: Any, *, indent: int = 1, sort_keys: bool = True) -> str:
    """``data`` as the JSON text :func:`write_json_atomic` writes (with a final newline).

    Example:
      >>> from fenchel.infra._io import json_text
      >>> json_text({"b": 1, "a": [2]}, indent=None)
      '{"a": [2], "b": 1}\\n'
    """
    return json.dumps(data, indent=indent, sort_keys=sort_keys, allow_nan=True) + "\n"


def write_json_atomic(path: str | os.PathLike, data: Any, *, indent: int = 1,
                      sort_keys: bool = True) -> None:
    """Write ``data`` as JSON (with a final newline) to ``path`` atomically."""
    write_text_atomic(path, json_text(data, indent=indent, sort_keys=sort_keys))


def read_json_record(path: str | os.PathLike, required_key: str) -> dict[str, Any] | None:
    """The JSON object stored at ``path`` if it holds ``required_key``, else None (no
    file, an unreadable or partial one, or another kind of record): a resumable run
    treats all of these as "not done yet" and runs it again.

    Example:
      >>> from fenchel.infra._io import read_json_record
      >>> read_json_record("no/such/file.json", "config") is None
      True
    """
    try:
        record = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and required_key in record else None



# --------------------------------------------------------------------------- writability

# FS_IOC_GETFLAGS and the flags that forbid replacing a file, even for root (chattr +i, +a).
_FS_IOC_GETFLAGS = 0x80086601
_FS_UNREPLACEABLE = 0x00000010 | 0x00000020


def _nearest_existing(path: str) -> str:
    """``path`` or its nearest ancestor that exists."""
    current = path
    while not os.path.lexists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def _immutable(path: str) -> bool:
    """Whether the file ``path`` is immutable or append-only (Linux ``chattr +i``/``+a``):
    replacing it fails even for root."""
    if fcntl is None or not sys.platform.startswith("linux") or not os.path.isfile(path):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        flags = int.from_bytes(fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(8))[:4], sys.byteorder)
    except OSError:  # a file system without these flags
        return False
    finally:
        os.close(fd)
    return bool(flags & _FS_UNREPLACEABLE)


def _probe(folder: str) -> str | None:
    """Why no file can be created in the existing ``folder`` (found by creating and
    removing one), or None."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".fenchel-probe-")
    except OSError as err:
        return f"folder {folder!r} is not writable ({err.strerror or err})"
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return None


def write_problem(path: str | os.PathLike, folder: bool = False,
                  probed: dict[str, str | None] | None = None) -> str | None:
    """Why ``path`` cannot be written as a file (or, with ``folder``, used as a folder
    to write into), or None if it can.

    Unlike ``os.access``, the check tries: it creates (and removes) a file in the
    nearest existing folder, so it sees what the real write will see, also as root
    (for whom permission bits do not count) or on a read-only file system. A file
    path must not be a folder nor an immutable file (``chattr +i``); a folder path
    must not be a file; every existing ancestor must be a folder. Nothing is left
    behind.

    Args:
      path: the file (or folder) to write.
      folder: check ``path`` as a folder.
      probed: a cache of probed folders, shared between calls.

    Example:
      >>> from fenchel.infra._io import write_problem
      >>> write_problem("/")
      'it is an existing folder, a file name is needed'
    """
    text = os.fspath(path)
    if not text.strip():
        return "empty path"
    absolute = os.path.abspath(text)
    if folder:
        if os.path.lexists(absolute) and not os.path.isdir(absolute):
            return "it is an existing file, a folder is needed"
        start = absolute
    else:
        if os.path.isdir(absolute):
            return "it is an existing folder, a file name is needed"
        if _immutable(absolute):
            return "it is immutable (chattr +i or +a): it cannot be replaced"
        start = os.path.dirname(absolute)
    existing = _nearest_existing(start)
    if not os.path.isdir(existing):
        return f"{existing!r} is not a folder"
    probed = {} if probed is None else probed
    if existing not in probed:
        probed[existing] = _probe(existing)
    return probed[existing]


def check_writable(files: Iterable[str | os.PathLike] = (),
                   folders: Iterable[str | os.PathLike] = ()) -> None:
    """Raise :class:`NotWritableError` unless every path of ``files`` can be written as a
    file and every path of ``folders`` used as a folder (:func:`write_problem`); called
    before a long run, so that it cannot train for hours and then lose its results.

    Raises:
      NotWritableError: ``cannot write PATH: WHY`` for the first path refused, with the
        number of other paths refused.
    """
    probed: dict[str, str | None] = {}
    problems = [(os.fspath(path), problem) for path, is_folder in
                [*((path, False) for path in files), *((path, True) for path in folders)]
                if (problem := write_problem(path, is_folder, probed))]
    if problems:
        path, problem = problems[0]
        more = f" (and {len(problems) - 1} more paths)" if len(problems) > 1 else ""
        raise NotWritableError(f"cannot write {path}: {problem}{more}")


# --------------------------------------------------------------------------- file sets

Writer = Union[str, bytes, Callable[[str], Any]]
"""What :func:`write_all_or_nothing` writes to a file: text, bytes, or a function that
writes the file at the path it is given (e.g. ``lambda path: fig.savefig(path)``)."""


def _write_one(path: str, writer: Writer) -> None:
    if callable(writer):
        writer(path)
    else:
        with open(path, "wb" if isinstance(writer, bytes) else "w") as file:
            file.write(writer)


def _temporary(path: str, prefix: str) -> str:
    """A fresh name beside ``path`` (nothing is created), ending with its suffix."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f"{prefix}{name}.{uuid.uuid4().hex[:12]}"
                                   f"{os.path.splitext(name)[1]}")


def _unlink_all(paths: Iterable[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


def write_all_or_nothing(files: Mapping[str | os.PathLike, Writer]) -> None:
    """Write a set of files that belong together (e.g. ``results.json`` and the
    ``results.md`` made from it): afterwards every file is the new one, or, when any
    cannot be written, every file is as it was.

    Each target is checked first (:func:`check_writable`); then every file is written to
    a temporary name beside its target, and only when all are written are they renamed
    over their targets. A rename that fails puts back the files already replaced
    (from links, or copies, of the old files made before the first rename). The
    temporary files are removed in every case.

    Args:
      files: target path -> :data:`Writer` (text, bytes, or ``writer(path)``).

    Raises:
      NotWritableError: a target cannot be written (nothing was changed); other errors
        of a writer propagate (nothing was changed).

    Example:
      >>> import os, tempfile
      >>> from fenchel.infra._io import write_all_or_nothing
      >>> out = tempfile.mkdtemp()
      >>> write_all_or_nothing({os.path.join(out, "a.txt"): "A",
      ...                       os.path.join(out, "b.bin"): b"B"})
      >>> sorted(os.listdir(out))
      ['a.txt', 'b.bin']
    """
    targets = {os.path.abspath(os.fspath(path)): writer for path, writer in files.items()}
    names = ", ".join(os.path.basename(path) for path in targets)
    check_writable(targets)
    temporaries: dict[str, str] = {}
    try:
        for path, writer in targets.items():
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, temporaries[path] = tempfile.mkstemp(
                dir=os.path.dirname(path), prefix=f".tmp-{os.path.basename(path)}.",
                suffix=os.path.splitext(path)[1])
            os.close(fd)
            _write_one(temporaries[path], writer)
            os.chmod(temporaries[path], 0o644)  # mkstemp makes it owner-only
    except BaseException as err:
        _unlink_all(temporaries.values())
        if isinstance(err, OSError) and not isinstance(err, Refusal):
            raise NotWritableError(f"cannot write {path}: {err.strerror or err}; none of "
                                   f"{names} was changed") from err
        raise
    backups: dict[str, str] = {}
    replaced: list[str] = []
    try:
        for path in targets:  # keep the old files until every new one is in place
            if os.path.isfile(path):
                backup = _temporary(path, ".old-")
                try:
                    os.link(path, backup)
                except OSError:  # no hard links here (or an immutable file): a copy
                    shutil.copy2(path, backup)
                backups[path] = backup
        for path in targets:
            os.replace(temporaries[path], path)
            del temporaries[path]
            replaced.append(path)
    except BaseException as err:
        for done in reversed(replaced):
            with contextlib.suppress(OSError):
                if done in backups:
                    os.replace(backups.pop(done), done)
                else:
                    os.unlink(done)
        _unlink_all([*temporaries.values(), *backups.values()])
        if isinstance(err, OSError):  # ``path``: the file being kept or replaced
            raise NotWritableError(f"cannot write {path}: {err.strerror or err}; none of "
                                   f"{names} was changed") from err
        raise
    _unlink_all(backups.values())


# --------------------------------------------------------------------------- locks

LOCK_FILE = ".fenchel.lock"
"""The lock file of a locked folder (inside it); a locked file ``NAME`` has ``.NAME`` +
this beside it. It holds the holder's record (JSON: pid, host, start time, command)."""

# Locks this process holds: lock file -> [fd, count, pid, folders created for it].
_held: dict[str, list] = {}
_held_guard = threading.RLock()


def lock_file(target: str | os.PathLike, folder: bool = True) -> str:
    """The lock file of the output folder (or, with ``folder=False``, file) ``target``.

    Example:
      >>> from fenchel.infra._io import lock_file
      >>> lock_file("/data/out"), lock_file("/data/bench.json", folder=False)
      ('/data/out/.fenchel.lock', '/data/.bench.json.fenchel.lock')
    """
    target = os.path.realpath(os.path.abspath(os.fspath(target)))
    if folder:
        return os.path.join(target, LOCK_FILE)
    directory, name = os.path.split(target)
    return os.path.join(directory, f".{name}{LOCK_FILE}")


def _command_line() -> str:
    argv = list(sys.argv) or ["python"]
    name = os.path.basename(argv[0])
    if name == "__main__.py":  # python -m fenchel
        name = os.path.basename(os.path.dirname(argv[0])) or name
    return shlex.join([name, *argv[1:]])


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        record = json.loads(os.pread(fd, 65536, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _holder_alive(holder: Mapping[str, Any]) -> bool:
    """Whether the process of a lock record runs (on this host; one on another host is
    taken to run)."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if holder.get("host") != socket.gethostname():
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _take(fd: int) -> bool:
    """Take the lock of the open lock file ``fd``: False when another process holds it."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True  # released by the kernel when the holder dies: never stale
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
    # No flock here (some network file systems): the record decides; a record of a
    # process that no longer runs is stale.
    return not _holder_alive(_read_holder(fd))


def describe_holder(holder: Mapping[str, Any]) -> str:
    """``pid 123 on host h, started 2025-01-01 10:00:00, running: fenchel ...``."""
    if not holder.get("pid"):
        return "a process that has not written its record yet"
    command = str(holder.get("command", "?"))
    if len(command) > 2000:
        command = command[:1000] + " ... " + command[-995:]
    return (f"pid {holder.get('pid')} on host {holder.get('host', '?')}, started "
            f"{holder.get('started', '?')}, running: {command}")


def _missing_folders(folder: str) -> list[str]:
    """The folders that creating ``folder`` would create, innermost first."""
    missing = []
    current = folder
    while not os.path.lexists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return missing


def _remove_if_empty(folders: Iterable[str]) -> None:
    for folder in folders:  # innermost first
        try:
            os.rmdir(folder)
        except OSError:
            return


def _acquire(path: str, target: str, folder: bool, what: str, command: str | None
             ) -> tuple[int, list[str]]:
    directory = os.path.dirname(path)
    created = _missing_folders(directory)
    for _ in range(1000):
        try:
            os.makedirs(directory, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except FileNotFoundError:  # a holder removed the folder it had created: again
            continue
        except OSError as err:
            _remove_if_empty(created)
            problem = write_problem(target, folder) or (err.strerror or str(err))
            raise NotWritableError(f"cannot use {target} as the {what}: {problem}") from err
        if not _take(fd):
            holder = _read_holder(fd)
            os.close(fd)
            raise OutputLockedError(
                f"{target} is in use by another run ({describe_holder(holder)}); wait for "
                f"it to end, or choose another {what}")
        try:
            current = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            current = False
        if not current:  # its holder removed the file as we opened it: lock the new one
            os.close(fd)
            continue
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                  "command": command if command is not None else _command_line()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        return fd, created
    raise OutputLockedError(f"could not lock {target}: its lock file {path} keeps changing")


@contextlib.contextmanager
def output_lock(target: str | os.PathLike, *, folder: bool = True,
                what: str = "output folder", command: str | None = None) -> Iterator[str]:
    """Hold the lock of an output folder (or file) while the block runs: one run at a
    time writes there.

    The lock is ``fcntl.flock`` on :func:`lock_file` (``TARGET/.fenchel.lock``), which
    records the holder: pid, host, start time and command. Another process (another run)
    that asks for it is refused at once with :class:`OutputLockedError` naming the
    holder. The kernel releases a flock when its process dies, however it dies: the lock
    file a killed run leaves behind is stale, and the next run takes it over. (Where
    the file system has no flock, a record whose process no longer runs on this host is
    taken as stale.) The lock is re-entrant within a process (a grid that locks its
    folder may call code that locks it again). On release the lock file is removed, and
    so are the folders made for it if they are still empty (a refused run leaves
    nothing behind).

    Args:
      target: the output folder (created if missing), or, with ``folder=False``, the
        output file (whose folder is created if missing).
      folder: whether ``target`` is a folder.
      what: what ``target`` is, for the messages (``"output folder"``, ``"checkpoint
        folder"``, ``"--json file"``).
      command: the holder's command in the record (default: this process's ``sys.argv``).

    Yields:
      The lock file's path.

    Raises:
      OutputLockedError: another process holds the lock.
      NotWritableError: the lock file cannot be created there.

    Example:
      >>> import os, tempfile
      >>> from fenchel.infra._io import LOCK_FILE, output_lock
      >>> out = os.path.join(tempfile.mkdtemp(), "grid")
      >>> with output_lock(out) as lock:
      ...     os.path.basename(lock) == LOCK_FILE
      True
      >>> os.path.exists(out)  # created for the lock, removed with it (still empty)
      False
    """
    target = os.fspath(target)
    path = lock_file(target, folder)
    with _held_guard:
        entry = _held.get(path)
        if entry is not None and entry[2] == os.getpid():
            entry[1] += 1
        else:
            fd, created = _acquire(path, target, folder, what, command)
            entry = _held[path] = [fd, 1, os.getpid(), created]
    try:
        yield path
    finally:
        with _held_guard:
            if entry[2] == os.getpid():  # not in a forked child
                entry[1] -= 1
                if entry[1] == 0:
                    del _held[path]
                    with contextlib.suppress(OSError):
                        os.unlink(path)  # still locked: a newcomer locks a new file
                    os.close(entry[0])
                    _remove_if_empty(entry[3])


__all__ = ["Refusal", "OutputLockedError", "NotWritableError", "atomic_path", "atomic_file",
           "atomic_text_file", "write_text_atomic", "json_text", "write_json_atomic",
           "read_json_record", "write_problem", "check_writable", "Writer",
           "write_all_or_nothing", "LOCK_FILE", "lock_file", "describe_holder",
           "output_lock"]
