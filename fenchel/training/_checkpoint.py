"""Resumable training checkpoints with orbax (arrays) plus JSON (bookkeeping).

Every array is stored under its **pytree path**: the name of its tree
followed by :func:`jax.tree_util.keystr` of its path, e.g.
``params['kernel'].value`` or ``opt_state[0].mu['kernel'].value``. Any pytree
(``dict``, ``nnx.State``, optax named tuples) round-trips without orbax
having to understand its node types, and a restore is matched path by path:
before anything is read, the checkpoint's paths, shapes and dtypes are
compared with those of the live trees, and any difference (a renamed,
reordered, added or removed leaf, a changed shape or dtype) raises a
``ValueError`` naming the paths, instead of loading arrays into the wrong
leaves or silently casting them. Restored arrays get the shardings of the
live arrays they replace (replicated over the mesh).

Checkpoints of older versions, which named the arrays by position
(``leaf_00000``, ...), are refused: a position says nothing about which leaf
an array belongs to, so they cannot be matched safely.
"""

from __future__ import annotations

import os
import re
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

PyTree = Any

# How versions before path keys named the arrays of a tree.
_POSITIONAL_NAME = re.compile(r"leaf_\d+")
# Differences listed in a refusal (a different model can differ everywhere).
_MAX_LISTED = 20


def _flat(name: str, tree: PyTree) -> dict[str, Any]:
    """The leaves of ``tree`` keyed by ``name`` + their :func:`jax.tree_util.keystr` path.

    Args:
      name: the tree's name in the checkpoint (``"params"``).
      tree: any pytree of arrays.

    Returns:
      ``{path: leaf}`` in ``tree``'s leaf order.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.training._checkpoint import _flat
      >>> list(_flat("params", {"w": jnp.ones(2), "b": [jnp.zeros(())]}))
      ["params['b'][0]", "params['w']"]
    """
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    flat = {name + jax.tree_util.keystr(path): leaf for path, leaf in leaves}
    if len(flat) != len(leaves):
        raise ValueError(f"tree {name!r} has leaves whose paths print alike; expected "
                         f"{len(leaves)} distinct paths, got {len(flat)}")
    return flat


def _unflat(name: str, like: PyTree, flat: dict[str, Any]) -> PyTree:
    """Rebuild ``like``'s structure from ``{path: array}`` (the inverse of :func:`_flat`)."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    return jax.tree.unflatten(
        treedef, [flat[name + jax.tree_util.keystr(path)] for path, _ in leaves])


def _abstract(flat: dict[str, Any]) -> dict[str, jax.ShapeDtypeStruct]:
    """Shape, dtype and sharding of each live array: what orbax restores into."""
    return {path: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding)
            for path, leaf in flat.items()}


def _spec(shape, dtype) -> str:
    """``"(3, 2) float32"``."""
    return f"{tuple(shape)} {np.dtype(dtype).name}"


def _check_not_positional(stored: dict[str, dict[str, Any]], where: str) -> None:
    """Refuse a checkpoint whose arrays are named by position (``leaf_00000``, ...)."""
    for name, arrays in stored.items():
        if arrays and all(_POSITIONAL_NAME.fullmatch(key) for key in arrays):
            raise ValueError(
                f"{where} was written by an older fenchel that stored the arrays of "
                f"{name!r} by position ({sorted(arrays)[0]}, ...): expected arrays keyed "
                f"by pytree path (like {name}['kernel']), got {len(arrays)} positional "
                "names, which cannot be matched to this model's leaves safely; delete "
                "it (or use another checkpoint_dir) and train again")


def _mismatches(stored: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """One line per path missing, unexpected or of another shape/dtype in ``stored``.

    Args:
      stored: ``{path: metadata with .shape and .dtype}`` read from the checkpoint.
      live: ``{path: array}`` of the trees to restore into.
    """
    lines = [f"missing from the checkpoint: {path} (expected {_spec(leaf.shape, leaf.dtype)})"
             for path, leaf in live.items() if path not in stored]
    lines += [f"unexpected in the checkpoint: {path} ({_spec(meta.shape, meta.dtype)})"
              for path, meta in stored.items() if path not in live]
    for path, leaf in live.items():
        meta = stored.get(path)
        if meta is None:
            continue
        expected, got = _spec(leaf.shape, leaf.dtype), _spec(meta.shape, meta.dtype)
        if expected != got:
            lines.append(f"mismatched: {path} expected {expected}, checkpoint has {got}")
    return lines


def _check_matches(where: str, stored: dict[str, dict[str, Any]],
                   live: dict[str, dict[str, Any]]) -> None:
    """Raise ``ValueError`` listing every difference between the stored and live trees.

    Args:
      where: the checkpoint, for the message (``"checkpoint step 3 in /run"``).
      stored: ``{name: {path: metadata (.shape, .dtype)}}`` read from the checkpoint.
      live: ``{name: {path: array}}`` (:func:`_flat` of each tree to restore into).
    """
    _check_not_positional(stored, where)
    problems = _mismatches(
        {path: meta for arrays in stored.values() for path, meta in arrays.items()},
        {path: leaf for flat in live.values() for path, leaf in flat.items()})
    if set(stored) != set(live):
        problems.insert(0, f"trees: expected {sorted(live)}, checkpoint has {sorted(stored)}")
    if problems:
        if len(problems) > _MAX_LISTED:
            problems[_MAX_LISTED:] = [f"... and {len(problems) - _MAX_LISTED} more"]
        raise ValueError(f"{where} does not match the trees to restore (was it written for "
                         "a different model or optimizer?):\n  " + "\n  ".join(problems))


class Checkpointer:
    """Save / restore ``{arrays..., meta}`` training states in a directory.

    Keeps the newest ``max_to_keep`` steps. Saving is synchronous (the step
    is on disk when :meth:`save` returns), so a crash right after never
    loses it. Arrays are stored by pytree path and restored only into trees
    with the same paths, shapes and dtypes (see the module docstring).

    Args:
      directory: where the ``<step>/`` folders live (created if missing).
      max_to_keep: how many checkpoints to keep (>= 1).

    Example:
      >>> import tempfile
      >>> import jax.numpy as jnp
      >>> from fenchel.training import Checkpointer
      >>> params = {"w": jnp.ones(3)}
      >>> ckpt = Checkpointer(tempfile.mkdtemp(), max_to_keep=2)
      >>> ckpt.save(10, {"params": params}, {"epoch": 1})
      >>> trees, meta = ckpt.restore(10, {"params": params})
      >>> trees["params"]["w"].tolist(), meta
      ([1.0, 1.0, 1.0], {'epoch': 1})
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
            # Handlers named up front, so that metadata can be read before any restore.
            item_handlers={"arrays": ocp.StandardCheckpointHandler(),
                           "meta": ocp.JsonCheckpointHandler()},
        )

    def latest_step(self) -> int | None:
        """The newest saved step, or ``None`` when the directory has none."""
        return self._manager.latest_step()

    def save(self, step: int, trees: dict[str, PyTree], meta: dict[str, Any]) -> None:
        """Write the array ``trees`` (name -> pytree) and JSON ``meta`` at ``step``."""
        arrays = {name: _flat(name, tree) for name, tree in trees.items()}
        self._manager.save(
            step,
            args=ocp.args.Composite(
                arrays=ocp.args.StandardSave(arrays), meta=ocp.args.JsonSave(meta)
            ),
            force=True,
        )
        self._manager.wait_until_finished()

    def _stored(self, step: int) -> dict[str, dict[str, Any]]:
        """``{name: {path: metadata (.shape, .dtype)}}`` of the arrays saved at ``step``."""
        metadata = self._manager.item_metadata(step)["arrays"]
        if metadata is None:
            raise ValueError(f"checkpoint step {step} in {self.directory} holds no arrays: "
                             "expected an 'arrays' item, got none (an incomplete checkpoint?)")
        return dict(getattr(metadata, "tree", metadata))

    def meta(self, step: int) -> dict[str, Any]:
        """The JSON meta saved at ``step``, without reading its arrays: e.g. to check
        which run wrote it before restoring trees whose shape depends on the run.

        Example:
          >>> import tempfile
          >>> import jax.numpy as jnp
          >>> from fenchel.training import Checkpointer
          >>> ckpt = Checkpointer(tempfile.mkdtemp())
          >>> ckpt.save(1, {"params": {"w": jnp.ones(2)}}, {"seed": 0})
          >>> ckpt.meta(1)
          {'seed': 0}
        """
        restored = self._manager.restore(step, args=ocp.args.Composite(
            meta=ocp.args.JsonRestore()))
        return dict(restored.meta)

    def restore(self, step: int, like: dict[str, PyTree]) -> tuple[dict[str, PyTree], dict]:
        """Read ``step`` back as trees shaped (and sharded) like ``like``, and its meta.

        Args:
          step: a saved step (e.g. :meth:`latest_step`).
          like: name -> live pytree of ``jax.Array`` s; the checkpoint must hold
            exactly these names and paths, with the same shapes and dtypes.

        Returns:
          ``(trees, meta)``: name -> restored pytree (the structure and
          shardings of ``like``), and the JSON meta saved with them.

        Raises:
          ValueError: the checkpoint's trees, paths, shapes or dtypes differ
            from ``like``'s (the message lists the differences), or it is of
            the older positional format.
        """
        live = {name: _flat(name, tree) for name, tree in like.items()}
        _check_matches(f"checkpoint step {step} in {self.directory}", self._stored(step), live)
        abstract = {name: _abstract(flat) for name, flat in live.items()}
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(
                arrays=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
            ),
        )
        trees = {name: _unflat(name, like[name], restored.arrays[name]) for name in like}
        return trees, dict(restored.meta)

    def close(self) -> None:
        """Release orbax's resources (waits for pending work)."""
        self._manager.close()
