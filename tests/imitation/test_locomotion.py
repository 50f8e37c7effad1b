"""Tests of the locomotion tasks: configs, expert weight files, batched evaluation, demos."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel.imitation.demos import collect_demonstrations
from fenchel.imitation.envs import (
    ENV_NAMES,
    action_bounds,
    config_from_dict,
    env_name,
    evaluate_policy,
    make_env_config,
)
from fenchel.imitation.experts import (
    EXPERT_DIR,
    MLPExpert,
    episode_returns,
    expert_path,
    load_expert,
    save_expert,
)
from fenchel.imitation.locomotion import (
    LOCOMOTION_ENV_NAMES,
    LocomotionConfig,
    evaluate_locomotion,
    locomotion_rollout,
    make_locomotion_env,
    task_expert,
)
from fenchel.imitation.train import make_task, run_experiment, TrainConfig
from fenchel.imitation.policies import PolicyConfig

SHORT = LocomotionConfig("hopper", max_steps=40)


def _random_expert(obs_dim: int, act_dim: int, seed: int = 0) -> MLPExpert:
    rng = np.random.default_rng(seed)
    sizes = (obs_dim, 8, 8, act_dim)
    kernels = [rng.normal(size=(a, b)).astype(np.float32) / np.sqrt(a)
               for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=b).astype(np.float32) for b in sizes[1:]]
    return MLPExpert(kernels, biases, {"seed": seed})


def _still(observation: np.ndarray) -> np.ndarray:
    return np.zeros((observation.shape[0], SHORT.action_dim))


@pytest.mark.parametrize("name", LOCOMOTION_ENV_NAMES)
def test_config_matches_the_gymnasium_environment(name):
    config = make_env_config(name)
    assert isinstance(config, LocomotionConfig) and name in ENV_NAMES
    assert env_name(config) == name and config_from_dict(config.to_dict()) == config
    env = make_locomotion_env(config)
    assert env.observation_space.shape == (config.observation_dim,)
    assert env.action_space.shape == (config.action_dim,)
    assert (env.action_space.low.min(), env.action_space.high.max()) == action_bounds(config)
    assert env.spec.max_episode_steps == config.max_steps
    env.close()


def test_config_rejects_bad_fields():
    with pytest.raises(ValueError, match="unknown locomotion task 'ant'"):
        LocomotionConfig("ant")
    with pytest.raises(ValueError, match="max_steps"):
        LocomotionConfig("hopper", max_steps=0)


@settings(max_examples=examples(20), deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_expert_is_a_tanh_relu_mlp_in_the_box(n, seed):
    expert = _random_expert(5, 3, seed)
    x = np.random.default_rng(seed).normal(size=(n, 5)).astype(np.float32) * 10
    hidden = np.maximum(np.maximum(x @ expert.kernels[0] + expert.biases[0], 0)
                        @ expert.kernels[1] + expert.biases[1], 0)
    expected = np.tanh(hidden @ expert.kernels[2] + expert.biases[2])
    np.testing.assert_allclose(expert(x), expected, rtol=1e-5, atol=1e-6)
    assert np.abs(expert(x)).max() <= 1.0
    np.testing.assert_allclose(expert(x[0]), expected[0], rtol=1e-5, atol=1e-6)


def test_expert_round_trip_and_errors(tmp_path):
    expert = _random_expert(11, 3)
    path = tmp_path / "hopper-v5.npz"
    save_expert(path, expert)
    loaded = load_expert(path)
    assert loaded.metadata == expert.metadata
    x = np.ones((2, 11), np.float32)
    np.testing.assert_array_equal(loaded(x), expert(x))
    assert task_expert("hopper", path).observation_dim == 11
    with pytest.raises(ValueError, match="needs 17 -> 6"):
        task_expert("walker2d", path)
    with pytest.raises(FileNotFoundError, match="fenchel imitation train-expert --env hopper --out "):
        task_expert("hopper", tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="shape"):
        expert(np.ones((2, 4)))
    with pytest.raises(ValueError, match="do not match"):
        MLPExpert([np.ones((3, 2))], [np.ones(3)], {})
    np.savez(tmp_path / "other.npz", kernel_0=np.ones((2, 2)))
    with pytest.raises(ValueError, match="not an expert file"):
        load_expert(tmp_path / "other.npz")


def test_episode_returns_match_one_episode_at_a_time():
    expert = _random_expert(11, 3, seed=5)
    env = make_locomotion_env("hopper")
    expected = []
    for episode in range(3):
        observation, _ = env.reset(seed=20 + episode)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(expert(observation))
            total, done = total + reward, terminated or truncated
        expected.append(total)
    env.close()
    np.testing.assert_allclose(episode_returns(expert, "Hopper-v5", 3, seed=20), expected,
                               rtol=1e-4)


@pytest.mark.parametrize("name", LOCOMOTION_ENV_NAMES)
def test_shipped_expert_beats_standing_still(name):
    """The shipped SAC experts exist, say how they were made, and move: on 2 episodes their
    return is more than twice (plus 100) that of a policy that outputs zero torques."""
    config = LocomotionConfig(name)
    expert = task_expert(config)
    assert expert_path(config.env_id).startswith(EXPERT_DIR)
    meta = expert.metadata
    assert meta["env_id"] == config.env_id and isinstance(meta["seed"], int)
    assert meta["eval_return_mean"] > 0 and meta["sac_config"]["timesteps"] > 0
    still = lambda obs: np.zeros((obs.shape[0], config.action_dim))
    expert_return = evaluate_locomotion(expert, config, 2, seed=1)["mean_return"]
    still_return = evaluate_locomotion(still, config, 2, seed=1)["mean_return"]
    assert expert_return > 2 * still_return + 100, (expert_return, still_return)


def test_evaluation_is_seeded_and_independent_of_batching():
    expert = _random_expert(11, 3, seed=3)
    one = evaluate_locomotion(expert, SHORT, 4, seed=7, batch_size=4)
    two = evaluate_locomotion(expert, SHORT, 4, seed=7, batch_size=3)
    # Same episodes (float32 matrix products differ in the last bits across batch sizes).
    np.testing.assert_allclose(one["returns"], two["returns"], rtol=1e-4)
    other = evaluate_policy(expert, SHORT, 4, seed=8)
    assert not np.array_equal(one["returns"], other["returns"])
    assert 0.0 <= one["success_rate"] <= 1.0
    assert one["mean_episode_length"] <= SHORT.max_steps
    with pytest.raises(ValueError, match="n_episodes"):
        evaluate_locomotion(expert, SHORT, 0)


def test_rollout_success_means_not_fallen():
    rollout = locomotion_rollout(_still, SHORT, [0, 1], record=True)
    # Standing still, the hopper does not fall within 40 steps: both episodes run to the limit.
    assert rollout.episode_length.tolist() == [40, 40] and rollout.success.all()
    assert rollout.observations.shape == (40, 2, 11) and rollout.active.all()
    # Maximal torques on every joint make it fall (terminated) before the limit.
    push = lambda obs: np.ones((obs.shape[0], 3))
    fallen = locomotion_rollout(push, LocomotionConfig("hopper", max_steps=300), [0], record=False)
    assert fallen.episode_length[0] < 300 and not fallen.success[0]
    with pytest.raises(ValueError, match="shape"):
        locomotion_rollout(lambda obs: np.zeros((obs.shape[0], 2)), SHORT, [0])


def test_demonstrations_of_the_expert_are_reproducible():
    one = collect_demonstrations("hopper", 2, seed=4)
    two = collect_demonstrations("hopper", 2, seed=4)
    np.testing.assert_array_equal(one.observations, two.observations)
    np.testing.assert_array_equal(one.actions, two.actions)
    assert one.observations.shape == (one.num_transitions, 11)
    assert np.abs(one.actions).max() <= 1.0
    assert one.episode_lengths.sum() == one.num_transitions
    assert one.metadata["expert"]["env_id"] == "Hopper-v5"
    assert one.metadata["oracle"] == "MLPExpert"


@pytest.mark.parametrize("kind", ["mse", "gfy"])
def test_policy_trains_and_acts_on_hopper(kind):
    tiny = PolicyConfig(hidden=(16,), train_samples=8, train_rounds=1, train_refine=2,
                        act_samples=16, act_rounds=1, act_refine=2)
    task = make_task("hopper")
    assert task.metric == "mean_return"
    result = run_experiment("hopper", kind, 1, seed=0, config=tiny,
                            train_config=TrainConfig(steps=3, batch_size=32), eval_episodes=2)
    assert result["metric"] == "mean_return" and np.isfinite(result["mean_return"])
    assert result["transitions"] > 0 and 0.0 <= result["success_rate"] <= 1.0
