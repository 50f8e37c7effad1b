"""Energies Φ(θ, y): values, concavity helpers, output shapes (nnx networks: test_energies_nnx.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
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
