"""Multi-label losses: built from fenchel.losses, λ handled exactly, each one trains."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import fenchel as fy
from fenchel.multilabel.losses import Method, batch_loss, predict_relaxed
from fenchel.multilabel.models import EnergyNetwork, energy_spec
from fenchel.multilabel.train import Config, fit

METHODS = [
    Method("unary", "bce"),
    Method("pairwise", "gfy", "entropy"),
    Method("pairwise", "gfy", "squared"),
    Method("pairwise", "perceptron"),
    Method("pairwise", "hinge"),
    Method("pairwise", "unrolled", "entropy"),
    Method("pairwise", "implicit", "entropy"),
    Method("pairwise", "gfy", "entropy", concave=False),
    Method("global", "gfy", "entropy"),
]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_each_loss_decreases_on_a_real_slice(method, emotions_slice):
    train, validation = emotions_slice
    config = Config(learning_rate=1e-2, max_epochs=4, patience=4, batch_size=32,
                    reg_scale=2.0)
    trained = fit(method, config, train, validation, seed=0)
    losses = [loss for loss, _ in trained.history]
    assert len(losses) == 4
    assert losses[-1] < losses[0], losses
    y_hat = trained.predict_relaxed(validation.x)
    assert y_hat.shape == validation.y.shape
    assert np.all((y_hat >= -1e-6) & (y_hat <= 1 + 1e-6))


@pytest.mark.parametrize("reg_name, reg_class, scale", [
    ("entropy", fy.regularizers.BinaryEntropy, 0.5),
    ("squared", fy.regularizers.SquaredBox, 3.0)])
def test_temperature_matches_the_scaled_regularizer(reg_name, reg_class, scale):
    """batch_loss with λ equals fenchel.gfy_loss with Ω = λΩ₀, and predictions agree."""
    method = Method("pairwise", "gfy", reg_name, maxiter=500, tol=1e-7)
    net = EnergyNetwork(3, 4, "pairwise", rngs=nnx.Rngs(0))
    net.interaction_weights[...] = 0.7 * jax.random.normal(jax.random.key(3), (4, 4))
    x = jax.random.normal(jax.random.key(1), (6, 3))
    y = (jax.random.uniform(jax.random.key(2), (6, 4)) > 0.5).astype(jnp.float32)
    spec = energy_spec(net, x)
    reg = reg_class(scale=scale)
    solver = method.solver()
    expected = jnp.mean(jax.jit(jax.vmap(
        lambda t, y_: fy.gfy_loss(fy.energies.pairwise, reg, t, y_, solver=solver),
        in_axes=(spec.axes, 0)))(spec.theta, y))
    got = jax.jit(lambda t, y_: batch_loss(method, spec._replace(theta=t), y_,
                                           reg_scale=scale))(spec.theta, y)
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=1e-4)
    y_direct = jax.jit(jax.vmap(
        lambda t: fy.maximize(fy.energies.pairwise, reg, t, solver=solver)[0],
        in_axes=(spec.axes,)))(spec.theta)
    y_scaled = jax.jit(lambda t: predict_relaxed(method, spec._replace(theta=t), scale))(
        spec.theta)
    np.testing.assert_allclose(y_scaled, y_direct, atol=2e-3)


def test_bce_is_the_unary_gfy_entropy_loss(emotions_slice):
    train, _ = emotions_slice
    net = EnergyNetwork(train.x.shape[1], train.y.shape[1], "unary", rngs=nnx.Rngs(0))
    spec = energy_spec(net, jnp.asarray(train.x[:16]))
    y = jnp.asarray(train.y[:16])
    np.testing.assert_allclose(batch_loss(Method("unary", "bce"), spec, y),
                               batch_loss(Method("unary", "gfy", "entropy"), spec, y),
                               rtol=1e-5)


def test_bad_methods_are_rejected():
    with pytest.raises(ValueError, match="unary baseline"):
        Method("pairwise", "bce")
    with pytest.raises(ValueError, match="loss"):
        Method("pairwise", "logistic")
    with pytest.raises(ValueError, match="reg"):
        Method("pairwise", "gfy", "l1")
    with pytest.raises(ValueError, match="maxiter"):
        Method(maxiter=0)
    assert Method("unary", "perceptron").name == "unary-perceptron"
    assert dataclasses.replace(Method(), reg="squared").name == "pairwise-gfy-squared"
    for method in METHODS + [Method("pairwise", "hinge", concave=False)]:
        assert Method.from_name(method.name).name == method.name
    with pytest.raises(ValueError, match="energy-loss"):
        Method.from_name("pairwise")


def _tiny_spec(energy="pairwise"):
    net = EnergyNetwork(3, 4, energy, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (6, 3))
    y = (jax.random.uniform(jax.random.key(2), (6, 4)) > 0.5).astype(jnp.float32)
    return energy_spec(net, x), y


@pytest.mark.parametrize("name", ["pairwise-gfy-entropy", "pairwise-hinge",
                                  "pairwise-implicit-entropy"])
def test_solutions_are_the_losses_inner_solutions(name):
    """ŷ is the maximizer of the loss's own inner problem (for hinge the loss-augmented
    one, Φ + <1 − 2y, ·>), and a start at ŷ leaves the loss and its gradient unchanged."""
    from fenchel.multilabel.losses import batch_loss_and_solutions

    method = dataclasses.replace(Method.from_name(name), maxiter=500, tol=1e-6)
    spec, y = _tiny_spec()
    reg = method.regularizer()
    shift = (1.0 - 2.0 * y) if method.loss == "hinge" else jnp.zeros_like(y)
    unaries, interactions = spec.theta
    expected = jax.jit(jax.vmap(lambda u: fy.maximize(
        fy.energies.pairwise, reg, (u, interactions), solver=method.solver())[0]))(
            unaries + shift)

    def value(theta, init):
        return batch_loss_and_solutions(method, spec._replace(theta=theta), y, init=init)

    value_and_grad = jax.jit(jax.value_and_grad(value, has_aux=True))
    (cold, solved), grad_cold = value_and_grad(spec.theta, jnp.full(y.shape, 0.5))  # the centre
    np.testing.assert_allclose(solved.y_hat, expected, atol=1e-4)
    assert solved.iterations.shape == (6,) and np.all(solved.iterations >= 1)
    np.testing.assert_allclose(cold, batch_loss(method, spec, y), rtol=1e-6)  # the default
    (warm, again), grad_warm = value_and_grad(spec.theta, solved.y_hat)
    np.testing.assert_allclose(warm, cold, rtol=1e-5, atol=1e-6)
    for got, want in zip(jax.tree.leaves(grad_warm), jax.tree.leaves(grad_cold)):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
    assert np.all(again.iterations < solved.iterations)  # started at the solution


@pytest.mark.parametrize("name, iterations", [("unary-bce", 0), ("unary-gfy-squared", 0),
                                              ("unary-hinge", 0),
                                              ("pairwise-unrolled-entropy", 2)])
def test_methods_without_a_warm_startable_solve_return_no_solution(name, iterations):
    from fenchel.multilabel.losses import batch_loss_and_solutions

    method = Method.from_name(name, unroll_steps=2)
    spec, y = _tiny_spec(method.energy)
    init = jnp.full(y.shape, 0.9)  # ignored: nothing to start
    value, solved = batch_loss_and_solutions(method, spec, y, init=init)
    assert solved.y_hat is None and not method.warm_startable
    np.testing.assert_array_equal(solved.iterations, np.full(6, iterations))
    np.testing.assert_array_equal(value, batch_loss(method, spec, y))
