"""The ``fenchel bench`` command: run benchmark cases, print tables, write JSON."""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import time

from fenchel._cli_types import add_argument, output_file, positive_int
from fenchel.bench.results import environment, format_report, write_json
from fenchel.bench.runner import CASES, run_cases


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
    words += ["--quick"] if args.quick else []
    words += ["--reps", str(args.reps)] if args.reps is not None else []
    words += ["--data-dir", args.data_dir] if args.data_dir is not None else []
    words += ["--json", args.json] if args.json else []
    return shlex.join(words)


def _data_problem(args: argparse.Namespace) -> str | None:
    """Why the ``training`` case (full size: a MULAN dataset) cannot load its data, or
    None; checked before the first case runs."""
    from fenchel.bench import training

    if args.quick or "training" not in (args.cases or list(CASES)):
        return None
    config = CASES["training"][1]
    if args.data_dir is not None:
        config = dataclasses.replace(config, data_dir=args.data_dir)
    try:
        training.load_training_data(config)
    except (ValueError, OSError) as err:
        return f"the training case cannot load dataset {config.dataset!r}: {err}"
    return None


def _bench(args: argparse.Namespace) -> int:
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
    results = []
    # One case at a time: each table is printed, and the JSON rewritten, as soon as
    # its case ends, so an interrupted run keeps what it measured.
    for name in args.cases or list(CASES):
        result, = run_cases([name], quick=args.quick, overrides=overrides, log=log)
        results.append(result)
        print(format_report(result), flush=True)
        if args.json:
            meta = {"command": _command_line(args), "quick": args.quick,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(start)),
                    "wall_s": time.time() - start, "load_average_at_start": load_at_start,
                    "environment": environment()}
            write_json(args.json, results, meta)
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
                        help="tiny sizes, one repetition (smoke test: checks the command works)")
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
