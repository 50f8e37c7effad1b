"""One interface for every imitation task, and the one registry of them.

A *task family* is a kind of task (the lenient particle task, IBC's particle task, PointMaze,
locomotion) and owns a set of task names. It is a :class:`TaskFamily`: plain functions, no
methods, in the manner of optax's ``GradientTransformation``. Every family's module defines
its ``TASK_FAMILY``; :func:`families` lists them, in the order of ``_FAMILY_MODULES``, the
only place that names them, and everything that depends on the kind of a task (names, configs,
oracles, demonstrations, evaluation, the metric) goes through the functions below.

A *config* is the frozen dataclass a family parses a name into. Every config has ``name``
(the name it came from, for default parameters), ``observation_dim``, ``action_dim``, the
bounds ``action_low`` and ``action_high`` shared by every action coordinate, and
``to_dict()`` (``config_class(**config.to_dict()) == config``).

A *policy* is any callable mapping a batch of observations ``(n, observation_dim)`` to
actions ``(n, action_dim)``. A policy with memory may also define ``reset(n)``, called before
each batch of ``n`` fresh episodes (the scripted oracles use it to draw each episode's goal
order or route).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from typing import Any, Callable, Iterable

Policy = Callable[[Any], Any]

#: Modules defining a ``TASK_FAMILY``, in the order of their names in :func:`env_names`.
#: Imported on first use: each of them imports this module for :class:`TaskFamily`.
_FAMILY_MODULES = ("particle_task", "pointmaze", "locomotion", "particle_ibc")
METRICS = ("success_rate", "mean_return")


@dataclasses.dataclass(frozen=True)
class TaskFamily:
    """What a kind of task provides, as plain functions of its config.

    Attributes:
      name: the family's name, e.g. ``"pointmaze"``.
      names: every task name the family owns (no other family parses them).
      parse: ``name -> config``, or None if ``name`` is not one of ``names``.
      config_class: the class of its configs (``config_class(**config.to_dict())``).
      oracle: ``(config, seed) -> policy``, the demonstrator; ``seed`` (an int or a numpy
        generator) draws its per-episode choices (deterministic oracles ignore it).
      collect: ``(policy, config, n_episodes, seed) -> rollouts``: ``n_episodes`` recorded
        episodes from initial states drawn from ``seed`` (an int or a
        ``numpy.random.SeedSequence``), as an iterable of one or more lockstep batches in
        episode order, each with the fields of
        :class:`~fenchel.imitation._rollouts.EpisodeBatch`.
      evaluate: ``(policy, config, n_episodes, seed, batch_size) -> dict`` with at least
        "success_rate", "success_stderr", "mean_return", "mean_episode_length",
        "n_episodes" and "success"; the episodes depend on ``seed`` only.
      metric: what scores a policy: "success_rate" or "mean_return".

    Example:
      >>> from fenchel.imitation.tasks import family_of
      >>> family = family_of("pointmaze-umaze")
      >>> family.name, family.config_class.__name__, family.metric
      ('pointmaze', 'PointMazeConfig', 'success_rate')
      >>> family_of("hopper").metric
      'mean_return'
    """

    name: str
    names: tuple[str, ...] = dataclasses.field(repr=False)
    parse: Callable[[str], Any] = dataclasses.field(repr=False)
    config_class: type
    oracle: Callable[[Any, Any], Policy] = dataclasses.field(repr=False)
    collect: Callable[[Policy, Any, int, Any], Iterable[Any]] = dataclasses.field(repr=False)
    evaluate: Callable[[Policy, Any, int, int, int | None], dict[str, Any]] = \
        dataclasses.field(repr=False)
    metric: str = "success_rate"

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")


@functools.cache
def families() -> tuple[TaskFamily, ...]:
    """Every registered :class:`TaskFamily`, in a fixed order.

    Example:
      >>> from fenchel.imitation.tasks import families
      >>> [family.name for family in families()]
      ['particle', 'pointmaze', 'locomotion', 'particle-ibc']
    """
    return tuple(importlib.import_module(f"fenchel.imitation.{module}").TASK_FAMILY
                 for module in _FAMILY_MODULES)


@functools.cache
def env_names() -> tuple[str, ...]:
    """Every task name, family after family (``fenchel.imitation.envs.ENV_NAMES``)."""
    return tuple(name for family in families() for name in family.names)


def make_env_config(name: str) -> Any:
    """Parses a task name into its config.

    Args:
      name: one of :func:`env_names`: ``"particle-<N>d"``, ``"particle-<N>d-multimodal"``,
        ``"pointmaze-<maze>"`` with maze ``umaze``, ``medium`` or ``large``, a locomotion
        task ``"hopper"``, ``"halfcheetah"``, ``"walker2d"``, or IBC's particle task
        ``"particle-ibc-<N>d"`` (:mod:`fenchel.imitation.particle_ibc`).

    Returns:
      The config of its family, with the name's default parameters.

    Raises:
      TypeError: ``name`` is not a str.
      ValueError: an unknown name (the message lists the valid ones).

    Example:
      >>> from fenchel.imitation.envs import make_env_config
      >>> make_env_config("particle-8d-multimodal").dim
      8
      >>> make_env_config("pointmaze-large").observation_dim
      6
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a task name (str), got {type(name).__name__}")
    for family in families():
        config = family.parse(name)
        if config is not None:
            return config
    raise ValueError(f"unknown environment name {name!r}; valid names: {', '.join(env_names())}")


def _config_family(config: Any, argument: str, or_name: bool = False) -> TaskFamily:
    """The family whose config class ``config`` is; a TypeError naming ``argument`` if none."""
    for family in families():
        if isinstance(config, family.config_class):
            return family
    classes = ", ".join(family.config_class.__name__ for family in families())
    expected = "a task name (str) or a task config" if or_name else "a task config"
    raise TypeError(f"{argument} must be {expected} ({classes}), got {type(config).__name__}")


def _resolve(env: Any, argument: str) -> tuple[Any, TaskFamily]:
    """``(config, family)`` of a task name or config; errors name ``argument``."""
    config = make_env_config(env) if isinstance(env, str) else env
    return config, _config_family(config, argument, or_name=True)


def family_of(env: Any) -> TaskFamily:
    """The :class:`TaskFamily` of a task name or config.

    Raises:
      TypeError: ``env`` is neither a str nor a registered config.
      ValueError: an unknown name.

    Example:
      >>> from fenchel.imitation.particle import ParticleConfig
      >>> from fenchel.imitation.tasks import family_of
      >>> family_of("particle-ibc-2d").name, family_of(ParticleConfig(dim=3)).name
      ('particle-ibc', 'particle')
    """
    return _resolve(env, "env")[1]


def env_name(config: Any) -> str:
    """Inverse of :func:`make_env_config` for configs with default parameters.

    Example:
      >>> from fenchel.imitation.envs import env_name
      >>> from fenchel.imitation.particle import ParticleConfig
      >>> env_name(ParticleConfig(dim=2, multimodal=True))
      'particle-2d-multimodal'
    """
    _config_family(config, "config")
    return config.name


def action_bounds(config: Any) -> tuple[float, float]:
    """``(low, high)`` bounds shared by every action coordinate of a task.

    Example:
      >>> from fenchel.imitation.envs import action_bounds, make_env_config
      >>> from fenchel.imitation.particle import ParticleConfig
      >>> action_bounds(ParticleConfig(dim=3)), action_bounds(make_env_config("pointmaze-umaze"))
      ((0.0, 1.0), (-1.0, 1.0))
    """
    _config_family(config, "config")
    return config.action_low, config.action_high


def config_from_dict(fields: dict[str, Any]) -> Any:
    """Rebuilds a config from its ``to_dict()``: the config of the first family (in
    :func:`families` order) whose config class has every key as a field.

    Raises:
      TypeError: no family's config has all these fields.

    Example:
      >>> from fenchel.imitation.envs import config_from_dict, make_env_config
      >>> config = make_env_config("pointmaze-medium")
      >>> config_from_dict(config.to_dict()) == config
      True
    """
    for family in families():
        known = {field.name for field in dataclasses.fields(family.config_class)}
        if known.issuperset(fields):
            return family.config_class(**fields)
    raise TypeError(f"no task config has the fields {sorted(fields)}")


def evaluate_policy(policy: Policy, env_config: Any, n_episodes: int, seed: int = 0,
                    batch_size: int | None = None) -> dict[str, Any]:
    """Success rate and returns of ``policy`` over ``n_episodes`` batched episodes.

    Runs the ``evaluate`` of the task's family:
    :func:`~fenchel.imitation.particle_task.evaluate_particle` (also "goal1_first_rate"),
    :func:`~fenchel.imitation.pointmaze.evaluate_pointmaze` (also "mean_success_length"),
    :func:`~fenchel.imitation.locomotion.evaluate_locomotion` (success = did not fall; also
    "return_std" and "returns") or :func:`~fenchel.imitation.particle_ibc.evaluate_particle_ibc`
    (IBC's success rule). The initial states depend on ``seed`` only (not on ``batch_size``),
    so policies compared with the same seed face the same episodes.

    Args:
      policy: maps (n, observation_dim) observations to (n, action_dim) actions;
        ``policy.reset(n)`` is called before each batch if defined.
      env_config: a task config or a name from :func:`env_names`.
      n_episodes: number of episodes, at least 1.
      seed: seed of the initial states.
      batch_size: episodes run in lockstep per policy call (default: the family's).

    Returns:
      dict with at least "success_rate", "success_stderr" (binomial standard error),
      "mean_return", "mean_episode_length", "n_episodes" and "success" ((n_episodes,) bool).

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.envs import evaluate_policy, make_env_config
      >>> config = make_env_config("particle-2d")
      >>> center = lambda obs: np.full((obs.shape[0], 2), 0.5)
      >>> evaluate_policy(center, config, 10)["success_rate"] <= 1.0
      True
    """
    config, family = _resolve(env_config, "env_config")
    return family.evaluate(policy, config, n_episodes, seed, batch_size)


__all__ = ["Policy", "METRICS", "TaskFamily", "families", "env_names", "make_env_config",
           "family_of", "env_name", "action_bounds", "config_from_dict", "evaluate_policy"]
