"""Checked ``argparse`` types shared by every ``fenchel`` sub-command.

Each function takes the flag's text and returns the parsed value, or raises
:class:`argparse.ArgumentTypeError`, which argparse reports as
``fenchel ...: error: argument --lr: expected a finite number > 0, got 'inf'``
with exit code 2, before any data is read or any model trained.

Numbers must be finite in float32 (the precision of the computations), so
``inf``, ``nan`` and ``1e39`` are refused. Output paths are checked for
writability without creating anything: a run that cannot save its result is
refused before it starts, and a refused run leaves no folder behind.
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np

SEED_MAX = 2**31 - 1
"""Largest seed: seeds become 32-bit JAX keys and are offset for evaluation
episodes (``EVAL_SEED_OFFSET + seed``), which must stay below 2**32."""

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _error(expected: str, value: str, why: str = "") -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"expected {expected}, got {value!r}"
                                      + (f" ({why})" if why else ""))


def _integer(value: str, expected: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise _error(expected, value) from None


def _number(value: str, expected: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _error(expected, value) from None
    if not math.isfinite(number):
        raise _error(expected, value)
    if abs(number) > _FLOAT32_MAX:
        raise _error(expected, value, f"overflows float32, whose largest value is "
                                      f"{_FLOAT32_MAX:.4g}")
    return number


def positive_int(value: str) -> int:
    """An integer >= 1 (counts, sizes, budgets).

    Example:
      >>> positive_int("3")
      3
    """
    expected = "an integer >= 1"
    number = _integer(value, expected)
    if number < 1:
        raise _error(expected, value)
    return number


def non_negative_int(value: str) -> int:
    """An integer >= 0 (e.g. ``--hidden 0`` for a linear model).

    Example:
      >>> non_negative_int("0")
      0
    """
    expected = "an integer >= 0"
    number = _integer(value, expected)
    if number < 0:
        raise _error(expected, value)
    return number


def seed_int(value: str) -> int:
    """A seed: an integer in [0, :data:`SEED_MAX`].

    Example:
      >>> seed_int("7")
      7
    """
    expected = f"an integer seed in [0, {SEED_MAX}]"
    number = _integer(value, expected)
    if not 0 <= number <= SEED_MAX:
        raise _error(expected, value)
    return number


def positive_float(value: str) -> float:
    """A finite number > 0 that stays > 0 in float32 (learning rates, temperatures).

    Example:
      >>> positive_float("3e-3")
      0.003
    """
    expected = "a finite number > 0"
    number = _number(value, expected)
    if not np.float32(number) > 0:
        raise _error(expected, value, "0 in float32" if number > 0 else "")
    return number


def non_negative_float(value: str) -> float:
    """A finite number >= 0 (e.g. weight decay).

    Example:
      >>> non_negative_float("0")
      0.0
    """
    expected = "a finite number >= 0"
    number = _number(value, expected)
    if number < 0:
        raise _error(expected, value)
    return number


def _nearest_existing(path: str) -> str:
    """``path`` or its nearest ancestor that exists."""
    current = path
    while not os.path.lexists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def _folder_problem(folder: str) -> str | None:
    """Why files cannot be created in ``folder`` (created first if missing), or None."""
    existing = _nearest_existing(folder)
    if not os.path.isdir(existing):
        return f"{existing!r} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"folder {existing!r} is not writable"
    return None


def output_path_problem(path: str | os.PathLike, folder: bool = False) -> str | None:
    """Why ``path`` cannot be written as a file (or, with ``folder``, used as an output
    folder), or None if it can. Creates nothing.

    Example:
      >>> output_path_problem("/")
      'it is an existing folder, a file name is needed'
    """
    text = os.fspath(path)
    if not text.strip():
        return "empty path"
    absolute = os.path.abspath(text)
    if folder:
        if os.path.lexists(absolute) and not os.path.isdir(absolute):
            return "it is an existing file, a folder is needed"
        return _folder_problem(absolute)
    if os.path.isdir(absolute):
        return "it is an existing folder, a file name is needed"
    return _folder_problem(os.path.dirname(absolute))


def output_file(value: str) -> str:
    """A file path the command can write (its folder exists and is writable, or can be
    created); nothing is created."""
    problem = output_path_problem(value)
    if problem:
        raise _error("a writable file path", value, problem)
    return value


def output_dir(value: str) -> str:
    """A folder path the command can write into (existing and writable, or creatable);
    nothing is created."""
    problem = output_path_problem(value, folder=True)
    if problem:
        raise _error("a writable folder", value, problem)
    return value


__all__ = ["SEED_MAX", "positive_int", "non_negative_int", "seed_int", "positive_float",
           "non_negative_float", "output_path_problem", "output_file", "output_dir"]
