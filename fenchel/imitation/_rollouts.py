"""Lockstep rollouts of a batched policy over a list of gymnasium environments.

Shared by the MuJoCo tasks (PointMaze, locomotion): one environment per episode, the policy
called once per step on all ``n`` observations.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple, Sequence

import gymnasium
import numpy as np

#: Episodes per lockstep batch when collecting demonstrations on a MuJoCo task (one
#: environment per episode of a batch).
MUJOCO_BATCH = 100


def episode_seeds(seed: int | np.random.SeedSequence, n_episodes: int) -> np.ndarray:
    """The (n_episodes,) int64 environment reset seeds drawn from ``seed``.

    Episode ``i``'s seed depends on ``seed`` and ``i`` only, not on how episodes are batched.
    """
    return np.random.default_rng(seed).integers(0, 2**31 - 1, size=n_episodes, dtype=np.int64)


def _info_success(terminated: bool, truncated: bool, info: dict[str, Any]) -> bool:
    return bool(info.get("success", False))


def policy_actions(policy: Callable[[np.ndarray], Any], observation: np.ndarray,
                   action_dim: int) -> np.ndarray:
    """``policy(observation)`` as an array, checked to be ``(n, action_dim)``."""
    action = np.asarray(policy(observation))
    expected = (observation.shape[0], action_dim)
    if action.shape != expected:
        raise ValueError(f"policy must return actions of shape {expected}, got {action.shape}")
    return action


class EpisodeBatch(NamedTuple):
    """Lockstep rollout of ``n`` episodes over at most ``T`` steps.

    Field-compatible with :class:`fenchel.imitation.particle_task.Rollout` (without ``visit_step``).

    Attributes:
      observations: (T, n, obs_dim) float32 observation before each step (None if not recorded).
      actions: (T, n, k) float32 actions as returned by the policy (None if not recorded).
      rewards: (T, n) float64 rewards (None if not recorded).
      active: (T, n) bool, True for the steps that belong to the episode (before it ended).
      success: (n,) bool, ``success_of`` at the episode's last step.
      episode_length: (n,) int steps until the episode ended (``T`` when it never did).
      episode_return: (n,) float64 sum of the rewards.
    """

    observations: np.ndarray | None
    actions: np.ndarray | None
    rewards: np.ndarray | None
    active: np.ndarray
    success: np.ndarray
    episode_length: np.ndarray
    episode_return: np.ndarray


def lockstep_rollout(policy: Callable[[np.ndarray], Any], envs: Sequence[gymnasium.Env],
                     seeds: Sequence[int], max_steps: int, action_dim: int,
                     observe: Callable[[Any], np.ndarray] = np.asarray,
                     success_of: Callable[[bool, bool, dict[str, Any]], bool] = _info_success,
                     record: bool = True) -> EpisodeBatch:
    """Runs ``policy`` on ``envs[i]`` reset with ``seeds[i]``, all in lockstep.

    Calls ``policy.reset(n)`` first if defined; each step the policy receives all ``n``
    observations (an episode that has ended repeats its last one, and its action is ignored).
    An episode ends when its environment says terminated or truncated; the rollout stops
    after ``max_steps`` steps or once every episode has ended.

    Args:
      policy: maps (n, obs_dim) observations to (n, action_dim) actions.
      envs: at least ``n`` environments (the first ``n`` are used).
      seeds: (n,) reset seeds, one episode each.
      max_steps: step limit T.
      action_dim: length k of an action.
      observe: maps an environment's observation to a flat float vector.
      success_of: ``(terminated, truncated, info) -> bool`` after each step; an episode's
        success is its value at the last step (default ``info["success"]``, False if absent).
      record: whether to keep observations, actions and rewards.

    Returns:
      An :class:`EpisodeBatch`; recorded arrays are zero after an episode ends.
    """
    seeds = [int(s) for s in seeds]
    n = len(seeds)
    if n < 1:
        raise ValueError("seeds must hold at least one seed")
    if len(envs) < n:
        raise ValueError(f"need one environment per episode: {len(envs)} for {n} seeds")
    if hasattr(policy, "reset"):
        policy.reset(n)
    observation = np.stack([observe(env.reset(seed=s)[0]) for env, s in zip(envs, seeds)])
    if record:
        observations = np.zeros((max_steps, n, observation.shape[1]), np.float32)
        actions = np.zeros((max_steps, n, action_dim), np.float32)
        rewards = np.zeros((max_steps, n))
    else:
        observations = actions = rewards = None
    active = np.zeros((max_steps, n), dtype=bool)
    done = np.zeros(n, dtype=bool)
    success = np.zeros(n, dtype=bool)
    episode_return = np.zeros(n)
    for t in range(max_steps):
        if done.all():
            break
        active[t] = ~done
        action = policy_actions(policy, observation, action_dim)
        if not np.isfinite(action).all():
            raise ValueError("policy returned NaN or infinite actions")
        if record:
            observations[t], actions[t] = observation, action
        observation = observation.copy()
        for i in np.flatnonzero(~done):
            raw, reward, terminated, truncated, info = envs[i].step(action[i].astype(np.float64))
            observation[i] = observe(raw)
            episode_return[i] += reward
            if record:
                rewards[t, i] = reward
            success[i] = success_of(terminated, truncated, info)
            done[i] = terminated or truncated
    return EpisodeBatch(observations, actions, rewards, active, success, active.sum(axis=0),
                        episode_return)


def seeded_batches(rollout: Callable[[np.ndarray], EpisodeBatch], n_episodes: int,
                   seed: int | np.random.SeedSequence,
                   batch_size: int = MUJOCO_BATCH) -> Iterator[EpisodeBatch]:
    """``rollout(seeds)`` of the episodes ``episode_seeds(seed, n_episodes)``, ``batch_size``
    at a time, one batch per iteration."""
    seeds = episode_seeds(seed, n_episodes)
    for start in range(0, n_episodes, batch_size):
        yield rollout(seeds[start:start + batch_size])


def run_in_batches(rollout: Callable[[np.ndarray], EpisodeBatch], n_episodes: int, seed: int,
                   batch_size: int | None) -> dict[str, np.ndarray]:
    """Episodes ``episode_seeds(seed, n_episodes)`` run ``batch_size`` at a time.

    Episode ``i`` is reset with the same seed whatever the batching, so policies compared with
    the same ``seed`` face the same episodes.

    Args:
      rollout: ``rollout(seeds) -> EpisodeBatch`` for one batch (not recorded).
      n_episodes: number of episodes, at least 1.
      seed: seed of the episodes.
      batch_size: episodes per batch (default ``min(n_episodes, 100)``).

    Returns:
      ``{"success", "episode_length", "episode_return"}``, each ``(n_episodes,)``.
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) \
            or n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive int, got {n_episodes!r}")
    batch_size = min(n_episodes, 100) if batch_size is None else batch_size
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    batches = list(seeded_batches(rollout, n_episodes, seed, batch_size))
    return {field: np.concatenate([getattr(b, field) for b in batches])
            for field in ("success", "episode_length", "episode_return")}
