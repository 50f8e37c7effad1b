"""Checkpoints keyed by pytree path: exact round trips, refusals that name the paths."""

from __future__ import annotations

import doctest
import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from flax import nnx

from fenchel.training import Checkpointer, make_mesh, replicate, to_host
from fenchel.training import _checkpoint


class Layer(NamedTuple):
    w: jax.Array
    b: jax.Array


class SwappedLayer(NamedTuple):
    """``Layer`` with its fields declared in the other order: same paths, other leaf order."""

    b: jax.Array
    w: jax.Array


def _model_state() -> nnx.State:
    return nnx.split(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), nnx.Param)[1]


def _save(directory, trees, step=1, meta=None):
    checkpointer = Checkpointer(directory)
    try:
        checkpointer.save(step, trees, meta or {"step": step})
    finally:
        checkpointer.close()


def _restore(directory, like, step=1):
    checkpointer = Checkpointer(directory)
    try:
        return checkpointer.restore(step, like)
    finally:
        checkpointer.close()


def _assert_same(got, want) -> None:
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for x, y in zip(jax.tree.leaves(to_host(got)), jax.tree.leaves(to_host(want)), strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


def test_round_trip_restores_exactly_with_the_live_shardings(tmp_path):
    mesh = make_mesh(1)
    params = replicate(_model_state(), mesh)
    params = jax.tree.map(lambda leaf: leaf + 0.25, params)  # not the initialization
    opt_state = optax.adam(1e-2).init(params)
    opt_state = jax.tree.map(lambda leaf: leaf + 1 if leaf.ndim else leaf, opt_state)
    trees = {"params": params, "opt_state": opt_state, "extra": {"step": jnp.int32(7)}}
    _save(tmp_path, trees, step=3, meta={"epoch": 2, "history": [1.5, 0.5]})

    fresh = {"params": replicate(_model_state(), mesh),
             "opt_state": optax.adam(1e-2).init(_model_state()), "extra": {"step": jnp.int32(0)}}
    restored, meta = _restore(tmp_path, fresh, step=3)
    assert meta == {"epoch": 2, "history": [1.5, 0.5]}
    for name in trees:
        _assert_same(restored[name], trees[name])
        for got, live in zip(jax.tree.leaves(restored[name]), jax.tree.leaves(fresh[name])):
            assert got.sharding == live.sharding
    assert type(restored["params"]) is nnx.State


def test_arrays_are_stored_under_their_paths(tmp_path):
    _save(tmp_path, {"params": _model_state(), "layer": Layer(jnp.ones(2), jnp.zeros(2))})
    checkpointer = Checkpointer(tmp_path)
    stored = checkpointer._stored(1)
    checkpointer.close()
    assert sorted(stored["params"]) == ["params['bias'].value", "params['kernel'].value"]
    assert sorted(stored["layer"]) == ["layer.b", "layer.w"]


def test_leaves_in_another_order_restore_by_path_not_position(tmp_path):
    w, b = jnp.arange(3.0), -jnp.arange(3.0)  # same shape: a positional restore would swap them
    _save(tmp_path, {"layer": Layer(w=w, b=b)})
    restored, _ = _restore(tmp_path, {"layer": SwappedLayer(b=jnp.zeros(3), w=jnp.zeros(3))})
    assert isinstance(restored["layer"], SwappedLayer)
    np.testing.assert_array_equal(restored["layer"].w, w)
    np.testing.assert_array_equal(restored["layer"].b, b)


def test_renamed_leaves_with_the_same_count_are_refused(tmp_path):
    _save(tmp_path, {"params": {"encoder": jnp.ones((2, 2)), "decoder": jnp.ones((2, 2))}})
    like = {"params": {"encoder": jnp.ones((2, 2)), "head": jnp.ones((2, 2))}}
    with pytest.raises(ValueError) as error:
        _restore(tmp_path, like)
    message = str(error.value)
    assert "missing from the checkpoint: params['head'] (expected (2, 2) float32)" in message
    assert "unexpected in the checkpoint: params['decoder'] ((2, 2) float32)" in message
    assert "params['encoder']" not in message  # the matching path is not reported


def test_a_different_model_is_listed_up_to_a_bound(tmp_path):
    _save(tmp_path, {"params": {f"old{i:02d}": jnp.ones(1) for i in range(15)}})
    with pytest.raises(ValueError) as error:
        _restore(tmp_path, {"params": {f"new{i:02d}": jnp.ones(1) for i in range(15)}})
    lines = str(error.value).splitlines()
    assert len(lines) == 1 + _checkpoint._MAX_LISTED + 1 and lines[-1] == "  ... and 10 more"


def test_a_changed_shape_is_refused_naming_the_path(tmp_path):
    _save(tmp_path, {"params": [jnp.ones((3, 4)), jnp.ones((4, 2))]})
    with pytest.raises(ValueError, match=re.escape(
            "mismatched: params[0] expected (4, 2) float32, checkpoint has (3, 4) float32")):
        _restore(tmp_path, {"params": [jnp.ones((4, 2)), jnp.ones((3, 4))]})


def test_a_changed_dtype_is_refused_instead_of_cast(tmp_path):
    _save(tmp_path, {"params": {"w": jnp.ones(3, jnp.float32)}})
    with pytest.raises(ValueError, match=re.escape(
            "mismatched: params['w'] expected (3,) bfloat16, checkpoint has (3,) float32")):
        _restore(tmp_path, {"params": {"w": jnp.ones(3, jnp.bfloat16)}})


def test_a_missing_tree_is_refused(tmp_path):
    _save(tmp_path, {"params": {"w": jnp.ones(3)}})
    with pytest.raises(ValueError, match=re.escape(
            "trees: expected ['best_params', 'params'], checkpoint has ['params']")):
        _restore(tmp_path, {"params": {"w": jnp.ones(3)}, "best_params": {"w": jnp.ones(3)}})


def test_an_old_positional_checkpoint_is_refused(tmp_path):
    # The layout of checkpoints written before path keys: leaf_00000, ... per tree.
    manager = ocp.CheckpointManager(
        str(tmp_path), options=ocp.CheckpointManagerOptions(create=True,
                                                            enable_async_checkpointing=False),
        item_names=("arrays", "meta"))
    arrays = {"params": {"leaf_00000": jnp.ones(2), "leaf_00001": jnp.ones((3, 2))}}
    manager.save(1, args=ocp.args.Composite(arrays=ocp.args.StandardSave(arrays),
                                            meta=ocp.args.JsonSave({"step": 1})), force=True)
    manager.wait_until_finished()
    manager.close()
    with pytest.raises(ValueError, match=r"stored the arrays of 'params' by position "
                                         r"\(leaf_00000, \.\.\.\).*train again"):
        _restore(tmp_path, {"params": _model_state()})


def test_docstring_examples():
    result = doctest.testmod(_checkpoint, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
