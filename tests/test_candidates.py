"""fenchel.candidates: the GFY loss over a finite candidate set, against τ·InfoNCE, the
Shannon FY loss of the scores, the hard-max GFY loss at τ = 0, float64 references
(hypothesis over shapes, M, τ ∈ [0, 10], |θ| 1e-6..1e6, float32/float64) and Danskin's
gradient; and every refusal by name."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

import fenchel
from fenchel import candidates as C
from fenchel import energies as E
from fenchel import losses as L
from fenchel import maximizers as M
from fenchel import regularizers as R

K = 3
FAST = settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _custom(theta, y):
    """A non-linear custom energy (one example per call)."""
    return jnp.sum(jnp.sin(theta * y)) + theta[0] * jnp.sum(y ** 2)


def _problem(seed, m=5, k=K, dtype=jnp.float32):
    rng = np.random.default_rng(seed)
    theta = jnp.asarray(rng.standard_normal(k), dtype)
    y = jnp.asarray(rng.random(k), dtype)
    cands = jnp.asarray(rng.random((m, k)), dtype)
    return theta, y, cands


def _reference(gaps, temperature):
    """τ log Σ exp(d/τ) in float64 numpy (the max at τ = 0), from gaps including d_0 = 0."""
    gaps = np.asarray(gaps, np.float64)
    top = gaps.max()
    if temperature == 0:
        return top
    return top + temperature * np.log(np.sum(np.exp((gaps - top) / temperature)))


# --------------------------------------------------------------------------- identities


@pytest.mark.parametrize("energy", [E.bilinear, _custom])
@pytest.mark.parametrize("temperature", [1.0, 0.3])
def test_equals_temperature_times_info_nce(energy, temperature):
    theta, y, cands = _problem(0)
    loss = C.candidate_set_loss(energy, theta, y, cands, temperature=temperature)
    nce = L.info_nce_loss(energy, theta, y, cands, temperature=temperature)
    np.testing.assert_allclose(loss, temperature * nce, rtol=1e-5)


@pytest.mark.parametrize("temperature", [0.05, 1.0, 4.0])
def test_is_the_shannon_fenchel_young_loss_of_the_scores(temperature):
    # GFY with coupling <v, p> and Ω = τ Σ p log p on the simplex, target the vertex e_0.
    theta, y, cands = _problem(1)
    reg = R.SquaredBox()
    points = jnp.concatenate([y[None], cands])
    scores = jax.vmap(lambda c: M.objective(E.bilinear, reg, theta, c))(points)
    vertex = jnp.zeros(len(points)).at[0].set(1.0)
    expected = R.ShannonSimplex(scale=temperature).fenchel_young_loss(scores, vertex)
    loss = C.candidate_set_loss(E.bilinear, theta, y, cands, temperature=temperature, reg=reg)
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)


def test_zero_temperature_is_the_hard_max_and_its_limit():
    theta, y, cands = _problem(2)
    gaps = cands @ theta - y @ theta
    hard = C.candidate_set_loss(E.bilinear, theta, y, cands, temperature=0.0)
    np.testing.assert_allclose(hard, max(float(jnp.max(gaps)), 0.0), rtol=1e-6, atol=1e-7)
    for temperature in (1e-3, 1e-6, 1e-30):
        np.testing.assert_allclose(
            C.candidate_set_loss(E.bilinear, theta, y, cands, temperature=temperature), hard,
            atol=temperature * np.log(len(cands) + 1) + 1e-6)


def test_zero_temperature_equals_gfy_loss_when_the_solution_is_a_candidate(concave_pairwise):
    # Pairwise, concave, SquaredBox, an iterative solver: C = {y, ŷ} gives gfy_loss.
    reg, solver = R.SquaredBox(), M.ProjectedGradient()
    theta = concave_pairwise(3, k=4, ridge=0.2)
    y = jnp.array([0.2, 0.9, 0.0, 1.0])
    y_hat, _ = M.maximize(E.pairwise, reg, theta, solver=solver)
    loss = C.candidate_set_loss(E.pairwise, theta, y, y_hat[None], temperature=0.0, reg=reg)
    np.testing.assert_allclose(loss, L.gfy_loss(E.pairwise, reg, theta, y, solver=solver),
                               rtol=1e-6, atol=1e-7)
    # More candidates in dom Ω cannot exceed the true GFY loss: ŷ is the maximum.
    more = jnp.concatenate([y_hat[None], C.sample_candidates(
        E.pairwise, reg, theta, jax.random.key(0), num_random=16, num_hard=2, solver=solver)])
    np.testing.assert_allclose(
        C.candidate_set_loss(E.pairwise, theta, y, more, temperature=0.0, reg=reg), loss,
        rtol=1e-5, atol=1e-6)


def test_hard_negatives_reach_the_perceptron_loss():
    theta, y = jnp.array([1.5, -2.0, 0.5]), jnp.array([0.0, 1.0, 0.5])
    reg = R.BoxIndicator()
    cands = C.hard_negatives(E.bilinear, reg, theta, jax.random.key(1), 3)
    assert cands.shape == (3, 3)
    np.testing.assert_allclose(C.candidate_set_loss(E.bilinear, theta, y, cands,
                                                    temperature=0.0, reg=reg),
                               L.perceptron_loss(E.bilinear, theta, y), rtol=1e-6)


# --------------------------------------------------------------------------- properties in τ


def test_non_decreasing_convex_and_bounded_in_temperature():
    theta, y, cands = _problem(4, m=7)
    taus = np.concatenate([[0.0], np.geomspace(1e-4, 10.0, 40)])
    values = np.array([float(C.candidate_set_loss(E.bilinear, theta, y, cands, temperature=t))
                       for t in taus])
    assert np.all(values >= 0)
    assert np.all(np.diff(values) >= -1e-6)
    assert np.all(values <= values[0] + taus * np.log(len(cands) + 1) + 1e-5)
    # Convex: midpoint below the chord on an even grid.
    grid = np.linspace(0.0, 5.0, 21)
    v = np.array([float(C.candidate_set_loss(E.bilinear, theta, y, cands, temperature=t))
                  for t in grid])
    assert np.all(v[1:-1] <= 0.5 * (v[:-2] + v[2:]) + 1e-5)


def test_derivative_in_temperature_is_the_entropy(x64):
    theta, y, cands = _problem(5, dtype=jnp.float64)
    gaps = jnp.concatenate([jnp.zeros(1), cands @ theta - y @ theta])
    for t in (0.1, 1.0, 3.0):
        p = jax.nn.softmax(gaps / t)
        entropy = -jnp.sum(p * jnp.log(p))
        derivative = jax.grad(lambda t_: C.candidate_set_loss(
            E.bilinear, theta, y, cands, temperature=t_))(jnp.asarray(t))
        np.testing.assert_allclose(derivative, entropy, rtol=1e-10)


# --------------------------------------------------------------------------- gradient


@pytest.mark.parametrize("temperature", [0.0, 0.5, 2.0])
def test_gradient_is_danskin(concave_pairwise, temperature):
    reg = R.SquaredBox()
    u, U = concave_pairwise(6, k=K)
    _, y, cands = _problem(6)
    grad_u, grad_U = jax.grad(lambda th: C.candidate_set_loss(
        E.pairwise, th, y, cands, temperature=temperature, reg=reg))((u, U))
    points = jnp.concatenate([y[None], cands])
    scores = jax.vmap(lambda c: M.objective(E.pairwise, reg, (u, U), c))(points)
    if temperature == 0:
        p = jax.nn.one_hot(jnp.argmax(scores), len(points))
    else:
        p = jax.nn.softmax(scores / temperature)
    # ∇_u Φ = c, ∇_U Φ = ½ c cᵀ.
    np.testing.assert_allclose(grad_u, p @ points - y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad_U, 0.5 * (jnp.einsum("j,ja,jb->ab", p, points, points)
                                              - jnp.outer(y, y)), rtol=1e-5, atol=1e-6)


def test_solver_candidates_carry_no_gradient():
    reg = R.SquaredBox()
    y = jnp.array([0.5, 0.5])

    def loss(theta):
        cands = C.sample_candidates(E.bilinear, reg, theta, jax.random.key(0), num_random=3,
                                    num_hard=2)
        return C.candidate_set_loss(E.bilinear, theta, y, cands, temperature=0.5, reg=reg), cands

    theta = jnp.array([2.0, -1.0])
    grad, cands = jax.grad(loss, has_aux=True)(theta)
    points = jnp.concatenate([y[None], cands])
    p = jax.nn.softmax(jax.vmap(lambda c: M.objective(E.bilinear, reg, theta, c))(points) / 0.5)
    np.testing.assert_allclose(grad, p @ points - y, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- batches, jit, NaN


def test_batch_equals_vmap_and_jit():
    rng = np.random.default_rng(7)
    theta = jnp.asarray(rng.standard_normal((4, K)), jnp.float32)
    y = jnp.asarray(rng.random((4, K)), jnp.float32)
    cands = jnp.asarray(rng.random((4, 5, K)), jnp.float32)
    batch = C.candidate_set_loss(E.bilinear, theta, y, cands, temperature=0.7)
    single = jax.vmap(lambda t, y_, c: C.candidate_set_loss(E.bilinear, t, y_, c,
                                                            temperature=0.7))(theta, y, cands)
    np.testing.assert_allclose(batch, single, rtol=1e-6)
    jitted = jax.jit(lambda t, y_, c, tau: C.candidate_set_loss(E.bilinear, t, y_, c,
                                                                temperature=tau))
    np.testing.assert_allclose(jitted(theta, y, cands, 0.7), batch, rtol=1e-6)
    np.testing.assert_allclose(jitted(theta, y, cands, 0.0),
                               C.candidate_set_loss(E.bilinear, theta, y, cands, temperature=0.0),
                               rtol=1e-6)


def test_traced_target_outside_the_domain_is_nan():
    theta, _, cands = _problem(8)
    loss = jax.jit(lambda y: C.candidate_set_loss(E.bilinear, theta, y, cands,
                                                  reg=R.SquaredBox()))
    assert np.isnan(loss(jnp.array([0.5, 2.0, 0.5])))
    assert np.isfinite(loss(jnp.array([0.5, 1.0, 0.5])))


def test_no_candidates_gives_zero():
    theta, y, _ = _problem(9)
    assert float(C.candidate_set_loss(E.bilinear, theta, y, jnp.zeros((0, K)))) == 0.0


def test_exported_from_the_package():
    assert fenchel.candidate_set_loss is C.candidate_set_loss
    assert fenchel.candidates is C


# --------------------------------------------------------------------------- property tests


@FAST
@given(k=st.integers(1, 5), m=st.integers(0, 6), seed=st.integers(0, 2 ** 31 - 1),
       magnitude=st.integers(-6, 6), use_x64=st.booleans(),
       temperature=st.one_of(st.just(0.0), st.floats(1e-12, 1e-3), st.floats(0.0, 10.0)))
def test_random_problems_against_a_float64_reference(k, m, seed, magnitude, use_x64,
                                                     temperature):
    rng = np.random.default_rng(seed)
    theta = 10.0 ** magnitude * rng.standard_normal(k)
    y, cands = rng.random(k), rng.random((m, k))
    with jax.enable_x64(use_x64):
        dtype = jnp.float64 if use_x64 else jnp.float32
        loss = C.candidate_set_loss(E.bilinear, jnp.asarray(theta, dtype), jnp.asarray(y, dtype),
                                    jnp.asarray(cands, dtype), temperature=temperature)
        assert loss.dtype == dtype
        loss = float(loss)
        eps = float(jnp.finfo(dtype).eps)
    # The reference from the inputs as rounded to the dtype.
    theta_r, y_r, c_r = (np.asarray(np.asarray(a, dtype), np.float64) for a in (theta, y, cands))
    gaps = np.concatenate([[0.0], (c_r - y_r) @ theta_r])
    expected = _reference(gaps, temperature)
    scale = np.max(np.abs(c_r - y_r) @ np.abs(theta_r), initial=0.0) + temperature * np.log(m + 1)
    assert np.isfinite(loss) and loss >= 0
    assert abs(loss - expected) <= 16 * k * eps * scale + 1e-300, (loss, expected)
    # The bounds in τ hold for the value as computed.
    assert loss >= expected - 16 * k * eps * scale - abs(expected) * 4 * eps


@jax.jit
def _custom_loss_and_danskin(theta, y, cands, temperature):
    """The loss, its gradient, and Danskin's E_p[∇_θ F(c_j)] − ∇_θ F(y): one program per
    shape of ``cands`` (M takes five values), where eagerly every example paid a
    compilation for each operation of the new M (the temperature is traced)."""
    loss, grad = jax.value_and_grad(lambda th: C.candidate_set_loss(
        _custom, th, y, cands, temperature=temperature))(theta)
    points = jnp.concatenate([y[None], cands])
    p = jax.nn.softmax(jax.vmap(lambda c: _custom(theta, c))(points) / temperature)
    grads = jax.vmap(lambda c: jax.grad(_custom)(theta, c))(points)
    return loss, grad, p @ grads - grads[0]


@FAST
@given(seed=st.integers(0, 2 ** 31 - 1), m=st.integers(1, 5),
       temperature=st.floats(0.01, 10.0))
def test_random_custom_energy_matches_info_nce_and_danskin(seed, m, temperature):
    theta, y, cands = _problem(seed, m=m)
    loss, grad, danskin = _custom_loss_and_danskin(theta, y, cands, temperature)
    # The eager call gives the jitted value; info_nce_loss takes τ as a number (eager).
    np.testing.assert_allclose(C.candidate_set_loss(_custom, theta, y, cands,
                                                    temperature=temperature), loss,
                               rtol=2e-5, atol=1e-6)
    nce = L.info_nce_loss(_custom, theta, y, cands, temperature=temperature)
    np.testing.assert_allclose(loss, temperature * nce, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(grad, danskin, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("temperature", [-1.0, float("nan"), float("inf"), "1", True, None,
                                         jnp.ones(2)])
def test_refuses_a_bad_temperature(temperature):
    theta, y, cands = _problem(10)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        C.candidate_set_loss(E.bilinear, theta, y, cands, temperature=temperature)


def test_refusals_name_the_argument():
    theta, y, cands = _problem(11)
    with pytest.raises(ValueError, match=r"candidates must have shape \(M, k\).*\(5, 4\)"):
        C.candidate_set_loss(E.bilinear, theta, y, jnp.zeros((5, K + 1)))
    with pytest.raises(ValueError, match="candidates must have shape"):
        C.candidate_set_loss(E.bilinear, theta, y, jnp.zeros(K))
    with pytest.raises(ValueError, match="candidates has non-finite values"):
        C.candidate_set_loss(E.bilinear, theta, y, cands.at[0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="theta has non-finite values"):
        C.candidate_set_loss(E.bilinear, theta.at[0].set(jnp.inf), y, cands)
    with pytest.raises(ValueError, match="candidates lies outside the domain of SquaredBox"):
        C.candidate_set_loss(E.bilinear, theta, y, cands + 2.0, reg=R.SquaredBox())
    with pytest.raises(ValueError, match="y lies outside the domain of SquaredBox"):
        C.candidate_set_loss(E.bilinear, theta, y - 2.0, cands, reg=R.SquaredBox())
    with pytest.raises(TypeError, match="reg must be a fenchel.regularizers.Regularizer"):
        C.candidate_set_loss(E.bilinear, theta, y, cands, reg="box")
    with pytest.raises(ValueError, match=r"y has shape \(2, 3\); a custom energy"):
        C.candidate_set_loss(_custom, theta, jnp.stack([y, y]), cands)
    with pytest.raises(ValueError, match=r"candidates has shape \(2, 5, 3\); a custom energy"):
        C.candidate_set_loss(_custom, theta, y, jnp.stack([cands, cands]))
    with pytest.raises(ValueError, match="num must be an integer >= 0"):
        C.hard_negatives(E.bilinear, R.SquaredBox(), theta, jax.random.key(0), -1)
    with pytest.raises(ValueError, match="num_random must be an integer >= 0"):
        C.sample_candidates(E.bilinear, R.SquaredBox(), theta, jax.random.key(0), num_random=1.5)
    with pytest.raises(TypeError, match="reg must be a fenchel.regularizers.Regularizer"):
        C.hard_negatives(E.bilinear, None, theta, jax.random.key(0), 2)
    with pytest.raises(ValueError, match="output shape of energy '_custom' is unknown: pass shape="):
        C.sample_candidates(_custom, R.SquaredBox(), theta, jax.random.key(0), num_random=2)
    with pytest.raises(ValueError, match=r"shape must be \(3,\) for this theta, got \(4,\)"):
        C.hard_negatives(E.bilinear, R.SquaredBox(), theta, jax.random.key(0), 2, shape=(4,))
    with pytest.raises(ValueError, match="takes theta for one example.*jax.vmap"):
        C.hard_negatives(E.bilinear, R.SquaredBox(), jnp.stack([theta, theta]),
                         jax.random.key(0), 2)


def test_custom_energy_candidates_with_a_shape():
    theta = jnp.array([0.5, -0.3, 1.0])
    cands = C.sample_candidates(_custom, R.SquaredBox(), theta, jax.random.key(0),
                                num_random=2, num_hard=1, solver=M.ProjectedGradient(maxiter=50),
                                shape=(3,))
    assert cands.shape == (3, 3)
    assert bool(R.SquaredBox().contains(cands))


def test_integer_candidates_and_numpy_temperature():
    theta, y = jnp.array([1.0, -1.0]), jnp.array([0, 0])
    cands = np.array([[1, 0], [0, 1]])
    expected = np.log(1 + np.e + np.exp(-1))
    np.testing.assert_allclose(C.candidate_set_loss(E.bilinear, theta, y, cands,
                                                    temperature=np.array(1.0)), expected,
                               rtol=1e-6)
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        C.hard_negatives(E.bilinear, R.SquaredBox(), theta, None, 2)
