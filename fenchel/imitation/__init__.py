"""Imitation learning with energy-network policies trained by generalized Fenchel-Young losses.

Every task kind is a task family (``tasks``, the interface and its registry): ``particle`` and
``particle_task``, ``particle_ibc``, ``pointmaze``, ``locomotion``; scripted oracles and
demonstration datasets live in ``oracles`` and ``demos``, the registry lookups also in ``envs``;
the ``fenchel imitation`` command line in ``cli``.
"""
