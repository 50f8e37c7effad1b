"""The command line of a ``fenchel reproduce`` experiment: its parser's shared flags, and
how a refusal or Ctrl-C is reported."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Iterable


def add_reproduce_parser(subparsers, name: str, help: str, description: str,
                         run: Callable[[argparse.Namespace], int], *, seeds: int,
                         progress: str = "no progress bar") -> argparse.ArgumentParser:
    """Add ``fenchel reproduce NAME`` with the flags every grid has: ``--seeds`` (seeds
    0..N-1, default ``seeds``), ``--out`` (default ``results/NAME``, the committed results
    being in ``docs/results/NAME``), ``--jobs`` and ``--quiet``. Returns the parser, for
    the experiment's own flags."""
    from fenchel.infra._cli_types import output_dir, positive_int

    parser = subparsers.add_parser(name, help=help, description=description)
    parser.add_argument("--seeds", type=positive_int, default=seeds, metavar="N",
                        help=f"number of seeds: runs seeds 0..N-1 (default {seeds})")
    parser.add_argument("--out", type=output_dir, default=os.path.join("results", name),
                        metavar="DIR",
                        help=f"output folder (default results/{name}; the committed results "
                             f"are in docs/results/{name}); a re-run resumes it with the same "
                             "settings and refuses other settings (see DIR/settings.json)")
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="worker processes running runs in parallel (default 1)")
    parser.add_argument("--quiet", action="store_true", help=progress)
    parser.set_defaults(func=run)
    return parser


def run_resumable(prefix: str, out: str | os.PathLike, call: Callable[[], Any]
                  ) -> tuple[int | None, Any]:
    """Run a resumable grid, ``call()``, for the command ``prefix`` writing to ``out``.

    Returns:
      ``(None, result)`` when it finished; ``(2, None)`` when it was refused
      (:class:`fenchel.infra._io.Refusal`, printed as ``PREFIX: error: MESSAGE``): ``out``
      holds runs made with other settings
      (:class:`fenchel.infra._settings.SettingsMismatchError`), another run holds ``out``
      (:class:`fenchel.infra._io.OutputLockedError`), an output cannot be written
      (:class:`fenchel.infra._io.NotWritableError`), an input cannot be used;
      ``(130, None)`` on Ctrl-C, after saying that the finished runs in ``out/runs``
      are kept and the same command resumes. Other errors propagate.
    """
    from fenchel.infra._io import Refusal

    try:
        return None, call()
    except Refusal as err:
        print(f"{prefix}: error: {err}", file=sys.stderr)
        return 2, None
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted; the finished runs are kept in "
              f"{os.path.join(os.fspath(out), 'runs')}: run the same command again to resume",
              file=sys.stderr)
        return 130, None


def run_command(prefix: str, out: str | os.PathLike, call: Callable[[], Any],
                summary: Callable[[Any], Iterable[str]]) -> int:
    """The body of a ``fenchel reproduce`` command: :func:`run_resumable`, then, when the
    grid finished, the lines of ``summary(result)`` on stdout. Returns the exit code
    (0, or 2 and 130 as :func:`run_resumable`)."""
    code, result = run_resumable(prefix, out, call)
    if code is not None:
        return code
    for line in summary(result):
        print(line)
    return 0


__all__ = ["add_reproduce_parser", "run_resumable", "run_command"]
