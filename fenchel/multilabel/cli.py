"""``fenchel multilabel`` and ``fenchel reproduce multilabel``.

Examples::

  fenchel multilabel --dataset yeast --energy pairwise --loss gfy --reg entropy \\
      --seed 0 --json yeast.json
  fenchel reproduce multilabel --datasets yeast scene emotions birds cal500 \\
      --seeds 3 --out docs/results/multilabel

The training flags are grids: each of ``--hidden``, ``--learning-rate``,
``--weight-decay`` and ``--reg-scale`` takes one or more values, and every combination
is a candidate configuration tuned on the validation split. ``--hidden`` is thus a list of
*widths of the one hidden layer* (one network each; 0 = linear), unlike
``fenchel imitation train --hidden-sizes``, the layer sizes of one network.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from fenchel._cli_types import (add_argument, non_negative_float, non_negative_int, output_dir,
                                output_file, positive_float, positive_int, seed_int)
from fenchel._io import write_json_atomic
from fenchel.multilabel.losses import LOSSES, REGULARIZERS, Method
from fenchel.multilabel.models import ENERGIES
from fenchel.training import mesh_for_devices, parse_device_count


def _grid_values(args: argparse.Namespace) -> dict[str, list]:
    return {"hidden": args.hidden, "learning_rate": args.learning_rate,
            "weight_decay": args.weight_decay, "reg_scale": args.reg_scale}


def _defaults(name: str) -> str:
    from fenchel.multilabel.reproduce import DEFAULT_GRID

    return " ".join(f"{value:g}" for value in DEFAULT_GRID[name])


def _add_training_arguments(parser: argparse.ArgumentParser) -> None:
    nargs = "+"
    parser.add_argument("--hidden", type=non_negative_int, nargs=nargs, default=None,
                        metavar="WIDTH",
                        help="grid of widths of the feature map's one hidden layer, each a "
                             "candidate network; 0 = linear "
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
    parser.add_argument("--warm-start", action=argparse.BooleanOptionalAction, default=True,
                        help="start each training example's inner solve at its solution of "
                             "the previous epoch (no effect on unary and unrolled methods); "
                             "--no-warm-start starts every solve at the centre of the box, as "
                             "the committed results were made (default: on)")


def _grid(args: argparse.Namespace) -> dict[str, list]:
    from fenchel.multilabel.reproduce import DEFAULT_GRID

    return {name: list(values) if values is not None else list(DEFAULT_GRID[name])
            for name, values in _grid_values(args).items()}


def _fixed(args: argparse.Namespace) -> dict:
    return {"max_epochs": args.max_epochs, "patience": args.patience,
            "batch_size": args.batch_size, "warm_start": args.warm_start, "rank": args.rank}


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
        method = Method(args.energy, args.loss, args.reg, concave=not args.nonconcave)
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
                            mesh=mesh, checkpoint_dir=args.checkpoint_dir, refit=args.refit)
    result["wall_seconds"] = time.perf_counter() - start
    config = result["config"]
    print(f"dataset={data.name} method={method.name} seed={args.seed} "
          f"configs_searched={len(configs)} chosen: hidden={config['hidden']} "
          f"lr={config['learning_rate']:g} weight_decay={config['weight_decay']:g} "
          f"reg_scale={config['reg_scale']:g} best_epoch={result['best_epoch']}"
          + (f" rank={config['rank']}" if config.get("rank") is not None else "")
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
                             "hinge, bce (unary energy only), or unrolled / implicit "
                             "(differentiating through the inner solver) (default gfy)")
    parser.add_argument("--reg", choices=REGULARIZERS, default="entropy",
                        help="regularizer Ω on [0, 1]^k of gfy, unrolled and implicit: "
                             "entropy (binary entropy) or squared (SquaredBox); perceptron, "
                             "hinge and bce fix their own (default entropy)")
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


def _parse_method(text: str) -> Method:
    try:
        return Method.from_name(text)
    except (TypeError, ValueError) as err:
        raise argparse.ArgumentTypeError(
            f"bad method {text!r} (energy-loss[-reg], e.g. pairwise-gfy-entropy or "
            f"pairwise_nc-gfy-entropy): {err}") from None


def _run_reproduce(args: argparse.Namespace) -> int:
    from fenchel._settings import SettingsMismatchError
    from fenchel.multilabel.reproduce import DEFAULT_METHODS, DatasetError, run_grid

    prefix = "fenchel reproduce multilabel"
    methods = args.methods or list(DEFAULT_METHODS)
    start = time.perf_counter()
    try:
        result = run_grid(args.out, args.datasets, methods, args.seeds, grid=_grid(args),
                          data_dir=args.data_dir, jobs=args.jobs, progress=not args.quiet,
                          refit=args.refit, **_fixed(args))
    except SettingsMismatchError as err:
        print(f"{prefix}: error: {err}", file=sys.stderr)
        return 2
    except DatasetError as err:
        print(f"{prefix}: error: {err} ({_data_folder(args.data_dir)})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted; the finished runs are kept in {args.out}/runs: run "
              "the same command again to resume", file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - start
    for dataset, entries in result["datasets"].items():
        for name, entry in entries.items():
            test, tuned = entry["test"], entry["test_tuned"]
            print(f"{dataset:10s} {name:28s} hamming={_fmt(test.get('hamming_accuracy'))} "
                  f"example_f1={_fmt(test.get('example_f1'))} "
                  f"example_f1_mulan={_fmt(test.get('example_f1_mulan'))} "
                  f"example_f1_tuned={_fmt(tuned.get('example_f1'))} "
                  f"example_f1_mulan_tuned={_fmt(tuned.get('example_f1_mulan'))}")
    print("example_f1: scikit-learn's convention (an example with no true and no predicted "
          "label scores 0); example_f1_mulan: MULAN's (it scores 1); round: ŷ > 0.5; tuned: "
          "threshold maximizing validation example_f1; —: not in the run files")
    print(f"wrote {args.out}/results.md, results.json and plots in {elapsed:.0f} s")
    return 0


def _fmt(stat: dict | None) -> str:
    return "—" if stat is None else f"{stat['mean']:.2f}±{stat['std']:.2f}"


def add_reproduce_parser(subparsers) -> None:
    """Adds ``fenchel reproduce multilabel`` (the whole grid, resumable)."""
    from fenchel.multilabel.reproduce import DEFAULT_DATASETS

    parser = subparsers.add_parser(
        "multilabel", help="Run the multi-label grid (datasets x methods x seeds).",
        description="Each (dataset, method, seed) result is saved in OUT/runs and skipped "
                    "when present; results.md, results.json and PNG bar plots are rewritten "
                    "from all runs found.")
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS),
                        metavar="DATASET",
                        help=f"MULAN dataset names (default {' '.join(DEFAULT_DATASETS)})")
    parser.add_argument("--methods", nargs="+", type=_parse_method, default=None,
                        metavar="METHOD",
                        help="methods as energy-loss[-reg], e.g. pairwise-gfy-entropy or "
                             "pairwise_nc-gfy-entropy (default: the full list)")
    parser.add_argument("--seeds", type=positive_int, default=3, metavar="N",
                        help="number of seeds: runs seeds 0..N-1 (default 3)")
    parser.add_argument("--out", type=output_dir, default=os.path.join("results", "multilabel"),
                        metavar="DIR",
                        help="output folder (default results/multilabel; the committed results "
                             "are in docs/results/multilabel); a re-run resumes it with the same "
                             "settings and refuses other settings (see DIR/settings.json)")
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="worker processes running runs in parallel (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_training_arguments(parser)
    parser.set_defaults(func=_run_reproduce)


__all__ = ["add_parser", "add_reproduce_parser"]
