"""Tests of the imitation policies: shapes, action box, concavity, learning, bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel.imitation.policies import (
    MINMIN_LOCAL_RADIUS,
    Normalizer,
    PairwiseHead,
    Policy,
    PolicyConfig,
    PolicySpec,
    _defensive_box_samples,
    make_learner,
)
from fenchel.imitation.train import TrainConfig, train_policy

TINY = PolicyConfig(hidden=(16,), train_samples=8, train_rounds=1, train_refine=3,
                    act_samples=16, act_rounds=1, act_refine=3, negatives=8, pairwise_sweeps=5)


@given(st.floats(-5, 5), st.floats(0.1, 5), st.lists(st.floats(0, 1), min_size=1, max_size=4))
@settings(max_examples=examples(30), deadline=None)
def test_unit_box_round_trip(low, width, fractions):
    spec = PolicySpec(3, len(fractions), low, low + width)
    action = low + width * np.array(fractions)
    z = spec.to_unit(action)
    assert np.all(z >= -1 - 1e-9) and np.all(z <= 1 + 1e-9)
    np.testing.assert_allclose(spec.from_unit(z), action, atol=1e-9)


@pytest.mark.parametrize("bad", [dict(observation_dim=0), dict(action_low=1.0, action_high=1.0),
                                 dict(action_high=float("nan"))])
def test_spec_rejects_bad_values(bad):
    fields = dict(observation_dim=3, action_dim=2, action_low=0.0, action_high=1.0) | bad
    with pytest.raises(ValueError):
        PolicySpec(**fields)


@pytest.mark.parametrize("bad", [dict(hidden=()), dict(reg_scale=0.0), dict(act_samples=0),
                                 dict(train_refine=-1)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        PolicyConfig(**bad)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="policy kind"):
        make_learner("dqn", PolicySpec(3, 1, 0.0, 1.0), TINY)


def test_learner_is_cached():
    spec = PolicySpec(3, 1, 0.0, 1.0)
    assert make_learner("mse", spec, TINY) is make_learner("mse", spec, TINY)


def test_pairwise_head_is_concave_in_the_action():
    u, interactions = PairwiseHead(5, 3, (8,), __import__("flax").nnx.Rngs(1))(jnp.ones(5))
    assert u.shape == (3,)
    assert np.all(np.linalg.eigvalsh(np.asarray(interactions)) <= 1e-6)


def test_normalizer_standardizes_and_floors_constant_features():
    obs = np.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    norm = Normalizer.fit(obs)
    out = norm(obs)
    np.testing.assert_allclose(out[:, 0].mean(), 0.0, atol=1e-6)
    np.testing.assert_allclose(out[:, 0].std(), 1.0, atol=1e-5)
    assert np.all(np.isfinite(out)) and np.allclose(out[:, 1], 0.0)


@pytest.mark.parametrize("kind, box", [("gfy", (0.0, 1.0)), ("ibc", (-2.0, 3.0)),
                                       ("gfy-pairwise", (-2.0, 3.0)), ("mse", (0.0, 1.0)),
                                       ("gfy-softmax", (-2.0, 3.0)), ("minmin", (0.0, 1.0))])
def test_each_policy_trains_and_acts_within_the_box(kind, box):
    rng = np.random.default_rng(0)
    spec = PolicySpec(10, 2, *box)
    observations = rng.normal(size=(32, 10)).astype(np.float32)
    actions = rng.uniform(*box, size=(32, 2)).astype(np.float32)
    policy, history = train_policy(kind, observations, actions, spec, TINY,
                                   TrainConfig(steps=3, batch_size=16), seed=0)
    assert len(history["loss"]) == 3 and all(np.isfinite(history["loss"]))
    # Far-out observations must still give actions inside the box.
    probe = np.concatenate([observations[:5], 100.0 * rng.normal(size=(5, 10))]).astype(np.float32)
    action = policy(probe)
    assert action.shape == (10, 2) and action.dtype == np.float32
    assert np.all(action >= box[0]) and np.all(action <= box[1])
    assert policy(probe[0]).shape == (2,)
    # Acting reuses one key: the policy is a function of the observation.
    np.testing.assert_array_equal(policy(probe), action)


@pytest.mark.parametrize("kind", ["mse", "gfy-pairwise"])
def test_unimodal_policies_learn_a_linear_expert(kind):
    # Expert a = clip(0.5 + 0.3 s_0): both the explicit and the concave-energy policy fit it.
    rng = np.random.default_rng(1)
    spec = PolicySpec(2, 1, 0.0, 1.0)
    observations = rng.uniform(-1, 1, size=(256, 2)).astype(np.float32)
    actions = (0.5 + 0.3 * observations[:, :1]).astype(np.float32)
    policy, history = train_policy(kind, observations, actions, spec, TINY,
                                   TrainConfig(steps=200, batch_size=64, learning_rate=1e-2), seed=0)
    assert history["loss"][-1] < history["loss"][0]
    error = np.abs(policy(observations) - actions)
    assert np.median(error) < 0.05


def test_policy_rejects_wrong_observation_shape():
    spec = PolicySpec(4, 2, 0.0, 1.0)
    learner = make_learner("mse", spec, TINY)
    policy = Policy(learner, learner.init(0), Normalizer(np.zeros(4, np.float32),
                                                         np.ones(4, np.float32)))
    with pytest.raises(ValueError, match="observations"):
        policy(np.zeros((3, 5)))


def test_train_policy_rejects_mismatched_data():
    spec = PolicySpec(4, 2, 0.0, 1.0)
    with pytest.raises(ValueError, match="actions"):
        train_policy("mse", np.zeros((8, 4)), np.zeros((7, 2)), spec, TINY, TrainConfig(steps=1))
    with pytest.raises(ValueError, match="kind"):
        train_policy("bc", np.zeros((8, 4)), np.zeros((8, 2)), spec, TINY, TrainConfig(steps=1))


@settings(max_examples=examples(25), deadline=None)
@given(st.integers(1, 3), st.integers(0, 2**31 - 1), st.floats(-1.0, 1.0), st.floats(-3.0, 3.0))
def test_minmin_samples_estimate_the_partition_without_bias(k, seed, center, slope):
    # mean(e^E / q) estimates Z = ∫_{[-1,1]^k} e^E for the mixture q of minmin's samples,
    # y anywhere in the box (at a face the local part is cut by the box).
    y = jnp.full((k,), center, jnp.float32)
    keys = jax.random.split(jax.random.key(seed), 400)
    samples, log_q = jax.vmap(lambda kk: _defensive_box_samples(kk, 64, y))(keys)
    assert samples.shape == (400, 64, k) and log_q.shape == (400, 64)
    assert bool(jnp.all(jnp.abs(samples) <= 1.0))
    near = jnp.all(jnp.abs(samples[:, -16:] - y) <= MINMIN_LOCAL_RADIUS + 1e-6, axis=-1)
    assert bool(jnp.all(near))  # the last quarter lies in the neighbourhood of y
    energy = slope * samples.sum(-1) + 2.0 * jnp.exp(-50.0 * jnp.sum((samples - y) ** 2, -1))
    estimates = jnp.mean(jnp.exp(energy - log_q), axis=1)
    # Exact Z: the separable part in closed form plus the peak's share by quadrature.
    linear = (2.0 * np.sinh(slope) / slope if slope else 2.0) ** k
    exact = linear + _peak_correction(k, slope, float(center))
    mean, stderr = float(estimates.mean()), float(estimates.std() / np.sqrt(len(estimates)))
    assert abs(mean - exact) < 5 * stderr + 1e-3 * exact


def _peak_correction(k, slope, center):
    """∫ e^{slope Σ z} (e^{2 e^{−50‖z − y‖²}} − 1) dz over [-1, 1]^k, by quadrature."""
    coarse = np.linspace(-1.0, 1.0, {1: 20001, 2: 801, 3: 161}[k])
    mesh = np.stack(np.meshgrid(*([coarse] * k), indexing="ij"), -1)
    values = np.exp(slope * mesh.sum(-1)) * (
        np.exp(2.0 * np.exp(-50.0 * ((mesh - center) ** 2).sum(-1))) - 1.0)
    for _ in range(k):
        values = np.trapezoid(values, coarse, axis=0)
    return float(values)
