"""The particle task (``particle-<N>d[-multimodal]``): gymnasium ``Env``, rollouts, evaluation.

The task family (:class:`~fenchel.imitation.tasks.TaskFamily`) of the lenient particle task:
its names, the gymnasium environment ``fenchel/Particle-v0``, lockstep rollouts and batched
evaluation, all on the dynamics of :mod:`fenchel.imitation.particle` (the gymnasium
environment calls the same functions with ``n = 1``); its oracle is
:class:`~fenchel.imitation.oracles.ParticleOracle`.
"""

from __future__ import annotations

import re
from typing import Any, Callable, NamedTuple

import gymnasium
import numpy as np
from gymnasium import spaces

from fenchel.imitation._rollouts import policy_actions
from fenchel.imitation.oracles import ParticleOracle
from fenchel.imitation.particle import (
    MAX_DIM,
    ParticleConfig,
    ParticleState,
    particle_observation,
    particle_reset,
    particle_step,
    particle_success,
)
from fenchel.imitation.tasks import TaskFamily

Policy = Callable[[np.ndarray], Any]

PARTICLE_ENV_NAMES: tuple[str, ...] = tuple(
    f"particle-{dim}d{suffix}" for suffix in ("", "-multimodal") for dim in range(1, MAX_DIM + 1))
GYMNASIUM_ID = "fenchel/Particle-v0"
_NAME = re.compile(r"particle-([1-9][0-9]*)d(-multimodal)?")


def parse_particle_name(name: str) -> ParticleConfig | None:
    """The config of ``particle-<N>d[-multimodal]``, or None if ``name`` is not such a name.

    Example:
      >>> from fenchel.imitation.particle_task import parse_particle_name
      >>> parse_particle_name("particle-3d-multimodal").dim, parse_particle_name("particle-ibc-3d")
      (3, None)
    """
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None or not 1 <= int(match.group(1)) <= MAX_DIM:
        return None
    return ParticleConfig(dim=int(match.group(1)), multimodal=match.group(2) is not None)


class ParticleEnv(gymnasium.Env):
    """Gymnasium view of one particle episode (see :mod:`fenchel.imitation.particle`).

    Observation: ``[position, velocity, goal 1, goal 2, visited 1, visited 2]``, float32
    ``(4 N + 2,)``. Action: set-point in ``[0, 1]^N``, float32 ``(N,)`` (clipped to the box).
    Reward: fraction of the goals newly visited by the step. ``terminated`` when both goals
    are visited (``info["success"]``), ``truncated`` after ``max_steps`` steps otherwise.

    Args:
      dim: dimension N, 1 to 16.
      multimodal: whether the goals may be visited in either order.
      render_mode: only None is supported.
      **config_kwargs: further ``ParticleConfig`` fields (max_steps, goal_radius, kp, ...).

    Example:
      >>> from fenchel.imitation.envs import ParticleEnv
      >>> env = ParticleEnv(dim=2)
      >>> observation, info = env.reset(seed=0)
      >>> observation.shape
      (10,)
    """

    metadata = {"render_modes": []}

    def __init__(self, dim: int = 2, multimodal: bool = False, render_mode: str | None = None,
                 **config_kwargs: Any):
        if render_mode is not None:
            raise ValueError(f"render_mode must be None (no rendering), got {render_mode!r}")
        self.config = ParticleConfig(dim=dim, multimodal=multimodal, **config_kwargs)
        n = self.config.dim
        # Layout: position, velocity (unbounded), goals, visited flags; all else in [0, 1].
        low = np.concatenate([np.zeros(n), np.full(n, -np.inf), np.zeros(2 * n + 2)])
        high = np.concatenate([np.ones(n), np.full(n, np.inf), np.ones(2 * n + 2)])
        self.observation_space = spaces.Box(low.astype(np.float32), high.astype(np.float32),
                                            dtype=np.float32)
        self.action_space = spaces.Box(0.0, 1.0, shape=(n,), dtype=np.float32)
        self.render_mode = render_mode
        self._state: ParticleState | None = None

    @property
    def state(self) -> ParticleState:
        """The current state as a batch of one episode."""
        if self._state is None:
            raise RuntimeError("call reset() before using the environment")
        return self._state

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._state = particle_reset(self.np_random, 1, self.config)
        return particle_observation(self._state)[0], {"success": False}

    def step(self, action):
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (self.config.dim,):
            raise ValueError(f"action must have shape ({self.config.dim},), got {action.shape}")
        self._state, reward = particle_step(self.state, action[None], self.config)
        success = bool(particle_success(self._state)[0])
        truncated = not success and int(self._state.step_count[0]) >= self.config.max_steps
        info = {"success": success, "visited": self._state.visited[0].copy()}
        return particle_observation(self._state)[0], float(reward[0]), success, truncated, info


if GYMNASIUM_ID not in gymnasium.registry:
    # No TimeLimit wrapper: the environment truncates itself after config.max_steps.
    gymnasium.register(id=GYMNASIUM_ID, entry_point="fenchel.imitation.particle_task:ParticleEnv")


class Rollout(NamedTuple):
    """Lockstep rollout of ``n`` episodes over ``T = max_steps`` steps.

    Attributes:
      observations: (T, n, 4 N + 2) float32 observation before each step (None if not recorded).
      actions: (T, n, N) float32 actions as returned by the policy (None if not recorded).
      rewards: (T, n) float64 rewards (None if not recorded).
      active: (T, n) bool, True for the steps that belong to the episode (before termination).
      success: (n,) bool.
      episode_length: (n,) int steps until termination (``T`` when never terminated).
      episode_return: (n,) float64 sum of the rewards.
      visit_step: (n, 2) int step (1-based) at which each goal was first visited, 0 if never.
    """

    observations: np.ndarray | None
    actions: np.ndarray | None
    rewards: np.ndarray | None
    active: np.ndarray
    success: np.ndarray
    episode_length: np.ndarray
    episode_return: np.ndarray
    visit_step: np.ndarray


def rollout_from_state(policy: Policy, config: ParticleConfig, state: ParticleState,
                       record: bool = True) -> Rollout:
    """Runs ``policy`` from the initial batch ``state`` for ``config.max_steps`` steps.

    Stops early once every episode has succeeded. Calls ``policy.reset(n)`` first if defined.

    Args:
      policy: maps (n, 4 N + 2) observations to (n, N) actions.
      config: task parameters.
      state: initial states from :func:`~fenchel.imitation.particle.particle_reset`, batch
        size n.
      record: whether to keep observations, actions and rewards (memory ``T n (5 N + 3)``).

    Returns:
      A :class:`Rollout`; recorded arrays are zero after early stopping.
    """
    n, steps = state.position.shape[0], config.max_steps
    if hasattr(policy, "reset"):
        policy.reset(n)
    record_arrays = (
        np.zeros((steps, n, config.observation_dim), np.float32),
        np.zeros((steps, n, config.action_dim), np.float32),
        np.zeros((steps, n)),
    ) if record else (None, None, None)
    observations, actions, rewards = record_arrays
    active = np.zeros((steps, n), dtype=bool)
    episode_return = np.zeros(n)
    visit_step = np.zeros((n, state.visited.shape[1]), dtype=np.int64)
    for t in range(steps):
        done = particle_success(state)
        if done.all():
            break
        active[t] = ~done
        observation = particle_observation(state)
        action = policy_actions(policy, observation, config.dim)
        state, reward = particle_step(state, action, config)
        episode_return += reward
        visit_step = np.where((visit_step == 0) & state.visited, t + 1, visit_step)
        if record:
            observations[t], actions[t], rewards[t] = observation, action, reward
    return Rollout(observations, actions, rewards, active, particle_success(state),
                   active.sum(axis=0), episode_return, visit_step)


def _slice_state(state: ParticleState, index: slice) -> ParticleState:
    return ParticleState(*(field[index] for field in state))


def collect_particle(policy: Policy, config: ParticleConfig, n_episodes: int,
                     seed: int | np.random.SeedSequence) -> tuple[Rollout]:
    """The recorded rollout of ``n_episodes`` episodes drawn from ``seed``, all in one batch
    (the family's ``collect``)."""
    initial = particle_reset(np.random.default_rng(seed), n_episodes, config)
    return (rollout_from_state(policy, config, initial, record=True),)


def evaluate_particle(policy: Policy, config: ParticleConfig, n_episodes: int, seed: int = 0,
                      batch_size: int | None = None) -> dict[str, Any]:
    """Success rate and returns of ``policy`` over ``n_episodes`` batched episodes.

    The initial states depend on ``seed`` only (not on ``batch_size``), so policies compared
    with the same seed face the same episodes.

    Args:
      policy: maps (n, 4 N + 2) observations to (n, N) set-points; ``policy.reset(n)`` is
        called before each batch if defined.
      config: the task.
      n_episodes: number of episodes, at least 1.
      seed: seed of the initial states.
      batch_size: episodes run in lockstep per policy call (default: all of them).

    Returns:
      dict with "success_rate", "success_stderr" (binomial standard error), "mean_return",
      "mean_episode_length", "n_episodes", "goal1_first_rate" (fraction of episodes that
      visited a goal whose first visited goal was goal 1; NaN if none visited a goal) and
      "success" ((n_episodes,) bool).

    Example:
      >>> from fenchel.imitation.oracles import ParticleOracle
      >>> from fenchel.imitation.particle import ParticleConfig
      >>> from fenchel.imitation.particle_task import evaluate_particle
      >>> config = ParticleConfig(dim=2)
      >>> evaluate_particle(ParticleOracle(config), config, 10)["success_rate"]
      1.0
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) \
            or n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive int, got {n_episodes!r}")
    batch_size = n_episodes if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    initial = particle_reset(np.random.default_rng(seed), n_episodes, config)
    results = [
        rollout_from_state(policy, config, _slice_state(initial, slice(start, start + batch_size)),
                           record=False)
        for start in range(0, n_episodes, batch_size)]
    success = np.concatenate([r.success for r in results])
    visit_step = np.concatenate([r.visit_step for r in results])
    reached = (visit_step > 0).any(axis=1)
    # An unvisited goal gets step "infinity" so the visited one counts as first.
    first_steps = np.where(visit_step > 0, visit_step, np.iinfo(np.int64).max)
    goal1_first = first_steps[:, 0] < first_steps[:, 1]
    rate = float(success.mean())
    return {
        "success_rate": rate,
        "success_stderr": float(np.sqrt(rate * (1 - rate) / n_episodes)),
        "mean_return": float(np.concatenate([r.episode_return for r in results]).mean()),
        "mean_episode_length": float(np.concatenate([r.episode_length for r in results]).mean()),
        "n_episodes": int(n_episodes),
        "goal1_first_rate": float(goal1_first[reached].mean()) if reached.any() else float("nan"),
        "success": success,
    }


#: The particle task family: ``particle-<N>d`` (goal 1 then goal 2) and
#: ``particle-<N>d-multimodal`` (either order), N in 1..16, scored by success.
TASK_FAMILY = TaskFamily(
    name="particle",
    names=PARTICLE_ENV_NAMES,
    parse=parse_particle_name,
    config_class=ParticleConfig,
    oracle=lambda config, seed: ParticleOracle(config, seed=seed),
    collect=collect_particle,
    evaluate=evaluate_particle,
)


__all__ = ["PARTICLE_ENV_NAMES", "GYMNASIUM_ID", "parse_particle_name", "ParticleEnv",
           "Rollout", "rollout_from_state", "collect_particle", "evaluate_particle",
           "TASK_FAMILY"]
