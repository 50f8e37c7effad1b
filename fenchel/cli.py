"""The ``fenchel`` command line.

Each application registers its own sub-commands through an ``add_parser``
function, so this module stays a thin dispatcher.
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
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
