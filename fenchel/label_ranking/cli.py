"""``fenchel label-ranking``: repeated cross-validation of one method on one data set.

Example::

  fenchel label-ranking --dataset iris --method perm-squared --folds 10 --repeats 5 \\
      --seed 0 --json iris.json

The JSON holds ``kendall_tau`` (the mean over all test examples of all folds),
``kendall_tau_std`` (over folds), ``spearman`` (and its std), every fold's values, the
configuration chosen in each fold (on an inner validation split of its training folds) and
the timings. It is written atomically, while the command holds the file's lock.
"""

from __future__ import annotations

import argparse
import sys
import time

from fenchel.infra._cli_types import (non_negative_float, non_negative_int, output_file,
                                positive_float, positive_int, seed_int)

PREFIX = "fenchel label-ranking"

# The grid flags of each kind of method (None: the method's default grid).
_NETWORK_GRID = {"hidden": "--hidden", "learning_rate": "--learning-rate",
                 "weight_decay": "--weight-decay"}
_KNN_GRID = {"n_neighbors": "--neighbors"}


def _folds(value: str) -> int:
    """A number of folds: an integer >= 2."""
    number = positive_int(value)
    if number < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2, got {value!r}")
    return number


def _grid(args: argparse.Namespace, method) -> dict | None:
    """The grid of ``method`` with the values given on the command line; refuses the
    flags of the other kind of method."""
    from fenchel.label_ranking.experiment import KNNBorda

    own, other = (_KNN_GRID, _NETWORK_GRID) if isinstance(method, KNNBorda) else \
        (_NETWORK_GRID, _KNN_GRID)
    for name, flag in other.items():
        if getattr(args, name) is not None:
            raise ValueError(f"{flag} does not apply to method {method.name!r}")
    grid = dict(method.grid)
    for name in own:
        if getattr(args, name) is not None:
            grid[name] = tuple(getattr(args, name))
    return grid


def _line(result: dict) -> str:
    return (f"kendall_tau={100 * result['kendall_tau']:.2f}±"
            f"{100 * result['kendall_tau_std']:.2f} spearman={100 * result['spearman']:.2f}±"
            f"{100 * result['spearman_std']:.2f}")


def _run(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from fenchel.infra._io import output_lock, write_json_atomic
    from fenchel.label_ranking.data import load_dataset
    from fenchel.label_ranking.experiment import Settings, cross_validate, get_method

    try:
        method = get_method(args.method)
        grid = _grid(args, method)
        settings = Settings(max_steps=args.max_steps, eval_every=args.eval_every,
                            patience=args.patience, batch_size=args.batch_size)
        data = load_dataset(args.dataset, args.data_dir)
        if args.folds > data.n_examples:
            raise ValueError(f"--folds must be at most the number of examples of "
                             f"{data.name} ({data.n_examples}), got {args.folds}")
    except (ValueError, TypeError, OSError) as err:
        print(f"{PREFIX}: error: {err}", file=sys.stderr)
        return 2

    def progress(fold: dict) -> None:
        if not args.quiet:
            print(f"repeat {fold['repeat']} fold {fold['fold']}: "
                  f"kendall_tau={100 * fold['kendall_tau']:.2f} config={fold['config']} "
                  f"({fold['seconds']:.1f} s)", flush=True)

    lock = (output_lock(args.json, folder=False, what="--json file") if args.json
            else nullcontext())
    with lock:
        start = time.perf_counter()
        result = cross_validate(data, method, n_folds=args.folds, n_repeats=args.repeats,
                                seed=args.seed, settings=settings, grid=grid,
                                progress=progress)
        result["wall_seconds"] = time.perf_counter() - start
        result["data"] = dict(data.metadata)
        print(f"dataset={data.name} method={method.name} folds={args.folds} "
              f"repeats={args.repeats} seed={args.seed} {_line(result)} "
              f"wall_seconds={result['wall_seconds']:.1f}")
        if args.json:
            write_json_atomic(args.json, result)
            print(f"wrote {args.json}")
    return 0


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the step budget flags (the :class:`~fenchel.label_ranking.experiment.Settings`
    fields) ``--max-steps``, ``--eval-every``, ``--patience`` and ``--batch-size`` (also
    those of ``fenchel reproduce label-ranking``)."""
    parser.add_argument("--max-steps", type=positive_int, default=2000,
                        help="step budget of the selection fits (default 2000)")
    parser.add_argument("--eval-every", type=positive_int, default=25, metavar="STEPS",
                        help="steps between validation evaluations (default 25)")
    parser.add_argument("--patience", type=positive_int, default=12,
                        help="early-stopping patience in evaluations (default 12)")
    parser.add_argument("--batch-size", type=positive_int, default=64,
                        help="minibatch size (default 64)")


def add_parser(subparsers) -> None:
    """Adds ``fenchel label-ranking``."""
    from fenchel.label_ranking.experiment import METHODS

    description = ("Repeated k-fold cross-validation of a label ranking method; each fold "
                   "picks its configuration on an inner validation split of its training "
                   "folds. Prints and saves Kendall's tau and Spearman's rho.")
    parser = subparsers.add_parser("label-ranking", help="Cross-validate a label ranking "
                                   "method on one data set.", description=description)
    parser.add_argument("--dataset", required=True, metavar="NAME|FILE.csv",
                        help="a data set name, the file NAME.csv of --data-dir (default "
                             "$FENCHEL_LABEL_RANKING_DATA), or a path to a CSV file")
    parser.add_argument("--method", choices=sorted(METHODS), default="perm-squared",
                        help="perm-squared / perm-entropic (Fenchel-Young losses on the "
                             "permutahedron), birkhoff-squared / birkhoff-entropic (on the "
                             "Birkhoff polytope), perm-pairwise (a pairwise energy on the "
                             "permutahedron), and the baselines minmin (Sander et al. 2025), "
                             "knn (nearest-neighbour Borda) and regression (of the rank "
                             "positions) (default perm-squared)")
    parser.add_argument("--folds", type=_folds, default=10, help="folds per repeat "
                        "(default 10)")
    parser.add_argument("--repeats", type=positive_int, default=5,
                        help="repetitions of the cross-validation, each shuffled anew "
                             "(default 5)")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seed of the folds, the inner splits and the initializations "
                             "(default 0)")
    parser.add_argument("--quiet", action="store_true", help="no per-fold lines")
    parser.add_argument("--json", type=output_file, default=None, metavar="FILE",
                        help="also write the result to this JSON file (checked before "
                             "training, written atomically)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="folder of the named data sets (default "
                             "$FENCHEL_LABEL_RANKING_DATA, else the user cache)")
    parser.add_argument("--hidden", type=non_negative_int, nargs="+", default=None,
                        metavar="WIDTH", help="grid of hidden widths of the feature map, "
                        "0 = linear (trained methods; default 0 64)")
    parser.add_argument("--learning-rate", type=positive_float, nargs="+", default=None,
                        metavar="RATE", help="grid of AdamW learning rates (trained "
                        "methods; default 0.01)")
    parser.add_argument("--weight-decay", type=non_negative_float, nargs="+", default=None,
                        metavar="DECAY", help="grid of AdamW weight decays (trained "
                        "methods; default 0.0001 0.01)")
    parser.add_argument("--neighbors", dest="n_neighbors", type=positive_int, nargs="+",
                        default=None, metavar="K", help="grid of neighbour counts (knn; "
                        "default 5 10 20 50)")
    add_budget_arguments(parser)
    parser.set_defaults(func=_run)


__all__ = ["add_parser", "add_budget_arguments"]
