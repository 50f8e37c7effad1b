"""Task environments: the particle gymnasium ``Env``, named configs and batched policy evaluation.

The gymnasium environment and the batched helpers share the dynamics of
:mod:`fenchel.imitation.particle`; the batched ones run thousands of episodes in lockstep.
Names ``pointmaze-<maze>`` select the PointMaze tasks of :mod:`fenchel.imitation.pointmaze`
and ``hopper``, ``halfcheetah``, ``walker2d`` the locomotion tasks of
:mod:`fenchel.imitation.locomotion`, and ``particle-ibc-<N>d`` implicit BC's own particle
task (:mod:`fenchel.imitation.particle_ibc`), which :func:`make_env_config`, :func:`env_name`
and :func:`evaluate_policy` also handle.

A *policy* here is any callable mapping a batch of observations ``(n, observation_dim)`` to
actions ``(n, action_dim)`` (particle: ``(n, 4 N + 2)`` to set-points ``(n, N)``; PointMaze:
``(n, 6)`` to forces ``(n, 2)``). A policy with memory may also define ``reset(n)``, called
before each batch of ``n`` fresh episodes (the scripted oracles use it to draw each episode's
goal order or route).
"""

from __future__ import annotations

import re
from typing import Any, Callable, NamedTuple

import gymnasium
import numpy as np
from gymnasium import spaces

from fenchel.imitation._rollouts import policy_actions
from fenchel.imitation.locomotion import (
    LOCOMOTION_ENV_NAMES,
    LocomotionConfig,
    evaluate_locomotion,
    parse_locomotion_name,
)
from fenchel.imitation.particle import (
    MAX_DIM,
    ParticleConfig,
    ParticleState,
    particle_observation,
    particle_reset,
    particle_step,
    particle_success,
)
from fenchel.imitation.particle_ibc import (
    PARTICLE_IBC_ENV_NAMES,
    IBCParticleConfig,
    evaluate_particle_ibc,
    parse_particle_ibc_name,
)
from fenchel.imitation.pointmaze import (
    POINTMAZE_ENV_NAMES,
    PointMazeConfig,
    evaluate_pointmaze,
    parse_pointmaze_name,
)

Policy = Callable[[np.ndarray], Any]
EnvConfig = ParticleConfig | PointMazeConfig | LocomotionConfig | IBCParticleConfig

ENV_NAMES: tuple[str, ...] = tuple(
    f"particle-{dim}d{suffix}" for suffix in ("", "-multimodal") for dim in range(1, MAX_DIM + 1)
) + POINTMAZE_ENV_NAMES + LOCOMOTION_ENV_NAMES + PARTICLE_IBC_ENV_NAMES
_ENV_NAME = re.compile(r"particle-([1-9][0-9]*)d(-multimodal)?")
GYMNASIUM_ID = "fenchel/Particle-v0"


def make_env_config(name: str) -> EnvConfig:
    """Parses a task name into its config.

    Args:
      name: one of ``ENV_NAMES``: ``"particle-<N>d"``, ``"particle-<N>d-multimodal"``,
        ``"pointmaze-<maze>"`` with maze ``umaze``, ``medium`` or ``large``, a locomotion
        task ``"hopper"``, ``"halfcheetah"``, ``"walker2d"``, or IBC's particle task
        ``"particle-ibc-<N>d"`` (:mod:`fenchel.imitation.particle_ibc`).

    Returns:
      The ``ParticleConfig`` with ``dim=N`` and ``multimodal`` set by the suffix, the
      ``PointMazeConfig`` of the maze (default episode length), the ``LocomotionConfig`` or
      the ``IBCParticleConfig``.

    Example:
      >>> from fenchel.imitation.envs import make_env_config
      >>> make_env_config("particle-8d-multimodal").dim
      8
      >>> make_env_config("pointmaze-large").observation_dim
      6
    """
    for parse in (parse_pointmaze_name, parse_locomotion_name, parse_particle_ibc_name):
        config = parse(name)
        if config is not None:
            return config
    match = _ENV_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None or not 1 <= int(match.group(1)) <= MAX_DIM:
        raise ValueError(f"unknown environment name {name!r}; valid names: {', '.join(ENV_NAMES)}")
    return ParticleConfig(dim=int(match.group(1)), multimodal=match.group(2) is not None)


def env_name(config: EnvConfig) -> str:
    """Inverse of :func:`make_env_config` for configs with default parameters.

    Example:
      >>> from fenchel.imitation.envs import env_name
      >>> from fenchel.imitation.particle import ParticleConfig
      >>> env_name(ParticleConfig(dim=2, multimodal=True))
      'particle-2d-multimodal'
    """
    if isinstance(config, (PointMazeConfig, LocomotionConfig, IBCParticleConfig)):
        return config.name
    return f"particle-{config.dim}d" + ("-multimodal" if config.multimodal else "")


def action_bounds(config: EnvConfig) -> tuple[float, float]:
    """``(low, high)`` bounds shared by every action coordinate of a task.

    Example:
      >>> from fenchel.imitation.envs import action_bounds, make_env_config
      >>> from fenchel.imitation.particle import ParticleConfig
      >>> action_bounds(ParticleConfig(dim=3)), action_bounds(make_env_config("pointmaze-umaze"))
      ((0.0, 1.0), (-1.0, 1.0))
    """
    if isinstance(config, (PointMazeConfig, LocomotionConfig, IBCParticleConfig)):
        return config.action_low, config.action_high
    if isinstance(config, ParticleConfig):
        return 0.0, 1.0
    raise TypeError(f"config must be a ParticleConfig, PointMazeConfig or LocomotionConfig, "
                    f"got {type(config)}")


def config_from_dict(fields: dict[str, Any]) -> EnvConfig:
    """Rebuilds a config from its ``to_dict()`` (a PointMaze config is the one with "maze", a
    locomotion config the one with "task", an IBC particle config the one with
    "goal_distance").

    Example:
      >>> from fenchel.imitation.envs import config_from_dict, make_env_config
      >>> config = make_env_config("pointmaze-medium")
      >>> config_from_dict(config.to_dict()) == config
      True
    """
    if "maze" in fields:
        return PointMazeConfig(**fields)
    if "task" in fields:
        return LocomotionConfig(**fields)
    if "goal_distance" in fields:
        return IBCParticleConfig(**fields)
    return ParticleConfig(**fields)


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
    gymnasium.register(id=GYMNASIUM_ID, entry_point="fenchel.imitation.envs:ParticleEnv")


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
      state: initial states from :func:`particle_reset`, batch size n.
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


def evaluate_policy(policy: Policy, env_config: EnvConfig | str, n_episodes: int,
                    seed: int = 0, batch_size: int | None = None) -> dict[str, Any]:
    """Success rate and returns of ``policy`` over ``n_episodes`` batched episodes.

    The initial states depend on ``seed`` only (not on ``batch_size``), so policies compared
    with the same seed face the same episodes. A PointMaze config (or name) is passed on to
    :func:`fenchel.imitation.pointmaze.evaluate_pointmaze`, whose result has the keys below
    except "goal1_first_rate", plus "mean_success_length"; a locomotion config to
    :func:`fenchel.imitation.locomotion.evaluate_locomotion` (success = did not fall, plus
    "return_std" and "returns"); an IBC particle config to
    :func:`fenchel.imitation.particle_ibc.evaluate_particle_ibc` (IBC's success rule).

    Args:
      policy: maps (n, 4 N + 2) observations to (n, N) set-points (PointMaze: (n, 6) to
        (n, 2) forces); ``policy.reset(n)`` is called before each batch if defined.
      env_config: a ``ParticleConfig``, ``PointMazeConfig``, ``LocomotionConfig`` or a name
        from ``ENV_NAMES``.
      n_episodes: number of episodes, at least 1.
      seed: seed of the initial states.
      batch_size: episodes run in lockstep per policy call (default: all of them).

    Returns:
      dict with "success_rate", "success_stderr" (binomial standard error), "mean_return",
      "mean_episode_length", "n_episodes", "goal1_first_rate" (fraction of episodes that
      visited a goal whose first visited goal was goal 1; NaN if none visited a goal) and
      "success" ((n_episodes,) bool).

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.envs import evaluate_policy, make_env_config
      >>> config = make_env_config("particle-2d")
      >>> center = lambda obs: np.full((obs.shape[0], 2), 0.5)
      >>> evaluate_policy(center, config, 10)["success_rate"] <= 1.0
      True
    """
    config = make_env_config(env_config) if isinstance(env_config, str) else env_config
    if isinstance(config, PointMazeConfig):
        return evaluate_pointmaze(policy, config, n_episodes, seed, batch_size)
    if isinstance(config, LocomotionConfig):
        return evaluate_locomotion(policy, config, n_episodes, seed, batch_size)
    if isinstance(config, IBCParticleConfig):
        return evaluate_particle_ibc(policy, config, n_episodes, seed, batch_size)
    if not isinstance(config, ParticleConfig):
        raise TypeError(f"env_config must be a ParticleConfig, PointMazeConfig, "
                        f"LocomotionConfig, IBCParticleConfig or a name, got {type(config)}")
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
