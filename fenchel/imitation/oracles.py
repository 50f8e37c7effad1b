"""Scripted experts that solve the particle task and produce demonstrations."""

from __future__ import annotations

import numpy as np

from fenchel.imitation.particle import NUM_GOALS, ParticleConfig, split_observation


class ParticleOracle:
    """Scripted expert: the set-point is the goal to reach next, i.e. the goal itself.

    Ordered task: goal 1 until it is visited, then goal 2. Multimodal task: each episode draws
    which goal to visit first uniformly at random (at :meth:`reset`), then goes to the other
    one, so demonstrations from the same initial observation go either way. The goal choice is
    the only memory; everything else is read from the observation's visited flags.

    Follows the policy protocol of :func:`fenchel.imitation.tasks.evaluate_policy`: call
    ``reset(n)`` at the start of a batch of ``n`` episodes (it is called implicitly when a batch
    of another size arrives), then ``oracle(observations)`` each step.

    Args:
      config: task parameters.
      seed: seed (or numpy generator) of the per-episode goal order in the multimodal task.

    Example:
      >>> from fenchel.imitation.envs import evaluate_policy
      >>> from fenchel.imitation.oracles import ParticleOracle
      >>> from fenchel.imitation.particle import ParticleConfig
      >>> config = ParticleConfig(dim=2)
      >>> evaluate_policy(ParticleOracle(config, seed=0), config, 100, seed=0)["success_rate"]
      1.0
    """

    def __init__(self, config: ParticleConfig, seed: int | np.random.Generator | None = 0):
        self.config = config
        self._rng = np.random.default_rng(seed)
        self._first_goal: np.ndarray | None = None

    def reset(self, n: int) -> None:
        """Starts ``n`` new episodes: draws each one's first goal (always goal 1 if ordered)."""
        if self.config.multimodal:
            self._first_goal = self._rng.integers(NUM_GOALS, size=n)
        else:
            self._first_goal = np.zeros(n, dtype=np.int64)

    @property
    def first_goal(self) -> np.ndarray | None:
        """(n,) index of the goal each current episode visits first; None before any reset."""
        return self._first_goal

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        """Set-points for a batch of observations.

        Args:
          observation: (n, 4 N + 2) or a single (4 N + 2,) observation.

        Returns:
          (n, N) float32 set-points (or (N,) for a single observation).
        """
        observation = np.asarray(observation)
        single = observation.ndim == 1
        batch = observation[None] if single else observation
        parts = split_observation(batch, self.config.dim)
        n = batch.shape[0]
        if self._first_goal is None or self._first_goal.shape[0] != n:
            self.reset(n)
        rows = np.arange(n)
        first = self._first_goal
        target = np.where(parts["visited"][rows, first], 1 - first, first)
        action = parts["goals"][rows, target].astype(np.float32)
        return action[0] if single else action
