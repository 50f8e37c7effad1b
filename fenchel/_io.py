"""Atomic file writes: a crash never leaves a half-written result behind."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import tempfile
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary path beside ``path`` to write to (for writers that take a
    file name, e.g. matplotlib's ``savefig``); on success it replaces ``path``
    (``os.replace``, readable by all), on error it is removed. Parent folders
    are created.

    Example:
      >>> import os, tempfile
      >>> from fenchel._io import atomic_path
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


def write_json_atomic(path: str | os.PathLike, data: Any, *, indent: int = 1,
                      sort_keys: bool = True) -> None:
    """Write ``data`` as JSON (with a final newline) to ``path`` atomically."""
    with atomic_text_file(path) as file:
        json.dump(data, file, indent=indent, sort_keys=sort_keys, allow_nan=True)
        file.write("\n")


def read_json_record(path: str | os.PathLike, required_key: str) -> dict[str, Any] | None:
    """The JSON object stored at ``path`` if it holds ``required_key``, else None (no
    file, an unreadable or partial one, or another kind of record): a resumable run
    treats all of these as "not done yet" and runs it again.

    Example:
      >>> from fenchel._io import read_json_record
      >>> read_json_record("no/such/file.json", "config") is None
      True
    """
    try:
        record = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and required_key in record else None

