"""Low-rank concave interactions (``Config.rank``, ``--rank``) against the dense U.

For each rank r (``full`` = the dense pairwise energy, U = −VVᵀ with V: (k, k)), one
fresh process builds the model and the first epoch's minibatches exactly as
:func:`fenchel.multilabel.train.fit` does (``Config`` defaults but for ``rank``,
``batch_size``, ``hidden``; warm starts on), compiles the jitted epoch
(:func:`fenchel.multilabel.train._train_epoch`) ahead of time, and runs it once:

* ``compile s``: lowering and compilation of the epoch;
* ``epoch s``: one epoch of training (every minibatch: inner solves, loss,
  gradient, AdamW step), the compiled executable alone, timed to
  ``block_until_ready`` (the median of ``--reps`` runs of the same epoch);
* ``iters``: mean inner-solver iterations per example solve in that epoch;
* ``XLA temp MB``: the compiled epoch's temporary buffers
  (``compiled.memory_analysis().temp_size_in_bytes``), ``args MB`` its arguments;
* ``RSS MB``: the process's peak resident memory (``ru_maxrss``) after the epoch,
  minus the peak before compiling (data loaded, model built).

  FENCHEL_DATA=.../multilabel python benchmarks/low_rank.py --dataset delicious \\
      --ranks full 64 16 [--rows N] [--reps 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def measure(dataset_name: str, rank: int | None, method_name: str, rows: int | None,
            batch_size: int, hidden: int, reps: int, data_dir: str | None) -> dict:
    """One configuration, measured in this process (see the module docstring)."""
    import resource
    import statistics

    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from fenchel import maximizers as fy_max
    from fenchel.datasets import load_dataset
    from fenchel.multilabel.losses import Method
    from fenchel.multilabel.models import EnergyNetwork, energy_spec
    from fenchel.multilabel.train import _ADAMW, Config, _train_epoch
    from fenchel.training import epoch_permutation

    data = load_dataset(dataset_name, data_dir, seed=0)
    x, y = np.asarray(data.train.x, np.float32), np.asarray(data.train.y, np.float32)
    if rows is not None:
        x, y = x[:rows], y[:rows]
    method = Method.from_name(method_name)
    config = Config(batch_size=batch_size, hidden=hidden, rank=rank, max_epochs=1)
    n, d = x.shape
    k = y.shape[1]
    model = EnergyNetwork(d, k, method.energy, hidden=config.hidden, concave=method.concave,
                          rank=config.rank, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)
    opt_state = _ADAMW.init(params)
    opt_state.hyperparams["learning_rate"] = jnp.asarray(config.learning_rate, jnp.float32)
    opt_state.hyperparams["weight_decay"] = jnp.asarray(config.weight_decay, jnp.float32)
    store = fy_max.default_init(method.regularizer(), (n, k))
    n_batches = n // batch_size
    order = epoch_permutation([0], 1, n)[:n_batches * batch_size]
    xb = jnp.asarray(x[order].reshape(n_batches, batch_size, d))
    yb = jnp.asarray(y[order].reshape(n_batches, batch_size, k))
    ib = jnp.asarray(order.astype(np.int32).reshape(n_batches, batch_size))
    key = jax.random.fold_in(jax.random.key(0), 1)
    reg_scale = jnp.asarray(config.reg_scale, jnp.float32)
    energy = energy_spec(model, jnp.asarray(x[:1])).energy.__name__
    args = (params, opt_state, store, xb, yb, ib, key, reg_scale)
    jax.block_until_ready(args)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    start = time.perf_counter()
    compiled = _train_epoch.lower(method, graphdef, _ADAMW, *args).compile()
    compile_seconds = time.perf_counter() - start
    memory = compiled.memory_analysis()
    seconds = []
    for _ in range(reps):
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        seconds.append(time.perf_counter() - start)
    _, _, _, loss, (iterations, _) = out
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "dataset": dataset_name, "method": method_name, "energy": energy,
        "rank": "full" if rank is None else rank, "n_labels": k, "n_features": d,
        "rows": n_batches * batch_size, "batch_size": batch_size, "hidden": hidden,
        "compile_seconds": compile_seconds, "epoch_seconds": statistics.median(seconds),
        "epoch_seconds_all": seconds, "mean_iterations": float(iterations),
        "loss": float(loss),
        "xla_temp_mb": None if memory is None else memory.temp_size_in_bytes / 2**20,
        "xla_argument_mb": None if memory is None else memory.argument_size_in_bytes / 2**20,
        "rss_peak_delta_mb": (rss_after - rss_before) / 1024,
        "rss_peak_mb": rss_after / 1024,
        "device": str(jax.devices()[0].device_kind),
    }


def _parse_rank(text: str) -> int | None:
    if text == "full":
        return None
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"rank must be 'full' or an integer >= 1, got {text!r}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="delicious")
    parser.add_argument("--data-dir", default=None, help="default $FENCHEL_DATA")
    parser.add_argument("--method", default="pairwise-gfy-entropy")
    parser.add_argument("--ranks", nargs="+", type=_parse_rank, default=[None, 64, 16],
                        metavar="R", help="'full' (dense U) or r (default: full 64 16)")
    parser.add_argument("--rows", type=int, default=None,
                        help="train on the first N training rows only (default: all)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=0)
    parser.add_argument("--reps", type=int, default=1, help="timed runs of the epoch")
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # the child process: one rank, one JSON line
        row = measure(args.dataset, args.ranks[0], args.method, args.rows, args.batch_size,
                      args.hidden, args.reps, args.data_dir)
        print(json.dumps(row))
        return 0
    rows = []
    header = (f"{'dataset':10s} {'rank':>5s} {'energy':18s} {'rows':>6s} {'compile s':>9s} "
              f"{'epoch s':>8s} {'iters':>6s} {'XLA temp MB':>11s} {'args MB':>8s} "
              f"{'RSS MB':>7s}")
    print(header)
    for rank in args.ranks:
        command = [sys.executable, os.path.abspath(__file__), "--one", "--dataset",
                   args.dataset, "--method", args.method, "--ranks",
                   "full" if rank is None else str(rank), "--batch-size", str(args.batch_size),
                   "--hidden", str(args.hidden), "--reps", str(args.reps)]
        if args.rows is not None:
            command += ["--rows", str(args.rows)]
        if args.data_dir is not None:
            command += ["--data-dir", args.data_dir]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return done.returncode
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{row['dataset']:10s} {str(row['rank']):>5s} {row['energy']:18s} "
              f"{row['rows']:6d} {row['compile_seconds']:9.1f} {row['epoch_seconds']:8.2f} "
              f"{row['mean_iterations']:6.1f} {row['xla_temp_mb']:11.1f} "
              f"{row['xla_argument_mb']:8.1f} {row['rss_peak_delta_mb']:7.0f}", flush=True)
    if args.json:
        with open(args.json, "w") as file:
            json.dump(rows, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
