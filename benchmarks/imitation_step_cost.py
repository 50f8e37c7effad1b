"""Per-step training cost of imitation policies, as a ratio against ``ibc``, in one process.

Every variant's training step is the one :func:`fenchel.imitation.train.train_policy` runs
(:func:`fenchel.training.make_train_step`: loss, gradient, AdamW update), chained ``--steps``
times in one jitted ``lax.scan`` over the same minibatches of demonstration pairs. The scans
are compiled, warmed up and timed by :func:`fenchel.bench.timing.measure_many` with
**interleaved** repetitions (repetition r of every variant before repetition r + 1 of any), so
a change of load on a shared machine hits all variants alike; the figure is the median over
repetitions of the time per step, ``vs ibc`` the ratio of medians and ``vs ibc (min)`` the
ratio of the fastest repetitions (the least disturbed by other processes).

All variants start from the same parameters: those of ``--pretrain-steps`` steps of
``train_policy`` with ``--pretrain`` (default ``gfy-softmax`` with its defaults), because the
cost of the inner searches depends on the energy (projected-gradient line searches backtrack
more on a trained, sharper energy than on a fresh one). The loss of a step with a fixed key
does not depend on which variant produced the parameters.

A variant is ``NAME=KIND`` or ``NAME=KIND:FIELD=VALUE,...`` (``PolicyConfig`` fields; values
are read as JSON, else kept as strings), on top of ``--hidden-sizes``. Example, the table of
docs/imitation.md ("Cost of a training step")::

    nice -n 5 python benchmarks/imitation_step_cost.py --json step_cost.json

Host-side work of the real loop (drawing minibatches, the diagnostic every 50 steps) is not
timed: it is the same for every variant, so the real run-time ratio is a little closer to 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time

DEFAULT_VARIANTS = (
    "ibc=ibc",
    "gfy-softmax=gfy-softmax",  # its defaults: hard_negative_search="reuse"
    "gfy-softmax-sample=gfy-softmax:hard_negative_search=sample",  # before 2026-12-07
    "gfy-softmax-K0=gfy-softmax:hard_negatives=0",  # no hard negatives: the floor
)


def parse_variant(text: str):
    """``"NAME=KIND[:FIELD=VALUE,...]"`` -> ``(name, kind, overrides)``."""
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise argparse.ArgumentTypeError(f"expected NAME=KIND[:FIELD=VALUE,...], got {text!r}")
    kind, _, fields = rest.partition(":")
    overrides = {}
    for item in filter(None, fields.split(",")):
        field, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected FIELD=VALUE in {text!r}, got {item!r}")
        try:
            overrides[field] = json.loads(value)
        except ValueError:
            overrides[field] = value
    return name, kind, overrides


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="particle-ibc-2d")
    parser.add_argument("--demos", type=int, default=200,
                        help="demonstration episodes to draw minibatches from (default 200)")
    parser.add_argument("--hidden-sizes", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50, help="training steps per repetition")
    parser.add_argument("--reps", type=int, default=11, help="timed repetitions per variant")
    parser.add_argument("--pretrain", default="gfy-softmax", help="policy kind of the pretraining")
    parser.add_argument("--pretrain-steps", type=int, default=300)
    parser.add_argument("--variants", type=parse_variant, nargs="+",
                        default=[parse_variant(v) for v in DEFAULT_VARIANTS],
                        help="NAME=KIND[:FIELD=VALUE,...]; the first named ibc is the reference")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)

    import jax
    import jax.numpy as jnp
    import numpy as np

    from fenchel import training
    from fenchel.bench.timing import measure_many
    from fenchel.imitation.policies import Normalizer, PolicyConfig, make_learner
    from fenchel.imitation.train import TrainConfig, _optimizer, make_task, train_policy

    start = time.perf_counter()
    task = make_task(args.env)
    observations, actions, _ = task.demonstrations(args.demos, 0)
    base = PolicyConfig(hidden=tuple(args.hidden_sizes))
    train_config = TrainConfig(steps=3000, batch_size=args.batch_size)
    optimizer = _optimizer(train_config)
    print(f"{args.env}: {len(observations)} pairs; pretraining {args.pretrain} for "
          f"{args.pretrain_steps} steps", flush=True)
    policy, _ = train_policy(args.pretrain, observations, actions, task.spec, base,
                             TrainConfig(steps=args.pretrain_steps, batch_size=args.batch_size),
                             seed=0)
    params = policy.params
    normalizer = Normalizer.fit(observations)
    x = normalizer(observations)
    z = np.clip(task.spec.to_unit(actions), -1.0, 1.0).astype(np.float32)
    rows = np.random.default_rng(0).permutation(len(x))
    rows = np.resize(rows, args.steps * args.batch_size).reshape(args.steps, args.batch_size)
    batches = (jnp.asarray(x[rows]), jnp.asarray(z[rows]))
    key = jax.random.key(1)
    mesh = training.make_mesh(1)

    functions, configs = {}, {}
    for name, kind, overrides in args.variants:
        config = dataclasses.replace(base, **overrides)
        configs[name] = {"kind": kind, "policy_config": config.to_dict()}
        learner = make_learner(kind, task.spec, config)
        step = training.make_train_step(learner.loss, optimizer, mesh)

        def run(params, batches, key, step=step, optimizer=optimizer):
            def body(carry, inputs):
                params, opt_state = carry
                batch, index = inputs
                params, opt_state, loss = step(params, opt_state, batch, key, index)
                return (params, opt_state), loss

            opt_state = optimizer.init(params)
            indices = jnp.arange(args.steps)
            (params, _), losses = jax.lax.scan(body, (params, opt_state), (batches, indices))
            return losses

        functions[name] = (run, (params, batches, key))
    print(f"compiling and timing {len(functions)} variants x {args.reps} reps x "
          f"{args.steps} steps (interleaved)", flush=True)
    measured = measure_many(functions, reps=args.reps, max_seconds=float("inf"))
    reference = next((n for n, kind, _ in args.variants if kind == "ibc"), None)
    ref_s = measured[reference].median_s if reference else None
    rows_out = []
    print(f"\n| variant | ms/step (median) | ms/step (min) | vs {reference} | "
          f"vs {reference} (min) | compile (s) |")
    print("|---|---|---|---|---|---|")
    for name, m in measured.items():
        per_step, best = 1e3 * m.median_s / args.steps, 1e3 * m.min_s / args.steps
        ratio = m.median_s / ref_s if ref_s else float("nan")
        ratio_min = m.min_s / measured[reference].min_s if ref_s else float("nan")
        rows_out.append({"variant": name, **configs[name], "ms_per_step": per_step,
                         "min_ms_per_step": best, "vs_ibc": ratio, "vs_ibc_min": ratio_min,
                         "reps": m.reps,
                         "compile_s": m.compile_s,
                         "mean_loss": float(np.mean(np.asarray(m.output)))})
        print(f"| {name} | {per_step:.1f} | {best:.1f} | {ratio:.2f} | {ratio_min:.2f} | "
              f"{m.compile_s:.0f} |")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"\n{os.cpu_count()} CPUs, load average {load}, {time.perf_counter() - start:.0f} s")
    if args.json:
        meta = {"argv": sys.argv[1:] if argv is None else list(argv), "env": args.env,
                "pairs": int(len(observations)), "steps_per_rep": args.steps,
                "reps": args.reps, "pretrain": args.pretrain,
                "pretrain_steps": args.pretrain_steps, "cpu_count": os.cpu_count(),
                "load_average": load, "platform": platform.platform(),
                "jax": jax.__version__, "backend": jax.default_backend()}
        with open(args.json, "w") as file:
            json.dump({"meta": meta, "rows": rows_out}, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
