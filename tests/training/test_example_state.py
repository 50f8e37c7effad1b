"""Per-example state of fenchel.training.train: each example's rows of the store follow it
through the epoch permutations, are checkpointed, and warm-start an inner solve."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel.training import epoch_permutation, train


def _bookkeeping_loss(params, batch, key, state):
    """Each visited row records its example id and counts its visits."""
    loss = jnp.mean((batch["x"] - params["w"]) ** 2)
    return loss, {"seen": batch["id"], "visits": state["visits"] + 1}


def _store(n):
    return {"seen": np.full(n, -1, np.int32), "visits": np.zeros(n, np.int32)}


@settings(max_examples=examples(10), deadline=None)
@given(n=st.integers(4, 12), batch_size=st.integers(1, 4), num_epochs=st.integers(1, 3),
       seed=st.integers(0, 2 ** 31 - 1))
def test_each_example_reads_and_writes_its_own_row(n, batch_size, num_epochs, seed):
    data = {"x": np.arange(n, dtype=np.float32), "id": np.arange(n, dtype=np.int32)}
    key = jax.random.key(seed)
    result = train(_bookkeeping_loss, {"w": jnp.zeros(())}, optax.sgd(0.1), data,
                   batch_size=batch_size, num_epochs=num_epochs, key=key, progress=False,
                   example_state=_store(n))
    # The rows of epoch e: the first (n // batch) * batch of its permutation.
    words = [int(w) for w in np.asarray(jax.random.key_data(key)).ravel()]
    used = (n // batch_size) * batch_size
    visits = np.zeros(n, np.int32)
    for epoch in range(num_epochs):
        visits[epoch_permutation(words, epoch, n)[:used]] += 1
    state = jax.tree.map(np.asarray, result.example_state)
    np.testing.assert_array_equal(state["visits"], visits)
    np.testing.assert_array_equal(state["seen"], np.where(visits > 0, np.arange(n), -1))


def test_the_store_is_checkpointed_and_resumed(tmp_path):
    data = {"x": np.arange(10, dtype=np.float32), "id": np.arange(10, dtype=np.int32)}
    common = dict(batch_size=3, num_epochs=3, key=jax.random.key(1), progress=False)
    whole = train(_bookkeeping_loss, {"w": jnp.zeros(())}, optax.sgd(0.1), data,
                  example_state=_store(10), **common)
    first = train(_bookkeeping_loss, {"w": jnp.zeros(())}, optax.sgd(0.1), data,
                  example_state=_store(10), checkpoint_dir=tmp_path, max_steps_this_run=4,
                  **common)
    assert not first.finished
    second = train(_bookkeeping_loss, {"w": jnp.zeros(())}, optax.sgd(0.1), data,
                   example_state=_store(10), checkpoint_dir=tmp_path, **common)
    assert second.resumed_from == 4 and second.finished
    for name in ("seen", "visits"):
        np.testing.assert_array_equal(second.example_state[name], whole.example_state[name])
    assert second.history["loss"] == whole.history["loss"]


def test_a_warm_started_inner_solve_gives_the_cold_losses():
    """The module docstring's use: the multi-label GFY loss with each example's last ŷ as
    the start of its next solve; a tight tolerance makes the start irrelevant to the loss."""
    nnx = pytest.importorskip("flax.nnx")
    from fenchel.multilabel.losses import Method, batch_loss_and_solutions
    from fenchel.multilabel.models import EnergyNetwork, energy_spec

    method = Method("pairwise", "gfy", "squared", maxiter=500, tol=1e-6)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    data = {"x": x, "y": (x[:, :4] > 0).astype(np.float32)}
    graphdef, params = nnx.split(EnergyNetwork(5, 4, "pairwise", rngs=nnx.Rngs(0)))

    def make_loss(warm):
        def loss_fn(params, batch, key, state):
            spec = energy_spec(nnx.merge(graphdef, params), batch["x"])
            loss, solved = batch_loss_and_solutions(method, spec, batch["y"], key,
                                                    init=state["y_hat"] if warm else None)
            return loss, {"y_hat": solved.y_hat, "iterations": solved.iterations}
        return loss_fn

    start = {"y_hat": jnp.full((32, 4), 0.5), "iterations": jnp.zeros(32, jnp.int32)}
    results = {warm: train(make_loss(warm), params, optax.adam(1e-2), data, batch_size=8,
                           num_epochs=3, key=jax.random.key(0), progress=False,
                           example_state=start)
               for warm in (False, True)}
    np.testing.assert_allclose(results[True].history["loss"], results[False].history["loss"],
                               rtol=1e-5, atol=1e-6)
    # Both stores hold every example's last solution (every row is visited each epoch),
    # found in fewer iterations from the warm start.
    warm, cold = results[True].example_state, results[False].example_state
    np.testing.assert_allclose(warm["y_hat"], cold["y_hat"], atol=1e-4)
    assert not np.any(np.asarray(warm["y_hat"]) == 0.5)
    assert np.mean(warm["iterations"]) < np.mean(cold["iterations"])


def test_a_state_of_the_wrong_shape_or_structure_is_refused():
    data = {"x": np.arange(8, dtype=np.float32), "id": np.arange(8, dtype=np.int32)}
    common = dict(batch_size=2, num_epochs=1, key=jax.random.key(0), progress=False)
    with pytest.raises(ValueError, match="leading example axis of train_data \\(8\\), got 7"):
        train(_bookkeeping_loss, {"w": jnp.zeros(())}, optax.sgd(0.1), data,
              example_state=_store(7), **common)
    with pytest.raises(TypeError, match="new_state of the structure"):
        train(lambda p, b, k, s: (jnp.mean(b["x"] * p["w"]), s["visits"]), {"w": jnp.zeros(())},
              optax.sgd(0.1), data, example_state=_store(8), **common)
