"""Subprocess worker for tests/test_training.py (not a test module itself).

Trains a small nnx MLP regression with :func:`fenchel.training.train` and
writes the final parameters and per-step losses to ``.npz`` files. Run in a
fresh process so that ``XLA_FLAGS`` (simulated devices) and
``jax.distributed`` do not touch the pytest process.

  python tests/training_worker.py devices --counts 4 1 --out DIR
  python tests/training_worker.py distributed --port P --process-id I --num-processes N --out DIR
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

import numpy as np

NUM_STEPS = 6
BATCH_SIZE = 16


@functools.cache
def problem(seed: int = 0, nnx_init: bool = False):
    """(loss_fn, params, train_data) of a tiny nnx MLP regression (cached: one jit per seed).

    ``params`` is the ``nnx.State`` of the model's ``nnx.Param``s. By default
    its leaves are drawn with numpy into the abstract state (each eager JAX op
    of flax's initializers costs a compilation, seconds on a loaded 2-core
    machine); ``nnx_init=True`` uses flax's own initialization.
    """
    import jax
    import jax.numpy as jnp
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs: nnx.Rngs):
            self.hidden = nnx.Linear(5, 16, rngs=rngs)
            self.out = nnx.Linear(16, 1, rngs=rngs)

        def __call__(self, x):
            return self.out(jax.nn.tanh(self.hidden(x)))[:, 0]

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = np.sin(x @ rng.normal(size=5)).astype(np.float32)
    if nnx_init:
        graphdef, params = nnx.split(MLP(nnx.Rngs(seed)), nnx.Param)
    else:
        graphdef, params = nnx.split(nnx.eval_shape(lambda: MLP(nnx.Rngs(seed))), nnx.Param)
        params = jax.tree.map(
            lambda leaf: (rng.normal(size=leaf.shape) / np.sqrt(leaf.shape[0])).astype(leaf.dtype),
            params,
        )

    def loss_fn(params, batch, key):
        prediction = nnx.merge(graphdef, params)(batch["x"])
        # Noise from the step key, so the test also checks key handling.
        noise = 0.01 * jax.random.normal(key, prediction.shape)
        return jnp.mean((prediction + noise - batch["y"]) ** 2)

    return loss_fn, params, {"x": x, "y": y}


@functools.cache
def optimizer():
    import optax

    return optax.adam(1e-2)


def run(mesh, checkpoint_dir=None, max_steps_this_run=None):
    import jax
    from fenchel.training import to_host, train

    loss_fn, params, data = problem()
    result = train(
        loss_fn, params, optimizer(), data, batch_size=BATCH_SIZE, num_steps=NUM_STEPS,
        key=jax.random.key(1), mesh=mesh, checkpoint_dir=checkpoint_dir, checkpoint_every=2,
        max_steps_this_run=max_steps_this_run, progress=False,
    )
    leaves = jax.tree.leaves(to_host(result.params))
    return {"loss": np.asarray(result.history["loss"]),
            **{f"leaf{i}": leaf for i, leaf in enumerate(leaves)}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    devices = sub.add_parser("devices")
    devices.add_argument("--counts", type=int, nargs="+", required=True)
    devices.add_argument("--out", required=True)
    dist = sub.add_parser("distributed")
    dist.add_argument("--port", type=int, required=True)
    dist.add_argument("--process-id", type=int, required=True)
    dist.add_argument("--num-processes", type=int, required=True)
    dist.add_argument("--checkpoint-dir")
    dist.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    if args.command == "devices":
        import jax
        import optax
        from fenchel.training import make_mesh, train

        loss_fn, params, data = problem()
        # The bad-input errors that need several devices.
        errors = []
        try:
            make_mesh(jax.device_count() + 1)
        except ValueError as error:
            errors.append(str(error))
        try:
            train(loss_fn, params, optax.sgd(0.1), data, batch_size=6, num_steps=1,
                  key=jax.random.key(0), mesh=make_mesh(4), progress=False)
        except ValueError as error:
            errors.append(str(error))
        with open(os.path.join(args.out, "errors.txt"), "w") as f:
            f.write("\n".join(errors))
        for count in args.counts:
            np.savez(os.path.join(args.out, f"devices{count}.npz"), **run(make_mesh(count)))
        # Stop on the last device count, resume on the first (checkpoints reshard).
        checkpoint_dir = os.path.join(args.out, "checkpoints")
        run(make_mesh(args.counts[-1]), checkpoint_dir, max_steps_this_run=NUM_STEPS // 2)
        np.savez(os.path.join(args.out, "resumed.npz"), **run(make_mesh(args.counts[0]), checkpoint_dir))
    else:
        from fenchel.training import initialize_distributed, make_mesh

        initialize_distributed(f"127.0.0.1:{args.port}", args.num_processes, args.process_id)
        import jax

        assert jax.process_count() == args.num_processes
        result = run(make_mesh(), checkpoint_dir=args.checkpoint_dir)
        np.savez(os.path.join(args.out, f"process{args.process_id}.npz"), **result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
