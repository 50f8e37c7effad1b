"""Warm starts across epochs (``Config.warm_start``) against cold starts, on yeast.

For each method, :func:`fenchel.multilabel.train.fit` trains the default
:class:`~fenchel.multilabel.train.Config` for a fixed number of epochs
(``validation=None``: no early stopping, no validation pass) with and without
warm starts, and reports:

* ``iters first`` / ``iters last``: mean inner-solver iterations per example
  solve in the first and last epochs (:attr:`TrainedModel.inner_iterations`);
* ``max last``: the last epoch's mean over steps of the minibatch's largest
  count (a vmapped solve loops until its slowest example stops);
* ``ex/s``: training examples per second, the median of ``--reps`` timed fits,
  each after a warm-up fit that compiled the jitted epoch; cold and warm fits
  alternate (and swap order every rep), so load on the machine hits both alike;
* ``loss``: the last epoch's mean training loss;
* test example-F1 and Hamming accuracy (:func:`~fenchel.multilabel.train.evaluate`,
  rounding at 0.5), in %.

The ``ratio`` rows are warm / cold, measured in the same process. Since cold
and warm fits alternate, each rep is also a pair: the ``paired`` line gives the
share of pairs where the warm fit was faster and the median of the pairs'
speed ratios (more robust than a ratio of medians on a loaded machine).

  FENCHEL_DATA=.../multilabel python benchmarks/warm_start.py [--epochs 20] [--reps 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys

METHODS = ("pairwise-gfy-entropy", "pairwise-gfy-squared")


def measure(method_name: str, dataset, epochs: int, reps: int) -> dict[str, dict[str, float]]:
    """``{"cold": row, "warm": row}`` for one method (see the module docstring)."""
    from fenchel.multilabel.losses import Method
    from fenchel.multilabel.train import Config, evaluate, fit

    method = Method.from_name(method_name)
    configs = {label: Config(max_epochs=epochs, warm_start=label == "warm")
               for label in ("cold", "warm")}
    for config in configs.values():  # compile each variant's jitted epoch
        fit(method, dataclasses.replace(config, max_epochs=1), dataset.train, None)
    n = len(dataset.train.x)
    batch = min(Config().batch_size, n)
    examples = epochs * (n // batch) * batch  # fit drops the ragged last minibatch
    speeds = {label: [] for label in configs}
    trained = {}
    for rep in range(reps):
        # Alternate which goes first, so that neither always runs on a warmer cache.
        for label in ("cold", "warm") if rep % 2 == 0 else ("warm", "cold"):
            run = fit(method, configs[label], dataset.train, None)
            speeds[label].append(examples / run.train_seconds)
            trained[label] = run  # every rep trains the same run (same seed)
    rows = {}
    for label, run in trained.items():
        test = evaluate(run, dataset.test)
        rows[label] = {"iters_first": run.inner_iterations[0],
                       "iters_last": run.inner_iterations[-1],
                       "max_last": run.inner_iterations_max[-1],
                       "examples_per_s": statistics.median(speeds[label]),
                       "loss": run.history[-1][0],
                       "example_f1": 100 * test["example_f1"],
                       "hamming": 100 * test["hamming_accuracy"]}
    rows["ratio"] = {name: rows["warm"][name] / rows["cold"][name] for name in rows["cold"]}
    paired = [warm / cold for warm, cold in zip(speeds["warm"], speeds["cold"])]
    rows["paired"] = {"warm_faster": sum(r > 1 for r in paired) / len(paired),
                      "median_ratio": statistics.median(paired), "pairs": len(paired)}
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="yeast")
    parser.add_argument("--data-dir", default=None, help="default $FENCHEL_DATA")
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args(argv)

    from fenchel.datasets import load_dataset

    dataset = load_dataset(args.dataset, args.data_dir, seed=0)
    n, d = dataset.train.x.shape
    print(f"{args.dataset}: train n={n} d={d} k={dataset.train.y.shape[1]}, default Config, "
          f"{args.epochs} epochs, ex/s = median of {args.reps} fits")
    header = (f"{'method':22s} {'start':6s} {'iters first':>11s} {'iters last':>10s} "
              f"{'max last':>8s} {'ex/s':>9s} {'loss':>8s} {'ex-F1 %':>8s} {'Hamming %':>9s}")
    print(header)
    print("-" * len(header))
    results = {}
    for name in args.methods:
        rows = measure(name, dataset, args.epochs, args.reps)
        results[name] = rows
        paired = rows.pop("paired")
        for label, row in rows.items():
            print(f"{name:22s} {label:6s} {row['iters_first']:11.3f} {row['iters_last']:10.3f} "
                  f"{row['max_last']:8.3f} {row['examples_per_s']:9.4g} {row['loss']:8.4f} "
                  f"{row['example_f1']:8.3f} {row['hamming']:9.3f}", flush=True)
        print(f"{name:22s} paired: warm faster in {paired['warm_faster']:.0%} of "
              f"{paired['pairs']} pairs, median speed ratio {paired['median_ratio']:.3f}")
        rows["paired"] = paired
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
