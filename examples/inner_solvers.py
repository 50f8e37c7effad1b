"""Choosing and diagnosing the inner solver
========================================

Every prediction and every GFY loss solves an inner problem

    ŷ(θ) = argmax_{y ∈ dom Ω} Φ(θ, y) − Ω(y).

This script shows how to pick the solver and read what it reports:

1. the default solver for a few (energy, Ω) pairs
   (:func:`fenchel.maximizers.default_solver`);
2. the diagnostics of a solve, a :class:`fenchel.MaximizerInfo`
   (iterations, residual, objective, converged), for a concave pairwise
   energy and two exact solvers that agree;
3. ``on_failure``: a solver stopped too early is silent by default
   (``"ignore"``: look at ``info.converged``), warns with ``"warn"`` and raises
   :class:`fenchel.maximizers.NotConvergedError` with ``"raise"``;
4. a non-concave pairwise energy (λ_max of U above the strong convexity of Ω):
   fenchel detects it, emits a :class:`fenchel.maximizers.NonConcaveWarning`
   and by default runs :class:`fenchel.maximizers.Restarts`, the best of
   several local solves. A single local solve from a point in the wrong basin
   stops at a worse local maximum; a brute-force grid confirms the restarts'
   answer.

Run: ``python examples/inner_solvers.py`` (the core install is enough). It
ends with ``restarts found the grid's maximum``.
"""

import itertools
import logging
import warnings

import jax.numpy as jnp
import numpy as np

import fenchel as fy
from fenchel.maximizers import (CoordinateAscent, MirrorAscent, NonConcaveWarning,
                                NotConvergedError, ProjectedGradient, Restarts)

E, R = fy.energies, fy.regularizers

print("1. default solvers")
for energy, reg in [(E.bilinear, R.ShannonSimplex()), (E.pairwise, R.BinaryEntropy()),
                    (E.pairwise, R.SquaredBox())]:
    solver = fy.maximizers.default_solver(energy, reg)
    print(f"   {energy.__name__:8s} + {type(reg).__name__:14s} -> {solver}")

print("2. diagnostics of a concave pairwise problem (U = -V Vᵀ ⪯ 0)")
u = jnp.array([1.0, -0.5, 0.2, 2.0, -1.0])
U = E.negative_semidefinite(0.3 * jnp.ones((5, 2)))
reg = R.BinaryEntropy()
solutions = {}
for solver in (MirrorAscent(), CoordinateAscent()):
    y_hat, info = fy.maximize(E.pairwise, reg, (u, U), solver=solver)
    solutions[type(solver).__name__] = y_hat
    print(f"   {type(solver).__name__:16s} iterations {int(info.iterations):3d}  "
          f"residual {float(info.residual):.1e}  objective {float(info.objective):.6f}  "
          f"converged {bool(info.converged)}")
gap = float(jnp.max(jnp.abs(solutions["MirrorAscent"] - solutions["CoordinateAscent"])))
print(f"   the two solutions differ by {gap:.1e}")

print("3. on_failure with a solver stopped after 2 iterations")
hasty = MirrorAscent(maxiter=2)
y_hat, info = fy.maximize(E.pairwise, reg, (u, U), solver=hasty)  # on_failure="ignore"
print(f"   ignore: converged {bool(info.converged)}, residual {float(info.residual):.2f}")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fy.maximize(E.pairwise, reg, (u, U), solver=hasty, on_failure="warn")
print(f"   warn:   {caught[0].category.__name__}: {caught[0].message}")
# The check runs in a jax.debug.callback (so it works under jit too); JAX logs the
# exception it relays with a traceback, which this script silences.
logging.getLogger("jax._src.debugging").setLevel(logging.CRITICAL)
try:
    fy.maximize(E.pairwise, reg, (u, U), solver=hasty, on_failure="raise")
except NotConvergedError as error:
    print(f"   raise:  NotConvergedError: {error}")

print("4. a non-concave pairwise problem on the box [0, 1]^3")
u = jnp.array([-1.6, 1.8, -3.3])
U = jnp.array([[8.0, -2.0, 1.0], [-2.0, 0.0, -8.0], [1.0, -8.0, 12.0]])
reg = R.SquaredBox()  # μ = 1, while λ_max(U) ≈ 16
excess = fy.maximizers.concavity_excess(E.pairwise, reg, (u, U))
print(f"   concavity excess λ_max - μ = {excess:.2f}")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", NonConcaveWarning)
    start = jnp.array([0.0, 0.5, 0.5])  # in the basin of a poor local maximum
    y_local, info_local = fy.maximize(E.pairwise, reg, (u, U), solver=ProjectedGradient(),
                                      init=start)
    y_best, info_best = fy.maximize(E.pairwise, reg, (u, U))  # default: Restarts
print(f"   {len(caught)} NonConcaveWarning(s): {str(caught[-1].message).split(';')[0]}")
print(f"   ProjectedGradient from (0, ½, ½):  y {np.round(y_local, 3).tolist()}  "
      f"objective {float(info_local.objective):.3f}")
print(f"   default (Restarts):                y {np.round(y_best, 3).tolist()}  "
      f"objective {float(info_best.objective):.3f}")
explicit = Restarts(ProjectedGradient(), num_restarts=16)  # the same, chosen explicitly
with warnings.catch_warnings():
    warnings.simplefilter("error", NonConcaveWarning)  # Restarts is not a local solver: no warning
    _, info_explicit = fy.maximize(E.pairwise, reg, (u, U), solver=explicit)

grid = np.array(list(itertools.product(np.linspace(0, 1, 21), repeat=3)))
u_np, U_np = np.asarray(u), np.asarray(U)
values = grid @ u_np + 0.5 * np.einsum("ni,ij,nj->n", grid, U_np, grid) - 0.5 * (grid ** 2).sum(1)
print(f"   brute-force grid maximum:          y {grid[values.argmax()].tolist()}  "
      f"objective {values.max():.3f}")
if not (abs(float(info_best.objective) - values.max()) < 1e-3
        and abs(float(info_explicit.objective) - values.max()) < 1e-3
        and float(info_local.objective) < values.max() - 1.0):
    raise SystemExit("unexpected solver results")
print("restarts found the grid's maximum")
