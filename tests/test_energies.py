"""Energies Φ(θ, y): values, concavity helpers, output shapes (nnx networks: test_energies_nnx.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel import energies as E

FEW = settings(max_examples=examples(20), deadline=None)


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


# --------------------------------------------------------------------------- low rank

SCALES = st.sampled_from([1e-3, 1e-2, 1e-1, 1.0, 10.0, 1e2])


def _low_rank_problem(seed, k, rank, u_scale, v_scale):
    rng = np.random.default_rng(seed)
    u = u_scale * rng.standard_normal(k)
    factor = v_scale * rng.standard_normal((k, rank))
    y = rng.random(k)
    return u, factor, y


@FEW
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 9), rank=st.integers(1, 12),
       u_scale=SCALES, v_scale=SCALES)
def test_low_rank_pairwise_is_pairwise_with_minus_v_vt(seed, k, rank, u_scale, v_scale):
    """Φ((u, V), y) = <u, y> − ½‖Vᵀy‖² = pairwise with U = −VVᵀ: the value, ∇_y, ∇_u and
    ∇_V (through U = −VVᵀ), for r < k, r = k and r > k, at scales 1e-3..1e2 (float64)."""
    u, factor, y = _low_rank_problem(seed, k, rank, u_scale, v_scale)
    with jax.enable_x64(True):
        u_, v_, y_ = (jnp.asarray(a, jnp.float64) for a in (u, factor, y))
        dense = lambda t, y__: E.pairwise((t[0], E.negative_semidefinite(t[1])), y__)
        value = E.low_rank_pairwise((u_, v_), y_)
        expected = u @ y - 0.5 * np.sum((factor.T @ y) ** 2)  # numpy, float64
        size = np.abs(u) @ y + 0.5 * np.sum((np.abs(factor).T @ y) ** 2)
        np.testing.assert_allclose(value, expected, rtol=0, atol=1e-13 * (1 + size))
        np.testing.assert_allclose(value, dense((u_, v_), y_), rtol=0, atol=1e-13 * (1 + size))
        gu, gv = jax.grad(E.low_rank_pairwise)((u_, v_), y_)
        du, dv = jax.grad(dense)((u_, v_), y_)
        np.testing.assert_allclose(gu, y, rtol=1e-13)  # ∇_u = y
        np.testing.assert_allclose(gv, -np.outer(y, y) @ factor, rtol=1e-10,
                                   atol=1e-13 * v_scale * k)  # ∇_V = −yyᵀV
        np.testing.assert_allclose(gu, du, rtol=1e-13)
        np.testing.assert_allclose(gv, dv, rtol=1e-10, atol=1e-13 * v_scale * k)
        gy = jax.grad(E.low_rank_pairwise, argnums=1)((u_, v_), y_)
        np.testing.assert_allclose(gy, u - factor @ (factor.T @ y), rtol=1e-10,
                                   atol=1e-13 * (u_scale + v_scale ** 2 * rank * k))


def test_low_rank_pairwise_hessian_is_minus_v_vt_and_concave():
    factor = jax.random.normal(jax.random.key(3), (4, 2))
    hessian = jax.hessian(E.low_rank_pairwise, argnums=1)((jnp.ones(4), factor), jnp.ones(4))
    np.testing.assert_allclose(hessian, -factor @ factor.T, atol=1e-5)
    assert float(jnp.max(jnp.linalg.eigvalsh(hessian))) <= 1e-5


def test_low_rank_pairwise_is_not_linear_in_v():
    """Documented: linear in (u, U = −VVᵀ), quadratic in V (so the GFY loss is not convex
    in V): Φ(u, 2V) − 2Φ(u, V) = −‖Vᵀy‖² ≠ 0."""
    u, factor, y = jnp.zeros(3), jnp.ones((3, 1)), jnp.ones(3)
    twice = E.low_rank_pairwise((u, 2 * factor), y)
    assert float(twice) == 4 * float(E.low_rank_pairwise((u, factor), y)) == -18.0


def test_low_rank_output_shape():
    assert E.output_shape(E.low_rank_pairwise, (jnp.zeros(5), jnp.zeros((5, 2)))) == (5,)
