"""Resumable training checkpoints with orbax (arrays) plus JSON (bookkeeping).

Array trees are stored as flat dicts of their leaves (``leaf_00000``, ...)
and rebuilt with the caller's tree structure on restore, so any pytree
(``dict``, ``nnx.State``, optax named tuples) round-trips without orbax
having to understand its node types. Restored arrays get the shardings of
the live arrays they replace (replicated over the mesh).
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

PyTree = Any


def _flat(tree: PyTree) -> dict[str, Any]:
    return {f"leaf_{i:05d}": leaf for i, leaf in enumerate(jax.tree.leaves(tree))}


def _unflat(like: PyTree, flat: dict[str, Any]) -> PyTree:
    leaves, treedef = jax.tree.flatten(like)
    if len(flat) != len(leaves):
        raise ValueError(
            f"checkpoint holds {len(flat)} arrays where the live tree has {len(leaves)}; "
            "was it written for a different model or optimizer?"
        )
    return jax.tree.unflatten(treedef, [flat[f"leaf_{i:05d}"] for i in range(len(leaves))])


def _abstract(tree: PyTree) -> dict[str, Any]:
    return {
        name: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding)
        for name, leaf in _flat(tree).items()
    }


class Checkpointer:
    """Save / restore ``{arrays..., meta}`` training states in a directory.

    Keeps the newest ``max_to_keep`` steps. Saving is synchronous (the step
    is on disk when :meth:`save` returns), so a crash right after never
    loses it.

    Args:
      directory: where the ``<step>/`` folders live (created if missing).
      max_to_keep: how many checkpoints to keep (>= 1).

    Example:
      >>> ckpt = Checkpointer("/tmp/run", max_to_keep=2)  # doctest: +SKIP
      >>> ckpt.save(10, {"params": params}, {"epoch": 1})  # doctest: +SKIP
    """

    def __init__(self, directory: str | os.PathLike, max_to_keep: int = 2):
        if not isinstance(max_to_keep, int) or max_to_keep < 1:
            raise ValueError(f"max_to_keep must be an integer >= 1, got {max_to_keep!r}")
        directory = os.fspath(directory)
        # Remote paths (gs://...) go to orbax as they are.
        self.directory = directory if "://" in directory else os.path.abspath(directory)
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False
            ),
            item_names=("arrays", "meta"),
        )

    def latest_step(self) -> int | None:
        """The newest saved step, or ``None`` when the directory has none."""
        return self._manager.latest_step()

    def save(self, step: int, trees: dict[str, PyTree], meta: dict[str, Any]) -> None:
        """Write the array ``trees`` (name -> pytree) and JSON ``meta`` at ``step``."""
        arrays = {name: _flat(tree) for name, tree in trees.items()}
        self._manager.save(
            step,
            args=ocp.args.Composite(
                arrays=ocp.args.StandardSave(arrays), meta=ocp.args.JsonSave(meta)
            ),
            force=True,
        )
        self._manager.wait_until_finished()

    def restore(self, step: int, like: dict[str, PyTree]) -> tuple[dict[str, PyTree], dict]:
        """Read ``step`` back as trees shaped (and sharded) like ``like``, and its meta."""
        abstract = {name: _abstract(tree) for name, tree in like.items()}
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(
                arrays=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
            ),
        )
        trees = {name: _unflat(like[name], restored.arrays[name]) for name in like}
        return trees, dict(restored.meta)

    def close(self) -> None:
        """Release orbax's resources (waits for pending work)."""
        self._manager.close()
