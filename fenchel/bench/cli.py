"""The ``fenchel bench`` command: run benchmark cases, print tables, write JSON.

``fenchel bench [--cases a,b] [--quick | --preset default|quick|device] [--json FILE]``:
the cases run in the order given, at the sizes of the preset
(:data:`fenchel.bench.runner.PRESETS`); each table is printed, and the JSON
rewritten atomically, as soon as its case ends. SIGTERM (e.g. from ``timeout``)
and Ctrl-C stop the run with the finished cases saved and the interrupted one
named in the JSON's ``meta.interrupted``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time

from fenchel.infra._cli_types import add_argument, output_file, positive_int
from fenchel.infra._io import output_lock
from fenchel.bench.results import environment, format_report, write_json
from fenchel.bench.runner import CASES, PRESETS, case_config, run_cases


def _cases(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in CASES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(CASES)}; got {value!r}")
    return names


def _command_line(args: argparse.Namespace) -> str:
    """The canonical ``fenchel bench ...`` line that reproduces ``args``."""
    words = ["fenchel", "bench"]
    if args.cases:
        words += ["--cases", ",".join(args.cases)]
    preset = _preset(args)
    words += ["--quick"] if preset == "quick" else []
    words += ["--preset", preset] if preset not in ("quick", "default") else []
    words += ["--reps", str(args.reps)] if args.reps is not None else []
    words += ["--data-dir", args.data_dir] if args.data_dir is not None else []
    words += ["--json", args.json] if args.json else []
    return shlex.join(words)


def _preset(args: argparse.Namespace) -> str:
    if args.quick and args.preset not in (None, "quick"):
        raise ValueError(f"--quick is --preset quick; it contradicts --preset {args.preset}")
    return "quick" if args.quick else (args.preset or "default")


def _data_problem(args: argparse.Namespace) -> str | None:
    """Why the ``training`` case (a MULAN dataset unless the preset is ``quick``) cannot
    load its data, or None; checked before the first case runs. Its optional datasets
    are not checked: the case skips them with a note."""
    from fenchel.bench import training

    if "training" not in (args.cases or list(CASES)):
        return None
    overrides = {"data_dir": args.data_dir} if args.data_dir is not None else None
    config = case_config("training", _preset(args), overrides)
    if config.dataset == "synthetic":
        return None
    try:
        training.load_training_data(config)
    except (ValueError, OSError) as err:
        return f"the training case cannot load dataset {config.dataset!r}: {err}"
    return None


class _Terminated(Exception):
    """SIGTERM arrived (e.g. from ``timeout``): stop, keeping what was measured."""


def _raise_terminated(signum, frame):
    raise _Terminated(signal.Signals(signum).name)


def _bench(args: argparse.Namespace) -> int:
    """``fenchel bench``; holding the lock of the ``--json`` file (rewritten after each
    case), so that two runs never take turns writing it."""
    if not args.json:
        return _run_bench(args)
    with output_lock(args.json, folder=False, what="--json file"):
        return _run_bench(args)


def _run_bench(args: argparse.Namespace) -> int:
    try:
        preset = _preset(args)
    except ValueError as err:
        print(f"fenchel bench: error: {err}", file=sys.stderr)
        return 2
    problem = _data_problem(args)
    if problem:
        print(f"fenchel bench: error: {problem} (set --data-dir or $FENCHEL_DATA)",
              file=sys.stderr)
        return 1
    overrides = {}
    if args.reps is not None:
        overrides = {name: {"reps": args.reps, "epochs": args.reps} for name in CASES}
    if args.data_dir is not None:
        overrides.setdefault("training", {})["data_dir"] = args.data_dir
    log = (lambda message: print(message, file=sys.stderr, flush=True)) if not args.quiet else (lambda _: None)
    start = time.time()
    load_at_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    requested = args.cases or list(CASES)
    results = []

    def save(interrupted: str | None = None) -> None:
        if not args.json:
            return
        meta = {"command": _command_line(args), "preset": preset, "quick": preset == "quick",
                "cases_requested": requested, "cases_done": [r.name for r in results],
                "interrupted": interrupted,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(start)),
                "wall_s": time.time() - start, "load_average_at_start": load_at_start,
                "environment": environment()}
        write_json(args.json, results, meta)

    # SIGTERM (``timeout``, a scheduler) ends the run like Ctrl-C: the JSON then says
    # which case was cut short; the cases before it are already in it.
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except (ValueError, AttributeError):  # not the main thread, or no SIGTERM here
        previous = None
    current = None
    try:
        # One case at a time: each table is printed, and the JSON rewritten
        # (atomically), as soon as its case ends, so an interrupted run keeps what it
        # measured.
        for current in requested:
            result, = run_cases([current], preset=preset, overrides=overrides, log=log)
            results.append(result)
            print(format_report(result), flush=True)
            save()
        current = None
    except (KeyboardInterrupt, _Terminated) as stop:
        reason = f"{type(stop).__name__ if isinstance(stop, KeyboardInterrupt) else stop} " \
                 f"during case {current}"
        print(f"fenchel bench: interrupted ({reason}); "
              + (f"{args.json} has the cases that finished" if args.json else "no --json file"),
              file=sys.stderr, flush=True)
        save(reason)
        return 130 if isinstance(stop, KeyboardInterrupt) else 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(f"wrote {args.json}")
    return 0


def add_parser(subparsers) -> None:
    """Adds ``bench`` to the ``fenchel`` command line."""
    parser = subparsers.add_parser(
        "bench", help="Benchmark GFY losses, baselines and solvers; print tables (and JSON).",
        description="Runs each case in this process: compile, one warm-up call, then timed "
                    "repetitions (median). Ratios are against a baseline measured in the same run.")
    parser.add_argument("--cases", type=_cases, default=None, metavar="CASES",
                        help=f"comma-separated cases to run (default: all of {','.join(CASES)})")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, one repetition (smoke test: checks the command works); "
                             "the same as --preset quick")
    parser.add_argument("--preset", choices=list(PRESETS), default=None,
                        help="sizes of every case: default (the CPU tables of "
                             "docs/benchmarks.md), quick (= --quick) or device (an accelerator: "
                             "batch 4096, k up to 1000, training at batch 1024 on yeast and "
                             "bibtex; a few minutes on one GPU)")
    parser.add_argument("--json", metavar="FILE", type=output_file, default=None,
                        help="also write all figures as JSON to this file (atomically, "
                             "rewritten after each case)")
    parser.add_argument("--reps", type=positive_int, default=None, metavar="N",
                        help="timed repetitions per configuration (default: per case)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="MULAN data folder for the training case (default: FENCHEL_DATA)")
    add_argument(parser, "--quiet", action="store_true", deprecated=["--silent"],
                 help="no progress messages on stderr")
    parser.set_defaults(func=_bench)


__all__ = ["add_parser"]
