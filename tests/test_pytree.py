"""Regularizers and solvers are pytrees (fenchel/_pytree.py): jit takes them as arguments,
grad differentiates with respect to their numbers, and a new number is not a new compilation."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fenchel as fy
from fenchel.domains import Simplex
from fenchel import energies as E
from fenchel import maximizers as M
from fenchel import regularizers as R

THETA = jnp.array([0.3, -1.2, 2.0])
Y_BOX = jnp.array([1.0, 0.0, 1.0])
Y_SIMPLEX = jnp.array([0.5, 0.0, 0.5])


def _target(reg):
    return Y_SIMPLEX if isinstance(reg.domain, Simplex) else Y_BOX


@pytest.mark.parametrize("reg", [R.BinaryEntropy(), R.SquaredBox(lower=-1.0, upper=2.0),
                                 R.Squared(), R.ShannonSimplex(), R.SquaredSimplex()],
                         ids=lambda r: type(r).__name__)
def test_grad_with_respect_to_the_scale_matches_finite_differences(reg, x64):
    theta, y = THETA.astype(jnp.float64), _target(reg).astype(jnp.float64)
    loss = lambda scale: fy.gfy_loss(E.bilinear, type(reg)(**{**_fields(reg), "scale": scale}),
                                     theta, y)
    h = 1e-6
    fd = (loss(0.7 + h) - loss(0.7 - h)) / (2 * h)
    np.testing.assert_allclose(jax.grad(loss)(0.7), fd, rtol=1e-6, atol=1e-8)


def _fields(reg):
    return {f.name: getattr(reg, f.name) for f in dataclasses.fields(reg)}


def test_grad_with_respect_to_the_scale_through_a_solve(x64, concave_pairwise):
    theta = concave_pairwise(3, k=3, dtype=np.float64)
    solver = M.MirrorAscent(maxiter=5000, tol=1e-12)
    loss = lambda scale: fy.gfy_loss(E.pairwise, R.BinaryEntropy(scale=scale), theta,
                                     Y_BOX.astype(jnp.float64), solver=solver)
    h = 1e-5
    fd = (loss(0.7 + h) - loss(0.7 - h)) / (2 * h)
    # Danskin in λ: ∂L/∂λ = Ω₀(y) − Ω₀(ŷ), with nothing differentiated through the solver.
    np.testing.assert_allclose(jax.grad(loss)(0.7), fd, rtol=1e-5)


def test_a_new_scale_or_tolerance_is_not_a_new_compilation():
    traces = []

    def energy(theta, y):
        traces.append(1)  # runs once per trace
        return jnp.vdot(theta, y) - 0.1 * jnp.sum(y ** 4)

    # jax.jit objects of one function share their cache: count its growth.
    loss = jax.jit(fy.gfy_loss, static_argnums=0)
    loss(energy, R.SquaredBox(scale=1.0), THETA, Y_BOX, solver=M.ProjectedGradient(tol=1e-3))
    compiled, traced = loss._cache_size(), len(traces)
    for scale, tol in [(2.0, 1e-4), (0.5, 1e-5)]:
        value = loss(energy, R.SquaredBox(scale=scale), THETA, Y_BOX,
                     solver=M.ProjectedGradient(tol=tol))
        assert np.isfinite(value)
    assert (loss._cache_size(), len(traces)) == (compiled, traced)
    loss(E.bilinear, R.BinaryEntropy(scale=1.0), THETA, Y_BOX)
    compiled = loss._cache_size()
    for scale in (2.0, 3.0):
        loss(E.bilinear, R.BinaryEntropy(scale=scale), THETA, Y_BOX)
    assert loss._cache_size() == compiled


def test_structure_is_static_and_numbers_are_leaves():
    reg = R.SquaredBox(scale=2.0, lower=-1.0, upper=3.0)
    assert jax.tree.leaves(reg) == [2.0]
    rebuilt = jax.tree.map(lambda leaf: leaf * 2, reg)
    assert rebuilt == R.SquaredBox(scale=4.0, lower=-1.0, upper=3.0)
    solver = M.Restarts(M.ProjectedGradient(tol=1e-4), num_restarts=3)
    assert jax.tree.leaves(solver) == [1e-4, 1.0, 0.9]
    assert jax.tree.map(lambda x: x, solver) == solver
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(solver)[0]]
    assert paths == [".solver.tol", ".solver.initial_lipschitz", ".solver.decrease"]
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        R.SquaredBox(scale=jnp.array(-1.0))


def test_make_gfy_loss_gives_a_plain_jittable_function(concave_pairwise):
    theta = concave_pairwise(0, k=3)
    loss = fy.make_gfy_loss(E.pairwise, R.SquaredBox())
    value, grads = jax.jit(jax.value_and_grad(loss))(theta, Y_BOX)
    np.testing.assert_allclose(value, fy.gfy_loss(E.pairwise, R.SquaredBox(), theta, Y_BOX),
                               rtol=1e-6)
    batch = jax.jit(jax.vmap(loss, in_axes=((0, None), 0)))(
        (jnp.stack([theta[0], -theta[0]]), theta[1]), jnp.stack([Y_BOX, 1 - Y_BOX]))
    assert batch.shape == (2,)
    with pytest.raises(TypeError, match="MirrorAscent needs a regularizer with a mirror map"):
        fy.make_gfy_loss(E.pairwise, R.SquaredBox(), M.MirrorAscent())
    with pytest.raises(ValueError, match="on_failure"):
        fy.make_gfy_loss(E.bilinear, R.SquaredBox(), on_failure="maybe")
