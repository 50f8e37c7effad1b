"""Atomic file writes: a crash never leaves a half-written result behind."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_text_file(path: str | os.PathLike) -> Iterator[Any]:
    """Open a temporary file beside ``path`` for writing text; on success it
    replaces ``path`` (``os.replace``), on error it is removed. Parent folders
    are created."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".tmp-{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as file:
            yield file
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
