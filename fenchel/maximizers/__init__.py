"""Inner maximizers: solve ŷ(θ) = argmax_{y ∈ dom Ω} Φ(θ, y) − Ω(y).

Every maximizer is a frozen dataclass called as
``solver(energy, reg, theta, init=None, key=None) -> (y_hat, info)``, jit- and
vmap-able, and returns a :class:`MaximizerInfo` with the iterations used, a
convergence measure, the objective reached and a :class:`Status`. Use
:func:`maximize` rather than calling a solver directly: it validates inputs and
picks a default solver. The solvers ask the energy (:class:`fenchel.energies.Energy`)
and the regularizer (its ``domain`` and capabilities) what they can do, never
their types: a user's energy, regularizer or solver works with no edit here
(see ``docs/extending.md``).

The package: ``_base`` (the protocol, status, shared pieces), ``_first_order``
(:class:`ClosedForm`, :class:`ProjectedGradient`, :class:`MirrorAscent`),
``_coordinate`` (:class:`CoordinateAscent`), ``_sampling``
(:class:`DerivativeFree`, :class:`Langevin`), ``_wrappers`` (:class:`Restarts`,
:class:`Sequential`) and ``_policy`` (:func:`default_solver`, :func:`maximize`,
:func:`conjugate`, :func:`jit`).

==========================  ===================================================  =================
solver                      method                                               handles
==========================  ===================================================  =================
:class:`ClosedForm`         ``ŷ = ∇Ω*(θ)``                                       Φ linear in y
:class:`ProjectedGradient`  accelerated proximal gradient (FISTA)                Ω with a prox
                            with backtracking and adaptive restart               (squared, box,
                                                                                 simplex), any Φ
:class:`MirrorAscent`       entropic mirror ascent, adaptive step                BinaryEntropy,
                                                                                 ShannonSimplex
:class:`CoordinateAscent`   exact block-coordinate ascent                        pairwise and
                                                                                 low-rank pairwise
                                                                                 Φ with
                                                                                 BinaryEntropy,
                                                                                 SquaredBox,
                                                                                 BoxIndicator
:class:`DerivativeFree`     iterative resampling (implicit BC)                   any Φ, box Ω
:class:`Langevin`           annealed projected Langevin ascent                   any Φ, box Ω
:class:`Restarts`           best of a solver run from random inits               wraps any
:class:`Sequential`         run solvers in turn, warm-starting                   wraps any
==========================  ===================================================  =================

The convergence measure ``info.residual`` of the iterative solvers is the norm
of the last step divided by its step size (the gradient mapping), which is zero
exactly at a stationary point; ``info.converged`` is ``residual <= tol``.

What ``converged`` certifies: **stationarity**. When the inner objective
``F = Φ(θ, ·) − Ω`` is concave (Φ concave in y, e.g. :func:`~fenchel.energies.pairwise`
with ``U ⪯ 0``), a stationary point is a global maximum and ``converged`` means
ŷ is optimal up to ``tol``. When F is not concave it may be a saddle point or a
local maximum. :func:`~fenchel.energies.low_rank_pairwise` (``U = −VVᵀ``) is
concave for every θ. :func:`maximize` and the losses check a concrete pairwise θ:
with ``λ_max(½(U + Uᵀ))`` above the strong convexity μ of Ω the problem is not
concave, the default solver becomes :class:`Restarts` and a
:class:`NonConcaveWarning` says so (also for an explicit local solver); with the
unbounded domain of :class:`~fenchel.regularizers.Squared` the maximum is +inf
and a ``ValueError`` is raised. Inside ``jit`` θ is traced and cannot be checked.
The sampling solvers (:class:`DerivativeFree`, :class:`Langevin`) certify nothing.

Solver settings are checked when the solver is built: ``maxiter >= 1``,
``num_samples >= 1``, positive finite tolerances and step sizes, and so on.
"""

from fenchel.maximizers._base import (Maximizer, MaximizerInfo, NonConcaveWarning,
                                      NotConvergedError, Status, check_bool, check_int,
                                      check_real, default_fixed_point_map, default_init,
                                      is_maximizer, loop, make_info, objective, objective_gap,
                                      random_init, require_bounded, resolve_init)
from fenchel.maximizers._coordinate import CoordinateAscent
from fenchel.maximizers._first_order import ClosedForm, MirrorAscent, ProjectedGradient
from fenchel.maximizers._policy import (check_on_failure, check_output, check_theta,
                                        concavity_excess, conjugate, default_solver, jit,
                                        mark_not_concave, maximize, read_inputs, report,
                                        resolve_solver)
from fenchel.maximizers._sampling import DerivativeFree, Langevin, initial_chains, interior_gradient
from fenchel.maximizers._wrappers import Restarts, Sequential

# Deprecated private aliases, kept for code that imported them before they were public.
_check_int, _check_real, _check_bool = check_int, check_real, check_bool
_resolve_init, _require_box = resolve_init, require_bounded
_interior_gradient, _initial_chains = interior_gradient, initial_chains

__all__ = [
    "MaximizerInfo",
    "Status",
    "NotConvergedError",
    "NonConcaveWarning",
    "Maximizer",
    "ClosedForm",
    "ProjectedGradient",
    "MirrorAscent",
    "CoordinateAscent",
    "DerivativeFree",
    "Langevin",
    "Restarts",
    "Sequential",
    "default_solver",
    "default_init",
    "random_init",
    "objective",
    "objective_gap",
    "concavity_excess",
    "resolve_solver",
    "maximize",
    "conjugate",
    "jit",
    "check_theta",
    "check_output",
    "check_on_failure",
    "check_int",
    "check_real",
    "check_bool",
    "require_bounded",
    "resolve_init",
    "make_info",
    "loop",
    "report",
    "mark_not_concave",
    "read_inputs",
    "is_maximizer",
    "default_fixed_point_map",
    "interior_gradient",
    "initial_chains",
]
