"""Tests of implicit BC's Langevin sampler (:class:`fenchel.imitation.langevin.IBCLangevin`)
and of the energy policies' ``acting="langevin"`` option."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fenchel import regularizers as fr
from fenchel.imitation.langevin import IBCLangevin, polynomial_step_sizes
from fenchel.imitation.policies import PolicyConfig, PolicySpec, make_learner

SOLVER = IBCLangevin(num_samples=32)
BOX = fr.BoxIndicator(lower=-1.0, upper=1.0)


def _quadratic(theta, y):
    return -50.0 * jnp.sum((y - theta) ** 2)


def _two_peaks(theta, y):
    # log of a mixture: the higher bump at theta[0] (weight 1), the lower at theta[1] (0.5).
    high, low = theta
    bump = lambda c: jnp.exp(-jnp.sum((y - c) ** 2) / 0.02)
    return jnp.log(bump(high) + 0.5 * bump(low) + 1e-12)


def test_step_sizes_follow_ibcs_polynomial_schedule():
    steps = np.asarray(polynomial_step_sizes(0.1, 1e-5, 2.0, 100))
    # ibc/agents/mcmc.py PolynomialSchedule.get_rate(index), written out.
    expected = [(0.1 - 1e-5) * (1 - i / 99) ** 2 + 1e-5 for i in range(100)]
    np.testing.assert_allclose(steps, expected, rtol=1e-5)
    assert np.all(np.diff(steps) < 0)
    assert IBCLangevin() == IBCLangevin(num_samples=512, maxiter=100, step_size=0.1,
                                        final_step_size=1e-5, power=2.0, noise_scale=1.0,
                                        max_move=0.1)


@pytest.mark.parametrize("reg, theta, expected", [
    (BOX, [0.3, -0.7], [0.3, -0.7]),
    (BOX, [1.3, -0.2], [1.0, -0.2]),           # maximizer on the face
    (fr.SquaredBox(scale=1.0, lower=-1.0, upper=1.0), [0.5, 0.2],
     [0.5 * 100 / 101, 0.2 * 100 / 101]),
])
def test_ends_near_the_maximizer_of_a_concave_quadratic(reg, theta, expected):
    # F = −50‖y − θ‖² − Ω(y); with Ω = ½‖y‖² its maximizer is 100θ/101, clipped to the box.
    y, info = SOLVER(_quadratic, reg, jnp.asarray(theta), jnp.zeros(2),
                     jax.random.key(0))
    np.testing.assert_allclose(np.asarray(y), expected, atol=0.01)
    assert np.isfinite(float(info.objective)) and int(info.iterations) == 100


def test_finds_the_higher_of_two_peaks_from_uniform_starts():
    theta = (jnp.array([0.55, -0.5]), jnp.array([-0.5, 0.6]))
    init = jnp.array([-0.5, 0.6])  # chain 0 starts on the lower peak, the others uniformly
    solve = jax.jit(jax.vmap(
        lambda k: IBCLangevin(num_samples=16)(_two_peaks, BOX, theta, init, k)[0]))
    ys = np.asarray(solve(jax.random.split(jax.random.key(1), 64)))
    on_high = np.linalg.norm(ys - np.array([0.55, -0.5]), axis=1) < 0.05
    assert on_high.mean() >= 0.9


def test_shapes_jit_vmap_and_key_determinism():
    thetas = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, size=(5, 3)))
    solver = IBCLangevin(num_samples=8, maxiter=20)
    run = jax.jit(jax.vmap(lambda th, k: solver(_quadratic, BOX, th,
                                               jnp.zeros(3), k)))
    keys = jax.random.split(jax.random.key(2), 5)
    ys, info = run(thetas, keys)
    assert ys.shape == (5, 3) and info.objective.shape == (5,) and info.residual.shape == (5,)
    assert np.all(np.abs(np.asarray(ys)) <= 1.0)
    again, _ = run(thetas, keys)
    np.testing.assert_array_equal(np.asarray(ys), np.asarray(again))
    other, _ = run(thetas, jax.random.split(jax.random.key(3), 5))
    assert not np.array_equal(np.asarray(ys), np.asarray(other))
    # The returned point is the best final chain: its objective is the reported one.
    np.testing.assert_allclose(np.asarray(info.objective),
                               [float(_quadratic(t, y)) for t, y in zip(thetas, ys)], rtol=1e-5)


def test_each_move_is_clipped_to_a_tenth_of_the_half_width():
    # A huge gradient: one step moves every coordinate by exactly δ·(u − l)/2 = 0.1.
    steep = lambda theta, y: 1e6 * jnp.sum(y)
    solver = IBCLangevin(num_samples=1, maxiter=1, noise_scale=0.0)
    y, _ = solver(steep, BOX, None, jnp.array([-1.0, 0.2]))
    np.testing.assert_allclose(np.asarray(y), [-0.9, 0.3], atol=1e-6)


@pytest.mark.parametrize("field, value", [("num_samples", 0), ("maxiter", 0),
                                          ("step_size", -0.1), ("final_step_size", 0.0),
                                          ("noise_scale", float("nan")), ("max_move", 0.0)])
def test_invalid_settings_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        IBCLangevin(**{field: value})


def test_needs_a_bounded_domain():
    with pytest.raises(TypeError, match="bounded domain"):
        SOLVER.check(_quadratic, fr.Squared())


SPEC = PolicySpec(6, 2, 0.0, 1.0)
TINY = PolicyConfig(hidden=(16,), train_samples=8, train_rounds=1, train_refine=3,
                    act_samples=16, act_rounds=1, act_refine=3, negatives=8, pairwise_sweeps=5)
LANGEVIN = dataclasses.replace(TINY, acting="langevin", langevin_chains=8, langevin_steps=10)


@pytest.mark.parametrize("kind", ["ibc", "gfy", "gfy-softmax", "gfy-pairwise"])
def test_every_energy_policy_can_act_by_langevin(kind):
    learner = make_learner(kind, SPEC, LANGEVIN)
    params = learner.init(0)
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(4, 6)), jnp.float32)
    z = np.asarray(learner.act(params, obs, jax.random.key(0)))
    assert z.shape == (4, 2) and np.all(np.abs(z) <= 1.0)
    np.testing.assert_array_equal(z, np.asarray(learner.act(params, obs, jax.random.key(0))))
    sampling = np.asarray(make_learner(kind, SPEC, TINY).act(params, obs, jax.random.key(0)))
    assert not np.allclose(z, sampling)  # another solver acted


def test_acting_setting_is_checked_and_recorded():
    with pytest.raises(ValueError, match="acting"):
        PolicyConfig(acting="dfo")
    with pytest.raises(ValueError, match="langevin_chains"):
        PolicyConfig(langevin_chains=0)
    assert "acting" not in PolicyConfig().to_dict()  # the committed results' settings
    assert PolicyConfig(**LANGEVIN.to_dict()) == LANGEVIN
    assert LANGEVIN.to_dict()["acting"] == "langevin"
