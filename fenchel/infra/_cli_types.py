"""Checked ``argparse`` types shared by every ``fenchel`` sub-command, the one way
of declaring a flag with deprecated spellings (:func:`add_argument`). (A ``fenchel reproduce``
grid's shared flags, and its reports of refusals and Ctrl-C, are in
:mod:`fenchel.experiments`.)

Each type function takes the flag's text and returns the parsed value, or raises
:class:`argparse.ArgumentTypeError`, which argparse reports as
``fenchel ...: error: argument --learning-rate: expected a finite number > 0, got 'inf'``
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
import sys
from typing import Any, Callable, Iterable, Mapping

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
      >>> from fenchel.infra._cli_types import positive_int
      >>> positive_int("3")
      3
    """
    expected = "an integer >= 1"
    number = _integer(value, expected)
    if number < 1:
        raise _error(expected, value)
    return number


def non_negative_int(value: str) -> int:
    """An integer >= 0 (e.g. ``fenchel multilabel --hidden 0`` for a linear model).

    Example:
      >>> from fenchel.infra._cli_types import non_negative_int
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
      >>> from fenchel.infra._cli_types import seed_int
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
      >>> from fenchel.infra._cli_types import positive_float
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
      >>> from fenchel.infra._cli_types import non_negative_float
      >>> non_negative_float("0")
      0.0
    """
    expected = "a finite number >= 0"
    number = _number(value, expected)
    if number < 0:
        raise _error(expected, value)
    return number


def existing_file(value: str) -> str:
    """A file that exists and can be read (an input such as a demonstrations file).

    Example:
      >>> from fenchel.infra._cli_types import existing_file
      >>> existing_file("/no/such/file.npz")
      Traceback (most recent call last):
      ...
      argparse.ArgumentTypeError: expected an existing file, got '/no/such/file.npz' (no such file)
    """
    expected = "an existing file"
    if not value.strip():
        raise _error(expected, value, "empty path")
    if not os.path.exists(value):
        raise _error(expected, value, "no such file")
    if os.path.isdir(value):
        raise _error(expected, value, "it is a folder")
    if not os.access(value, os.R_OK):
        raise _error(expected, value, "not readable")
    return value


def output_path_problem(path: str | os.PathLike, folder: bool = False) -> str | None:
    """Why ``path`` cannot be written as a file (or, with ``folder``, used as an output
    folder), or None if it can. Creates nothing (it tries to create a file in the nearest
    existing folder and removes it: :func:`fenchel.infra._io.write_problem`).

    Example:
      >>> from fenchel.infra._cli_types import output_path_problem
      >>> output_path_problem("/")
      'it is an existing folder, a file name is needed'
    """
    from fenchel.infra._io import write_problem

    return write_problem(path, folder)


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


REMOVAL = "the next release"
"""When the deprecated spellings of flags stop working."""


class DeprecatedAlias(argparse.Action):
    """An old spelling of a flag: accepted for one more release, hidden from ``--help``,
    and announced by a one-line warning on stderr naming the new flag.

    It stores into the new flag's ``dest`` (made by :func:`add_argument`), so the
    parsed namespace is the same whichever spelling was used.
    """

    def __init__(self, option_strings, dest, replacement: str, nargs=None, const=None,
                 **kwargs):
        super().__init__(option_strings, dest, nargs=nargs, const=const, **kwargs)
        self.replacement = replacement

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: warning: {option_string} is deprecated and will be removed "
              f"in {REMOVAL}; use {self.replacement}", file=sys.stderr)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def add_argument(parser, *flags: str,
                 deprecated: Iterable[str] | Mapping[str, Callable[[str], Any] | None] = (),
                 **kwargs: Any) -> argparse.Action:
    """``parser.add_argument(*flags, **kwargs)``, also accepting the ``deprecated`` old
    spellings of the flag.

    Each old spelling parses like the new flag (or with its own ``type``, when
    ``deprecated`` maps it to one: e.g. a gymnasium id converted to a task name), is
    hidden from ``--help``, prints ``PROG: warning: OLD is deprecated ...; use NEW`` to
    stderr, and cannot be combined with the new flag. A ``required`` flag is satisfied by
    either spelling.

    Returns:
      The new flag's action.

    Example:
      >>> import argparse
      >>> from fenchel.infra._cli_types import add_argument
      >>> parser = argparse.ArgumentParser(prog="demo")
      >>> _ = add_argument(parser, "--learning-rate", type=float, help="step size",
      ...                  deprecated=["--lr"])
      >>> parser.parse_args(["--lr", "0.5"])  # also prints the warning to stderr
      Namespace(learning_rate=0.5)
    """
    aliases = dict(deprecated) if isinstance(deprecated, Mapping) else \
        dict.fromkeys(deprecated)
    if not aliases:
        return parser.add_argument(*flags, **kwargs)
    group = parser.add_mutually_exclusive_group(required=kwargs.pop("required", False))
    action = group.add_argument(*flags, **kwargs)
    new = max(action.option_strings, key=len)
    for old, convert in aliases.items():
        if action.nargs == 0:  # a switch (store_true, ...)
            extra = {"nargs": 0, "const": action.const}
        else:
            extra = {"nargs": action.nargs, "type": convert or action.type,
                     "choices": None if convert else action.choices,
                     "metavar": action.metavar}
        group.add_argument(old, action=DeprecatedAlias, dest=action.dest, replacement=new,
                           default=argparse.SUPPRESS, help=argparse.SUPPRESS, **extra)
    return action


__all__ = ["SEED_MAX", "positive_int", "non_negative_int", "seed_int", "positive_float",
           "non_negative_float", "existing_file", "output_path_problem", "output_file",
           "output_dir", "REMOVAL", "DeprecatedAlias", "add_argument"]

