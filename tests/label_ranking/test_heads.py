"""The Fenchel-Young heads on the permutahedron and the Birkhoff polytope: the loss is
≥ 0, vanishes when θ points at the target, its gradient in the outputs is ŷ − y
(Danskin), and a fold learns a linear ranking with each of them."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fenchel.regularizers
from fenchel.label_ranking.experiment import Settings, run_fold
from fenchel.label_ranking.models import HEADS

_FY_HEADS = {"perm-squared": "SquaredPermutahedron", "perm-entropic": "EntropicPermutahedron",
             "birkhoff-squared": "SquaredBirkhoff", "birkhoff-entropic": "EntropicBirkhoff"}

pytestmark = pytest.mark.skipif(
    not all(hasattr(fenchel.regularizers, name) for name in _FY_HEADS.values()),
    reason="needs the permutahedron and Birkhoff regularizers of issue 23 part 1")


def _ranks(rng, n, k):
    return np.argsort(rng.random((n, k)), axis=1) + 1


@functools.lru_cache(maxsize=None)
def _compiled(name):
    """The head's loss, its gradient and the regularizer's maximizer, jitted once per
    head (the solvers are slow op by op)."""
    head = HEADS[name]
    reg = getattr(fenchel.regularizers, _FY_HEADS[name])()
    loss = jax.jit(lambda o, y: head.loss(o, {}, y, None))
    grad = jax.jit(jax.grad(lambda o, y: jnp.sum(head.loss(o, {}, y, None))))
    return loss, grad, jax.jit(jax.vmap(reg.linear_maximizer))


@pytest.mark.parametrize("name", sorted(_FY_HEADS))
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_fenchel_young_heads(name, seed):
    k, head = 4, HEADS[name]
    loss_fn, grad_fn, maximizer = _compiled(name)
    rng = np.random.default_rng(seed)
    ranks = _ranks(rng, 3, k)
    y = jnp.asarray(head.targets(ranks))
    outputs = jnp.asarray(rng.normal(size=(3, head.n_outputs(k))), jnp.float32)
    loss = loss_fn(outputs, y)
    assert loss.shape == (3,) and bool(jnp.all(loss >= -1e-4))
    # Danskin: the gradient in the outputs is ŷ − y, ŷ the regularized maximizer.
    np.testing.assert_allclose(grad_fn(outputs, y), maximizer(outputs) - y, atol=2e-3)
    # θ pointing at the target: its ranking decodes back and the loss is about 0
    sharp = 50.0 * (y - jnp.mean(y, axis=-1, keepdims=True))
    np.testing.assert_array_equal(head.ranks(np.asarray(head.scores(sharp, {}))), ranks)
    assert float(jnp.max(loss_fn(sharp, y))) < 1e-2


@pytest.mark.parametrize("name", sorted(_FY_HEADS))
def test_a_fold_learns_a_linear_ranking(name):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    ranks = np.argsort(np.argsort(-(x @ rng.normal(size=(3, 4))), axis=1), axis=1) + 1
    from fenchel.label_ranking.data import LabelRankingData
    from fenchel.label_ranking.protocol import cv_folds

    data = LabelRankingData("linear", x, ranks.astype(np.int32), {})
    fold = cv_folds(200, 4, 1, seed=0)[0]
    result = run_fold(data, name, fold, settings=Settings(max_steps=300),
                      grid={"hidden": (0,), "learning_rate": (0.05,), "weight_decay": (1e-4,)})
    assert result["kendall_tau"] > 0.8, result


def test_pairwise_head_loss_and_decoding():
    """The pairwise energy on the permutahedron: GFY loss ≥ 0 through the library's inner
    solver, a finite gradient, and ŷ in the permutahedron decoding to a ranking."""
    head, k = HEADS["perm-pairwise"], 3
    extra = head.init_extra(jax.random.key(0), k)
    ranks = _ranks(np.random.default_rng(0), 2, k)
    y = jnp.asarray(head.targets(ranks))
    outputs = jnp.asarray(np.random.default_rng(1).normal(size=(2, k)), jnp.float32)
    loss, grads = jax.jit(jax.value_and_grad(
        lambda o, e: jnp.sum(head.loss(o, e, y, None)), argnums=(0, 1)))(outputs, extra)
    assert float(loss) >= 0.0
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    y_hat = np.asarray(jax.jit(head.scores)(outputs, extra))
    assert np.all(np.sort(head.ranks(y_hat), axis=1) == np.arange(1, k + 1))
    # ŷ lies in the permutahedron of (3, 2, 1): its entries sum to 6
    np.testing.assert_allclose(y_hat.sum(axis=1), 6.0, atol=1e-3)
