"""Subprocess worker for tests/multilabel/test_devices.py (not a test module itself).

Trains the multi-label energy network on a real slice of emotions with
:func:`fenchel.multilabel.train.fit`, on a 4-device mesh and on no mesh, and
writes the per-epoch history and the final parameters to ``.npz`` files. Run
in a fresh process so that ``XLA_FLAGS`` (simulated devices) does not touch
the pytest process.

  XLA_FLAGS=--xla_force_host_platform_device_count=4 \\
      python tests/multilabel/devices_worker.py --data-dir DIR --out OUT
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

CONFIG = dict(learning_rate=0.01, weight_decay=1e-4, hidden=8, reg_scale=1.0,
              batch_size=32, max_epochs=3, patience=10)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--port", type=int, help="distributed mode: coordinator port")
    parser.add_argument("--process-id", type=int, help="distributed mode: this process's rank")
    args = parser.parse_args(argv)
    if args.port is not None:
        return distributed(args)

    import jax
    from flax import nnx

    from fenchel.multilabel.losses import Method
    from fenchel.multilabel.train import Config, fit
    from fenchel.training import make_mesh

    train, validation = _slices(args.data_dir)
    method = Method("pairwise", "gfy", "entropy")
    mesh = make_mesh(4)

    errors = []
    try:
        fit(method, Config(**{**CONFIG, "batch_size": 30}), train, validation, mesh=mesh)
    except ValueError as error:
        errors.append(str(error))
    with open(os.path.join(args.out, "errors.txt"), "w") as f:
        f.write("\n".join(errors))

    def resumed(run_mesh):
        # Stopped after 2 of 3 epochs, then resumed from its sharded checkpoint.
        checkpoint_dir = os.path.join(args.out, "checkpoint")
        first = fit(method, Config(**CONFIG), train, validation, seed=0, mesh=run_mesh,
                    checkpoint_dir=checkpoint_dir, max_epochs_this_run=2)
        assert (first.finished, first.epochs, first.resumed_from) == (False, 2, None), first
        second = fit(method, Config(**CONFIG), train, validation, seed=0, mesh=run_mesh,
                     checkpoint_dir=checkpoint_dir)
        assert (second.finished, second.epochs, second.resumed_from) == (True, 3, 2), second
        return second

    for name, train_fn in (
            ("devices4", lambda: fit(method, Config(**CONFIG), train, validation, seed=0,
                                     mesh=mesh)),
            ("devices1", lambda: fit(method, Config(**CONFIG), train, validation, seed=0)),
            ("devices4_resumed", lambda: resumed(mesh))):
        trained = train_fn()
        leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(trained.model))]
        devices = {len(leaf.devices()) for leaf in jax.tree.leaves(nnx.state(trained.model))}
        np.savez(os.path.join(args.out, f"{name}.npz"),
                 history=np.asarray(trained.history), best_epoch=trained.best_epoch,
                 model_devices=max(devices),
                 **{f"leaf{i}": leaf for i, leaf in enumerate(leaves)})
    return 0


def _slices(data_dir):
    from fenchel.datasets import load_dataset
    from fenchel.multilabel.train import MultilabelSplitLike

    data = load_dataset("emotions", data_dir, seed=0)
    return (MultilabelSplitLike(data.train.x[:96], data.train.y[:96]),
            MultilabelSplitLike(data.validation.x[:48], data.validation.y[:48]))


def distributed(args) -> int:
    from fenchel.training import initialize_distributed, make_mesh

    initialize_distributed(f"127.0.0.1:{args.port}", 2, args.process_id)
    import jax
    from flax import nnx

    from fenchel.multilabel.losses import Method
    from fenchel.multilabel.train import Config, fit

    assert jax.process_count() == 2 and jax.device_count() == 2
    train, validation = _slices(args.data_dir)
    trained = fit(Method("pairwise", "gfy", "entropy"), Config(**CONFIG), train, validation,
                  seed=0, mesh=make_mesh(), checkpoint_dir=os.path.join(args.out, "checkpoint"))
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(trained.model))]
    np.savez(os.path.join(args.out, f"process{args.process_id}.npz"),
             history=np.asarray(trained.history), best_epoch=trained.best_epoch,
             **{f"leaf{i}": leaf for i, leaf in enumerate(leaves)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
