"""GFY loss properties (sign, zero set, Danskin gradient, convexity, strong bound),
classic closed forms, numerical robustness, errors, and the baseline losses."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel import energies as E
from fenchel import losses as L
from fenchel import maximizers as M
from fenchel import regularizers as R

import fenchel_test_references as ref  # registered by tests/conftest.py



K = 4
SEEDS = st.integers(0, 2**31 - 1)
FEW = settings(max_examples=examples(15), deadline=None)
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
#
# The loss clamps max(F(ŷ) − F(y), 0) (and the closed forms are written to be ≥ 0), so
# "loss ≥ 0" or "loss(θ, ŷ) = 0" with ŷ from the same solver hold by construction. These
# tests instead compare the loss with the *unclamped* gap F(ŷ_ref) − F(y) (Ω*(θ) + Ω(y) −
# <θ, y> for the bilinear energy) computed in float64 by tests/references.py: closed
# forms, enumeration of the faces of the domain (quadratic Ω) or a scipy root (entropic
# Ω). The references are evaluated at the float32 inputs the loss sees, converted exactly.

# Loss values are float32: agreement is asked up to 1e-5 of the size of the terms that
# cancel, 1 + |max F| + |F(y)| (the default solvers are observed within about 2e-7).
GAP_RTOL = 1e-5


def _as64(theta):
    return jax.tree.map(lambda t: np.asarray(t, np.float64), theta)


def _example(theta, i):
    return jax.tree.map(lambda t: t[i], theta)


def _reference_terms(energy, reg, theta, y):
    """``(max_y' F(y'), F(y))`` in float64 by the references, F = Φ(θ, ·) − Ω."""
    theta, y = _as64(theta), np.asarray(y, np.float64)
    if energy is E.bilinear:
        return float(ref.conjugate(reg, theta)), float(theta @ y - ref.value(reg, y))
    return ref.pairwise_max(reg, theta), ref.pairwise_objective(reg, theta, y)


def _assert_loss_is_reference_gap(energy, reg, thetas, ys, losses):
    """Each loss equals the unclamped reference gap max F − F(y) (which is itself ≥ 0)."""
    for i in range(ys.shape[0]):
        f_max, f_y = _reference_terms(energy, reg, _example(thetas, i), ys[i])
        gap, tol = f_max - f_y, GAP_RTOL * (1 + abs(f_max) + abs(f_y))
        # (y is float32, so it may lie off the simplex by rounding: F(y) > max F by ~1e-8.)
        assert gap >= -tol, f"reference gap {gap} < 0: the reference is wrong"
        assert abs(float(losses[i]) - gap) <= tol, (
            f"example {i}: loss {float(losses[i])!r}, reference gap {gap!r} (tolerance {tol:.2g}); "
            f"theta={_example(thetas, i)}, y={ys[i]}")


def _near_argmax(energy, reg, theta, rng):
    """A point of dom Ω close to the reference maximizer (where the clamp would bite)."""
    theta = _as64(theta)
    if energy is E.bilinear:
        y_hat = ref.linear_maximizer(reg, theta)
    else:
        y_hat = ref.pairwise_argmax(reg, theta)
    return ref.project(reg, y_hat + 1e-2 * rng.standard_normal(K))


def _targets(energy, reg, thetas, rng, domain_sample):
    """A batch of targets: random points of dom Ω, the last two near the maximizer."""
    n = jax.tree.leaves(thetas)[0].shape[0]
    ys = [domain_sample(reg, rng, K) for _ in range(n - 2)]
    ys += [_near_argmax(energy, reg, _example(thetas, i), rng) for i in range(n - 2, n)]
    return jnp.asarray(np.stack(ys), jnp.float32)


@FEW
@given(seed=SEEDS)
@pytest.mark.parametrize("energy", [E.bilinear, E.pairwise], ids=_name)
def test_gfy_loss_is_the_reference_gap(any_reg, energy, domain_sample, seed):
    # Concave problems, where the reference max is global: the loss is max F − F(y),
    # unclamped, so a solver stopped early, a wrong sign or a wrong closed form shows.
    rng = np.random.default_rng(seed)
    thetas = _random_theta(energy, any_reg, rng, BATCH, concave=True)
    ys = _targets(energy, any_reg, thetas, rng, domain_sample)
    losses, grads = _batched_loss(energy, any_reg)(thetas, ys)
    assert np.all(np.isfinite(losses))
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    _assert_loss_is_reference_gap(energy, any_reg, thetas, ys, losses)


BOUNDED = [R.BinaryEntropy(), R.SquaredBox(), R.BoxIndicator(), R.SquaredSimplex(),
           R.ShannonSimplex(), R.SquaredBox(scale=0.5, lower=-1.0, upper=2.0)]


@FEW
@given(seed=SEEDS)
@pytest.mark.parametrize("reg", BOUNDED, ids=["BinaryEntropy", "SquaredBox", "BoxIndicator", "SquaredSimplex",
                                              "ShannonSimplex", "SquaredBox-1to2"])
def test_gfy_loss_on_non_concave_problems_is_within_the_global_gap(reg, domain_sample, seed):
    # Φ not concave in y: a local solver may miss the global max, so the loss is only
    # bracketed: 0 ≤ L ≤ max F − F(y), with the global max F by enumeration of the
    # faces (exact for quadratic Ω; an upper bound for the entropic ones).
    rng = np.random.default_rng(seed)
    thetas = _random_theta(E.pairwise, reg, rng, BATCH, concave=False)
    ys = _domain_batch(reg, rng, BATCH, domain_sample)
    losses, grads = _batched_loss(E.pairwise, reg)(thetas, ys)
    assert np.all(np.isfinite(losses))
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    for i in range(BATCH):
        theta = _as64(_example(thetas, i))
        f_max = ref.quadratic_upper_bound(reg, theta)
        f_y = ref.pairwise_objective(reg, theta, ys[i])
        tol = GAP_RTOL * (1 + abs(f_max) + abs(f_y))
        assert -tol <= float(losses[i]) <= f_max - f_y + tol, (i, float(losses[i]), f_max - f_y)


@functools.lru_cache(maxsize=None)
def _batched_argmax(energy, reg, solver=None):
    """Jitted ``θs -> ŷs``, the solver's maximizers over a leading batch axis."""
    return jax.jit(jax.vmap(lambda theta: M.maximize(energy, reg, theta, solver=solver)[0]))


def _reference_argmax(energy, reg, theta):
    theta = _as64(theta)
    if energy is E.bilinear:
        return ref.linear_maximizer(reg, theta)
    return ref.pairwise_argmax(reg, theta)


def _check_loss_at_argmax(energy, reg, thetas, solver=None):
    """The zero set, against an independent ŷ_ref: (i) L(θ; ŷ_ref) ≈ 0; (ii) at the
    solver's ŷ, L(θ; ŷ) ≈ F(ŷ_ref) − F(ŷ), and that reference value ≈ 0. A solver
    stopped early passes (i) (the clamp gives 0) and L(θ; ŷ) = 0 by construction,
    but fails (ii): F(ŷ_ref) − F(ŷ) > 0."""
    n = jax.tree.leaves(thetas)[0].shape[0]
    y_refs = jnp.asarray(np.stack([_reference_argmax(energy, reg, _example(thetas, i))
                                   for i in range(n)]), jnp.float32)
    at_ref, _ = _batched_loss(energy, reg, solver)(thetas, y_refs)
    y_hats = _batched_argmax(energy, reg, solver)(thetas)
    at_y_hat, _ = _batched_loss(energy, reg, solver)(thetas, y_hats)
    for i in range(n):
        theta = _example(thetas, i)
        f_max, _ = _reference_terms(energy, reg, theta, y_refs[i])
        _, f_y_hat = _reference_terms(energy, reg, theta, y_hats[i])
        tol = GAP_RTOL * (1 + 2 * abs(f_max))
        assert abs(float(at_ref[i])) <= tol, f"example {i}: L(θ; ŷ_ref) = {float(at_ref[i])!r}"
        reference = f_max - f_y_hat
        assert abs(float(at_y_hat[i]) - reference) <= tol and reference <= tol, (
            f"example {i}: L(θ; ŷ) = {float(at_y_hat[i])!r} but F(ŷ_ref) − F(ŷ) = {reference!r}")


@FEW
@given(seed=SEEDS)
@pytest.mark.parametrize("energy", [E.bilinear, E.pairwise], ids=_name)
def test_gfy_loss_is_zero_at_the_argmax(any_reg, energy, seed):
    rng = np.random.default_rng(seed)
    thetas = _random_theta(energy, any_reg, rng, BATCH, concave=True)
    _check_loss_at_argmax(energy, any_reg, thetas)


def _truncated(reg):
    """The iterative default solver for ``reg``, stopped after one iteration (with half
    the mean-field step for the entropic ones, whose full step is exact when Φ is linear,
    so that the same weak solver is also weak on the bilinear energy)."""
    solver = dataclasses.replace(M.default_solver(E.pairwise, reg), maxiter=1)
    if reg.is_entropic:
        solver = dataclasses.replace(solver, step_size=0.5 / reg.scale)
    return solver


def test_the_reference_checks_catch_a_truncated_solver(any_reg, domain_sample):
    # The checks above can fail: with the solver stopped after one iteration, the loss
    # (still ≥ 0 and still 0 at the solver's own ŷ) no longer matches the references.
    energy, solver = E.pairwise, _truncated(any_reg)
    rng = np.random.default_rng(0)
    thetas = _random_theta(energy, any_reg, rng, BATCH, concave=True)
    with pytest.raises(AssertionError, match=r"F\(ŷ_ref\) − F\(ŷ\)"):
        _check_loss_at_argmax(energy, any_reg, thetas, solver)
    ys = _targets(energy, any_reg, thetas, rng, domain_sample)
    losses, _ = _batched_loss(energy, any_reg, solver)(thetas, ys)
    assert np.all(np.asarray(losses) >= 0.0)  # the clamp alone would not notice
    with pytest.raises(AssertionError, match="reference gap"):
        _assert_loss_is_reference_gap(energy, any_reg, thetas, ys, losses)


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


def _concave_net():
    """E_W(x, y) = <tanh(W₁x + b₁), y> − ½‖W₂y‖²: concave in y, non-linear in W."""
    nnx = pytest.importorskip("flax.nnx", reason="flax (the [nnx] extra) is not installed")

    class ConcaveNet(nnx.Module):
        def __init__(self, rngs):
            self.features = nnx.Linear(3, K, rngs=rngs)
            self.curvature = nnx.Linear(K, K, use_bias=False, rngs=rngs)

        def __call__(self, x, y):
            return (jnp.vdot(jnp.tanh(self.features(x)), 2.0 * y)
                    - 0.5 * jnp.sum(self.curvature(y) ** 2))

    return ConcaveNet(nnx.Rngs(0))


def test_danskin_gradient_of_a_neural_energy():
    with jax.enable_x64(True):
        energy, params = E.nnx_energy(_concave_net())
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
    y_refs = np.stack([_reference_argmax(E.pairwise, reg, _example(thetas, i)) for i in range(8)])
    bound = 0.5 * reg.strong_convexity * np.sum((np.asarray(ys, np.float64) - y_refs) ** 2, axis=-1)
    assert np.all(np.asarray(losses) >= bound - 1e-4)


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
    with pytest.raises(TypeError, match="ClosedForm needs an energy linear in y"):
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


HINGE_REGS = [R.BoxIndicator(), R.SquaredBox(), R.BinaryEntropy()]


@functools.lru_cache(maxsize=None)
def _hinge(energy, reg=None, solver=None):
    """Jitted, batched ``(θs, ys) -> hinge losses``."""
    return jax.jit(jax.vmap(lambda theta, y: L.hinge_loss(energy, theta, y, reg=reg, solver=solver)))


def _assert_hinge_is_reference(energy, reg, thetas, ys, losses):
    """Each hinge loss equals the unclamped reference: the loss-augmented max by face
    enumeration / closed form / scipy root, + Σy − (Φ(θ, y) − Ω(y))."""
    pairwise = energy is E.pairwise
    for i in range(ys.shape[0]):
        theta = _as64(_example(thetas, i))
        expected = ref.hinge(reg, theta, ys[i], pairwise)
        size = sum(float(np.sum(np.abs(t))) for t in jax.tree.leaves(theta)) + K
        tol = GAP_RTOL * (1 + size)
        assert expected >= -tol, f"reference hinge {expected} < 0: the reference is wrong"
        assert abs(float(losses[i]) - expected) <= tol, (
            f"example {i}: hinge {float(losses[i])!r}, reference hinge {expected!r}; "
            f"theta={theta}, y={ys[i]}")
        if isinstance(reg, R.BoxIndicator):
            # The box relaxation upper-bounds the discrete loss, and is tight when Φ is linear.
            discrete = ref.hinge_by_enumeration(theta, ys[i], pairwise)
            assert float(losses[i]) >= discrete - tol
            if not pairwise:
                assert abs(float(losses[i]) - discrete) <= tol


def _hinge_problem(energy, reg, rng):
    thetas = _random_theta(energy, reg, rng, BATCH, concave=True)
    ys = rng.integers(0, 2, (BATCH, K)).astype(np.float32)
    # Two examples scored beyond the margin (|θ_i| > 1 on y's side), where the loss is 0.
    margin = (2.0 * ys[:2] - 1.0) * (1.0 + rng.random((2, K))).astype(np.float32)
    if energy is E.bilinear:
        thetas = thetas.at[:2].set(margin)
    else:
        thetas = (thetas[0].at[:2].set(margin), thetas[1].at[:2].set(0.0))
    return thetas, jnp.asarray(ys)


@FEW
@given(seed=SEEDS)
@pytest.mark.parametrize("reg", HINGE_REGS, ids=_name)
@pytest.mark.parametrize("energy", [E.bilinear, E.pairwise], ids=_name)
def test_hinge_loss_is_the_reference(energy, reg, seed):
    rng = np.random.default_rng(seed)
    thetas, ys = _hinge_problem(energy, reg, rng)
    losses = _hinge(energy, reg)(thetas, ys)
    _assert_hinge_is_reference(energy, reg, thetas, ys, losses)


def test_hinge_reference_check_catches_a_truncated_solver():
    reg = R.BoxIndicator()
    thetas, ys = _hinge_problem(E.pairwise, reg, np.random.default_rng(0))
    losses = _hinge(E.pairwise, reg, M.ProjectedGradient(maxiter=1))(thetas, ys)
    assert np.all(np.asarray(losses) >= 0.0)  # the clamp alone would not notice
    with pytest.raises(AssertionError, match="reference hinge"):
        _assert_hinge_is_reference(E.pairwise, reg, thetas, ys, losses)


def test_hinge_loss_is_zero_beyond_the_margin():
    y = jnp.array([1.0, 0.0, 1.0, 0.0])
    theta = 2.0 * (2.0 * y - 1.0)
    assert float(L.hinge_loss(E.bilinear, theta, y)) == 0.0
    pairwise = _hinge(E.pairwise)((theta[None], jnp.zeros((1, K, K))), y[None])
    assert float(pairwise[0]) == pytest.approx(0.0, abs=1e-5)
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


# --------------------------------------------------------------------------- fast closed forms

CLASSIC = [R.BinaryEntropy, R.ShannonSimplex, R.SquaredSimplex]


def _classic_targets(reg_cls, rng, k):
    """A soft target inside the domain and a hard one on its boundary (vertex/corner)."""
    if reg_cls is R.BinaryEntropy:
        soft, hard = rng.uniform(0.05, 0.95, k), rng.integers(0, 2, k).astype(float)
    else:
        soft, hard = rng.dirichlet(np.ones(k)), np.eye(k)[rng.integers(k)]
    return soft, hard


def _analytic_hessian(reg, theta):
    """∇²_θ L = ∇²Ω*(θ) = J ŷ(θ): diag(σ(1 − σ))/λ, (diag(p) − ppᵀ)/λ, and the
    sparsemax Jacobian (diag(s) − ssᵀ/|s|)/λ with s the support indicator."""
    y_hat = np.asarray(reg.linear_maximizer(theta), np.float64)
    if isinstance(reg, R.BinaryEntropy):
        return np.diag(y_hat * (1 - y_hat)) / reg.scale
    if isinstance(reg, R.ShannonSimplex):
        return (np.diag(y_hat) - np.outer(y_hat, y_hat)) / reg.scale
    s = (y_hat > 0).astype(np.float64)
    return (np.diag(s) - np.outer(s, s) / s.sum()) / reg.scale


@pytest.mark.parametrize("scale", [1.0, 0.3])
@pytest.mark.parametrize("reg_cls", CLASSIC, ids=_name)
def test_classic_losses_derivatives_of_every_order(reg_cls, scale, x64):
    """The closed forms' custom JVPs: ∇_θ L = ŷ − y, ∇_y L = ∇Ω(y) − θ (±inf on the
    faces of the entropic Ω, never NaN), d/dλ L = Ω₀(y) − Ω₀(ŷ), and Hessians in θ
    (forward-over-reverse and reverse-over-reverse) equal to ∇²Ω*(θ)."""
    reg, k = reg_cls(scale=scale), 5
    rng = np.random.default_rng(3)
    theta = jnp.asarray(2.0 * rng.standard_normal(k)).at[1].set(0.0)  # σ''s kink-free at 0
    loss = lambda th, y: L.gfy_loss(E.bilinear, reg, th, y)
    y_hat = reg.linear_maximizer(theta)
    for y in map(jnp.asarray, _classic_targets(reg_cls, rng, k)):
        np.testing.assert_allclose(jax.grad(loss)(theta, y), y_hat - y, atol=1e-12)
        grad_y = np.asarray(jax.grad(loss, argnums=1)(theta, y))
        assert not np.any(np.isnan(grad_y)), grad_y
        # ∇Ω(y) of the entropic Ω is −inf at y_i = 0 (+inf at y_i = 1 for the box).
        face = np.asarray(y == 0) | (np.asarray(y == 1) & (reg_cls is R.BinaryEntropy))
        if reg.is_entropic:
            assert np.all(np.isinf(grad_y[face])), grad_y
            assert np.all(grad_y[np.asarray(y) == 0] == -np.inf)
        else:
            face[:] = False
        np.testing.assert_allclose(grad_y[~face], np.asarray(reg.gradient(y) - theta)[~face],
                                   rtol=1e-10, atol=1e-12)
        want = _analytic_hessian(reg, theta)
        np.testing.assert_allclose(jax.hessian(loss)(theta, y), want, atol=1e-12)
        np.testing.assert_allclose(jax.jacrev(jax.jacrev(loss))(theta, y), want, atol=1e-12)
        by_scale = jax.grad(lambda lam: L.gfy_loss(E.bilinear, reg_cls(scale=lam), theta, y))(scale)
        omega0 = lambda v: reg_cls().value(v)
        np.testing.assert_allclose(by_scale, omega0(y) - omega0(y_hat), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reg_cls", CLASSIC, ids=_name)
def test_classic_losses_hard_and_soft_targets_in_one_batch(reg_cls):
    """The entropy of hard targets (0 exactly) is skipped when the whole batch is hard:
    a batch, vmapped or not, with one soft target among hard ones gives every example
    the value (and gradient) it gets alone."""
    reg, k, n = reg_cls(), 6, 5
    rng = np.random.default_rng(0)
    theta = jnp.asarray(3.0 * rng.standard_normal((n, k)), jnp.float32)
    pairs = [_classic_targets(reg_cls, rng, k) for _ in range(n)]
    hard = jnp.asarray(np.stack([h for _, h in pairs]), jnp.float32)
    mixed = hard.at[2].set(jnp.asarray(pairs[2][0], jnp.float32))
    one = jax.jit(jax.value_and_grad(lambda th, y: L.gfy_loss(E.bilinear, reg, th, y)))
    batched = jax.jit(jax.value_and_grad(lambda th, y: jnp.sum(L.gfy_loss(E.bilinear, reg, th, y))))
    mapped = jax.jit(jax.vmap(one))
    for y in (hard, mixed):
        alone = [one(theta[i], y[i]) for i in range(n)]
        want_value = np.array([float(v) for v, _ in alone])
        want_grad = np.stack([np.asarray(g) for _, g in alone])
        exact = (ref.conjugate(reg, theta) + ref.value(reg, y)
                 - np.sum(np.asarray(theta, np.float64) * np.asarray(y, np.float64), axis=-1))
        np.testing.assert_allclose(want_value, exact, rtol=1e-5, atol=1e-5)
        value, grad = batched(theta, y)
        np.testing.assert_allclose(value, want_value.sum(), rtol=1e-6)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-6, atol=1e-7)
        values, grads = mapped(theta, y)
        np.testing.assert_allclose(values, want_value, rtol=1e-6)
        np.testing.assert_allclose(grads, want_grad, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("reg_cls", CLASSIC, ids=_name)
def test_classic_losses_fused_guard_is_onto_domain(reg_cls):
    """gfy_loss's fused domain guard for the classic losses (fenchel._closed_forms)
    gives what _inputs.onto_domain + nan_outside + reg.fenchel_young_loss give: values,
    NaN outside by more than the tolerance, derivatives in θ and y (traced y)."""
    from fenchel import _closed_forms, _inputs

    reg, k, atol = reg_cls(scale=0.7), 4, R.domain_tolerance(jnp.float32)
    rng = np.random.default_rng(1)
    rows = []
    for low, high in [(-atol, 1 + atol), (-1.01 * atol, 1.0), (0.0, 1 + 1.01 * atol),
                      (-0.0, 1.0), (np.nan, 1.0), (0.25, 0.75)]:
        for base in _classic_targets(reg_cls, rng, k):
            row = np.array(base, np.float64)
            row[0], row[1] = low, high
            if reg_cls is not R.BinaryEntropy and np.isfinite(low):
                row[2:] *= (1 - low - high) / max(row[2:].sum(), 1e-300)  # keep Σ = 1
            rows.append(row)
    y = jnp.asarray(np.stack(rows), jnp.float32)
    theta = jnp.asarray(2.0 * rng.standard_normal(y.shape), jnp.float32)

    def reference(th, y):
        y_inside, inside = _inputs.onto_domain(reg, y, atol)
        return _inputs.nan_outside(inside, reg.fenchel_young_loss(th, y_inside))

    def fused(th, y):
        return reg.fenchel_young_loss_or_nan(th, y, atol)

    for batching in (lambda f: f, jax.vmap):
        got = jax.jit(batching(fused))(theta, y)
        want = jax.jit(batching(reference))(theta, y)
        assert 0 < np.sum(np.isnan(want)) < len(rows)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)
    grads = lambda f: jax.jit(jax.grad(lambda th, y: jnp.nansum(f(th, y)), argnums=(0, 1)))
    for got, want in zip(grads(fused)(theta, y), grads(reference)(theta, y)):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5)
