"""GFY loss properties (sign, zero set, Danskin gradient, convexity, strong bound),
classic closed forms, numerical robustness, errors, and the baseline losses."""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from fenchel import energies as E
from fenchel import losses as L
from fenchel import maximizers as M
from fenchel import regularizers as R

K = 4
SEEDS = st.integers(0, 2**31 - 1)
FEW = settings(max_examples=15, deadline=None)
STRONGLY_CONVEX = [R.BinaryEntropy(), R.SquaredBox(), R.Squared(), R.SquaredSimplex(), R.ShannonSimplex()]


def _name(value):
    return getattr(value, "__name__", type(value).__name__)


BATCH = 8


@functools.lru_cache(maxsize=None)
def _jitted_batched_loss(energy, reg, solver=None):
    loss = lambda theta, y: L.gfy_loss(energy, reg, theta, y, solver=solver)
    return jax.jit(jax.vmap(jax.value_and_grad(loss)))


def _batched_loss(energy, reg, solver=None):
    """``(thetas, ys) -> (losses, grads)`` over a leading batch axis of at most
    ``BATCH``, padded to ``BATCH`` so that every test shares one compilation."""
    fn = _jitted_batched_loss(energy, reg, solver)

    def padded(thetas, ys):
        n = ys.shape[0]
        pad = lambda a: jnp.concatenate([a, jnp.repeat(a[:1], BATCH - n, axis=0)])
        losses, grads = fn(jax.tree.map(pad, thetas), pad(ys))
        return losses[:n], jax.tree.map(lambda g: g[:n], grads)

    return padded


@functools.lru_cache(maxsize=None)
def _loss(energy, reg, solver=None):
    return jax.jit(lambda theta, y: L.gfy_loss(energy, reg, theta, y, solver=solver))


def _random_theta(energy, reg, rng, batch, concave=False):
    u = 2.0 * rng.standard_normal((batch, K))
    if energy is E.bilinear:
        return jnp.asarray(u, jnp.float32)
    factor = rng.standard_normal((batch, K, 2)) / np.sqrt(2)
    interactions = -factor @ factor.transpose(0, 2, 1)
    if not concave and not isinstance(reg, R.Squared):
        # Any interactions on a bounded domain (Φ need not be concave in y).
        interactions = 0.5 * rng.standard_normal((batch, K, K))
    return jnp.asarray(u, jnp.float32), jnp.asarray(interactions, jnp.float32)


def _domain_batch(reg, rng, batch, domain_sample):
    return jnp.asarray(np.stack([domain_sample(reg, rng, K) for _ in range(batch)]), jnp.float32)


# --------------------------------------------------------------------------- sign and zero set


@FEW
@given(seed=SEEDS)
@pytest.mark.parametrize("energy", [E.bilinear, E.pairwise], ids=_name)
def test_gfy_loss_is_non_negative(any_reg, energy, domain_sample, seed):
    rng = np.random.default_rng(seed)
    thetas = _random_theta(energy, any_reg, rng, 8)
    ys = _domain_batch(any_reg, rng, 8, domain_sample)
    losses, grads = _batched_loss(energy, any_reg)(thetas, ys)
    assert np.all(np.isfinite(losses))
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    assert np.all(np.asarray(losses) >= -1e-6)


@functools.lru_cache(maxsize=None)
def _loss_at_argmax(energy, reg):
    def loss_at_argmax(theta):
        y_hat, _ = M.maximize(energy, reg, theta)
        return L.gfy_loss(energy, reg, theta, y_hat), y_hat

    return jax.jit(jax.vmap(loss_at_argmax))


@FEW
@given(seed=SEEDS)
@pytest.mark.parametrize("energy", [E.bilinear, E.pairwise], ids=_name)
def test_gfy_loss_is_zero_at_the_argmax(any_reg, energy, seed):
    rng = np.random.default_rng(seed)
    thetas = _random_theta(energy, any_reg, rng, 8, concave=True)
    losses, y_hats = _loss_at_argmax(energy, any_reg)(thetas)
    np.testing.assert_allclose(losses, 0.0, atol=1e-4)


# --------------------------------------------------------------------------- Danskin gradient


def _directional_fd(fn, theta, direction, eps=1e-5):
    plus = jax.tree.map(lambda t, d: t + eps * d, theta, direction)
    minus = jax.tree.map(lambda t, d: t - eps * d, theta, direction)
    return (float(fn(plus)) - float(fn(minus))) / (2 * eps)


def _tree_vdot(a, b):
    return sum(float(jnp.vdot(x, y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


TIGHT = {
    "BinaryEntropy": M.MirrorAscent(maxiter=5000, tol=1e-11),
    "ShannonSimplex": M.MirrorAscent(maxiter=5000, tol=1e-11),
}


@pytest.mark.parametrize("seed", [0, 1])
def test_danskin_gradient_matches_finite_differences(any_reg, concave_pairwise, domain_sample, seed):
    solver = TIGHT.get(type(any_reg).__name__, M.ProjectedGradient(maxiter=5000, tol=1e-11))
    with jax.enable_x64(True):
        # Strictly concave: ŷ is unique, so the conjugate is differentiable.
        theta = concave_pairwise(seed, k=K, ridge=0.3, dtype=np.float64)
        rng = np.random.default_rng(seed + 100)
        y = jnp.asarray(domain_sample(any_reg, rng, K), jnp.float64)
        direction = (jnp.asarray(rng.standard_normal(K)), jnp.asarray(rng.standard_normal((K, K))))
        loss = _loss(E.pairwise, any_reg, solver)
        grad = jax.jit(jax.grad(lambda t, y_: L.gfy_loss(E.pairwise, any_reg, t, y_, solver=solver)))(theta, y)
        fd = _directional_fd(lambda t: loss(t, y), theta, direction)
        np.testing.assert_allclose(_tree_vdot(grad, direction), fd, rtol=1e-5, atol=1e-6)


class _ConcaveNet(nnx.Module):
    """E_W(x, y) = <tanh(W₁x + b₁), y> − ½‖W₂y‖²: concave in y, non-linear in W."""

    def __init__(self, rngs):
        self.features = nnx.Linear(3, K, rngs=rngs)
        self.curvature = nnx.Linear(K, K, use_bias=False, rngs=rngs)

    def __call__(self, x, y):
        return jnp.vdot(jnp.tanh(self.features(x)), 2.0 * y) - 0.5 * jnp.sum(self.curvature(y) ** 2)


def test_danskin_gradient_of_a_neural_energy():
    with jax.enable_x64(True):
        energy, params = E.nnx_energy(_ConcaveNet(nnx.Rngs(0)))
        params = jax.tree.map(lambda p: p.astype(jnp.float64), params)
        x = jnp.array([0.5, -1.0, 2.0])
        y = jnp.array([0.0, 1.0, 0.3, 1.0])
        reg = R.SquaredBox()  # strongly concave objective: ŷ unique
        solver = M.ProjectedGradient(maxiter=5000, tol=1e-11)
        loss = jax.jit(lambda p: L.gfy_loss(energy, reg, (p, x), y, solver=solver))
        grad = jax.jit(jax.grad(lambda p: L.gfy_loss(energy, reg, (p, x), y, solver=solver)))(params)
        leaves, treedef = jax.tree.flatten(params)
        keys = jax.random.split(jax.random.key(1), len(leaves))
        direction = jax.tree.unflatten(
            treedef, [jax.random.normal(k, l.shape, l.dtype) for k, l in zip(keys, leaves)])
        assert float(loss(params)) > 1e-3
        fd = _directional_fd(loss, params, direction)
        np.testing.assert_allclose(_tree_vdot(grad, direction), fd, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- classic losses


@functools.lru_cache(maxsize=None)
def _bilinear_grad(reg):
    return jax.jit(jax.grad(lambda theta, y: L.gfy_loss(E.bilinear, reg, theta, y)))


@FEW
@given(seed=SEEDS)
def test_bilinear_gfy_losses_are_the_classic_losses(seed):
    rng = np.random.default_rng(seed)
    theta = jnp.asarray(3.0 * rng.standard_normal(K), jnp.float32)
    label = int(rng.integers(K))
    one_hot = jax.nn.one_hot(label, K)
    binary = jnp.asarray(rng.integers(0, 2, K), jnp.float32)
    gfy = lambda reg, y: _loss(E.bilinear, reg)(theta, y)
    grad = lambda reg, y: _bilinear_grad(reg)(theta, y)

    np.testing.assert_allclose(gfy(R.BinaryEntropy(), binary),
                               jnp.sum(optax.sigmoid_binary_cross_entropy(theta, binary)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad(R.BinaryEntropy(), binary), jax.nn.sigmoid(theta) - binary, atol=1e-6)

    np.testing.assert_allclose(gfy(R.ShannonSimplex(), one_hot),
                               optax.softmax_cross_entropy(theta, one_hot), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad(R.ShannonSimplex(), one_hot), jax.nn.softmax(theta) - one_hot, atol=1e-6)
    # Soft labels: the cross-entropy minus the label's entropy.
    soft = jnp.asarray(rng.dirichlet(np.ones(K)), jnp.float32)
    np.testing.assert_allclose(gfy(R.ShannonSimplex(), soft),
                               optax.softmax_cross_entropy(theta, soft) + jnp.sum(soft * jnp.log(soft)),
                               rtol=1e-4, atol=1e-5)

    # optax's multiclass sparsemax loss takes a batch of scores and integer labels.
    np.testing.assert_allclose(gfy(R.SquaredSimplex(), one_hot),
                               optax.losses.multiclass_sparsemax_loss(theta[None], jnp.array([label]))[0],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad(R.SquaredSimplex(), one_hot),
                               R.projection_simplex(theta) - one_hot, atol=1e-6)

    target = jnp.asarray(rng.standard_normal(K), jnp.float32)
    np.testing.assert_allclose(gfy(R.Squared(), target), 0.5 * jnp.sum((theta - target) ** 2), rtol=1e-5)
    np.testing.assert_allclose(grad(R.Squared(), target), theta - target, atol=1e-5)
    np.testing.assert_allclose(L.binary_cross_entropy(theta, binary),
                               jnp.sum(optax.sigmoid_binary_cross_entropy(theta, binary)), rtol=1e-6)


def test_scale_is_a_temperature():
    theta, y = jnp.array([1.0, -2.0, 0.5]), jnp.array([1.0, 0.0, 1.0])
    np.testing.assert_allclose(L.gfy_loss(E.bilinear, R.BinaryEntropy(scale=2.0), theta, y),
                               2.0 * L.binary_cross_entropy(theta / 2.0, y), rtol=1e-6)


def test_iterative_and_closed_form_agree_on_bilinear():
    theta, y = jnp.array([1.0, -2.0, 0.5]), jnp.array([1.0, 0.0, 1.0])
    reg = R.BinaryEntropy()
    np.testing.assert_allclose(_loss(E.bilinear, reg, M.MirrorAscent())(theta, y),
                               _loss(E.bilinear, reg)(theta, y), rtol=1e-5)


# --------------------------------------------------------------------------- convexity, strong bound


@FEW
@given(seed=SEEDS, t=st.floats(0.0, 1.0))
def test_pairwise_gfy_loss_is_convex_in_theta(any_reg, domain_sample, seed, t):
    rng = np.random.default_rng(seed)
    u, U = _random_theta(E.pairwise, any_reg, rng, 2, concave=True)
    y = jnp.asarray(domain_sample(any_reg, rng, K), jnp.float32)
    mix = (t * u[0] + (1 - t) * u[1], t * U[0] + (1 - t) * U[1])
    thetas = jax.tree.map(lambda a, b: jnp.stack([a, b]), mix, (u[0], U[0]))
    thetas = (jnp.concatenate([thetas[0], u[1:]]), jnp.concatenate([thetas[1], U[1:]]))
    losses, _ = _batched_loss(E.pairwise, any_reg)(thetas, jnp.stack([y, y, y]))
    mixed, first, second = (float(v) for v in losses)
    assert mixed <= t * first + (1 - t) * second + 1e-4 * (1 + abs(first) + abs(second))


@FEW
@given(seed=SEEDS)
@pytest.mark.parametrize("reg", STRONGLY_CONVEX, ids=_name)
def test_strong_convexity_bound(reg, domain_sample, seed):
    # Φ concave in y and Ω μ-strongly convex: L(θ; y) ≥ μ/2 ‖y − ŷ‖².
    rng = np.random.default_rng(seed)
    thetas = _random_theta(E.pairwise, reg, rng, 8, concave=True)
    ys = _domain_batch(reg, rng, 8, domain_sample)
    losses, _ = _batched_loss(E.pairwise, reg)(thetas, ys)
    _, y_hats = _loss_at_argmax(E.pairwise, reg)(thetas)
    bound = 0.5 * reg.strong_convexity * jnp.sum((ys - y_hats) ** 2, axis=-1)
    assert np.all(np.asarray(losses) >= np.asarray(bound) - 1e-4)


# --------------------------------------------------------------------------- transformations


@pytest.mark.parametrize("reg", [R.BinaryEntropy(), R.SquaredBox()], ids=_name)
def test_jit_vmap_grad_compose(reg, concave_pairwise, domain_sample):
    thetas = [concave_pairwise(seed, k=K) for seed in range(3)]
    rng = np.random.default_rng(0)
    ys = _domain_batch(reg, rng, 3, domain_sample)
    grad = jax.grad(lambda theta, y: L.gfy_loss(E.pairwise, reg, theta, y))
    batched = jax.jit(jax.vmap(grad))(jax.tree.map(lambda *l: jnp.stack(l), *thetas), ys)
    single_grad = jax.jit(grad)
    for i, theta in enumerate(thetas):
        single = single_grad(theta, ys[i])
        for b, s in zip(jax.tree.leaves(batched), jax.tree.leaves(single)):
            np.testing.assert_allclose(b[i], s, atol=1e-5)


# --------------------------------------------------------------------------- float32 robustness


@pytest.mark.parametrize("energy", [E.bilinear, E.pairwise], ids=_name)
def test_boundary_targets_stay_finite(energy, concave_pairwise):
    u, U = concave_pairwise(0, k=K)
    theta = u if energy is E.bilinear else (u, U)
    cases = [(R.BinaryEntropy(), jnp.array([0.0, 1.0, 1.0, 0.0])),
             (R.ShannonSimplex(), jnp.array([0.0, 0.0, 1.0, 0.0]))]
    for reg, y in cases:
        values, grads = _batched_loss(energy, reg)(jax.tree.map(lambda t: t[None], theta), y[None])
        assert np.isfinite(float(values[0])) and float(values[0]) >= 0.0
        assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


@pytest.mark.parametrize("magnitude", [1e4, 1e8])
@pytest.mark.parametrize("energy", [E.bilinear, E.pairwise], ids=_name)
def test_huge_scores_stay_finite(any_reg, energy, domain_sample, concave_pairwise, magnitude):
    u, U = concave_pairwise(0, k=K)
    u = magnitude * jnp.sign(u)
    theta = u if energy is E.bilinear else (u, U)
    y = jnp.asarray(domain_sample(any_reg, np.random.default_rng(0), K), jnp.float32)
    values, grads = _batched_loss(energy, any_reg)(jax.tree.map(lambda t: t[None], theta), y[None])
    assert np.all(np.isfinite(values)) and float(values[0]) >= 0.0
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


# --------------------------------------------------------------------------- errors


def test_bad_inputs_give_clear_errors(concave_pairwise):
    u, U = concave_pairwise(0, k=3)
    with pytest.raises(ValueError, match=r"y has shape \(4,\), expected \(3,\)"):
        L.gfy_loss(E.bilinear, R.BinaryEntropy(), u, jnp.zeros(4))
    with pytest.raises(ValueError, match=r"y has shape \(2,\), expected \(3,\)"):
        L.gfy_loss(E.pairwise, R.SquaredBox(), (u, U), jnp.zeros(2))
    with pytest.raises(ValueError, match=r"outside the domain of BinaryEntropy.*\[0.0, 1.0\]"):
        L.gfy_loss(E.bilinear, R.BinaryEntropy(), u, jnp.array([0.0, 1.5, 1.0]))
    with pytest.raises(ValueError, match="outside the domain of ShannonSimplex"):
        L.gfy_loss(E.pairwise, R.ShannonSimplex(), (u, U), jnp.array([0.5, 0.0, 0.0]))
    with pytest.raises(ValueError, match="non-finite"):
        L.gfy_loss(E.bilinear, R.BinaryEntropy(), u.at[1].set(jnp.nan), jnp.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        L.gfy_loss(E.pairwise, R.SquaredBox(), (u, U.at[1, 1].set(jnp.inf)), jnp.zeros(3))
    with pytest.raises(TypeError, match="ClosedForm needs energy=fenchel.energies.bilinear"):
        L.gfy_loss(E.pairwise, R.SquaredBox(), (u, U), jnp.zeros(3), solver=M.ClosedForm())
    with pytest.raises(TypeError, match="prox"):
        L.gfy_loss(E.pairwise, R.BinaryEntropy(), (u, U), jnp.zeros(3), solver=M.ProjectedGradient())
    with pytest.raises(ValueError, match="task_loss"):
        L.implicit_loss(E.pairwise, R.SquaredBox(), (u, U), jnp.zeros(3), task_loss="hamming")
    with pytest.raises(TypeError, match="cannot be unrolled"):
        L.unrolled_loss(E.pairwise, R.SquaredBox(), (u, U), jnp.zeros(3), solver=M.DerivativeFree())
    with pytest.raises(ValueError, match=r"negatives must have shape"):
        L.info_nce_loss(E.bilinear, u, jnp.zeros(3), jnp.zeros((5, 2)))


# --------------------------------------------------------------------------- unrolled and implicit


def _interior_problem(reg, seed):
    """Concave pairwise θ whose maximizer is a known interior point ``y_star``."""
    rng = np.random.default_rng(seed)
    factor = rng.standard_normal((K, 2)) / np.sqrt(2)
    U = -factor @ factor.T
    y_star = rng.uniform(0.25, 0.75, K)
    # Stationarity, u + U y* = ∇Ω(y*), gives u.
    u = np.asarray(reg.gradient(jnp.asarray(y_star)), np.float64) - U @ y_star
    return (jnp.asarray(u), jnp.asarray(U)), y_star


IMPLICIT_CASES = [(R.SquaredBox(), M.ProjectedGradient(maxiter=5000, tol=1e-11)),
                  (R.BinaryEntropy(), M.MirrorAscent(maxiter=5000, tol=1e-11))]


@pytest.mark.parametrize("case", IMPLICIT_CASES, ids=lambda c: _name(c[0]))
def test_implicit_gradient_matches_finite_differences(case):
    reg, solver = case
    with jax.enable_x64(True):
        theta, y_star = _interior_problem(reg, 0)
        y = jnp.asarray(np.random.default_rng(1).uniform(0, 1, K))
        value = jax.jit(lambda t: L.implicit_loss(E.pairwise, reg, t, y, solver=solver))
        grad = jax.jit(jax.grad(lambda t: L.implicit_loss(E.pairwise, reg, t, y, solver=solver)))(theta)
        solution_loss = jax.jit(
            lambda t: L.squared_error(M.maximize(E.pairwise, reg, t, solver=solver)[0], y))
        np.testing.assert_allclose(value(theta), L.squared_error(jnp.asarray(y_star), y), atol=1e-8)
        rng = np.random.default_rng(2)
        direction = (jnp.asarray(rng.standard_normal(K)), jnp.asarray(rng.standard_normal((K, K))))
        fd = _directional_fd(solution_loss, theta, direction, eps=1e-6)
        np.testing.assert_allclose(_tree_vdot(grad, direction), fd, rtol=1e-4, atol=1e-7)


def test_unrolled_loss_value_and_gradient_approach_the_implicit_ones():
    reg = R.SquaredBox()
    theta, y_star = _interior_problem(reg, 3)
    theta = jax.tree.map(lambda t: t.astype(jnp.float32), theta)
    y = jnp.asarray(np.random.default_rng(4).uniform(0, 1, K), jnp.float32)
    implicit = jax.jit(jax.grad(lambda t: L.implicit_loss(E.pairwise, reg, t, y)))(theta)
    errors = []
    for steps in (2, 100):
        loss_fn = lambda t: L.unrolled_loss(E.pairwise, reg, t, y, num_steps=steps)
        value, unrolled = jax.jit(jax.value_and_grad(loss_fn))(theta)
        errors.append(max(float(jnp.max(jnp.abs(a - b)))
                          for a, b in zip(jax.tree.leaves(unrolled), jax.tree.leaves(implicit))))
    np.testing.assert_allclose(value, L.squared_error(jnp.asarray(y_star, jnp.float32), y), atol=1e-4)
    assert errors[1] < errors[0]
    assert errors[1] < 1e-3


def test_unrolled_closed_form_is_the_task_loss_of_the_maximizer():
    theta, y = jnp.array([0.3, -1.0]), jnp.array([1.0, 0.0])
    value = L.unrolled_loss(E.bilinear, R.BinaryEntropy(), theta, y, task_loss="cross_entropy")
    np.testing.assert_allclose(value, L.binary_cross_entropy(theta, y), rtol=1e-4)


# --------------------------------------------------------------------------- baselines


def _brute_force_hinge(energy, theta, y):
    best = max(float(energy(theta, jnp.asarray(v, jnp.float32))) + float(np.sum(np.abs(np.asarray(y) - v)))
               for v in itertools.product([0.0, 1.0], repeat=K))
    return best - float(energy(theta, y))


@FEW
@given(seed=SEEDS)
def test_hinge_loss_against_enumeration(concave_pairwise, seed):
    rng = np.random.default_rng(seed)
    y = jnp.asarray(rng.integers(0, 2, K), jnp.float32)
    u, U = concave_pairwise(seed % 1000, k=K)
    bilinear = float(L.hinge_loss(E.bilinear, u, y))
    # The box relaxation of a bilinear energy is tight.
    np.testing.assert_allclose(bilinear, _brute_force_hinge(E.bilinear, u, y), atol=1e-5)
    assert bilinear >= 0.0
    # For a pairwise energy it upper-bounds the discrete loss.
    pairwise = float(_hinge(E.pairwise)((u, U), y))
    assert pairwise >= _brute_force_hinge(E.pairwise, (u, U), y) - 1e-4
    assert pairwise >= 0.0


@functools.lru_cache(maxsize=None)
def _hinge(energy):
    return jax.jit(lambda theta, y: L.hinge_loss(energy, theta, y))


def test_hinge_loss_is_zero_beyond_the_margin():
    y = jnp.array([1.0, 0.0, 1.0, 0.0])
    theta = 2.0 * (2.0 * y - 1.0)
    assert float(L.hinge_loss(E.bilinear, theta, y)) == 0.0
    assert float(_hinge(E.pairwise)((theta, jnp.zeros((K, K))), y)) == pytest.approx(0.0, abs=1e-5)
    assert float(L.hinge_loss(E.bilinear, 0.4 * theta, y)) > 0.0  # inside the margin


def test_info_nce_is_a_softmax_cross_entropy():
    rng = np.random.default_rng(0)
    theta = jnp.asarray(rng.standard_normal(K), jnp.float32)
    y = jnp.asarray(rng.random(K), jnp.float32)
    negatives = L.sample_box(jax.random.key(0), 6, (K,))
    assert negatives.shape == (6, K)
    for temperature in (1.0, 0.3):
        logits = jnp.concatenate([jnp.array([theta @ y]), negatives @ theta]) / temperature
        np.testing.assert_allclose(L.info_nce_loss(E.bilinear, theta, y, negatives, temperature=temperature),
                                   -jax.nn.log_softmax(logits)[0], rtol=1e-5)


def test_perceptron_loss_is_max_over_box_minus_energy(concave_pairwise, pairwise_reference):
    theta = jnp.array([1.5, -2.0, 0.5, -0.1])
    y = jnp.array([0.0, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(L.perceptron_loss(E.bilinear, theta, y),
                               jnp.sum(jnp.maximum(theta, 0.0)) - theta @ y, rtol=1e-6)
    np.testing.assert_allclose(L.perceptron_loss(E.bilinear, theta, y, lower=-1.0, upper=2.0),
                               jnp.sum(jnp.maximum(2.0 * theta, -theta)) - theta @ y, rtol=1e-6)
    u, U = concave_pairwise(0, k=K, ridge=0.3)
    best = pairwise_reference(R.BoxIndicator(), (u, U))
    expected = float(E.pairwise((u, U), jnp.asarray(best, jnp.float32)) - E.pairwise((u, U), y))
    np.testing.assert_allclose(L.perceptron_loss(E.pairwise, (u, U), y), expected, atol=1e-4)


def test_task_losses():
    assert float(L.squared_error(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]))) == 2.5
    np.testing.assert_allclose(L.TASK_LOSSES["cross_entropy"](jnp.array([0.5]), jnp.array([1.0])),
                               np.log(2.0), rtol=1e-6)
