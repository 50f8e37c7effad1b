"""Demonstration datasets: scripted-oracle rollouts flattened into (observation, action) pairs.

Every task family (:mod:`fenchel.imitation.tasks`) provides its demonstrator (``oracle``) and
how its episodes are rolled out (``collect``): particle tasks roll out
:class:`~fenchel.imitation.oracles.ParticleOracle` (IBC's particle task
:class:`~fenchel.imitation.particle_ibc.IBCParticleOracle`) on all episodes at once; PointMaze
tasks :class:`~fenchel.imitation.pointmaze.PointMazeOracle` and locomotion tasks their SAC
expert (:func:`~fenchel.imitation.locomotion.task_expert`), both in batches of
``MUJOCO_BATCH`` episodes, each batch one MuJoCo environment per episode.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np

from fenchel.infra._io import atomic_file
from fenchel.imitation import _rollouts
from fenchel.imitation.tasks import (
    TaskFamily,
    _resolve,
    config_from_dict,
    env_name,
    make_env_config,
)

FORMAT_VERSION = 1
#: Episodes per lockstep batch of the MuJoCo tasks' collectors (one environment each).
MUJOCO_BATCH = _rollouts.MUJOCO_BATCH
_ARRAYS = ("observations", "actions", "episode_index", "episode_starts", "episode_lengths",
           "episode_returns", "episode_success")


@dataclasses.dataclass
class Demonstrations:
    """Transitions of ``E`` episodes, concatenated episode after episode (``T`` in total).

    Attributes:
      observations: (T, 4 N + 2) float32 observation at each step (PointMaze: (T, 6)).
      actions: (T, N) float32 action the expert took there (PointMaze: (T, 2)).
      episode_index: (T,) int64 episode of each transition, in 0..E-1, non-decreasing.
      episode_starts: (E,) int64 index of each episode's first transition.
      episode_lengths: (E,) int64 transitions per episode (up to termination).
      episode_returns: (E,) float64 return of each episode.
      episode_success: (E,) bool whether each episode succeeded (failed ones are kept).
      metadata: JSON-serializable dict: "env", "config", "seed", "oracle", "n_episodes",
        "success_rate", "mean_return", "format_version" (locomotion: also "expert", the
        expert's training metadata).
    """

    observations: np.ndarray
    actions: np.ndarray
    episode_index: np.ndarray
    episode_starts: np.ndarray
    episode_lengths: np.ndarray
    episode_returns: np.ndarray
    episode_success: np.ndarray
    metadata: dict[str, Any]

    @property
    def num_transitions(self) -> int:
        """Number T of (observation, action) pairs."""
        return int(self.observations.shape[0])

    @property
    def num_episodes(self) -> int:
        """Number E of episodes."""
        return int(self.episode_starts.shape[0])

    @property
    def config(self) -> Any:
        """The task the demonstrations were collected on."""
        return config_from_dict(self.metadata["config"])


def _resolve_config(env: Any) -> tuple[str | None, Any, TaskFamily]:
    """``(name or None, config, family)`` of a task name or config; the name is None for a
    config that is not the one its name parses to."""
    config, family = _resolve(env, "env")
    if isinstance(env, str):
        return env, config, family
    name = env_name(config)
    return (name if make_env_config(name) == config else None), config, family


def _episode_major(result) -> dict[str, np.ndarray]:
    """Active steps of a (T, n, ...) rollout, episode after episode."""
    active = result.active.T
    return {
        "observations": result.observations.transpose(1, 0, 2)[active],
        "actions": result.actions.transpose(1, 0, 2)[active],
        "episode_lengths": result.episode_length.astype(np.int64),
        "episode_returns": result.episode_return.astype(np.float64),
        "episode_success": result.success.astype(bool),
    }


def collect_demonstrations(env: Any, n_episodes: int,
                           seed: int = 0, progress: bool = False) -> Demonstrations:
    """Rolls out the task's scripted oracle for ``n_episodes`` episodes.

    Reproducible: the same ``(env, n_episodes, seed)`` gives identical arrays. Each episode
    contributes its steps up to and including the one at which it succeeds (all
    ``max_steps`` if it never does; locomotion: up to the time limit or the fall). The oracle
    is the task family's: :class:`~fenchel.imitation.oracles.ParticleOracle` for particle
    tasks, :class:`~fenchel.imitation.pointmaze.PointMazeOracle` (random choice among equally
    short routes) for PointMaze and the task's SAC expert for locomotion (success = did not
    fall).

    Args:
      env: a name from ``fenchel.imitation.envs.ENV_NAMES`` or a task config
        (``ParticleConfig``, ``PointMazeConfig``, ``LocomotionConfig``, ...).
      n_episodes: number of episodes, at least 1.
      seed: seed of the initial states and of the oracle's goal order.
      progress: show a tqdm bar of the episodes collected (on stderr; PointMaze and
        locomotion advance by batches of ``MUJOCO_BATCH`` episodes, particle tasks, rolled
        out all at once, in one go). The arrays do not depend on it.

    Returns:
      The :class:`Demonstrations`.

    Example:
      >>> from fenchel.imitation.demos import collect_demonstrations
      >>> demos = collect_demonstrations("particle-2d", n_episodes=4, seed=0)
      >>> demos.observations.shape[1], demos.actions.shape[1]
      (10, 2)
    """
    name, config, family = _resolve_config(env)
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) \
            or n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive int, got {n_episodes!r}")
    from tqdm.auto import tqdm

    reset_seed, oracle_seed = np.random.SeedSequence(seed).spawn(2)
    with tqdm(total=n_episodes, desc=f"collect {name or 'demonstrations'}", unit="episode",
              disable=not progress) as bar:
        oracle = family.oracle(config, np.random.default_rng(oracle_seed))
        parts = []
        for batch in family.collect(oracle, config, n_episodes, reset_seed):
            parts.append(_episode_major(batch))
            bar.update(batch.success.shape[0])
        episodes = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
        bar.set_postfix(success=f"{episodes['episode_success'].mean():.2f}", refresh=False)
    lengths = episodes["episode_lengths"]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    metadata = {
        "format_version": FORMAT_VERSION,
        "env": name,
        "config": config.to_dict(),
        "seed": seed,
        "oracle": type(oracle).__name__,
        "n_episodes": int(n_episodes),
        "success_rate": float(episodes["episode_success"].mean()),
        "mean_return": float(episodes["episode_returns"].mean()),
    }
    if hasattr(oracle, "metadata"):  # a trained expert: how it was trained, and its return
        metadata["expert"] = oracle.metadata
    return Demonstrations(
        episode_index=np.repeat(np.arange(n_episodes, dtype=np.int64), lengths),
        episode_starts=starts,
        metadata=metadata,
        **episodes)


def save_demonstrations(path: str | os.PathLike, demos: Demonstrations) -> None:
    """Writes ``demos`` atomically to one ``.npz`` file (metadata as a JSON string).

    Args:
      path: destination file (its folder is created if needed). Written as given (no suffix
        added).
      demos: the dataset.
    """
    path = os.fspath(path)
    arrays = {key: np.asarray(getattr(demos, key)) for key in _ARRAYS}
    arrays["metadata"] = np.asarray(json.dumps(demos.metadata, sort_keys=True))
    with atomic_file(path, "wb") as file:
        np.savez(file, **arrays)


def load_demonstrations(path: str | os.PathLike) -> Demonstrations:
    """Reads a dataset written by :func:`save_demonstrations`.

    Args:
      path: the ``.npz`` file.

    Returns:
      The :class:`Demonstrations`, equal to the saved one.
    """
    with np.load(os.fspath(path), allow_pickle=False) as data:
        missing = [key for key in (*_ARRAYS, "metadata") if key not in data.files]
        if missing:
            raise ValueError(f"{os.fspath(path)!r} is not a demonstrations file: missing {missing}")
        arrays = {key: data[key] for key in _ARRAYS}
        metadata = json.loads(str(data["metadata"]))
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{os.fspath(path)!r} has format_version {version!r}, expected {FORMAT_VERSION}")
    return Demonstrations(**arrays, metadata=metadata)
