"""Locomotion tasks (Hopper, HalfCheetah, Walker2d) imitated from the project's SAC experts.

The environments are gymnasium's MuJoCo tasks (``Hopper-v5``, ``HalfCheetah-v5``,
``Walker2d-v5``; episodes of at most 1000 steps, actions in ``[-1, 1]^k``). Their experts are
SAC policies trained by the project (:mod:`fenchel.imitation.experts`) and shipped as small
weight files; :func:`task_expert` loads one. Policies are scored by their return; an episode
*succeeds* when the body did not fall (Hopper and Walker2d end an episode early when they
fall; HalfCheetah never does).

===============  ====================  ===============  ==========
task name        gymnasium id          observation dim  action dim
===============  ====================  ===============  ==========
``hopper``       ``Hopper-v5``         11               3
``halfcheetah``  ``HalfCheetah-v5``    17               6
``walker2d``     ``Walker2d-v5``       17               6
===============  ====================  ===============  ==========
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Sequence

import gymnasium
import numpy as np

from fenchel.imitation._rollouts import (
    EpisodeBatch,
    lockstep_rollout,
    run_in_batches,
    seeded_batches,
)
from fenchel.imitation.experts import MLPExpert, expert_path, load_expert, make_mujoco_env
from fenchel.imitation.tasks import TaskFamily

#: Task name -> gymnasium id.
LOCOMOTION_ENV_IDS: dict[str, str] = {
    "hopper": "Hopper-v5",
    "halfcheetah": "HalfCheetah-v5",
    "walker2d": "Walker2d-v5",
}
LOCOMOTION_ENV_NAMES: tuple[str, ...] = tuple(LOCOMOTION_ENV_IDS)
_SIZES = {"hopper": (11, 3), "halfcheetah": (17, 6), "walker2d": (17, 6)}


@dataclasses.dataclass(frozen=True)
class LocomotionConfig:
    """A locomotion task.

    Args:
      task: one of ``LOCOMOTION_ENV_NAMES``.
      max_steps: episode length limit (gymnasium's default 1000).

    Example:
      >>> from fenchel.imitation.locomotion import LocomotionConfig
      >>> config = LocomotionConfig("walker2d")
      >>> config.env_id, config.observation_dim, config.action_dim
      ('Walker2d-v5', 17, 6)
    """

    task: str = "hopper"
    max_steps: int = 1000

    def __post_init__(self) -> None:
        if self.task not in LOCOMOTION_ENV_IDS:
            raise ValueError(f"unknown locomotion task {self.task!r}; valid: "
                             f"{', '.join(LOCOMOTION_ENV_NAMES)}")
        if isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int) \
                or self.max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {self.max_steps!r}")

    @property
    def name(self) -> str:
        return self.task

    @property
    def env_id(self) -> str:
        return LOCOMOTION_ENV_IDS[self.task]

    @property
    def observation_dim(self) -> int:
        return _SIZES[self.task][0]

    @property
    def action_dim(self) -> int:
        return _SIZES[self.task][1]

    action_low = -1.0
    action_high = 1.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_locomotion_name(name: str) -> LocomotionConfig | None:
    """The config of a locomotion task name, or None if ``name`` is not one."""
    if isinstance(name, str) and name in LOCOMOTION_ENV_IDS:
        return LocomotionConfig(name)
    return None


def _as_config(env: LocomotionConfig | str) -> LocomotionConfig:
    if isinstance(env, LocomotionConfig):
        return env
    config = parse_locomotion_name(env)
    if config is None:
        raise ValueError(f"unknown locomotion task {env!r}; valid: "
                         f"{', '.join(LOCOMOTION_ENV_NAMES)}")
    return config


def make_locomotion_env(env: LocomotionConfig | str = "hopper", **kwargs: Any) -> gymnasium.Env:
    """``gymnasium.make`` of the task with ``max_episode_steps=config.max_steps``.

    MuJoCo's warnings while building it become Python ``DeprecationWarning``s instead of
    lines appended to ``MUJOCO_LOG.TXT`` in the working directory.

    Example:
      >>> from fenchel.imitation.locomotion import make_locomotion_env
      >>> make_locomotion_env("hopper").action_space.shape
      (3,)
    """
    config = _as_config(env)
    return make_mujoco_env(config.env_id, max_episode_steps=config.max_steps, **kwargs)


# Rollouts reuse environments (building one compiles its MuJoCo model).
_ENV_POOL: dict[LocomotionConfig, list[gymnasium.Env]] = {}


def _env_pool(config: LocomotionConfig, n: int) -> list[gymnasium.Env]:
    pool = _ENV_POOL.setdefault(config, [])
    while len(pool) < n:
        pool.append(make_locomotion_env(config))
    return pool[:n]


def task_expert(env: LocomotionConfig | str, path: str | os.PathLike | None = None
                ) -> MLPExpert:
    """The SAC expert of a task: the weight file shipped with the package (or ``path``).

    Raises:
      FileNotFoundError: naming the command that trains it, if the file is missing.
    """
    config = _as_config(env)
    path = os.fspath(path) if path is not None else expert_path(config.env_id)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"no expert weights for {config.name} at {path}; train them with "
            f"`fenchel imitation train-expert --env {config.name} --out {expert_path(config.env_id)}` "
            '(needs pip install -e ".[experts]")')
    expert = load_expert(path)
    if (expert.observation_dim, expert.action_dim) != (config.observation_dim, config.action_dim):
        raise ValueError(f"{path} maps {expert.observation_dim} -> {expert.action_dim}, but "
                         f"{config.name} needs {config.observation_dim} -> {config.action_dim}")
    return expert


def _did_not_fall(terminated: bool, truncated: bool, info: dict[str, Any]) -> bool:
    return not terminated


def locomotion_rollout(policy: Callable[[np.ndarray], Any], config: LocomotionConfig,
                       seeds: Sequence[int], record: bool = True) -> EpisodeBatch:
    """Runs ``policy`` on the episodes reset with ``seeds``, all in lockstep
    (:func:`fenchel.imitation._rollouts.lockstep_rollout`); ``success`` = did not fall."""
    if len(seeds) < 1:
        raise ValueError("seeds must hold at least one seed")
    return lockstep_rollout(policy, _env_pool(config, len(seeds)), seeds, config.max_steps,
                            config.action_dim, success_of=_did_not_fall, record=record)


def evaluate_locomotion(policy: Callable[[np.ndarray], Any], env: LocomotionConfig | str,
                        n_episodes: int, seed: int = 0, batch_size: int | None = None
                        ) -> dict[str, Any]:
    """Returns of ``policy`` over ``n_episodes`` episodes, ``batch_size`` at once.

    Episode ``i`` is reset with ``episode_seeds(seed, n_episodes)[i]`` whatever the batching,
    so policies compared with the same seed face the same initial states.

    Args:
      policy: maps (n, obs_dim) observations to (n, k) actions in ``[-1, 1]^k``.
      env: a ``LocomotionConfig`` or a name from ``LOCOMOTION_ENV_NAMES``.
      n_episodes: number of episodes, at least 1.
      seed: seed of the episodes.
      batch_size: episodes per lockstep batch (default ``min(n_episodes, 100)``).

    Returns:
      dict with "mean_return", "return_std", "mean_episode_length", "success_rate" (episodes
      that did not fall), "success_stderr", "n_episodes", "returns" ((n_episodes,)) and
      "success" ((n_episodes,) bool).
    """
    config = _as_config(env)
    episodes = run_in_batches(
        lambda seeds: locomotion_rollout(policy, config, seeds, record=False),
        n_episodes, seed, batch_size)
    returns, success = episodes["episode_return"], episodes["success"]
    rate = float(success.mean())
    return {
        "mean_return": float(returns.mean()),
        "return_std": float(returns.std()),
        "mean_episode_length": float(episodes["episode_length"].mean()),
        "success_rate": rate,
        "success_stderr": float(np.sqrt(rate * (1 - rate) / n_episodes)),
        "n_episodes": int(n_episodes),
        "returns": returns,
        "success": success,
    }


#: The locomotion task family: ``hopper``, ``halfcheetah``, ``walker2d``, scored by return.
#: The oracle is the task's SAC expert (deterministic: the reset seeds alone vary its
#: episodes); demonstrations run in batches of ``MUJOCO_BATCH`` episodes.
TASK_FAMILY = TaskFamily(
    name="locomotion",
    names=LOCOMOTION_ENV_NAMES,
    parse=parse_locomotion_name,
    config_class=LocomotionConfig,
    oracle=lambda config, seed: task_expert(config),
    collect=lambda policy, config, n_episodes, seed: seeded_batches(
        lambda seeds: locomotion_rollout(policy, config, seeds), n_episodes, seed),
    evaluate=evaluate_locomotion,
    metric="mean_return",
)


__all__ = ["LOCOMOTION_ENV_IDS", "LOCOMOTION_ENV_NAMES", "LocomotionConfig",
           "parse_locomotion_name", "make_locomotion_env", "task_expert", "locomotion_rollout",
           "evaluate_locomotion", "TASK_FAMILY"]
