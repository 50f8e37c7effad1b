"""Tests of the particle task: dynamics, gymnasium environment, named configs, oracle."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel.imitation.envs import (
    ENV_NAMES,
    GYMNASIUM_ID,
    ParticleEnv,
    env_name,
    evaluate_policy,
    make_env_config,
    rollout_from_state,
)
from fenchel.imitation.oracles import ParticleOracle
from fenchel.imitation.particle import (
    ParticleConfig,
    ParticleState,
    particle_observation,
    particle_reset,
    particle_step,
    particle_success,
    split_observation,
)

dims = st.integers(min_value=1, max_value=16)


def _run_constant(state: ParticleState, action: np.ndarray, config: ParticleConfig, steps: int):
    for _ in range(steps):
        state, _ = particle_step(state, action, config)
    return state


@settings(max_examples=examples(25), deadline=None)
@given(dim=dims, seed=st.integers(0, 2**32 - 1))
def test_pd_control_converges_to_a_fixed_set_point(dim, seed):
    config = ParticleConfig(dim=dim)
    rng = np.random.default_rng(seed)
    state = particle_reset(rng, 4, config)
    set_point = rng.uniform(size=(4, dim))
    state = _run_constant(state, set_point, config, config.max_steps)
    np.testing.assert_allclose(state.position, set_point, atol=1e-4)
    np.testing.assert_allclose(state.velocity, 0.0, atol=1e-3)


@settings(max_examples=examples(25), deadline=None)
@given(dim=dims, seed=st.integers(0, 2**32 - 1), scale=st.floats(0.5, 100.0))
def test_positions_stay_in_the_box_even_for_actions_outside_it(dim, seed, scale):
    config = ParticleConfig(dim=dim)
    rng = np.random.default_rng(seed)
    state = particle_reset(rng, 8, config)
    for _ in range(20):
        state, _ = particle_step(state, scale * rng.normal(size=(8, dim)), config)
        assert np.all((state.position >= 0.0) & (state.position <= 1.0))
        assert np.all(np.isfinite(state.velocity))


def test_walls_are_inelastic():
    """A particle thrown at a wall stops there instead of pushing through it."""
    config = ParticleConfig(dim=2)
    state = particle_reset(np.random.default_rng(0), 1, config)
    state = state._replace(position=np.array([[0.95, 0.05]]), velocity=np.array([[5.0, -5.0]]))
    state, _ = particle_step(state, np.array([[1.0, 0.0]]), config)
    np.testing.assert_array_equal(state.position, [[1.0, 0.0]])
    assert state.velocity[0, 0] <= 0.0 <= state.velocity[0, 1]


@settings(max_examples=examples(20), deadline=None)
@given(dim=dims, multimodal=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_reset_keeps_start_and_goals_apart_inside_the_box(dim, multimodal, seed):
    config = ParticleConfig(dim=dim, multimodal=multimodal)
    state = particle_reset(np.random.default_rng(seed), 64, config)
    points = np.concatenate([state.position[:, None], state.goals], axis=1)
    assert np.all((points >= 0) & (points <= 1))
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        gap = np.linalg.norm(points[:, i] - points[:, j], axis=-1)
        assert np.all(gap >= config.min_goal_distance)
    assert not state.visited.any() and np.all(state.velocity == 0)


@pytest.mark.parametrize("dim", [1, 5, 16])
def test_shapes_follow_the_dimension(dim):
    config = ParticleConfig(dim=dim)
    state = particle_reset(np.random.default_rng(0), 3, config)
    observation = particle_observation(state)
    assert observation.shape == (3, 4 * dim + 2) == (3, config.observation_dim)
    assert observation.dtype == np.float32
    parts = split_observation(observation, dim)
    np.testing.assert_allclose(parts["goals"], state.goals, atol=1e-6)
    np.testing.assert_allclose(parts["position"], state.position, atol=1e-6)
    env = ParticleEnv(dim=dim)
    assert env.observation_space.shape == (4 * dim + 2,)
    assert env.action_space.shape == (dim,) == (config.action_dim,)


@pytest.mark.parametrize("dim", [0, 17, -1])
def test_dimension_out_of_range_is_a_clear_error(dim):
    with pytest.raises(ValueError, match="dim must be in 1..16"):
        ParticleConfig(dim=dim)
    with pytest.raises(ValueError, match="dim"):
        ParticleEnv(dim=dim)


@pytest.mark.parametrize("dim", [2.0, "2", True])
def test_dimension_of_wrong_type_is_a_clear_error(dim):
    with pytest.raises(TypeError, match="dim must be an int"):
        ParticleConfig(dim=dim)


def test_bad_actions_are_clear_errors():
    config = ParticleConfig(dim=3)
    state = particle_reset(np.random.default_rng(0), 2, config)
    with pytest.raises(ValueError, match=r"action must have shape \(2, 3\)"):
        particle_step(state, np.zeros((2, 2)), config)
    with pytest.raises(ValueError, match="finite"):
        particle_step(state, np.full((2, 3), np.nan), config)
    env = ParticleEnv(dim=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(3,\)"):
        env.step(np.zeros(2))
    with pytest.raises(ValueError, match="policy must return actions of shape"):
        evaluate_policy(lambda obs: np.zeros((obs.shape[0], 2)), config, 4)


@pytest.mark.parametrize("kwargs", [dict(dim=1), dict(dim=3, multimodal=True), dict(dim=16)])
def test_gymnasium_env_checker_passes(kwargs):
    with warnings.catch_warnings():
        # Velocities have no natural bound, so the observation space is unbounded there.
        warnings.filterwarnings("ignore", message=".*infinity.*")
        warnings.filterwarnings("ignore", message=".*render modes.*")
        check_env(ParticleEnv(**kwargs))


def test_registered_id_makes_the_environment():
    env = gymnasium.make(GYMNASIUM_ID, dim=4, multimodal=True)
    observation, _ = env.reset(seed=1)
    assert observation.shape == (18,)
    assert env.unwrapped.config == ParticleConfig(dim=4, multimodal=True)


def test_seeded_reset_is_deterministic():
    env_a, env_b = ParticleEnv(dim=5), ParticleEnv(dim=5)
    first, _ = env_a.reset(seed=123)
    np.testing.assert_array_equal(first, env_b.reset(seed=123)[0])
    assert not np.array_equal(first, env_b.reset(seed=124)[0])
    # Same seed also matches the batched reset with a numpy generator of that seed.
    batched = particle_reset(np.random.default_rng(123), 1, ParticleConfig(dim=5))
    np.testing.assert_array_equal(first, particle_observation(batched)[0])


@pytest.mark.parametrize("multimodal", [False, True])
def test_single_env_matches_the_batched_dynamics(multimodal):
    """Episodes run one by one in the gymnasium env equal rows of one batched run."""
    dim, n = 3, 4
    config = ParticleConfig(dim=dim, multimodal=multimodal)
    envs = [ParticleEnv(dim=dim, multimodal=multimodal) for _ in range(n)]
    observations = np.stack([env.reset(seed=seed)[0] for seed, env in enumerate(envs)])
    state = ParticleState(*(np.concatenate(fields) for fields in zip(*(e.state for e in envs))))
    np.testing.assert_array_equal(particle_observation(state), observations)
    rng = np.random.default_rng(0)
    oracle = ParticleOracle(config, seed=0)
    for _ in range(config.max_steps):
        # Mix oracle moves with noise so that goals get visited but not trivially.
        action = oracle(particle_observation(state)) + 0.05 * rng.normal(size=(n, dim))
        state, reward = particle_step(state, action, config)
        for i, env in enumerate(envs):
            observation, env_reward, terminated, _, info = env.step(action[i])
            np.testing.assert_array_equal(observation, particle_observation(state)[i])
            assert env_reward == reward[i]
            assert terminated == info["success"] == particle_success(state)[i]


def test_episode_truncates_after_max_steps_and_terminates_on_success():
    env = ParticleEnv(dim=2, max_steps=7)
    observation, _ = env.reset(seed=0)
    start = observation[:2].copy()
    for step in range(1, 8):
        _, reward, terminated, truncated, info = env.step(start)  # stay put: never succeeds
        assert not terminated and reward == 0 and not info["success"]
        assert truncated == (step == 7)
    env = ParticleEnv(dim=2)
    oracle = ParticleOracle(env.config)
    observation, _ = env.reset(seed=0)
    total, terminated, truncated = 0.0, False, False
    while not (terminated or truncated):
        observation, reward, terminated, truncated, info = env.step(oracle(observation))
        total += reward
    assert terminated and info["success"] and total == 1.0


def test_ordered_task_ignores_goal_two_before_goal_one():
    for multimodal in (False, True):
        config = ParticleConfig(dim=2, multimodal=multimodal)
        state = particle_reset(np.random.default_rng(0), 16, config)
        state = _run_constant(state, state.goals[:, 1], config, 20)
        assert state.visited[:, 1].all() == multimodal
        state = _run_constant(state, state.goals[:, 0], config, 20)
        assert state.visited[:, 0].all()
        assert particle_success(state).all() == multimodal


def test_return_is_one_exactly_on_success():
    config = ParticleConfig(dim=3)
    rng = np.random.default_rng(0)
    oracle = ParticleOracle(config)
    noisy = lambda obs: oracle(obs) + 0.3 * rng.normal(size=(obs.shape[0], 3))
    result = rollout_from_state(noisy, config, particle_reset(rng, 200, config))
    assert 0 < result.success.mean() < 1  # both outcomes occur, so the check has teeth
    np.testing.assert_array_equal(result.episode_return == 1.0, result.success)
    np.testing.assert_array_equal(result.rewards.sum(axis=0), result.episode_return)


def test_env_names_round_trip_and_unknown_names_list_valid_ones():
    for name in ENV_NAMES:
        assert env_name(make_env_config(name)) == name
    assert make_env_config("particle-16d-multimodal") == ParticleConfig(dim=16, multimodal=True)
    for bad in ["particle-0d", "particle-17d", "particle-2", "Particle-2d", "particle-02d",
                "particle-2d-multi"]:
        with pytest.raises(ValueError, match="valid names: particle-1d, particle-2d"):
            make_env_config(bad)


@pytest.mark.parametrize("name", ["particle-2d", "particle-8d", "particle-2d-multimodal",
                                  "particle-8d-multimodal"])
def test_oracle_solves_the_task(name):
    config = make_env_config(name)
    result = evaluate_policy(ParticleOracle(config, seed=0), config, n_episodes=200, seed=1)
    assert result["success_rate"] >= 0.98
    assert result["mean_episode_length"] < config.max_steps
    if config.multimodal:  # the expert is multimodal: both orders occur
        assert 0.3 < result["goal1_first_rate"] < 0.7
    else:
        assert result["goal1_first_rate"] == 1.0


def test_a_policy_that_ignores_goals_fails():
    config = make_env_config("particle-2d")
    result = evaluate_policy(lambda obs: np.full((obs.shape[0], 2), 0.5), config, 200, seed=0)
    assert result["success_rate"] < 0.2


def test_evaluation_does_not_depend_on_batch_size():
    config = make_env_config("particle-4d")
    oracle = ParticleOracle(config)
    full = evaluate_policy(oracle, config, 50, seed=3)
    chunked = evaluate_policy(oracle, config, 50, seed=3, batch_size=7)
    np.testing.assert_array_equal(full["success"], chunked["success"])
    assert full["mean_episode_length"] == chunked["mean_episode_length"]


def test_oracle_accepts_a_single_observation():
    env = ParticleEnv(dim=3)
    observation, _ = env.reset(seed=0)
    action = ParticleOracle(env.config)(observation)
    assert action.shape == (3,) and action in env.action_space
    np.testing.assert_allclose(action, observation[6:9])  # goal 1
