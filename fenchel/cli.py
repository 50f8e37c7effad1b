"""The ``fenchel`` command line.

Each application registers its own sub-commands through an ``add_parser``
function, so this module stays a thin dispatcher. The checked ``argparse`` types
the sub-commands share (numbers, seeds, output paths) and the declaration of flags with
deprecated spellings are in :mod:`fenchel.infra._cli_types`.

One vocabulary across the sub-commands (the same flag for the same concept):

============================  ======================  =====================================
concept                       flag                    deprecated spelling (one release)
============================  ======================  =====================================
learning rate(s)              ``--learning-rate``     ``--lr`` (multilabel)
no progress output            ``--quiet``             ``--silent`` (bench)
main output (file or folder)  ``--out``
the result, also as JSON      ``--json``
one seed                      ``--seed``
number of seeds (0..N-1)      ``--seeds``
worker processes              ``--jobs``
data-parallel devices         ``--devices``
task(s), by project name      ``--env`` / ``--envs``  ``--env-id Hopper-v5`` (train-expert)
demonstration episodes        ``--demos``             ``--episodes`` (collect)
layer sizes of one network    ``--hidden-sizes``      ``--hidden`` (imitation)
grid of one-layer widths      ``--hidden``
============================  ======================  =====================================

A deprecated spelling still works for one release, prints a one-line warning on stderr
naming the new flag, and is hidden from ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

import fenchel

# module defining ``add_parser(subparsers)`` and/or
# ``add_reproduce_parser(subparsers)`` (for ``fenchel reproduce ...``) ->
# (its sub-commands, its ``reproduce`` experiment or None, the extra it needs)
_APPLICATIONS = {
    "fenchel.multilabel.cli": (("multilabel",), "multilabel", "multilabel"),
    "fenchel.multilabel.calibration": ((), "calibration", "multilabel"),
    "fenchel.imitation.cli": (("imitation",), "imitation", "imitation"),
    "fenchel.label_ranking.cli": (("label-ranking",), None, "multilabel"),
    "fenchel.label_ranking.reproduce": ((), "label-ranking", "multilabel"),
    "fenchel.bench.cli": (("bench",), None, "bench"),
}

# The modules each extra of pyproject.toml provides (import names), checked before an
# application registers its sub-commands, so that a missing one gives a message.
_EXTRA_MODULES = {
    "multilabel": ("flax", "orbax.checkpoint", "scipy", "sklearn", "arff", "tqdm", "matplotlib"),
    "imitation": ("flax", "orbax.checkpoint", "tqdm", "gymnasium", "mujoco", "PIL",
                  "matplotlib"),
    "bench": ("flax", "orbax.checkpoint", "scipy", "arff", "tqdm", "matplotlib"),
}


def _first_missing(modules) -> str | None:
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):  # a parent package missing, or hidden
            return name
    return None


def _missing_extra(command: str, extra: str, missing: str):
    """A stand-in sub-command for an application whose extra is not installed."""
    def run(args) -> int:
        print(f"fenchel {command}: needs the optional dependencies of fenchel[{extra}] "
              f"({missing!r} is not installed): pip install \"fenchel[{extra}]\"",
              file=sys.stderr)
        return 2
    return run


def _add_missing(subparsers, command, extra, missing):
    parser = subparsers.add_parser(
        command, add_help=False, prefix_chars="\0",
        help=f"(not installed: pip install \"fenchel[{extra}]\")")
    parser.add_argument("rest", nargs="*", help="ignored: the command is not installed")
    parser.set_defaults(func=_missing_extra(command, extra, missing))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fenchel",
        description="Energy networks trained with generalized Fenchel-Young losses.")
    parser.add_argument("--version", action="version", version=f"fenchel {fenchel.__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                       help="one of (each has its own --help):")
    help = "Run a paper experiment grid and write its results (resumable)."
    reproduce = subparsers.add_parser("reproduce", help=help, description=help)
    reproduce_sub = reproduce.add_subparsers(dest="experiment", required=True,
                                             metavar="EXPERIMENT", help="one of:")
    for module_name, (commands, experiment, extra) in _APPLICATIONS.items():
        missing = _first_missing(_EXTRA_MODULES[extra])
        if missing is not None:
            for command in commands:
                _add_missing(subparsers, command, extra, missing)
            if experiment:
                _add_missing(reproduce_sub, experiment, extra, missing)
            continue
        module = importlib.import_module(module_name)
        if hasattr(module, "add_parser"):
            module.add_parser(subparsers)
        if hasattr(module, "add_reproduce_parser"):
            module.add_reproduce_parser(reproduce_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command; returns the exit code.

    Bad flags and unusable output paths exit with code 2 (argparse) before any work; so
    does every refusal of a sub-command (:class:`fenchel.infra._io.Refusal`: an output folder
    in use by another run or not writable, a checkpoint or an input it cannot use), with
    ``fenchel COMMAND: error: MESSAGE``. Ctrl-C exits with code 130 and a one-line message
    instead of a traceback.
    """
    from fenchel.infra._io import Refusal

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Refusal as err:
        print(f"{_command_words(args)}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as err:
        # An optional dependency imported on first use (e.g. the ARFF reader).
        extra = _extra_of(args)
        if extra is None or (err.name or "").split(".")[0] == "fenchel":
            raise
        command = " ".join(filter(None, (args.command, getattr(args, "experiment", None))))
        return _missing_extra(command, extra, err.name)(args)


def _command_words(args) -> str:
    """``fenchel multilabel``, ``fenchel reproduce imitation``, ``fenchel imitation train``."""
    return " ".join(filter(None, ("fenchel", args.command, getattr(args, "experiment", None),
                                  getattr(args, "imitation_command", None))))


def _extra_of(args) -> str | None:
    """The extra whose dependencies the chosen sub-command needs."""
    name = getattr(args, "experiment", None) if args.command == "reproduce" else args.command
    for commands, experiment, extra in _APPLICATIONS.values():
        if name in commands or name == experiment:
            return extra
    return None


def run() -> None:
    """The ``fenchel`` program (``python -m fenchel``): :func:`main`, then exit with its code.

    A refusal (exit code 2) ends the process at once, after flushing stdout and stderr: work
    still in flight in background threads (orbax's reads after a failed restore) would
    otherwise report at interpreter exit, around the one-line message. Files are safe: every
    output is written atomically, and the refusal comes after the command's ``with`` blocks
    (locks included) have closed.
    """
    code = main()
    if code == 2:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
