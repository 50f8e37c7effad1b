"""Device mesh, data-parallel placement and multi-host start-up.

Data parallelism here is JAX's own: a one-axis :class:`jax.sharding.Mesh`
named ``"data"``, batches split along their leading axis with
``NamedSharding(mesh, P("data"))``, parameters and optimizer state replicated
with ``NamedSharding(mesh, P())``. A step jitted over such arrays is
partitioned by XLA, which inserts the gradient all-reduce itself (no
``pmap``, no hand-written ``psum``).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

PyTree = Any

DATA_AXIS = "data"


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: int | list[int] | None = None,
) -> None:
    """Join a multi-host JAX job (one process per host); call before any JAX op.

    Thin wrapper of :func:`jax.distributed.initialize` that checks its
    arguments. With all three arguments ``None`` JAX reads them from the
    cluster environment (SLURM, Open MPI, Kubernetes/TPU metadata); see
    ``docs/scaling.md``. On CPU the collectives run over gloo (JAX's default
    ``jax_cpu_collectives_implementation``).

    Args:
      coordinator_address: ``"host:port"`` of process 0, reachable by all.
      num_processes: total number of processes (>= 1).
      process_id: this process's rank in ``[0, num_processes)``.
      local_device_ids: restrict this process to these local devices.

    Example:
      Process 0 of a two-host job (skipped in the doctests: it waits for the
      other process to join):

      >>> from fenchel.training import initialize_distributed
      >>> initialize_distributed("10.0.0.1:1234", num_processes=2, process_id=0)  # doctest: +SKIP
    """
    given = [coordinator_address is None, num_processes is None, process_id is None]
    if any(given) and not all(given):
        raise ValueError(
            "initialize_distributed: give coordinator_address, num_processes and "
            "process_id together (or none, to read them from the cluster environment); got "
            f"coordinator_address={coordinator_address!r}, num_processes={num_processes!r}, "
            f"process_id={process_id!r}"
        )
    if num_processes is not None:
        if not isinstance(num_processes, int) or num_processes < 1:
            raise ValueError(f"num_processes must be an integer >= 1, got {num_processes!r}")
        if not isinstance(process_id, int) or not 0 <= process_id < num_processes:
            raise ValueError(
                f"process_id must be an integer in [0, {num_processes}), got {process_id!r}"
            )
        if not isinstance(coordinator_address, str) or ":" not in coordinator_address:
            raise ValueError(
                f"coordinator_address must be 'host:port', got {coordinator_address!r}"
            )
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        local_device_ids=local_device_ids,
    )


def make_mesh(num_devices: int | None = None) -> Mesh:
    """A one-axis ``("data",)`` mesh over the first ``num_devices`` devices.

    Args:
      num_devices: how many devices; ``None`` means all of them
        (``jax.devices()``: every device of every process in a multi-host job,
        the local ones otherwise).

    Returns:
      A :class:`jax.sharding.Mesh` of shape ``(num_devices,)``, axis ``"data"``.

    Example:
      >>> from fenchel.training import make_mesh
      >>> make_mesh(1).axis_names
      ('data',)
    """
    devices = jax.devices()
    if num_devices is None:
        num_devices = len(devices)
    if isinstance(num_devices, bool) or not isinstance(num_devices, int) or num_devices < 1:
        raise ValueError(f"num_devices must be an integer >= 1, got {num_devices!r}")
    if num_devices > len(devices):
        raise ValueError(
            f"num_devices={num_devices} requested but only {len(devices)} "
            f"{devices[0].platform} device(s) are available (on CPU, simulate more with "
            "XLA_FLAGS=--xla_force_host_platform_device_count=N set before importing jax)"
        )
    chosen = devices[:num_devices]
    if jax.process_count() > 1 and {d.process_index for d in chosen} != set(
        range(jax.process_count())
    ):
        raise ValueError(
            f"num_devices={num_devices} leaves some of the {jax.process_count()} processes "
            "without a device; in a multi-host job use num_devices=None (all devices)"
        )
    return Mesh(np.array(chosen), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding that keeps a full copy on every device of ``mesh``."""
    return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """The sharding that splits the leading (example) axis over ``"data"``."""
    return NamedSharding(mesh, P(DATA_AXIS))


def replicate(tree: PyTree, mesh: Mesh) -> PyTree:
    """Place every leaf of ``tree`` on all devices of ``mesh`` (a copy each).

    Host leaves must be equal on all processes of a multi-host job. Leaves
    are always copied, so the caller's arrays are never aliased (the
    caller may keep using, e.g., the nnx model the params came from).

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.training import make_mesh, replicate
      >>> replicate({"w": jnp.ones(2)}, make_mesh(1))["w"].sharding.is_fully_replicated
      True
    """
    sharding = replicated(mesh)

    def place(leaf):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            return jax.jit(lambda x: x, out_shardings=sharding)(leaf)
        if jax.process_count() == 1:
            return jax.device_put(leaf, sharding, may_alias=False)
        # device_put cannot target other processes' devices; every process
        # supplies its (identical) copy instead.
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(place, tree)


def global_batch(data: PyTree, rows: np.ndarray, mesh: Mesh) -> PyTree:
    """The global minibatch ``data[rows]``, split over ``"data"``.

    Each process reads only the rows its own devices hold (``rows`` is the
    same global index list on every process), so in a multi-host job no
    process materializes the whole batch.

    Args:
      data: pytree of host (numpy) arrays with a leading example axis.
      rows: int array ``(batch_size,)`` of example indices.
      mesh: the data mesh; ``batch_size`` must be divisible by its size.

    Returns:
      Pytree of global ``jax.Array`` with leading axis ``batch_size``.
    """
    sharding = batch_sharded(mesh)

    def build(leaf):
        shape = (len(rows),) + leaf.shape[1:]

        def shard(index):
            return np.asarray(leaf[rows[index[0]]][(slice(None),) + tuple(index[1:])])

        return jax.make_array_from_callback(shape, sharding, shard)

    return jax.tree.map(build, data)


def to_host(tree: PyTree) -> PyTree:
    """Numpy copies of the leaves of a pytree of replicated (global) arrays.

    Works in multi-host jobs too, where a replicated array is not fully
    addressable and ``np.asarray`` refuses it: each process reads its local
    copy.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.training import to_host
      >>> to_host({"w": jnp.arange(2)})["w"]
      array([0, 1], dtype=int32)
    """

    def fetch(leaf):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            if not leaf.is_fully_replicated:
                raise ValueError(
                    "to_host needs replicated arrays in a multi-host job; got a leaf "
                    f"with sharding {leaf.sharding}"
                )
            return np.asarray(leaf.addressable_data(0))
        return np.asarray(leaf)

    return jax.tree.map(fetch, tree)


def parse_device_count(value: str) -> int:
    """Parse a ``--devices`` flag: a count >= 1, or ``0`` / ``all`` for every
    local device (returned as 0). Usable as an ``argparse`` ``type=``."""
    import argparse

    if value.strip().lower() == "all":
        return 0
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an integer >= 0 or 'all', got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 or 'all', got {value}")
    return number


def mesh_for_devices(devices: int) -> Mesh | None:
    """The data mesh for a parsed ``--devices`` value: every local device for 0,
    else ``make_mesh(devices)``; ``None`` (the plain single-device path) when
    that is one device of a single-process job."""
    if devices == 0:
        devices = jax.local_device_count() if jax.process_count() == 1 else None
    if devices == 1:
        return None
    return make_mesh(devices)
