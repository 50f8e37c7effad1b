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
    args = parser.parse_args(argv)

    import jax
    from flax import nnx

    from fenchel.datasets import load_dataset
    from fenchel.multilabel.losses import Method
    from fenchel.multilabel.train import Config, MultilabelSplitLike, fit
    from fenchel.training import make_mesh

    data = load_dataset("emotions", args.data_dir, seed=0)
    train = MultilabelSplitLike(data.train.x[:96], data.train.y[:96])
    validation = MultilabelSplitLike(data.validation.x[:48], data.validation.y[:48])
    method = Method("pairwise", "gfy", "entropy")
    mesh = make_mesh(4)

    errors = []
    try:
        fit(method, Config(**{**CONFIG, "batch_size": 30}), train, validation, mesh=mesh)
    except ValueError as error:
        errors.append(str(error))
    with open(os.path.join(args.out, "errors.txt"), "w") as f:
        f.write("\n".join(errors))

    for name, run_mesh in (("devices4", mesh), ("devices1", None)):
        trained = fit(method, Config(**CONFIG), train, validation, seed=0, mesh=run_mesh)
        leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(trained.model))]
        devices = {len(leaf.devices()) for leaf in jax.tree.leaves(nnx.state(trained.model))}
        np.savez(os.path.join(args.out, f"{name}.npz"),
                 history=np.asarray(trained.history), best_epoch=trained.best_epoch,
                 model_devices=max(devices),
                 **{f"leaf{i}": leaf for i, leaf in enumerate(leaves)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
