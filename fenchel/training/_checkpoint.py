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

A checkpoint that cannot be read (corrupt or truncated JSON meta, a missing
array manifest, ...) raises :class:`CheckpointError` naming the step folder to
delete, never orbax's or tensorstore's traceback; so does one written by another
run. A :class:`Checkpointer` holds the output lock of its folder
(:func:`lock_checkpoints`): a second process training into the same folder is
refused (:class:`fenchel.infra._io.OutputLockedError`, naming the holder).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from typing import Any, Iterable, Iterator

import jax
import numpy as np
import orbax.checkpoint as ocp

from fenchel.infra._io import Refusal, output_lock

PyTree = Any

# How versions before path keys named the arrays of a tree.
_POSITIONAL_NAME = re.compile(r"leaf_\d+")
# Differences listed in a refusal (a different model can differ everywhere).
_MAX_LISTED = 20


class CheckpointError(Refusal, ValueError):
    """A checkpoint cannot be resumed from: it cannot be read (corrupt or incomplete), or
    it was written for another model, optimizer or run."""


def lock_checkpoints(directory: str | os.PathLike) -> contextlib.AbstractContextManager:
    """The output lock of the checkpoint folder ``directory``
    (:func:`fenchel.infra._io.output_lock`): taken by process 0 of a job only (the processes of
    a multi-host job share the folder), and not for remote paths (``gs://...``)."""
    directory = os.fspath(directory)
    if "://" in directory or jax.process_index() != 0:
        return contextlib.nullcontext()
    return output_lock(directory, what="checkpoint folder")


def _summary(error: BaseException) -> str:
    """One line of ``error``: its type and first line (tensorstore's spec dropped)."""
    lines = str(error).split(" [tensorstore_spec=")[0].strip().splitlines()
    first = lines[0].strip() if lines else ""
    if len(first) > 300:
        first = first[:297] + "..."
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _advice(directory: str, step: int) -> str:
    return (f"; delete {os.path.join(directory, str(step))} (or the whole folder) to train that "
            "part again, or use another checkpoint folder")


def _quiet_closed_loops() -> None:
    """Silence the reports of tensorstore reads that end after a failed orbax restore
    (installed before each read of a checkpoint, once per process).

    When one array of a restore cannot be read, orbax's event loop closes while other
    reads are still in flight; each then reports ``RuntimeError: Event loop is closed``
    through ``sys.unraisablehook``, a screen of tracebacks around the one-line refusal.
    Only those reports are dropped; any other goes to the previous hook."""
    previous = sys.unraisablehook
    if getattr(previous, "_fenchel_quiet", False):
        return

    def hook(unraisable):
        error = unraisable.exc_value
        if isinstance(error, RuntimeError) and str(error) == "Event loop is closed":
            return
        previous(unraisable)

    hook._fenchel_quiet = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


@contextlib.contextmanager
def _readable(directory: str, step: int | None) -> Iterator[None]:
    """Turn any error of reading a checkpoint into a one-line :class:`CheckpointError`."""
    _quiet_closed_loops()
    try:
        yield
    except (CheckpointError, KeyboardInterrupt):
        raise
    except Exception as error:
        if step is None:
            raise CheckpointError(f"the checkpoints in {directory} cannot be listed "
                                  f"({_summary(error)}); use another checkpoint folder") from error
        raise CheckpointError(f"checkpoint step {step} in {directory} cannot be read "
                              f"({_summary(error)})" + _advice(directory, step)) from error


def _check_meta(meta: Any, required: Iterable[str], directory: str, step: int) -> dict[str, Any]:
    """``meta`` as a dict holding every ``required`` key, else :class:`CheckpointError`."""
    where = f"checkpoint step {step} in {directory} cannot be read"
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where}: its meta is a {type(meta).__name__}, expected a JSON "
                              "object" + _advice(directory, step))
    missing = [key for key in required if key not in meta]
    if missing:
        raise CheckpointError(f"{where}: its meta lacks {', '.join(map(repr, missing))} "
                              "(written by another program, or damaged)" + _advice(directory, step))
    return dict(meta)


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
            raise CheckpointError(
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
        raise CheckpointError(f"{where} does not match the trees to restore (was it written for "
                         "a different model or optimizer?):\n  " + "\n  ".join(problems))


class Checkpointer:
    """Save / restore ``{arrays..., meta}`` training states in a directory.

    Keeps the newest ``max_to_keep`` steps. Saving is synchronous (the step
    is on disk when :meth:`save` returns), so a crash right after never
    loses it. Arrays are stored by pytree path and restored only into trees
    with the same paths, shapes and dtypes (see the module docstring).
    It holds the lock of ``directory`` until :meth:`close` (:func:`lock_checkpoints`).

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
        self._lock = contextlib.ExitStack()
        self._lock.enter_context(lock_checkpoints(self.directory))
        try:
            with _readable(self.directory, None):
                self._manager = ocp.CheckpointManager(
                    self.directory,
                    options=ocp.CheckpointManagerOptions(
                        max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False
                    ),
                    # Handlers named up front, so that metadata can be read before any restore.
                    item_handlers={"arrays": ocp.StandardCheckpointHandler(),
                                   "meta": ocp.JsonCheckpointHandler()},
                )
        except BaseException:
            self._lock.close()
            raise

    def latest_step(self) -> int | None:
        """The newest saved step, or ``None`` when the directory has none."""
        with _readable(self.directory, None):
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
        with _readable(self.directory, step):
            metadata = self._manager.item_metadata(step)["arrays"]
            if metadata is None:
                raise CheckpointError(
                    f"checkpoint step {step} in {self.directory} cannot be read: it holds no "
                    "arrays (an incomplete checkpoint?)" + _advice(self.directory, step))
            return dict(getattr(metadata, "tree", metadata))

    def _where(self, step: int) -> str:
        return f"checkpoint step {step} in {self.directory}"

    def meta(self, step: int, required: Iterable[str] = ()) -> dict[str, Any]:
        """The JSON meta saved at ``step``, without reading its arrays: e.g. to check
        which run wrote it before restoring trees whose shape depends on the run.

        Raises:
          CheckpointError: it cannot be read, is not a JSON object, or lacks a key of
            ``required``.

        Example:
          >>> import tempfile
          >>> import jax.numpy as jnp
          >>> from fenchel.training import Checkpointer
          >>> ckpt = Checkpointer(tempfile.mkdtemp())
          >>> ckpt.save(1, {"params": {"w": jnp.ones(2)}}, {"seed": 0})
          >>> ckpt.meta(1)
          {'seed': 0}
        """
        with _readable(self.directory, step):
            restored = self._manager.restore(step, args=ocp.args.Composite(
                meta=ocp.args.JsonRestore()))
            meta = restored.meta
        return _check_meta(meta, required, self.directory, step)

    def restore(self, step: int, like: dict[str, PyTree], required: Iterable[str] = ()
                ) -> tuple[dict[str, PyTree], dict]:
        """Read ``step`` back as trees shaped (and sharded) like ``like``, and its meta.

        Args:
          step: a saved step (e.g. :meth:`latest_step`).
          like: name -> live pytree of ``jax.Array`` s; the checkpoint must hold
            exactly these names and paths, with the same shapes and dtypes.
          required: keys the meta must hold.

        Returns:
          ``(trees, meta)``: name -> restored pytree (the structure and
          shardings of ``like``), and the JSON meta saved with them.

        Raises:
          CheckpointError: (a ``ValueError``) the checkpoint's trees, paths, shapes
            or dtypes differ from ``like``'s (the message lists the differences), it
            is of the older positional format, it cannot be read, or its meta lacks
            a ``required`` key.
        """
        live = {name: _flat(name, tree) for name, tree in like.items()}
        _check_matches(self._where(step), self._stored(step), live)
        abstract = {name: _abstract(flat) for name, flat in live.items()}
        with _readable(self.directory, step):
            restored = self._manager.restore(
                step,
                args=ocp.args.Composite(
                    arrays=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
                ),
            )
            trees = {name: _unflat(name, like[name], restored.arrays[name]) for name in like}
        return trees, _check_meta(restored.meta, required, self.directory, step)

    def close(self) -> None:
        """Release orbax's resources (waits for pending work) and the folder's lock."""
        try:
            self._manager.close()
        finally:
            self._lock.close()
