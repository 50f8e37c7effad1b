"""Tests of IBC's particle task (``particle-ibc-<N>d``): dynamics, oracle, success rule,
observation, determinism, registration and a tiny end-to-end training run."""

from __future__ import annotations

import json

import gymnasium
import numpy as np
import pytest

from fenchel.cli import main
from fenchel.imitation import particle_ibc as pi
from fenchel.imitation.demos import collect_demonstrations
from fenchel.imitation.envs import (
    ENV_NAMES,
    action_bounds,
    config_from_dict,
    env_name,
    evaluate_policy,
    make_env_config,
)
from fenchel.imitation.policies import PolicyConfig
from fenchel.imitation.train import TrainConfig, evaluate_oracle, make_task, run_experiment

CONFIG = pi.IBCParticleConfig(dim=2)
TINY = PolicyConfig(hidden=(16,), train_samples=8, train_rounds=1, train_refine=3,
                    act_samples=16, act_rounds=1, act_refine=3, negatives=8, pairwise_sweeps=5)


def _reset(n: int = 64, seed: int = 0, config=CONFIG):
    return pi.particle_ibc_reset(np.random.default_rng(seed), n, config)


def _run(policy, n: int = 200, seed: int = 3, config=CONFIG):
    state = _reset(n, seed, config)
    return pi.particle_ibc_rollout(policy, config, state, record=True), state


class _Script:
    """Set-points read from the latest frame: a list of goal indices visited in turn, moving
    on once within ``radius`` of the current one (the last is held)."""

    def __init__(self, order, radius=0.01, config=CONFIG):
        self.order, self.radius, self.config = order, radius, config

    def reset(self, n):
        self.stage = np.zeros(n, dtype=int)

    def __call__(self, observation):
        dim = self.config.dim
        frame = observation[:, -self.config.frame_dim:]
        position, goals = frame[:, :dim], frame[:, 2 * dim:].reshape(-1, 2, dim)
        rows = np.arange(len(frame))
        target = goals[rows, np.asarray(self.order)[self.stage]]
        near = np.linalg.norm(position - target, axis=1) < self.radius
        self.stage = np.minimum(self.stage + near, len(self.order) - 1)
        return goals[rows, np.asarray(self.order)[self.stage]].astype(np.float32)


def test_defaults_are_ibcs_constants():
    # environments/particle/particle.py ParticleEnv.__init__ and particle_oracles.py.
    assert (CONFIG.max_steps, CONFIG.dt, CONFIG.substeps, CONFIG.k_p, CONFIG.k_v,
            CONFIG.goal_distance, CONFIG.history) == (50, 0.005, 10, 10.0, 5.0, 0.05, 2)
    oracle = pi.IBCParticleOracle(CONFIG)
    assert (oracle.goal_threshold, oracle.wait_at_first_goal) == (0.01, 1)
    assert pi.IBC_PROTOCOL["demos"] == 2000 and pi.IBC_PROTOCOL["hidden"] == (256, 256)


def test_one_control_step_is_ten_explicit_euler_substeps():
    state = _reset(5)
    action = np.random.default_rng(1).uniform(size=(5, 2))
    x, v = state.position.copy(), state.velocity + 0.3  # a nonzero velocity tells the orders apart
    state = state._replace(velocity=v.copy())
    for _ in range(10):  # x uses the velocity before the update (explicit Euler)
        u = 10.0 * (action - x) - 5.0 * v
        x, v = x + 0.005 * v, v + 0.005 * u
    after, _ = pi.particle_ibc_step(state, action, CONFIG)
    np.testing.assert_allclose(after.position, x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(after.velocity, v, rtol=0, atol=1e-12)


def test_no_walls_the_pd_controller_overshoots_the_box():
    # ζ = k_v / (2 √k_p) ≈ 0.79: a set-point on the face is overshot by ~2 % of the distance.
    state = _reset(1)._replace(position=np.zeros((1, 2)), velocity=np.zeros((1, 2)))
    highest = 0.0
    for _ in range(50):
        state, _ = pi.particle_ibc_step(state, np.ones((1, 2)), CONFIG)
        highest = max(highest, state.position.max())
    assert 1.005 < highest < 1.05


def test_observation_is_two_frames_without_visited_flags():
    state = _reset(4)
    first = pi.particle_ibc_observation(state)
    assert first.shape == (4, 16) and CONFIG.observation_dim == 16
    np.testing.assert_array_equal(first[:, :8], first[:, 8:])  # tiled first frame
    frame = np.concatenate([state.position, state.velocity, state.goals.reshape(4, -1)], 1)
    np.testing.assert_allclose(first[:, 8:], frame, rtol=1e-6)
    after, _ = pi.particle_ibc_step(state, state.goals[:, 0], CONFIG)
    second = pi.particle_ibc_observation(after)
    np.testing.assert_array_equal(second[:, :8], first[:, 8:])  # previous frame, then new
    np.testing.assert_allclose(second[:, 8:10], after.position, rtol=1e-6)
    np.testing.assert_allclose(second[:, 12:], state.goals.reshape(4, -1), rtol=1e-6)
    assert make_env_config("particle-ibc-4d").observation_dim == 2 * 4 * 4


@pytest.mark.parametrize("dim", [2, 4])
def test_oracle_succeeds_on_almost_every_episode(dim):
    config = pi.IBCParticleConfig(dim=dim)
    result = pi.evaluate_particle_ibc(pi.IBCParticleOracle(config), config, 300, seed=1)
    assert result["success_rate"] >= 0.98
    assert result["mean_return"] >= result["success_rate"]


def test_oracle_switches_only_within_its_threshold_of_goal_1():
    rollout, state = _run(pi.IBCParticleOracle(CONFIG), n=50)
    goals = state.goals
    for i in range(50):
        target_is_second = np.all(rollout.actions[:, i] == goals[i, 1].astype(np.float32), 1)
        switch = int(np.argmax(target_is_second))
        position = rollout.observations[:, i, 8:10]
        distance = np.linalg.norm(position - goals[i, 0], axis=1)
        assert target_is_second[switch:].all() and not target_is_second[:switch].any()
        assert distance[switch] < 0.01 and np.all(distance[:switch] >= 0.01)


def test_holding_still_fails():
    hold = lambda observation: observation[:, 8:10]  # the current position
    result = pi.evaluate_particle_ibc(hold, CONFIG, 300, seed=2)
    assert result["success_rate"] < 0.02


def test_success_needs_both_goals_and_the_end_at_goal_2():
    cases = {
        (0, 1): (0.97, 1.0),   # the oracle's route
        (1,): (0.0, 0.2),      # goal 2 only: goal 1 missed (unless on the way)
        (1, 0): (0.0, 0.05),   # both goals, but the episode ends at goal 1
    }
    for order, (low, high) in cases.items():
        rollout, state = _run(_Script(order))
        rate = rollout.success.mean()
        assert low <= rate <= high, (order, rate)
    rollout, _ = _run(_Script((1, 0)))
    assert rollout.episode_return.mean() > 0.9  # the reward only needs both goals reached
    # Success implies both least distances and the final distance are under 0.05.
    rollout, state = _run(_Script((0, 1)), n=64, seed=4)
    final = _reset(64, 4)
    for t in range(50):
        final, _ = pi.particle_ibc_step(final, rollout.actions[t], CONFIG)
    success = pi.particle_ibc_success(final, CONFIG)
    np.testing.assert_array_equal(success, rollout.success)
    assert np.all(final.min_distance[success] < 0.05)


def test_deterministic_given_the_seed():
    a = collect_demonstrations("particle-ibc-2d", 6, seed=5)
    b = collect_demonstrations("particle-ibc-2d", 6, seed=5)
    c = collect_demonstrations("particle-ibc-2d", 6, seed=6)
    np.testing.assert_array_equal(a.observations, b.observations)
    np.testing.assert_array_equal(a.actions, b.actions)
    assert not np.array_equal(a.observations[:1], c.observations[:1])
    assert a.observations.shape == (6 * 50, 16) and a.episode_success.all()
    # Evaluation episodes do not depend on the batching.
    oracle = pi.IBCParticleOracle(CONFIG)
    whole = pi.evaluate_particle_ibc(oracle, CONFIG, 30, seed=7)["success"]
    batched = pi.evaluate_particle_ibc(oracle, CONFIG, 30, seed=7, batch_size=7)["success"]
    np.testing.assert_array_equal(whole, batched)


def test_gymnasium_env_matches_the_batched_rollout():
    env = gymnasium.make(pi.GYMNASIUM_ID, dim=2)
    observation, _ = env.reset(seed=11)
    oracle = pi.IBCParticleOracle(CONFIG)
    oracle.reset(1)
    rewards, steps = [], 0
    while True:
        observation, reward, terminated, truncated, info = env.step(oracle(observation))
        rewards.append(reward)
        steps += 1
        assert not terminated
        if truncated:
            break
    assert steps == 50 and info["success"] and rewards[-1] == 1.0 and sum(rewards) == 1.0


@pytest.mark.parametrize("name, dim", [("particle-ibc-2d", 2), ("particle-ibc-4d", 4),
                                       ("particle-ibc-16d", 16)])
def test_registered_by_name(name, dim):
    config = make_env_config(name)
    assert isinstance(config, pi.IBCParticleConfig) and config.dim == dim
    assert name in ENV_NAMES and env_name(config) == name
    assert config_from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert action_bounds(config) == (0.0, 1.0)
    task = make_task(name)
    assert (task.spec.observation_dim, task.spec.action_dim) == (8 * dim, dim)
    assert isinstance(task.oracle(0), pi.IBCParticleOracle)


@pytest.mark.parametrize("name", ["particle-ibc-0d", "particle-ibc-17d", "particle-ibc-2"])
def test_unknown_names_are_refused(name):
    with pytest.raises(ValueError, match="unknown environment name"):
        make_env_config(name)


def test_oracle_and_evaluate_policy_by_name():
    assert evaluate_oracle("particle-ibc-2d", eval_episodes=20, seed=0)["success_rate"] >= 0.95
    result = evaluate_policy(lambda o: np.full((len(o), 2), 0.5), "particle-ibc-2d", 20)
    assert result["n_episodes"] == 20 and result["success_rate"] < 0.2


def test_collect_and_train_end_to_end(tmp_path, capsys):
    demos = tmp_path / "demos.npz"
    assert main(["imitation", "collect", "--env", "particle-ibc-2d", "--demos", "3",
                 "--out", str(demos), "--quiet"]) == 0
    out = tmp_path / "run.json"
    assert main(["imitation", "train", "--env", "particle-ibc-2d", "--policy", "mse",
                 "--demos-file", str(demos), "--steps", "3", "--hidden-sizes", "8",
                 "--eval-episodes", "4", "--quiet", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["env"] == "particle-ibc-2d" and result["transitions"] == 150
    assert 0.0 <= result["success_rate"] <= 1.0 and result["latency_ms"] > 0


def test_run_experiment_ibc_with_langevin_acting():
    config = PolicyConfig(**{**TINY.to_dict(), "hidden": (16,), "acting": "langevin",
                             "langevin_chains": 8, "langevin_steps": 5})
    result = run_experiment("particle-ibc-2d", "ibc", 2, seed=0, config=config,
                            train_config=TrainConfig(steps=3), eval_episodes=3)
    assert result["policy_config"]["acting"] == "langevin"
    assert result["eval_episodes"] == 3 and 0.0 <= result["success_rate"] <= 1.0
