"""Properties of the regularizers Ω: domain, conjugate, maximizer, prox, mirror map."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fenchel import regularizers as R

K = 5
SEEDS = st.integers(0, 2**31 - 1)
FEW = settings(max_examples=15, deadline=None)


def _scaled(reg, scale):
    return type(reg)(scale=scale)


@functools.lru_cache(maxsize=None)
def _fenchel_young_gap(reg):
    """Jitted ``θ, ys -> (ŷ, Ω*(θ), <θ, ŷ> − Ω(ŷ), <θ, y> − Ω(y) per row)``."""

    @jax.jit
    def gap(theta, ys):
        y_hat = reg.linear_maximizer(theta)
        return y_hat, reg.conjugate(theta), jnp.vdot(theta, y_hat) - reg.value(y_hat), ys @ theta - reg.value(ys)

    return gap


@FEW
@given(seed=SEEDS, scale=st.sampled_from([1.0, 2.5]))
def test_fenchel_young_inequality_and_maximizer(any_reg, domain_sample, seed, scale):
    # Ω*(θ) = <θ, ŷ> − Ω(ŷ) ≥ <θ, y> − Ω(y) for every y ∈ dom Ω, with ŷ ∈ dom Ω.
    reg = _scaled(any_reg, scale)
    rng = np.random.default_rng(seed)
    theta = jnp.asarray(3.0 * rng.standard_normal(K), jnp.float32)
    ys = jnp.asarray(np.stack([domain_sample(reg, rng, K) for _ in range(8)]), jnp.float32)
    y_hat, conj, at_y_hat, at_ys = _fenchel_young_gap(reg)(theta, ys)
    assert bool(reg.contains(y_hat))
    np.testing.assert_allclose(conj, at_y_hat, rtol=1e-5, atol=1e-5)
    assert np.all(np.asarray(at_ys) <= float(conj) + 1e-4)


@FEW
@given(seed=SEEDS)
def test_conjugate_gradient_is_linear_maximizer(any_reg, seed):
    rng = np.random.default_rng(seed)
    theta = jnp.asarray(2.0 * rng.standard_normal(K), jnp.float32)
    grad, y_hat = _conjugate_grad(any_reg)(theta)
    np.testing.assert_allclose(grad, y_hat, atol=1e-5)


@functools.lru_cache(maxsize=None)
def _conjugate_grad(reg):
    return jax.jit(lambda theta: (jax.grad(reg.conjugate)(theta), reg.linear_maximizer(theta)))


@functools.lru_cache(maxsize=None)
def _prox_check(reg):
    """Jitted ``v, step, ys -> (prox, its objective, objective at ys and at small moves)``."""

    @jax.jit
    def check(v, step, ys):
        prox_objective = jax.vmap(lambda y: step * reg.value(y) + 0.5 * jnp.sum((y - v) ** 2))
        p = reg.prox(v, step)
        moved = reg.project(p + 1e-2 * (ys - p))
        return p, prox_objective(p[None])[0], prox_objective(ys), prox_objective(moved)

    return check


@FEW
@given(seed=SEEDS, step=st.sampled_from([0.1, 1.0, 5.0]))
def test_prox_minimizes_its_objective(any_reg, domain_sample, seed, step):
    if not any_reg.has_prox:
        with pytest.raises(NotImplementedError, match="MirrorAscent"):
            any_reg.prox(jnp.zeros(K), step)
        return
    rng = np.random.default_rng(seed)
    v = jnp.asarray(2.0 * rng.standard_normal(K), jnp.float32)
    ys = jnp.asarray(np.stack([domain_sample(any_reg, rng, K) for _ in range(8)]), jnp.float32)
    p, best, at_ys, at_moved = _prox_check(any_reg)(v, step, ys)
    assert bool(any_reg.contains(p))
    # Neither other points nor small moves inside the domain improve on the prox.
    assert np.all(float(best) <= np.asarray(at_ys) + 1e-5)
    assert np.all(float(best) <= np.asarray(at_moved) + 1e-5)


@FEW
@given(seed=SEEDS)
def test_project_is_idempotent_and_in_domain(any_reg, seed):
    rng = np.random.default_rng(seed)
    v = jnp.asarray(3.0 * rng.standard_normal((2, K)), jnp.float32)
    p, pp = _project_twice(any_reg)(v)
    assert p.shape == v.shape
    assert bool(any_reg.contains(p))
    np.testing.assert_allclose(pp, p, atol=1e-6)


@functools.lru_cache(maxsize=None)
def _project_twice(reg):
    return jax.jit(lambda v: (reg.project(v), reg.project(reg.project(v))))


def test_contains_rejects_points_outside(any_reg):
    if isinstance(any_reg, R.Squared):
        assert not bool(any_reg.contains(jnp.array([0.0, jnp.nan])))
        assert bool(any_reg.contains(jnp.array([-1e3, 1e3])))
        return
    assert not bool(any_reg.contains(jnp.array([1.5, -0.5])))
    assert not bool(any_reg.contains(jnp.array([-0.1, 0.3])))


@functools.lru_cache(maxsize=None)
def _strong_convexity_gap(reg):
    @jax.jit
    def gap(y, y2):
        lower = reg.value(y) + jnp.vdot(reg.gradient(y), y2 - y) + 0.5 * reg.strong_convexity * jnp.sum((y2 - y) ** 2)
        return reg.value(y2) - lower

    return gap


@FEW
@given(seed=SEEDS)
def test_strong_convexity(any_reg, domain_sample, seed):
    # Ω(y') ≥ Ω(y) + <∇Ω(y), y' − y> + μ/2 ‖y' − y‖² (y interior, y' ∈ dom Ω).
    rng = np.random.default_rng(seed)
    y = domain_sample(any_reg, rng, K)
    if any_reg.is_box or isinstance(any_reg, R._Simplex):
        y = 0.9 * y + 0.1 * np.asarray(any_reg.linear_maximizer(jnp.zeros(K)))  # move inside
    y2 = domain_sample(any_reg, rng, K)
    gap = _strong_convexity_gap(any_reg)(jnp.asarray(y, jnp.float32), jnp.asarray(y2, jnp.float32))
    assert float(gap) >= -1e-4


def test_strong_convexity_constants():
    assert R.BinaryEntropy(scale=2.0).strong_convexity == 8.0
    assert R.SquaredBox(scale=0.5).strong_convexity == 0.5
    assert R.ShannonSimplex(scale=3.0).strong_convexity == 3.0
    assert R.BoxIndicator().strong_convexity == 0.0


@pytest.mark.parametrize("reg", [R.BinaryEntropy(), R.ShannonSimplex()], ids=lambda r: type(r).__name__)
def test_mirror_map_round_trip(reg, domain_sample):
    rng = np.random.default_rng(0)
    y = jnp.asarray(domain_sample(reg, rng, K), jnp.float32)
    y = 0.8 * y + 0.2 * reg.linear_maximizer(jnp.zeros(K))  # interior
    np.testing.assert_allclose(reg.mirror_inverse(reg.mirror_map(y)), y, atol=1e-5)
    # The boundary maps to finite logits.
    boundary = jnp.array([1.0, 0.0, 0.0, 0.0, 0.0])
    assert bool(jnp.all(jnp.isfinite(reg.mirror_map(boundary))))


@pytest.mark.parametrize("magnitude", [1e4, 1e8])
def test_huge_scores_stay_finite_in_float32(any_reg, magnitude):
    theta = jnp.array([magnitude, -magnitude, 0.5, -1.0, magnitude], jnp.float32)
    assert bool(jnp.all(jnp.isfinite(any_reg.linear_maximizer(theta))))
    assert bool(jnp.isfinite(any_reg.conjugate(theta)))
    assert bool(jnp.all(jnp.isfinite(jax.grad(any_reg.conjugate)(theta))))


def test_closed_forms():
    theta = jnp.array([0.3, -2.0, 1.0])
    np.testing.assert_allclose(R.BinaryEntropy(scale=2.0).linear_maximizer(theta),
                               jax.nn.sigmoid(theta / 2.0), rtol=1e-6)
    np.testing.assert_allclose(R.ShannonSimplex(scale=0.5).linear_maximizer(theta),
                               jax.nn.softmax(theta / 0.5), rtol=1e-6)
    np.testing.assert_allclose(R.ShannonSimplex().conjugate(theta),
                               jax.nn.logsumexp(theta), rtol=1e-6)
    np.testing.assert_allclose(R.SquaredSimplex().linear_maximizer(theta),
                               jax.nn.sparsemax(theta) if hasattr(jax.nn, "sparsemax")
                               else R.projection_simplex(theta), atol=1e-6)
    np.testing.assert_allclose(R.SquaredBox(lower=-1.0, upper=0.5).linear_maximizer(theta),
                               [0.3, -1.0, 0.5], atol=1e-7)
    np.testing.assert_allclose(R.BoxIndicator(lower=-1.0, upper=2.0).linear_maximizer(theta),
                               [2.0, -1.0, 2.0])
    np.testing.assert_allclose(R.Squared(scale=4.0).linear_maximizer(theta), theta / 4.0, rtol=1e-6)


def test_projection_simplex_batches():
    v = jax.random.normal(jax.random.key(1), (2, 3, 4))
    p = R.projection_simplex(v)
    np.testing.assert_allclose(p.reshape(-1, 4), jax.vmap(R.projection_simplex)(v.reshape(-1, 4)),
                               atol=1e-6)
    np.testing.assert_allclose(jnp.sum(p, axis=-1), 1.0, atol=1e-5)


def test_values():
    y = jnp.array([0.0, 1.0, 0.5])
    np.testing.assert_allclose(R.BinaryEntropy(scale=2.0).value(y), 2.0 * np.log(0.5), rtol=1e-6)
    np.testing.assert_allclose(R.SquaredBox(scale=2.0).value(y), 1.25, rtol=1e-6)
    assert float(R.BoxIndicator().value(y)) == 0.0
    np.testing.assert_allclose(R.ShannonSimplex().value(jnp.array([0.5, 0.5, 0.0])), np.log(0.5),
                               rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"scale": 0.0}, "scale"),
    ({"scale": -1.0}, "scale"),
    ({"scale": float("nan")}, "scale"),
    ({"scale": float("inf")}, "scale"),
])
def test_bad_scale_is_rejected(any_reg, kwargs, match):
    with pytest.raises(ValueError, match=match):
        type(any_reg)(**kwargs)


def test_bad_bounds_are_rejected():
    with pytest.raises(ValueError, match="lower < upper"):
        R.SquaredBox(lower=1.0, upper=0.0)
    with pytest.raises(ValueError, match="upper"):
        R.BoxIndicator(upper=float("inf"))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        R.BinaryEntropy(lower=-1.0)
    with pytest.raises(NotImplementedError, match="closed-form"):
        R.Regularizer().linear_maximizer(jnp.zeros(2))
