"""Policies and oracles accept one observation or a batch; this puts both in one shape."""

from __future__ import annotations

import numpy as np


def observation_batch(observation, observation_dim: int,
                      name: str = "observation") -> tuple[np.ndarray, bool]:
    """``(batch, single)``: ``observation`` as an ``(n, observation_dim)`` array, and whether it
    was one ``(observation_dim,)`` observation (the caller then returns ``result[0]``).

    Raises:
      ValueError: any other shape (the message names ``name``).

    Example:
      >>> import numpy as np
      >>> from fenchel.imitation._observations import observation_batch
      >>> batch, single = observation_batch(np.zeros(3), 3)
      >>> batch.shape, single
      ((1, 3), True)
    """
    observation = np.asarray(observation)
    single = observation.ndim == 1
    batch = observation[None] if single else observation
    if batch.ndim != 2 or batch.shape[1] != observation_dim:
        raise ValueError(f"{name} must have shape (n, {observation_dim}), "
                         f"got {observation.shape}")
    return batch, single
