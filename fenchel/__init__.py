"""fenchel: energy networks trained with generalized Fenchel-Young losses.

An energy network predicts by optimizing,

    ŷ(θ) = argmax_{y ∈ dom Ω} Φ(θ, y) − Ω(y),

and is trained with the generalized Fenchel-Young loss

    L(θ; y) = Ω^Φ(θ) + Ω(y) − Φ(θ, y),   Ω^Φ(θ) = max_y Φ(θ, y) − Ω(y),

whose gradient ∇_θ Φ(θ, ŷ) − ∇_θ Φ(θ, y) needs no differentiation through the
argmax. Modules, from the bottom up: :mod:`fenchel.domains` (dom Ω),
:mod:`fenchel.regularizers` (Ω),
:mod:`fenchel.energies` (Φ), :mod:`fenchel.maximizers` (inner solvers),
:mod:`fenchel.losses` (GFY and baseline losses), and two losses built on them:
:mod:`fenchel.candidates` (the GFY loss over a finite candidate set, from the
hard max to InfoNCE) and :mod:`fenchel.log_partition` (maximum likelihood with a
learned log-partition, the "min-min" loss); :mod:`fenchel.testing` checks
users' components with the properties the project's tests check.

Example:
  >>> import jax.numpy as jnp
  >>> import fenchel as fy
  >>> theta = (jnp.array([1.0, -0.5]), fy.energies.negative_semidefinite(jnp.eye(2)))
  >>> y = jnp.array([1.0, 0.0])
  >>> loss = fy.gfy_loss(fy.energies.pairwise, fy.regularizers.SquaredBox(), theta, y)
"""

from fenchel import (candidates, domains, energies, log_partition, losses, maximizers,
                     ranking, regularizers, testing)
from fenchel.candidates import candidate_set_loss
from fenchel.log_partition import min_min_loss
from fenchel.losses import gfy_loss, make_gfy_loss
from fenchel.maximizers import MaximizerInfo, conjugate, maximize

__version__ = "0.1.0"

__all__ = [
    "domains",
    "testing",
    "energies",
    "regularizers",
    "maximizers",
    "losses",
    "candidates",
    "log_partition",
    "ranking",
    "maximize",
    "conjugate",
    "gfy_loss",
    "make_gfy_loss",
    "candidate_set_loss",
    "min_min_loss",
    "MaximizerInfo",
]
