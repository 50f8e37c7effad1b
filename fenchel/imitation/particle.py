"""Batched dynamics of the N-D particle task (the "particle" task of implicit BC).

A point in the unit box ``[0, 1]^N`` is driven by a PD controller toward a position set-point
(the action) and must visit two goals within ``max_steps`` control steps: goal 1 then goal 2
(ordered task) or both in either order (multimodal task). Everything here is pure numpy on
batches of ``n`` episodes, so thousands of episodes evaluate at once; the gymnasium
environment in :mod:`fenchel.imitation.particle_task` calls the same functions with ``n = 1``.

Dynamics, per substep of length ``dt`` (``substeps`` of them per control step), with the
set-point ``a`` clipped to the box::

    force    = kp * (a - position) - kd * velocity
    velocity = velocity + dt * force                (semi-implicit Euler)
    position = clip(position + dt * velocity, 0, 1)

and a velocity component pushing into a wall is zeroed (an inelastic wall).

Observation (``4 N + 2`` floats)::

    [position (N), velocity (N), goal 1 (N), goal 2 (N), visited 1, visited 2]

The two visited flags go beyond the plain ``(position, velocity, goal 1, goal 2)`` of implicit
BC: without them a memoryless policy cannot tell "going to goal 1" from "done with goal 1, now
going to goal 2", and in the multimodal task which goal remains. With them the task is Markov in
the observation, which is what a policy ``pi(observation)`` (explicit or implicit) relies on.

A goal counts as visited when the particle comes within ``goal_radius`` of it at any substep;
in the ordered task goal 2 only counts once goal 1 is visited. The default radius is
``0.05 * sqrt(N)``, which keeps the per-coordinate root-mean-square tolerance at 0.05 in every
dimension (a fixed radius would demand ever finer per-coordinate precision as N grows).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import numpy as np

MAX_DIM = 16
NUM_GOALS = 2


@dataclasses.dataclass(frozen=True)
class ParticleConfig:
    """Parameters of the particle task; ``None`` fields resolve to dimension-dependent defaults.

    Args:
      dim: dimension N of the box, 1 to 16.
      multimodal: if True the goals may be visited in either order; if False goal 1 first.
      max_steps: control steps per episode.
      goal_radius: distance at which a goal counts as visited; default ``0.05 * sqrt(dim)``.
      min_goal_distance: least distance between the two goals and between the start and each
        goal; default ``4 * goal_radius``.
      kp: proportional gain of the PD controller.
      kd: derivative (damping) gain of the PD controller.
      dt: integration substep in seconds.
      substeps: integration substeps per control step (control period ``dt * substeps``).

    Example:
      >>> from fenchel.imitation.particle import ParticleConfig
      >>> ParticleConfig(dim=8).goal_radius == 0.05 * 8 ** 0.5
      True
    """

    dim: int = 2
    multimodal: bool = False
    max_steps: int = 50
    goal_radius: float | None = None
    min_goal_distance: float | None = None
    kp: float = 10.0
    kd: float = 6.0
    dt: float = 0.01
    substeps: int = 10

    def __post_init__(self) -> None:
        if isinstance(self.dim, bool) or not isinstance(self.dim, (int, np.integer)):
            raise TypeError(f"dim must be an int, got {type(self.dim).__name__} {self.dim!r}")
        if not 1 <= self.dim <= MAX_DIM:
            raise ValueError(f"dim must be in 1..{MAX_DIM}, got {self.dim}")
        for name in ("max_steps", "substeps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        object.__setattr__(self, "dim", int(self.dim))
        if self.goal_radius is None:
            object.__setattr__(self, "goal_radius", 0.05 * math.sqrt(self.dim))
        if self.min_goal_distance is None:
            object.__setattr__(self, "min_goal_distance", 4.0 * self.goal_radius)
        for name in ("goal_radius", "kp", "kd", "dt"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        # Three points pairwise this far apart must fit in the box (its diagonal is sqrt(dim)).
        if not 0 <= self.min_goal_distance <= 0.5 * math.sqrt(self.dim):
            raise ValueError(
                f"min_goal_distance must be in [0, {0.5 * math.sqrt(self.dim):.3g}] for "
                f"dim={self.dim}, got {self.min_goal_distance!r}")

    @property
    def name(self) -> str:
        """The task name ``particle-<N>d[-multimodal]`` (of the default parameters)."""
        return f"particle-{self.dim}d" + ("-multimodal" if self.multimodal else "")

    @property
    def observation_dim(self) -> int:
        """Length of an observation: ``4 * dim + 2``."""
        return 4 * self.dim + NUM_GOALS

    @property
    def action_dim(self) -> int:
        """Length of an action (a position set-point): ``dim``."""
        return self.dim

    action_low = 0.0
    action_high = 1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serializable dictionary; ``ParticleConfig(**d)`` rebuilds the config."""
        return dataclasses.asdict(self)


class ParticleState(NamedTuple):
    """State of a batch of ``n`` episodes (a pytree of numpy arrays).

    Attributes:
      position: (n, N) float64 positions in the unit box.
      velocity: (n, N) float64 velocities.
      goals: (n, 2, N) float64 goal positions (goal 1, goal 2).
      visited: (n, 2) bool, whether each goal has been visited (monotone in time).
      step_count: (n,) int64 control steps taken.
    """

    position: np.ndarray
    velocity: np.ndarray
    goals: np.ndarray
    visited: np.ndarray
    step_count: np.ndarray


def particle_reset(rng: np.random.Generator, n: int, config: ParticleConfig) -> ParticleState:
    """Samples ``n`` initial states: start and goals uniform in the box, pairwise apart.

    Start, goal 1 and goal 2 are drawn uniformly in ``[0, 1]^N`` and redrawn (per episode)
    until every pair is at least ``config.min_goal_distance`` apart; the velocity starts at 0.

    Args:
      rng: numpy random generator (consumed).
      n: number of episodes, at least 1.
      config: task parameters.

    Returns:
      A ``ParticleState`` with batch size ``n``.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.particle import ParticleConfig, particle_reset
      >>> state = particle_reset(np.random.default_rng(0), 3, ParticleConfig(dim=2))
      >>> state.goals.shape
      (3, 2, 2)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    points = rng.uniform(size=(n, NUM_GOALS + 1, config.dim))
    while True:
        gaps = np.linalg.norm(points[:, :, None, :] - points[:, None, :, :], axis=-1)
        gaps += np.where(np.eye(NUM_GOALS + 1, dtype=bool), np.inf, 0.0)
        bad = np.flatnonzero(gaps.min(axis=(1, 2)) < config.min_goal_distance)
        if bad.size == 0:
            break
        points[bad] = rng.uniform(size=(bad.size, NUM_GOALS + 1, config.dim))
    return ParticleState(
        position=points[:, 0],
        velocity=np.zeros((n, config.dim)),
        goals=points[:, 1:],
        visited=np.zeros((n, NUM_GOALS), dtype=bool),
        step_count=np.zeros(n, dtype=np.int64))


def particle_observation(state: ParticleState) -> np.ndarray:
    """Observations ``[position, velocity, goal 1, goal 2, visited 1, visited 2]``.

    Args:
      state: batch of ``n`` states of dimension N.

    Returns:
      (n, 4 N + 2) float32 array.
    """
    n = state.position.shape[0]
    return np.concatenate(
        [state.position, state.velocity, state.goals.reshape(n, -1),
         state.visited.astype(np.float64)], axis=1).astype(np.float32)


def split_observation(observation: np.ndarray, dim: int) -> dict[str, np.ndarray]:
    """Inverse of :func:`particle_observation` on the last axis.

    Args:
      observation: (..., 4 dim + 2) array.
      dim: dimension N.

    Returns:
      dict with "position", "velocity" (..., N), "goals" (..., 2, N), "visited" (..., 2) bool.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.particle import split_observation
      >>> parts = split_observation(np.zeros((5, 10)), dim=2)
      >>> parts["goals"].shape
      (5, 2, 2)
    """
    observation = np.asarray(observation)
    if observation.shape[-1:] != (4 * dim + NUM_GOALS,):
        raise ValueError(
            f"observation must have last axis 4*dim+2 = {4 * dim + NUM_GOALS} for dim={dim}, "
            f"got shape {observation.shape}")
    lead = observation.shape[:-1]
    return {
        "position": observation[..., :dim],
        "velocity": observation[..., dim:2 * dim],
        "goals": observation[..., 2 * dim:4 * dim].reshape(*lead, NUM_GOALS, dim),
        "visited": observation[..., 4 * dim:] > 0.5,
    }


def particle_success(state: ParticleState) -> np.ndarray:
    """(n,) bool: both goals visited (in order, for the ordered task)."""
    return state.visited.all(axis=1)


def particle_step(
    state: ParticleState, action: np.ndarray, config: ParticleConfig
) -> tuple[ParticleState, np.ndarray]:
    """Advances every episode by one control step toward the set-point ``action``.

    Finished episodes may keep stepping: the visited flags only ever switch on, so success
    and the return do not change afterwards.

    Args:
      state: batch of ``n`` states.
      action: (n, N) set-points; clipped to the unit box (the action space).
      config: task parameters.

    Returns:
      ``(next_state, reward)`` with reward (n,) float64: the fraction of the goals newly
      visited during this step, so an episode's return is 1 exactly when it succeeds.

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation.particle import ParticleConfig, particle_reset, particle_step
      >>> config = ParticleConfig(dim=2)
      >>> state = particle_reset(np.random.default_rng(0), 4, config)
      >>> state, reward = particle_step(state, state.goals[:, 0], config)
      >>> reward.shape
      (4,)
    """
    action = np.asarray(action, dtype=np.float64)
    expected = state.position.shape
    if action.shape != expected:
        raise ValueError(f"action must have shape {expected} (n, dim), got {action.shape}")
    if not np.isfinite(action).all():
        raise ValueError("action must be finite, got NaN or infinite entries")
    set_point = np.clip(action, 0.0, 1.0)
    position, velocity, visited = state.position, state.velocity, state.visited
    visited_before = visited
    for _ in range(config.substeps):
        force = config.kp * (set_point - position) - config.kd * velocity
        velocity = velocity + config.dt * force
        position = position + config.dt * velocity
        at_wall = ((position <= 0.0) & (velocity < 0.0)) | ((position >= 1.0) & (velocity > 0.0))
        velocity = np.where(at_wall, 0.0, velocity)
        position = np.clip(position, 0.0, 1.0)
        near = np.linalg.norm(position[:, None, :] - state.goals, axis=-1) < config.goal_radius
        if config.multimodal:
            visited = visited | near
        else:
            first = visited[:, 0] | near[:, 0]
            visited = np.stack([first, visited[:, 1] | (first & near[:, 1])], axis=1)
    reward = (visited & ~visited_before).sum(axis=1) / NUM_GOALS
    next_state = ParticleState(position, velocity, state.goals, visited, state.step_count + 1)
    return next_state, reward
