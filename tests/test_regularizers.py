"""Properties of the regularizers Ω: domain, conjugate, maximizer, prox, mirror map."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel.domains import Simplex
from fenchel import regularizers as R

import fenchel_test_references as ref  # registered by tests/conftest.py



K = 5
SEEDS = st.integers(0, 2**31 - 1)
FEW = settings(max_examples=examples(15), deadline=None)


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


# The x64 fixture holds for the whole test, every hypothesis example included.
FEW_X64 = settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BOX_BOUNDS = [(0.0, 1.0), (-2.0, 3.0), (-1.0, 0.5)]


def _variant(reg, scale, box):
    """``reg``'s class with this scale and, for the boxes other than BinaryEntropy, bounds."""
    if reg.is_box and not isinstance(reg, R.BinaryEntropy):
        return type(reg)(scale=scale, lower=box[0], upper=box[1])
    return type(reg)(scale=scale)


def _central_differences(fn, theta, eps=1e-6):
    basis = np.eye(theta.shape[0])
    return np.array([(float(fn(theta + eps * e)) - float(fn(theta - eps * e))) / (2 * eps) for e in basis])


@FEW_X64
@given(seed=SEEDS, scale=st.sampled_from([1.0, 2.5]), box=st.sampled_from(BOX_BOUNDS))
def test_conjugate_value_and_gradient_against_references(any_reg, x64, seed, scale, box):
    # Ω*(θ) against a numpy closed form written out per regularizer, itself checked
    # against brute force (a 2·10⁵-point grid per coordinate for the boxes; face
    # enumeration, a linear solve or a scipy root otherwise); ∇Ω*(θ) against the
    # numpy closed-form maximizer and against central finite differences, in float64.
    reg = _variant(any_reg, scale, box)
    rng = np.random.default_rng(seed)
    theta = 3.0 * rng.standard_normal(K)
    if isinstance(reg, R.BoxIndicator):
        theta = theta + 0.1 * np.sign(theta)  # Ω* has kinks at θ_i = 0
    expected = float(ref.conjugate(reg, theta))
    if reg.is_box:
        brute, brute_tol = ref.conjugate_by_grid(reg, theta), 1e-6 * (1 + abs(expected))
    else:
        brute, brute_tol = ref.conjugate_by_maximization(reg, theta), 1e-9 * (1 + abs(expected))
    assert abs(brute - expected) <= brute_tol, "the reference disagrees with brute force"

    value = float(reg.conjugate(jnp.asarray(theta)))
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)
    grad = np.asarray(jax.grad(reg.conjugate)(jnp.asarray(theta)))
    assert grad.dtype == np.float64
    np.testing.assert_allclose(grad, ref.linear_maximizer(reg, theta), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, _central_differences(reg.conjugate, jnp.asarray(theta)),
                               rtol=1e-6, atol=1e-6)


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


# (regularizer, its domain written out: ("box", lower, upper), ("simplex",) or ("R",)).
PROJECTION_CASES = [
    (R.SquaredBox(lower=-2.0, upper=3.0), ("box", -2.0, 3.0)),
    (R.SquaredBox(scale=0.5, lower=0.25, upper=4.0), ("box", 0.25, 4.0)),
    (R.BoxIndicator(lower=-1.0, upper=0.5), ("box", -1.0, 0.5)),
    (R.BinaryEntropy(scale=2.0), ("box", 0.0, 1.0)),
    (R.SquaredSimplex(scale=2.0), ("simplex",)),
    (R.ShannonSimplex(), ("simplex",)),
    (R.Squared(scale=3.0), ("R",)),
]


@functools.lru_cache(maxsize=None)
def _project_twice(reg):
    return jax.jit(lambda v: (reg.project(v), reg.project(reg.project(v))))


def _reference_projection(domain, v):
    if domain[0] == "box":
        return np.clip(v, domain[1], domain[2])
    if domain[0] == "simplex":
        return ref.sparsemax(v)
    return np.asarray(v, np.float64)


def _domain_points(domain, rng, n):
    """``n`` points of the domain drawn independently of the regularizer: uniform in the
    box with a third of the entries on a face; Dirichlet on the simplex, some sparse."""
    if domain[0] == "box":
        _, lower, upper = domain
        z = rng.uniform(lower, upper, (n, K))
        snap = rng.random((n, K)) < 0.3
        return np.where(snap, np.where(rng.random((n, K)) < 0.5, lower, upper), z)
    if domain[0] == "simplex":
        z = rng.dirichlet(np.ones(K), n) * (rng.random((n, K)) < 0.7)
        z[np.sum(z, axis=1) == 0, 0] = 1.0
        return z / np.sum(z, axis=1, keepdims=True)
    return 3.0 * rng.standard_normal((n, K))


@FEW
@given(seed=SEEDS, spread=st.sampled_from([0.3, 3.0, 30.0]))
@pytest.mark.parametrize("case", PROJECTION_CASES, ids=lambda c: f"{type(c[0]).__name__}{c[1][1:]}")
def test_project_is_the_nearest_point(case, seed, spread):
    # Against a numpy clip to the bounds written in the case (not read from the
    # regularizer) or an independent sparsemax; then the nearest-point property itself:
    # no random domain point is closer to v, and <v − p, z − p> ≤ 0 for all of them.
    reg, domain = case
    rng = np.random.default_rng(seed)
    v = (spread * rng.standard_normal((2, K))).astype(np.float32)
    p, pp = _project_twice(reg)(jnp.asarray(v))
    p64 = np.asarray(p, np.float64)
    assert p.shape == v.shape and p.dtype == jnp.float32
    atol = 2e-6 * (1 + spread)
    np.testing.assert_allclose(p64, _reference_projection(domain, v.astype(np.float64)), atol=atol, rtol=0)
    assert bool(reg.contains(p))
    np.testing.assert_allclose(pp, p, atol=atol)
    z = _domain_points(domain, rng, 256)
    for row in range(v.shape[0]):
        residual = v[row].astype(np.float64) - p64[row]
        distance = np.sum(residual ** 2)
        assert np.all(distance <= np.sum((z - v[row]) ** 2, axis=1) + atol * (1 + spread)), row
        assert np.max((z - p64[row]) @ residual) <= atol * (1 + spread) * K, row


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
    if any_reg.is_box or isinstance(any_reg.domain, Simplex):
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
    np.testing.assert_allclose(R.SquaredSimplex().linear_maximizer(theta), ref.sparsemax(theta), atol=1e-6)
    np.testing.assert_allclose(R.SquaredSimplex(scale=0.5).linear_maximizer(theta),
                               ref.sparsemax(np.asarray(theta) / 0.5), atol=1e-6)
    np.testing.assert_allclose(R.SquaredBox(lower=-1.0, upper=0.5).linear_maximizer(theta),
                               [0.3, -1.0, 0.5], atol=1e-7)
    np.testing.assert_allclose(R.BoxIndicator(lower=-1.0, upper=2.0).linear_maximizer(theta),
                               [2.0, -1.0, 2.0])
    np.testing.assert_allclose(R.Squared(scale=4.0).linear_maximizer(theta), theta / 4.0, rtol=1e-6)


def test_projection_simplex_batches():
    v = jax.random.normal(jax.random.key(1), (2, 3, 4))
    p = np.asarray(R.projection_simplex(v), np.float64)
    rows = np.asarray(v, np.float64).reshape(-1, 4)
    expected = np.stack([ref.sparsemax_by_bisection(row) for row in rows]).reshape(p.shape)
    np.testing.assert_allclose(p, expected, atol=1e-6)
    np.testing.assert_allclose(np.sum(p, axis=-1), 1.0, atol=1e-5)


def test_reference_sparsemax_is_sparsemax():
    # The test's own reference: the sort-based formula against bisection on the
    # threshold, and the KKT conditions, on ties, one-hots and wide spreads.
    rng = np.random.default_rng(0)
    cases = [np.array([0.5]), np.zeros(4), np.array([2.0, 0.0]), np.array([1.0, 1.0, -3.0]),
             np.round(rng.standard_normal((50, 6)), 1), 100.0 * rng.standard_normal((50, 5))]
    for case in cases:
        for row in np.atleast_2d(case):
            p = ref.sparsemax(row)
            np.testing.assert_allclose(p, ref.sparsemax_by_bisection(row), atol=1e-12)
            assert not ref.simplex_projection_kkt(row, p, 1e-12)
    np.testing.assert_allclose(ref.sparsemax(np.array([1.0, 1.0, -3.0])), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(ref.sparsemax(np.array([0.3, 0.1])), [0.6, 0.4])


@settings(max_examples=examples(40), deadline=None)
@given(seed=SEEDS, k=st.integers(1, 8), spread=st.sampled_from([0.1, 1.0, 10.0, 1e3]),
       ties=st.booleans(), double=st.booleans())
def test_projection_simplex_is_sparsemax(seed, k, spread, ties, double):
    # projection_simplex against the independent sort-based sparsemax and the KKT
    # conditions (p ≥ 0, Σp = 1, v − p constant on the support and above v off it).
    rng = np.random.default_rng(seed)
    v = spread * rng.standard_normal((3, k))
    if ties:
        v = np.round(v / spread, 1) * spread  # repeated values, ties at the threshold
    with jax.enable_x64(double):
        dtype = jnp.float64 if double else jnp.float32
        v = np.asarray(v, dtype)
        p = _projection_simplex(jnp.asarray(v))
        assert p.dtype == dtype and p.shape == v.shape
        p = np.asarray(p, np.float64)
    eps = np.finfo(dtype).eps
    for row in range(v.shape[0]):
        atol = 16 * eps * k * (1 + np.ptp(v[row]))
        v64 = v[row].astype(np.float64)
        np.testing.assert_allclose(p[row], ref.sparsemax(v64), atol=atol, rtol=0)
        assert not ref.simplex_projection_kkt(v64, p[row], atol), (v64, p[row])


_projection_simplex = jax.jit(R.projection_simplex)


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


# --------------------------------------------------------------------------- Tsallis (α-entmax)


def _entmax15_exact(theta):
    """1.5-entmax by sorting (Peters, Niculae, Martins 2019, Algorithm 2), in float64:
    p = [θ/2 − τ]₊², τ from the support size k with 1 = Σ_{i≤k} (z_i − τ)², z = θ/2."""
    z = np.sort(np.asarray(theta, np.float64) / 2.0)[::-1]
    n = np.arange(1, z.size + 1)
    mean = np.cumsum(z) / n
    mean_sq = np.cumsum(z * z) / n
    delta = (1.0 - n * (mean_sq - mean * mean)) / n
    tau = mean - np.sqrt(np.maximum(delta, 0.0))
    support = int(np.sum(tau <= z))
    return np.maximum(np.asarray(theta, np.float64) / 2.0 - tau[support - 1], 0.0) ** 2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.sampled_from([1, 2, 5, 9]),
       scale=st.sampled_from([1e-3, 1.0, 5.0, 100.0]))
def test_tsallis_15_matches_the_exact_sort_based_entmax(seed, k, scale):
    theta = scale * np.random.default_rng(seed).standard_normal(k)
    got = np.asarray(R.Tsallis(alpha=1.5).linear_maximizer(jnp.asarray(theta, jnp.float32)))
    np.testing.assert_allclose(got, _entmax15_exact(theta), atol=2e-6)
    assert abs(got.sum() - 1.0) < 1e-6 and np.all(got >= 0.0)


@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_tsallis_at_2_is_sparsemax_and_near_1_is_softmax(scale):
    theta = jnp.array([[1.5, 0.2, -0.3, 1.4], [3.0, -2.0, 0.0, 0.1]])
    np.testing.assert_allclose(R.Tsallis(alpha=2.0, scale=scale).linear_maximizer(theta),
                               R.SquaredSimplex(scale=scale).linear_maximizer(theta), atol=1e-6)
    np.testing.assert_allclose(R.Tsallis(alpha=1.0001, scale=scale).linear_maximizer(theta),
                               R.ShannonSimplex(scale=scale).linear_maximizer(theta), atol=2e-3)


def test_tsallis_derivatives_of_every_order_are_exact():
    """∇Ω* = entmax, ∇²Ω* = its Jacobian diag(s) − ssᵀ/Σs (s = p^{2−α}), by finite
    differences of the first derivative in float64; the loss's θ-Hessian is the same."""
    reg = R.Tsallis(alpha=1.5)
    theta = np.array([1.0, 0.3, -0.2, -2.0])
    y = jnp.array([0.0, 1.0, 0.0, 0.0])
    with jax.enable_x64(True):
        t = jnp.asarray(theta)
        grad = jax.grad(reg.conjugate)(t)
        np.testing.assert_allclose(grad, _entmax15_exact(theta), atol=1e-10)
        hess = np.asarray(jax.hessian(reg.conjugate)(t))
        eps = 1e-6
        fd = np.stack([(np.asarray(jax.grad(reg.conjugate)(t + eps * e))
                        - np.asarray(jax.grad(reg.conjugate)(t - eps * e))) / (2 * eps)
                       for e in np.eye(4)])
        np.testing.assert_allclose(hess, fd, atol=1e-6)
        assert np.abs(hess).max() > 0.1  # not the silent zero of a stop_gradient
        loss_hess = jax.hessian(lambda t_: reg.fenchel_young_loss(t_, y))(t)
        np.testing.assert_allclose(loss_hess, hess, atol=1e-8)
        third = jax.jacfwd(jax.hessian(reg.conjugate))(t)
        assert np.all(np.isfinite(np.asarray(third)))


def test_tsallis_alpha_is_checked():
    for alpha in (1.0, 0.5, 2.5, float("nan"), True, "1.5"):
        with pytest.raises(ValueError, match=r"Tsallis.alpha must be a finite number in \(1, 2\]"):
            R.Tsallis(alpha=alpha)
