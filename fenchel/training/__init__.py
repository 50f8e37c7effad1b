"""Generic minibatch training of plain pytrees with optax, on one or many devices.

:func:`train` runs jitted optax steps over shuffled minibatches, with
evaluation, early stopping (keeping the best parameters) and resumable orbax
checkpoints. Data parallelism uses JAX's sharding: :func:`make_mesh` builds
a ``("data",)`` mesh, batches are split over it, parameters replicated, and
XLA all-reduces the gradients. :func:`initialize_distributed` joins a
multi-host job; see ``docs/scaling.md``.

This module knows nothing of energies or losses: applications pass
``loss_fn(params, batch, key) -> scalar``, or, with a per-example state store
(``example_state=``, e.g. each example's last inner solution to warm-start
its next solve), ``loss_fn(params, batch, key, state) -> (scalar, new_state)``.

Example:
  >>> import jax, jax.numpy as jnp, numpy as np, optax
  >>> from fenchel.training import train
  >>> data = {"x": np.ones((16, 1)), "y": np.full(16, 3.0)}
  >>> loss = lambda p, b, k: jnp.mean((b["x"][:, 0] * p["w"] - b["y"]) ** 2)
  >>> train(loss, {"w": jnp.zeros(())}, optax.sgd(0.3), data, batch_size=4,
  ...       num_epochs=10, key=jax.random.key(0), progress=False).steps
  40
"""

from __future__ import annotations

from fenchel.training._checkpoint import CheckpointError, Checkpointer, lock_checkpoints
from fenchel.training._loop import TrainResult, epoch_permutation, make_train_step, train
from fenchel.training._sharding import (
    DATA_AXIS,
    batch_sharded,
    global_batch,
    initialize_distributed,
    make_mesh,
    mesh_for_devices,
    parse_device_count,
    replicate,
    replicated,
    to_host,
)

__all__ = [
    "mesh_for_devices",
    "parse_device_count",
    "train",
    "TrainResult",
    "make_train_step",
    "epoch_permutation",
    "make_mesh",
    "initialize_distributed",
    "replicate",
    "replicated",
    "batch_sharded",
    "global_batch",
    "to_host",
    "Checkpointer",
    "CheckpointError",
    "lock_checkpoints",
    "DATA_AXIS",
]
