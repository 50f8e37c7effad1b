"""The ``fenchel`` command line.

Each application registers its own sub-commands through an ``add_parser``
function, so this module stays a thin dispatcher. The checked ``argparse`` types
the sub-commands share (numbers, seeds, output paths) are in
:mod:`fenchel._cli_types`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (module defining ``add_parser(subparsers)`` and, optionally,
#  ``add_reproduce_parser(subparsers)`` for ``fenchel reproduce ...``)
_APPLICATIONS = (
    "fenchel.multilabel.cli",
    "fenchel.imitation.cli",
    "fenchel.bench.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fenchel",
        description="Energy networks trained with generalized Fenchel-Young losses.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    reproduce = subparsers.add_parser(
        "reproduce", help="Run a paper experiment grid and write its results.")
    reproduce_sub = reproduce.add_subparsers(dest="experiment", required=True)
    for module_name in _APPLICATIONS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:  # a real missing dependency: surface it
                raise
            continue
        module.add_parser(subparsers)
        if hasattr(module, "add_reproduce_parser"):
            module.add_reproduce_parser(reproduce_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command; returns the exit code.

    Bad flags and unusable output paths exit with code 2 (argparse) before any work;
    Ctrl-C exits with code 130 and a one-line message instead of a traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
