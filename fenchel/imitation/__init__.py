"""Imitation learning with energy-network policies trained by generalized Fenchel-Young losses.

Tasks, scripted oracles and demonstration datasets live in ``particle``, ``pointmaze``, ``envs``,
``oracles`` and ``demos``; the ``fenchel imitation`` command line in ``cli``.
"""
