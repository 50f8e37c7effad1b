"""fenchel.log_partition: the min-min loss with a learned log-partition.

Its expectation over the samples, computed exactly by enumerating {0, 1}^k (for uniform
and non-uniform q), is J(τ) = τ + ∫h_α(Φ − τ)dμ − 1/α − Φ(y): at α = 1 it equals the
NLL log Z − Φ(y) at τ = log Z, exceeds it elsewhere, and has zero τ-derivative there;
for α > 1 its minimum is the Tsallis (α = 2: sparsemax) Fenchel-Young loss over all
outputs, checked against the primal. Plus a continuous box, k = 200 (1/q = 2^200
beyond float32), batches, property tests and refusals."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

import fenchel
from fenchel import energies as E
from fenchel import log_partition as LP
from fenchel import regularizers as R

FAST = settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _custom(theta, y):
    return jnp.sum(jnp.tanh(theta * y)) + 0.5 * theta[0] * y[0] * y[-1]


def _binary(k):
    """Every point of {0, 1}^k, (2^k, k)."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=k)))


def _h(s, alpha):
    """h_α(s) = f_α*(s) + f_α(0), float64."""
    if alpha == 1:
        return np.exp(s)
    return np.maximum(1 + (alpha - 1) * s, 0.0) ** (alpha / (alpha - 1)) / alpha


def _objective(scores, target_score, tau, alpha):
    """J(τ) over a finite set with the counting measure, float64."""
    return tau + np.sum(_h(scores - tau, alpha)) - 1 / alpha - target_score


def _threshold(scores, alpha):
    """τ* with Σ [1 + (α−1)(g − τ)]_+^{1/(α−1)} = 1 (log Σ e^g at α = 1), by bisection."""
    scores = np.asarray(scores, np.float64)
    if alpha == 1:
        top = scores.max()
        return top + np.log(np.sum(np.exp(scores - top)))
    mass = lambda t: np.sum(np.maximum(1 + (alpha - 1) * (scores - t), 0) ** (1 / (alpha - 1)))
    low, high = scores.min(), scores.max() + 1 / (alpha - 1)  # mass(low) ≥ 1 ≥ mass(high) = 0
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if mass(mid) > 1 else (low, mid)
    return 0.5 * (low + high)


def _f(u, alpha):
    if alpha == 1:
        return np.where(u > 0, u * np.log(np.where(u > 0, u, 1)), 0.0) - u + 1
    return (u ** alpha - 1 - alpha * (u - 1)) / (alpha * (alpha - 1))


def _primal_fy(scores, index, alpha):
    """Ω*(g) + Ω(e_y) − g_y with Ω(p) = Σ f_α(p_i), from the maximizer p* (primal side)."""
    tau = _threshold(scores, alpha)
    if alpha == 1:
        p = np.exp(scores - tau)
    else:
        p = np.maximum(1 + (alpha - 1) * (scores - tau), 0) ** (1 / (alpha - 1))
    vertex = np.zeros_like(scores)
    vertex[index] = 1.0
    return p @ scores - np.sum(_f(p, alpha)) + np.sum(_f(vertex, alpha)) - scores[index]


def _enumerated(energy, theta, k, index):
    outputs = jnp.asarray(_binary(k), jnp.float32)
    scores = np.asarray(jax.vmap(lambda c: energy(theta, c))(outputs), np.float64)
    return outputs, scores, outputs[index]


# --------------------------------------------------------------------------- α = 1: MLE


@pytest.mark.parametrize("energy", [E.bilinear, E.pairwise, _custom])
def test_expectation_is_the_nll_at_log_z_and_above_it_elsewhere(energy):
    k, index = 3, 5
    rng = np.random.default_rng(0)
    theta = (jnp.asarray(rng.standard_normal(k), jnp.float32),
             jnp.asarray(rng.standard_normal((k, k)), jnp.float32)) if energy is E.pairwise \
        else jnp.asarray(rng.standard_normal(k), jnp.float32)
    outputs, scores, y = _enumerated(energy, theta, k, index)
    log_z = _threshold(scores, 1)
    nll = log_z - scores[index]
    np.testing.assert_allclose(nll, -jax.nn.log_softmax(jnp.asarray(scores))[index], rtol=1e-6)
    # Every output as a sample, each with q = 2^−k: the mean is exactly E_q.
    log_q = jnp.full(2 ** k, -k * np.log(2.0))
    exact = lambda tau: LP.min_min_loss(energy, theta, tau, y, outputs, log_q)
    np.testing.assert_allclose(exact(log_z), nll, rtol=1e-5)
    for offset in (-2.0, -0.3, 0.3, 2.0):
        value = float(exact(log_z + offset))
        np.testing.assert_allclose(value, _objective(scores, scores[index], log_z + offset, 1),
                                   rtol=1e-5)
        assert value > nll
    np.testing.assert_allclose(jax.grad(exact)(jnp.float32(log_z)), 0.0, atol=1e-5)


def test_unbiased_for_a_non_uniform_q_by_enumeration():
    # q a product of Bernoullis; the estimate from one sample, weighted by q, summed.
    k, index = 4, 9
    rng = np.random.default_rng(1)
    theta = jnp.asarray(rng.standard_normal(k), jnp.float32)
    outputs, scores, y = _enumerated(E.bilinear, theta, k, index)
    probs = np.array([0.2, 0.5, 0.7, 0.9])
    out = np.asarray(outputs, np.float64)
    log_q = np.sum(out * np.log(probs) + (1 - out) * np.log1p(-probs), axis=1)
    for tau in (-1.0, 0.5, float(_threshold(scores, 1)), 3.0):
        single = jax.vmap(lambda s, lq: LP.min_min_loss(E.bilinear, theta, tau, y, s[None],
                                                        lq[None]))(outputs, jnp.asarray(log_q))
        mean = float(np.sum(np.exp(log_q) * np.asarray(single, np.float64)))
        np.testing.assert_allclose(mean, _objective(scores, scores[index], tau, 1), rtol=1e-5)


def test_paper_convention_prior_as_base_measure():
    # μ = q (the prior), samples from q, sample_log_density = 0: the minimum over τ is
    # −log p(y) + log q(y) with p ∝ q e^Φ, at τ = log E_q[e^Φ].
    k, index = 3, 6
    rng = np.random.default_rng(2)
    theta = jnp.asarray(rng.standard_normal(k), jnp.float32)
    outputs, scores, y = _enumerated(E.bilinear, theta, k, index)
    q = rng.dirichlet(np.ones(2 ** k))
    tau_star = np.log(q @ np.exp(scores))
    single = jax.vmap(lambda s: LP.min_min_loss(E.bilinear, theta, jnp.float32(tau_star), y,
                                                s[None], 0.0))(outputs)
    mean = float(q @ np.asarray(single, np.float64))
    p = q * np.exp(scores) / (q @ np.exp(scores))
    np.testing.assert_allclose(mean, -np.log(p[index]) + np.log(q[index]), rtol=1e-5)


def test_gradient_in_theta_is_the_mle_gradient_at_log_z():
    k, index = 3, 2
    theta = jnp.array([0.3, -1.2, 0.8])
    outputs, scores, y = _enumerated(E.bilinear, theta, k, index)
    log_q = jnp.full(2 ** k, -k * np.log(2.0))
    grad = jax.grad(lambda th: LP.min_min_loss(E.bilinear, th, jnp.float32(_threshold(scores, 1)),
                                               y, outputs, log_q))(theta)
    p = jax.nn.softmax(jnp.asarray(scores, jnp.float32))
    np.testing.assert_allclose(grad, p @ outputs - y, rtol=1e-5, atol=1e-6)


def test_monte_carlo_on_a_box():
    # y ∈ [0, 1], Φ = θy: Z = (e^θ − 1)/θ w.r.t. the Lebesgue measure.
    theta, y = jnp.array([2.0]), jnp.array([0.25])
    log_z = np.log(np.expm1(2.0) / 2.0)
    samples, log_q = LP.uniform_box_samples(jax.random.key(0), 200_000, (1,))
    value = LP.min_min_loss(E.bilinear, theta, log_z, y, samples, log_q)
    np.testing.assert_allclose(value, log_z - 0.5, atol=5e-3)
    # On [−1, 3] the density is 1/4 and the support is larger.
    samples, log_q = LP.uniform_box_samples(jax.random.key(1), 200_000, (1,), -1.0, 3.0)
    log_z = np.log((np.exp(6.0) - np.exp(-2.0)) / 2.0)
    np.testing.assert_allclose(LP.min_min_loss(E.bilinear, theta, log_z, y, samples, log_q),
                               log_z - 0.5, atol=2e-2)


def test_two_hundred_labels_beyond_the_float32_range():
    # 1/q = 2^200 > 3.4e38; log Z = Σ softplus(θ_i) exactly for the bilinear energy.
    k = 200
    rng = np.random.default_rng(3)
    theta = rng.standard_normal(k)
    y = (rng.random(k) < 0.5).astype(np.float64)
    samples, log_q = LP.uniform_binary_samples(jax.random.key(0), 64, (k,))
    log_z = np.sum(np.logaddexp(0, theta))
    value = float(LP.min_min_loss(E.bilinear, jnp.asarray(theta, jnp.float32), log_z,
                                  jnp.asarray(y, jnp.float32), samples, log_q))
    s = np.asarray(samples, np.float64)
    terms = s @ theta - log_z + k * np.log(2.0)
    top = terms.max()
    expected = log_z - theta @ y + np.expm1(top + np.log(np.mean(np.exp(terms - top))))
    assert np.isfinite(value)
    np.testing.assert_allclose(value, expected, rtol=1e-4)


# --------------------------------------------------------------------------- α > 1


@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0, 3.0])
def test_minimum_is_the_tsallis_fenchel_young_loss(alpha):
    k, index = 3, 4
    rng = np.random.default_rng(4)
    theta = jnp.asarray(2 * rng.standard_normal(k), jnp.float32)
    outputs, scores, y = _enumerated(E.bilinear, theta, k, index)
    uniform = jnp.full(2 ** k, -k * np.log(2.0))  # every output once, q = 2^−k: Σ over outputs
    exact = lambda tau: LP.min_min_loss(E.bilinear, theta, tau, y, outputs, uniform, alpha=alpha)
    tau_star = _threshold(scores, alpha)
    expected = _primal_fy(scores, index, alpha)
    np.testing.assert_allclose(exact(tau_star), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jax.grad(exact)(jnp.float32(tau_star)), 0.0, atol=1e-5)
    for offset in (-1.0, -0.1, 0.1, 1.0):
        value = float(exact(tau_star + offset))
        np.testing.assert_allclose(value, _objective(scores, scores[index], tau_star + offset,
                                                     alpha), rtol=1e-5, atol=1e-6)
        assert value >= expected - 1e-6


def test_alpha_two_is_the_sparsemax_loss_over_all_outputs():
    k, index = 3, 1
    theta = jnp.array([1.0, -0.5, 0.2])
    outputs, scores, y = _enumerated(E.bilinear, theta, k, index)
    g = jnp.asarray(scores, jnp.float32)
    p = R.projection_simplex(g)
    support = int(jnp.argmax(p))
    tau_star = float(g[support] - p[support]) + 1.0  # sparsemax threshold + 1
    value = LP.min_min_loss(E.bilinear, theta, tau_star, y, outputs, -k * np.log(2.0), alpha=2.0)
    sparsemax_loss = R.SquaredSimplex().fenchel_young_loss(g, jax.nn.one_hot(index, 2 ** k))
    np.testing.assert_allclose(value, sparsemax_loss, rtol=1e-5, atol=1e-6)


def test_alpha_to_one_is_continuous(x64):
    theta, y = jnp.array([0.4, -0.7]), jnp.array([1.0, 1.0])
    outputs = jnp.asarray(_binary(2))
    values = [float(LP.min_min_loss(E.bilinear, theta, 0.8, y, outputs, 0.0, alpha=a))
              for a in (1.0, 1.0 + 1e-7)]
    np.testing.assert_allclose(values[0], values[1], rtol=1e-6)


def test_no_live_term_gives_a_finite_value_and_gradient():
    # α = 2 with τ above every score + 1: h = 0 for all samples.
    theta, y = jnp.array([1.0, -1.0]), jnp.array([1.0, 0.0])
    outputs = jnp.asarray(_binary(2), jnp.float32)
    loss = lambda tau: LP.min_min_loss(E.bilinear, theta, tau, y, outputs, 0.0, alpha=2.0)
    np.testing.assert_allclose(loss(10.0), 10.0 - 1.0 - 0.5)
    np.testing.assert_allclose(jax.grad(loss)(10.0), 1.0)
    grad_theta = jax.grad(lambda th: LP.min_min_loss(E.bilinear, th, 10.0, y, outputs, 0.0,
                                                     alpha=2.0))(theta)
    np.testing.assert_allclose(grad_theta, -y)


# --------------------------------------------------------------------------- batches, export


def test_batch_equals_vmap_and_jit():
    rng = np.random.default_rng(5)
    theta = jnp.asarray(rng.standard_normal((3, 4)), jnp.float32)
    y = jnp.asarray(rng.random((3, 4)) < 0.5, jnp.float32)
    tau = jnp.asarray(rng.standard_normal(3), jnp.float32)
    samples, log_q = LP.uniform_binary_samples(jax.random.key(0), 8, (4,))
    batch = LP.min_min_loss(E.bilinear, theta, tau, y, samples, log_q)
    single = jax.vmap(lambda t, a, b: LP.min_min_loss(E.bilinear, t, a, b, samples, log_q))(
        theta, tau, y)
    np.testing.assert_allclose(batch, single, rtol=1e-6)
    jitted = jax.jit(lambda t, a: LP.min_min_loss(E.bilinear, t, a, y, samples, log_q, alpha=2.0))
    np.testing.assert_allclose(
        jitted(theta, tau), LP.min_min_loss(E.bilinear, theta, tau, y, samples, log_q, alpha=2.0),
        rtol=1e-6)


def test_exported_from_the_package():
    assert fenchel.min_min_loss is LP.min_min_loss
    assert fenchel.log_partition is LP


def test_samplers():
    samples, log_q = LP.uniform_binary_samples(jax.random.key(0), 1000, (3,))
    assert samples.shape == (1000, 3) and log_q.shape == (1000,)
    assert set(np.unique(np.asarray(samples))) == {0.0, 1.0}
    np.testing.assert_allclose(log_q, -3 * np.log(2.0), rtol=1e-6)
    samples, log_q = LP.uniform_box_samples(jax.random.key(0), 1000, (2,), -1.0, 2.0)
    assert float(samples.min()) >= -1.0 and float(samples.max()) <= 2.0
    np.testing.assert_allclose(log_q, -2 * np.log(3.0), rtol=1e-6)


# --------------------------------------------------------------------------- property tests


@FAST
@given(k=st.integers(1, 4), seed=st.integers(0, 2 ** 31 - 1), magnitude=st.integers(-6, 2),
       alpha=st.sampled_from([1.0, 1.5, 2.0, 3.0]), offset=st.floats(-3.0, 3.0),
       use_x64=st.booleans(), pairwise=st.booleans())
def test_random_problems_by_enumeration(k, seed, magnitude, alpha, offset, use_x64, pairwise):
    rng = np.random.default_rng(seed)
    index = int(rng.integers(2 ** k))
    with jax.enable_x64(use_x64):
        dtype = jnp.float64 if use_x64 else jnp.float32
        u = jnp.asarray(10.0 ** magnitude * rng.standard_normal(k), dtype)
        theta = (u, jnp.asarray(10.0 ** magnitude * rng.standard_normal((k, k)), dtype)) \
            if pairwise else u
        energy = E.pairwise if pairwise else E.bilinear
        outputs = jnp.asarray(_binary(k), dtype)
        scores = np.asarray(jax.vmap(lambda c: energy(theta, c))(outputs), np.float64)
        tau_star = _threshold(scores, alpha)
        expected_min = _primal_fy(scores, index, alpha)
        tau = tau_star + offset
        # Uniform q on {0, 1}^k, every output once: the exact expectation.
        log_q = jnp.full(2 ** k, -k * np.log(2.0), dtype)
        value = LP.min_min_loss(energy, theta, jnp.asarray(tau, dtype), outputs[index], outputs,
                                log_q, alpha=alpha)
        assert value.dtype == dtype
        value = float(value)
        eps = float(jnp.finfo(dtype).eps)
    expected = _objective(scores, scores[index], tau, alpha)
    size = abs(tau) + abs(scores[index]) + np.sum(_h(scores - tau, alpha)) + 1
    assert np.isfinite(value)
    assert abs(value - expected) <= 64 * eps * size, (value, expected)
    assert value >= expected_min - 64 * eps * size  # an upper bound of the loss
    assert expected_min >= -1e-9 * (1 + abs(scores).max())  # the loss itself is ≥ 0


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("alpha", [0.5, 0.0, float("nan"), float("inf"), "2", True, None])
def test_refuses_a_bad_alpha(alpha):
    samples, log_q = LP.uniform_binary_samples(jax.random.key(0), 4, (2,))
    with pytest.raises(ValueError, match="alpha must be a finite number >= 1"):
        LP.min_min_loss(E.bilinear, jnp.zeros(2), 0.0, jnp.zeros(2), samples, log_q, alpha=alpha)


def test_refusals_name_the_argument():
    theta, y = jnp.zeros(2), jnp.zeros(2)
    samples, log_q = LP.uniform_binary_samples(jax.random.key(0), 4, (2,))
    call = lambda **kw: LP.min_min_loss(**{**dict(energy=E.bilinear, theta=theta,
                                                  log_partition=0.0, y=y, samples=samples,
                                                  sample_log_density=log_q), **kw})
    with pytest.raises(ValueError, match=r"samples must have shape \(M, k\).*\(4, 3\)"):
        call(samples=jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="samples must hold at least one draw"):
        call(samples=jnp.zeros((0, 2)), sample_log_density=jnp.zeros(0))
    with pytest.raises(ValueError, match=r"sample_log_density must have shape \(M,\) = \(4,\)"):
        call(sample_log_density=jnp.zeros(3))
    with pytest.raises(ValueError, match="sample_log_density has non-finite values"):
        call(sample_log_density=log_q.at[0].set(-jnp.inf))
    with pytest.raises(ValueError, match="samples has non-finite values"):
        call(samples=samples.at[0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="log_partition has non-finite values"):
        call(log_partition=jnp.inf)
    with pytest.raises(ValueError, match="y has non-finite values"):
        call(y=jnp.array([0.0, jnp.nan]))
    with pytest.raises(ValueError, match="theta has non-finite values"):
        call(theta=jnp.array([0.0, jnp.nan]))
    with pytest.raises(ValueError, match=r"log_partition has shape \(1,\); a custom energy"):
        call(energy=_custom, log_partition=jnp.zeros(1))
    with pytest.raises(ValueError, match=r"y has shape \(2, 2\); a custom energy"):
        call(energy=_custom, y=jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match="do not fit"):
        call(log_partition=jnp.zeros(3), theta=jnp.zeros((2, 2)))
    with pytest.raises(TypeError, match="energy must be a callable"):
        call(energy="bilinear")
    with pytest.raises(ValueError, match="num must be an integer >= 1"):
        LP.uniform_binary_samples(jax.random.key(0), 0, (2,))
    with pytest.raises(ValueError, match="shape must hold sizes >= 1"):
        LP.uniform_box_samples(jax.random.key(0), 2, (0,))
    with pytest.raises(ValueError, match="need lower < upper"):
        LP.uniform_box_samples(jax.random.key(0), 2, (2,), 1.0, 1.0)
    with pytest.raises(ValueError, match="upper must be a finite number"):
        LP.uniform_box_samples(jax.random.key(0), 2, (2,), 0.0, float("inf"))


def test_integer_and_boolean_inputs():
    theta = jnp.array([0.5, -0.5])
    outputs = _binary(2)
    expected = LP.min_min_loss(E.bilinear, theta, 1.0, jnp.array([1.0, 0.0]),
                               jnp.asarray(outputs, jnp.float32), 0.0)
    value = LP.min_min_loss(E.bilinear, theta, 1, np.array([True, False]),
                            outputs.astype(bool), 0)
    np.testing.assert_allclose(value, expected, rtol=1e-6)
