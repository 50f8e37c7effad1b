"""Energies Φ(θ, y): values, concavity helpers, output shapes, nnx networks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from fenchel import energies as E

FEW = settings(max_examples=20, deadline=None)


def test_bilinear_and_pairwise_values():
    rng = np.random.default_rng(0)
    u, U, y = rng.standard_normal(4), rng.standard_normal((4, 4)), rng.random(4)
    np.testing.assert_allclose(E.bilinear(jnp.asarray(u), jnp.asarray(y)), u @ y, rtol=1e-5)
    np.testing.assert_allclose(E.pairwise((jnp.asarray(u), jnp.asarray(U)), jnp.asarray(y)),
                               u @ y + 0.5 * y @ U @ y, rtol=1e-5)


def test_pairwise_hessian_is_symmetric_part():
    U = jax.random.normal(jax.random.key(0), (3, 3))
    hessian = jax.hessian(E.pairwise, argnums=1)((jnp.zeros(3), U), jnp.ones(3))
    np.testing.assert_allclose(hessian, 0.5 * (U + U.T), atol=1e-6)


@FEW
@given(seed=st.integers(0, 2**31 - 1), rank=st.integers(1, 4))
def test_negative_semidefinite(seed, rank):
    factor = jax.random.normal(jax.random.key(seed), (4, rank))
    U = E.negative_semidefinite(factor)
    np.testing.assert_allclose(U, U.T, atol=1e-6)
    assert float(jnp.max(jnp.linalg.eigvalsh(U))) <= 1e-5


_project = jax.jit(E.project_negative_semidefinite)


@FEW
@given(seed=st.integers(0, 2**31 - 1))
def test_project_negative_semidefinite(seed):
    rng = np.random.default_rng(seed)
    matrix = jnp.asarray(rng.standard_normal((4, 4)), jnp.float32)
    projected = _project(matrix)
    np.testing.assert_allclose(projected, projected.T, atol=1e-5)
    assert float(jnp.max(jnp.linalg.eigvalsh(projected))) <= 1e-5
    np.testing.assert_allclose(_project(projected), projected, atol=1e-5)  # idempotent
    # Nearest: no other negative semi-definite matrix is closer to sym(matrix).
    sym = 0.5 * (matrix + matrix.T)
    other = E.negative_semidefinite(jnp.asarray(rng.standard_normal((4, 3)), jnp.float32))
    assert float(jnp.linalg.norm(projected - sym)) <= float(jnp.linalg.norm(other - sym)) + 1e-5


def test_output_shape():
    assert E.output_shape(E.bilinear, jnp.zeros(5)) == (5,)
    assert E.output_shape(E.pairwise, (jnp.zeros(3), jnp.zeros((3, 3)))) == (3,)
    assert E.output_shape(lambda theta, y: 0.0, jnp.zeros(3)) is None


class _TinyNet(nnx.Module):
    def __init__(self, rngs):
        self.features = nnx.Linear(2, 3, rngs=rngs)

    def __call__(self, x, y):
        return jnp.vdot(jnp.tanh(self.features(x)), y) - 0.5 * jnp.sum(y ** 2)


def test_nnx_energy_matches_the_module():
    model = _TinyNet(nnx.Rngs(0))
    energy, params = E.nnx_energy(model)
    x, y = jnp.array([0.5, -1.0]), jnp.array([0.2, 0.7, 1.0])
    np.testing.assert_allclose(energy((params, x), y), model(x, y), rtol=1e-6)
    # θ = (params, x) is a pytree that jit and grad go through.
    grads = jax.jit(jax.grad(energy))((params, x), y)
    assert jax.tree.structure(grads[0]) == jax.tree.structure(params)
    # Changing the parameters changes the energy, without touching the module.
    shifted = jax.tree.map(lambda p: p + 1.0, params)
    assert float(energy((shifted, x), y)) != pytest.approx(float(model(x, y)))
    np.testing.assert_allclose(energy((params, x), y), model(x, y), rtol=1e-6)


def test_nnx_energy_rejects_non_scalar_outputs():
    class Wide(nnx.Module):
        def __init__(self, rngs):
            self.lin = nnx.Linear(2, 2, rngs=rngs)

        def __call__(self, x, y):
            return self.lin(x) * y  # two values: not an energy

    energy, params = E.nnx_energy(Wide(nnx.Rngs(0)))
    with pytest.raises(TypeError):
        energy((params, jnp.ones(2)), jnp.ones(2))
