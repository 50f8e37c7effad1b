"""Task names, configs and batched policy evaluation, for every task (a compatibility facade).

The names below are defined elsewhere and kept importable from here:

* the registry lookups of :mod:`fenchel.imitation.tasks`: :func:`make_env_config`,
  :func:`env_name`, :func:`action_bounds`, :func:`config_from_dict`,
  :func:`evaluate_policy`, and ``ENV_NAMES`` (:func:`fenchel.imitation.tasks.env_names`:
  ``particle-<N>d[-multimodal]``, ``pointmaze-<maze>``, ``hopper``, ``halfcheetah``,
  ``walker2d``, ``particle-ibc-<N>d``);
* the particle task's gymnasium environment (``GYMNASIUM_ID``, ``fenchel/Particle-v0``),
  ``ParticleEnv``, ``Rollout`` and ``rollout_from_state``, from
  :mod:`fenchel.imitation.particle_task`.

Example:
  >>> from fenchel.imitation.envs import ENV_NAMES, make_env_config
  >>> make_env_config(ENV_NAMES[0]).dim
  1
"""

from __future__ import annotations

from fenchel.imitation.locomotion import LocomotionConfig
from fenchel.imitation.particle import ParticleConfig
from fenchel.imitation.particle_ibc import IBCParticleConfig
from fenchel.imitation.particle_task import (
    GYMNASIUM_ID,
    ParticleEnv,
    Rollout,
    rollout_from_state,
)
from fenchel.imitation.pointmaze import PointMazeConfig
from fenchel.imitation.tasks import (
    Policy,
    action_bounds,
    config_from_dict,
    env_name,
    env_names,
    evaluate_policy,
    make_env_config,
)

#: A config of any registered task family.
EnvConfig = ParticleConfig | PointMazeConfig | LocomotionConfig | IBCParticleConfig
#: Every task name, family after family.
ENV_NAMES: tuple[str, ...] = env_names()

__all__ = ["Policy", "EnvConfig", "ENV_NAMES", "GYMNASIUM_ID", "make_env_config", "env_name",
           "action_bounds", "config_from_dict", "ParticleEnv", "Rollout", "rollout_from_state",
           "evaluate_policy"]
