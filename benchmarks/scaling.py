"""Data-parallel step throughput with 1, 2, 4 simulated CPU devices.

Each device count runs in its own subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` and times the jitted
training step of :mod:`fenchel.training` (batch split over a ``("data",)``
mesh, parameters replicated, gradient all-reduce by XLA) on an MLP sized like
a pairwise energy network for yeast: 103 features -> 256 hidden -> k + k*k
outputs (k = 14 labels). Simulated devices share the same CPU cores, so this
measures the overhead of sharding, not a speed-up.

  python benchmarks/scaling.py [--devices 1 2 4] [--steps 100] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

FEATURES, HIDDEN, LABELS = 103, 256, 14


def worker(num_devices: int, steps: int, batch_size: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from fenchel.training import global_batch, make_mesh, make_train_step, replicate

    rng = np.random.default_rng(0)
    outputs = LABELS + LABELS * LABELS
    params = {
        "w1": rng.normal(size=(FEATURES, HIDDEN)).astype(np.float32) / np.sqrt(FEATURES),
        "b1": np.zeros(HIDDEN, np.float32),
        "w2": rng.normal(size=(HIDDEN, outputs)).astype(np.float32) / np.sqrt(HIDDEN),
        "b2": np.zeros(outputs, np.float32),
    }
    data = {
        "x": rng.normal(size=(batch_size * 8, FEATURES)).astype(np.float32),
        "y": rng.integers(0, 2, size=(batch_size * 8, LABELS)).astype(np.float32),
    }

    def loss_fn(params, batch, key):
        hidden = jax.nn.relu(batch["x"] @ params["w1"] + params["b1"])
        out = hidden @ params["w2"] + params["b2"]
        unary, pairwise = out[:, :LABELS], out[:, LABELS:].reshape(-1, LABELS, LABELS)
        y = batch["y"]
        energy = jnp.sum(unary * y, -1) + jnp.einsum("bi,bij,bj->b", y, pairwise, y)
        return jnp.mean(jax.nn.softplus(-energy))

    mesh = make_mesh(num_devices)
    optimizer = optax.adam(1e-3)
    params = replicate(params, mesh)
    opt_state = jax.jit(optimizer.init)(params)
    key = replicate(jax.random.key_data(jax.random.key(0)), mesh)
    step = make_train_step(loss_fn, optimizer, mesh, "threefry2x32")
    order = np.random.default_rng(0).permutation(len(data["x"]))

    def run(count: int):
        nonlocal params, opt_state
        for i in range(count):
            rows = order[(i % 8) * batch_size:(i % 8 + 1) * batch_size]
            params, opt_state, loss = step(params, opt_state, global_batch(data, rows, mesh),
                                           key, np.int32(i))
        jax.block_until_ready(params)

    run(3)  # compile and warm up
    start = time.perf_counter()
    run(steps)
    seconds = time.perf_counter() - start
    return {"devices": num_devices, "steps_per_second": steps / seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.steps, args.batch_size)))
        return 0

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = []
    for count in args.devices:
        env = dict(os.environ, JAX_PLATFORMS="cpu",
                   XLA_FLAGS=f"--xla_force_host_platform_device_count={count}",
                   PYTHONPATH=os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]))
        done = subprocess.run(
            [sys.executable, __file__, "--worker", str(count), "--steps", str(args.steps),
             "--batch-size", str(args.batch_size)],
            env=env, capture_output=True, text=True,
        )
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-5000:])
            raise SystemExit(f"worker with {count} devices failed (exit {done.returncode})")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = results[0]["steps_per_second"]
    print(f"batch {args.batch_size}, {args.steps} timed steps, {os.cpu_count()} CPU cores")
    print("| devices | steps/s | vs first |")
    print("|--------:|--------:|---------:|")
    for result in results:
        rate = result["steps_per_second"]
        print(f"| {result['devices']} | {rate:.1f} | {rate / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
