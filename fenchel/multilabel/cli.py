"""``fenchel multilabel`` and ``fenchel reproduce multilabel``.

Examples::

  fenchel multilabel --dataset yeast --energy pairwise --loss gfy --reg entropy \\
      --seed 0 --json yeast.json
  fenchel reproduce multilabel --datasets yeast scene emotions birds cal500 \\
      --seeds 3 --out docs/results/multilabel

The training flags are grids: each of ``--hidden``, ``--learning-rate``,
``--weight-decay`` and ``--reg-scale`` takes one or more values, and every combination
is a candidate configuration tuned on the validation split. ``--hidden`` is thus a list of
*widths of the hidden layers* (one network each; 0 = linear; ``--depth`` layers, 1 by
default), unlike ``fenchel imitation train --hidden-sizes``, the layer sizes of one
network. ``--dropout`` and ``--depth`` are a grid when given several values, and a fixed
setting with one.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Iterator

from fenchel.infra._cli_types import (add_argument, non_negative_float, non_negative_int, output_dir,
                                output_file, positive_float, positive_int, seed_int)
from fenchel.experiments import add_reproduce_parser as add_grid_parser, run_command
from fenchel.infra._io import write_json_atomic
from fenchel.multilabel.losses import LOSSES, PROPOSALS, REGULARIZERS, Method
from fenchel.multilabel.metrics import SELECTION_METRICS
from fenchel.multilabel.models import ENERGIES
from fenchel.training import mesh_for_devices, parse_device_count


def _grid_values(args: argparse.Namespace) -> dict[str, list]:
    return {"hidden": args.hidden, "learning_rate": args.learning_rate,
            "weight_decay": args.weight_decay, "reg_scale": args.reg_scale}


# Grid flags added after the committed results: absent, they are not in the grid (the
# records keep the Config default); one value is a fixed setting; several, a grid.
_OPTIONAL_GRID = ("dropout", "depth")


def _dropout_rate(value: str) -> float:
    """A dropout rate: a number in [0, 1)."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.0 <= number < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value!r}")
    return number


def _alpha(value: str) -> float:
    """α of the min-min loss: a finite number >= 1."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number >= 1.0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 1, got {value!r}")
    return number


def _defaults(name: str) -> str:
    from fenchel.multilabel.reproduce import DEFAULT_GRID

    return " ".join(f"{value:g}" for value in DEFAULT_GRID[name])


def _add_training_arguments(parser: argparse.ArgumentParser) -> None:
    nargs = "+"
    parser.add_argument("--hidden", type=non_negative_int, nargs=nargs, default=None,
                        metavar="WIDTH",
                        help="grid of widths of the feature map's hidden layers (--depth of "
                             "them), each a candidate network; 0 = linear "
                             f"(default {_defaults('hidden')})")
    add_argument(parser, "--learning-rate", type=positive_float, nargs=nargs, default=None,
                 metavar="RATE", deprecated=["--lr"],
                 help=f"grid of AdamW learning rates (default {_defaults('learning_rate')})")
    parser.add_argument("--weight-decay", type=non_negative_float, nargs=nargs, default=None,
                        metavar="DECAY",
                        help=f"grid of AdamW weight decays (default {_defaults('weight_decay')})")
    parser.add_argument("--reg-scale", type=positive_float, nargs=nargs, default=None,
                        metavar="LAMBDA",
                        help=f"grid of temperatures λ of Ω (default {_defaults('reg_scale')})")
    parser.add_argument("--dropout", type=_dropout_rate, nargs=nargs, default=None,
                        metavar="RATE",
                        help="dropout rate(s) in [0, 1) of the feature map in training (on "
                             "every hidden activation; on the input features when --hidden "
                             "0); one value is fixed, several are a grid (default 0: none)")
    parser.add_argument("--depth", type=positive_int, nargs=nargs, default=None, metavar="N",
                        help="number(s) of hidden layers of width --hidden (no effect with "
                             "--hidden 0); one value is fixed, several are a grid "
                             "(default 1)")
    parser.add_argument("--max-epochs", type=positive_int, default=100,
                        help="epoch budget (default 100)")
    parser.add_argument("--patience", type=positive_int, default=10,
                        help="early-stopping patience in epochs (default 10)")
    parser.add_argument("--batch-size", type=positive_int, default=64,
                        help="minibatch size (default 64)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="MULAN data folder (default $FENCHEL_DATA, else the user cache)")
    parser.add_argument("--no-refit", dest="refit", action="store_false",
                        help="test the model of the search instead of retraining the chosen "
                             "configuration on train + validation")
    parser.add_argument("--rank", type=positive_int, default=None, metavar="R",
                        help="rank r of the concave pairwise interaction U = -VV^T, V: (k, r): "
                             "r < k uses fenchel.energies.low_rank_pairwise (O(kr) per inner "
                             "iteration, the k x k U never formed), r >= k the dense pairwise "
                             "energy; other energies and --nonconcave have none "
                             "(default: r = k, dense)")
    parser.add_argument("--select-by", choices=SELECTION_METRICS, default="hamming_accuracy",
                        help="the validation score that picks the configuration of the grid: "
                             "hamming_accuracy (rounding at 0.5, also the early-stopping "
                             "criterion) or example_f1_expected (example F1, scikit-learn's "
                             "convention, with the expected-F1 decoding) (default "
                             "hamming_accuracy)")
    parser.add_argument("--warm-start", action=argparse.BooleanOptionalAction, default=True,
                        help="start each training example's inner solve at its solution of "
                             "the previous epoch (no effect on unary and unrolled methods); "
                             "--no-warm-start starts every solve at the centre of the box, as "
                             "the committed results were made (default: on)")


def _grid(args: argparse.Namespace) -> dict[str, list]:
    from fenchel.multilabel.reproduce import DEFAULT_GRID

    grid = {name: list(values) if values is not None else list(DEFAULT_GRID[name])
            for name, values in _grid_values(args).items()}
    for name in _OPTIONAL_GRID:
        values = getattr(args, name, None)
        if values is not None and len(values) > 1:
            grid[name] = list(values)
    return grid


def _fixed(args: argparse.Namespace) -> dict:
    fixed = {"max_epochs": args.max_epochs, "patience": args.patience,
             "batch_size": args.batch_size, "warm_start": args.warm_start, "rank": args.rank}
    for name in _OPTIONAL_GRID:
        values = getattr(args, name, None)
        if values is not None and len(values) == 1:
            fixed[name] = values[0]
    return fixed


def _data_folder(data_dir: str | None) -> str:
    """Which data folder was used and where it came from, for error messages."""
    from fenchel.datasets import resolve_data_dir
    from fenchel.datasets.mulan import DATA_ENV_VAR

    source = ("--data-dir" if data_dir is not None else
              f"${DATA_ENV_VAR}" if os.environ.get(DATA_ENV_VAR) else "the default cache")
    return f"data folder {resolve_data_dir(data_dir)}, from {source}"


def _run_single(args: argparse.Namespace) -> int:
    from fenchel.datasets import load_dataset
    from fenchel.multilabel.reproduce import method_grid
    from fenchel.multilabel.train import run_experiment

    try:
        minmin = {name: value for name, value in (("alpha", args.alpha),
                                                  ("samples", args.samples),
                                                  ("proposal", args.proposal))
                  if value is not None}
        if minmin and args.loss != "minmin":
            raise ValueError(f"--{' and --'.join(minmin)} belong to the min-min loss "
                             f"(--loss minmin), not to --loss {args.loss}")
        method = Method(args.energy, args.loss, args.reg, concave=not args.nonconcave,
                        **minmin)
        if args.rank is not None and not (method.energy == "pairwise" and method.concave):
            raise ValueError(f"--rank is the rank of the concave pairwise interaction "
                             f"U = -VV^T; method {method.name} has none (use --energy "
                             "pairwise without --nonconcave)")
    except ValueError as err:
        print(f"fenchel multilabel: error: {err}", file=sys.stderr)
        return 2
    try:
        data = load_dataset(args.dataset, args.data_dir, seed=args.seed)
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"fenchel multilabel: error: cannot load dataset {args.dataset!r} "
              f"({_data_folder(args.data_dir)}): {err}", file=sys.stderr)
        return 1
    try:
        mesh = mesh_for_devices(args.devices)
        if mesh is not None and args.batch_size % mesh.size:
            raise ValueError(f"--batch-size {args.batch_size} must be divisible by the number "
                             f"of devices ({mesh.size})")
    except ValueError as err:
        print(f"fenchel multilabel: error: {err}", file=sys.stderr)
        return 2
    configs = method_grid(method, _grid(args), **_fixed(args))
    start = time.perf_counter()
    result = run_experiment(data, method, configs, seed=args.seed, progress=not args.quiet,
                            mesh=mesh, checkpoint_dir=args.checkpoint_dir, refit=args.refit,
                            select_by=args.select_by)
    result["wall_seconds"] = time.perf_counter() - start
    config = result["config"]
    print(f"dataset={data.name} method={method.name} seed={args.seed} "
          f"configs_searched={len(configs)} chosen: hidden={config['hidden']} "
          f"lr={config['learning_rate']:g} weight_decay={config['weight_decay']:g} "
          f"reg_scale={config['reg_scale']:g} best_epoch={result['best_epoch']}"
          + (f" rank={config['rank']}" if config.get("rank") is not None else "")
          + (f" dropout={config['dropout']:g}" if config.get("dropout") else "")
          + (f" depth={config['depth']}" if config.get("depth", 1) != 1 else "")
          + (f" refit_epochs={result['refit_epochs']} (train+validation)" if result["refit"]
             else ""))
    for decoding, label in (("test", "round@0.5"),
                            ("test_tuned", f"tuned@{result['threshold']:g}")):
        metrics = result[decoding]
        print(f"test[{label}] " + " ".join(
            f"{name}={100 * value:.2f}" for name, value in metrics.items()
            if name != "inference_ms_per_example")
              + f" inference_ms_per_example={metrics['inference_ms_per_example']:.3f}")
    print("example_f1: scikit-learn's convention (an example with no true and no predicted "
          "label scores 0); example_f1_mulan: MULAN's (it scores 1); tuned: the threshold "
          "maximizing validation example_f1")
    print(f"wall_seconds={result['wall_seconds']:.1f}")
    if args.json:
        write_json_atomic(args.json, result)
        print(f"wrote {args.json}")
    return 0


def add_parser(subparsers) -> None:
    """Adds ``fenchel multilabel`` (train one method, print test metrics)."""
    parser = subparsers.add_parser(
        "multilabel", help="Train a multi-label energy network and print its test metrics.",
        description="Tune on the validation split (grid of --hidden/--learning-rate/"
                    "--weight-decay/--reg-scale values), train with early stopping, and report "
                    "test metrics (rounding at 0.5 and a validation-tuned threshold).")
    parser.add_argument("--dataset", required=True, help="MULAN dataset name, e.g. yeast")
    parser.add_argument("--energy", choices=ENERGIES, default="pairwise",
                        help="energy Φ(θ, y): unary <u(x), y>, pairwise <u(x), y> + ½ yᵀUy "
                             "(learned label interactions U) or global (SPEN's energy, "
                             "non-concave in y) (default pairwise)")
    parser.add_argument("--loss", choices=LOSSES, default="gfy",
                        help="training loss: gfy (generalized Fenchel-Young), perceptron, "
                             "hinge, bce (unary energy only), unrolled / implicit "
                             "(differentiating through the inner solver), or minmin (the "
                             "learned log-partition loss of Sander et al. 2025: maximum "
                             "likelihood of the Gibbs model over {0,1}^k with a uniform prior, "
                             "see --alpha, --samples) (default gfy)")
    parser.add_argument("--reg", choices=REGULARIZERS, default="entropy",
                        help="regularizer Ω on [0, 1]^k of gfy, unrolled and implicit: "
                             "entropy (binary entropy) or squared (SquaredBox); perceptron, "
                             "hinge and bce fix their own; for minmin, the Ω of the prediction "
                             "argmax Φ - Ω only: entropy (mean-field marginals) or box (the "
                             "relaxed mode, Ω = 0) (default entropy)")
    parser.add_argument("--alpha", type=_alpha, default=None, metavar="A",
                        help="minmin: α >= 1 of its Fenchel-Young loss, 1 maximum likelihood, "
                             "2 sparsemax-type (default 1)")
    parser.add_argument("--samples", type=positive_int, default=None, metavar="M",
                        help="minmin: samples y' drawn per example and step (from the "
                             "--proposal) (default 32)")
    parser.add_argument("--proposal", choices=PROPOSALS, default=None,
                        help="minmin: the proposal of the samples y': unaries (importance "
                             "sampling from independent Bernoullis at sigmoid of the energy's "
                             "unaries, mixed with 10%% uniform: the same unbiased estimate, "
                             "lower variance) or uniform (the prior, the paper's) "
                             "(default unaries)")
    parser.add_argument("--nonconcave", action="store_true",
                        help="pairwise: learn a free symmetric U instead of U = -VV^T (concave)")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="split and initialization seed (default 0)")
    parser.add_argument("--json", type=output_file, default=None, metavar="FILE",
                        help="also write the result to this JSON file (checked before "
                             "training, written atomically)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--devices", type=parse_device_count, default=0, metavar="N",
                        help="data-parallel training over N local devices (default: all "
                             "local devices; 1 on a plain CPU); --batch-size must be "
                             "divisible by N (see docs/scaling.md)")
    parser.add_argument("--checkpoint-dir", type=output_dir, default=None, metavar="DIR",
                        help="save every epoch of every configuration here (orbax) and "
                             "resume from what is there")
    _add_training_arguments(parser)
    parser.set_defaults(func=_run_single)


def _parse_methods(text: str) -> list[Method]:
    """A method name, or the name of a list of them (``default``, ``minmin``: see
    :data:`fenchel.multilabel.reproduce.METHOD_GROUPS`)."""
    from fenchel.multilabel.reproduce import METHOD_GROUPS

    if text in METHOD_GROUPS:
        return list(METHOD_GROUPS[text])
    try:
        return [Method.from_name(text)]
    except (TypeError, ValueError) as err:
        raise argparse.ArgumentTypeError(
            f"bad method {text!r} (energy-loss[-reg], e.g. pairwise-gfy-entropy or "
            f"pairwise_nc-gfy-entropy): {err}") from None


def _run_reproduce(args: argparse.Namespace) -> int:
    from fenchel.multilabel.reproduce import DEFAULT_METHODS, DatasetError, run_grid

    prefix = "fenchel reproduce multilabel"
    # Each --methods entry is a list (a name, or a group of them); repeats count once.
    methods = (list({method.name: method for entry in args.methods for method in entry}.values())
               if args.methods else list(DEFAULT_METHODS))
    start = time.perf_counter()

    def summary(result: dict) -> Iterator[str]:
        elapsed = time.perf_counter() - start
        for dataset, entries in result["datasets"].items():
            for name, entry in entries.items():
                test, tuned = entry["test"], entry["test_tuned"]
                expected = entry["test_expected_f1"]
                yield (f"{dataset:10s} {name:28s} hamming={_fmt(test.get('hamming_accuracy'))} "
                       f"example_f1={_fmt(test.get('example_f1'))} "
                       f"example_f1_mulan={_fmt(test.get('example_f1_mulan'))} "
                       f"example_f1_tuned={_fmt(tuned.get('example_f1'))} "
                       f"example_f1_mulan_tuned={_fmt(tuned.get('example_f1_mulan'))} "
                       f"example_f1_expected={_fmt(expected.get('example_f1'))}")
        yield ("example_f1: scikit-learn's convention (an example with no true and no "
               "predicted label scores 0); example_f1_mulan: MULAN's (it scores 1); round: "
               "ŷ > 0.5; tuned: threshold maximizing validation example_f1; expected: top "
               "labels by the plug-in expected F1; —: not in the run files")
        yield f"wrote {args.out}/results.md, results.json and plots in {elapsed:.0f} s"

    try:
        return run_command(prefix, args.out, lambda: run_grid(
            args.out, args.datasets, methods, args.seeds, grid=_grid(args),
            data_dir=args.data_dir, jobs=args.jobs, progress=not args.quiet, refit=args.refit,
            select_by=args.select_by, **_fixed(args)), summary)
    except DatasetError as err:
        print(f"{prefix}: error: {err} ({_data_folder(args.data_dir)})", file=sys.stderr)
        return 1


def _fmt(stat: dict | None) -> str:
    return "—" if stat is None else f"{stat['mean']:.2f}±{stat['std']:.2f}"


def add_reproduce_parser(subparsers) -> None:
    """Adds ``fenchel reproduce multilabel`` (the whole grid, resumable)."""
    from fenchel.multilabel.reproduce import DEFAULT_DATASETS

    parser = add_grid_parser(
        subparsers, "multilabel", "Run the multi-label grid (datasets x methods x seeds).",
        "Each (dataset, method, seed) result is saved in OUT/runs and skipped when present; "
        "results.md, results.json and PNG bar plots are rewritten from all runs found.",
        _run_reproduce, seeds=3, progress="no progress bars")
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS),
                        metavar="DATASET",
                        help=f"MULAN dataset names (default {' '.join(DEFAULT_DATASETS)})")
    parser.add_argument("--methods", nargs="+", type=_parse_methods, default=None,
                        metavar="METHOD",
                        help="methods as energy-loss[-reg], e.g. pairwise-gfy-entropy, "
                             "pairwise_nc-gfy-entropy or pairwise-minmin-entropy, or the "
                             "lists 'default' (the committed results' methods) and 'minmin' "
                             "(unary-minmin-entropy pairwise-minmin-entropy) (default: "
                             "default)")
    _add_training_arguments(parser)


__all__ = ["add_parser", "add_reproduce_parser"]
