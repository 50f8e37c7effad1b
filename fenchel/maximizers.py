"""Inner maximizers: solve ŷ(θ) = argmax_{y ∈ dom Ω} Φ(θ, y) − Ω(y).

Every maximizer is a frozen dataclass called as
``solver(energy, reg, theta, init=None, key=None) -> (y_hat, info)``, jit- and
vmap-able, and returns a :class:`MaximizerInfo` with the iterations used, a
convergence measure and the objective reached. Use :func:`maximize` rather than
calling a solver directly: it validates inputs and picks a default solver.

=====================  ========================================  ===================
solver                 method                                    handles
=====================  ========================================  ===================
:class:`ClosedForm`    ``ŷ = ∇Ω*(θ)``                             bilinear Φ
:class:`ProjectedGradient`  accelerated proximal gradient (FISTA) Ω with a prox
                       with backtracking and adaptive restart    (squared, box,
                                                                 simplex), any Φ
:class:`MirrorAscent`  entropic mirror ascent, adaptive step     BinaryEntropy,
                                                                 ShannonSimplex
:class:`CoordinateAscent`  exact block-coordinate ascent          pairwise and
                                                                 low-rank pairwise
                                                                 Φ with
                                                                 BinaryEntropy,
                                                                 SquaredBox,
                                                                 BoxIndicator
:class:`DerivativeFree`  iterative resampling (implicit BC)       any Φ, box Ω
:class:`Langevin`      annealed projected Langevin ascent        any Φ, box Ω
:class:`Restarts`      best of a solver run from random inits    wraps any
:class:`Sequential`    run solvers in turn, warm-starting        wraps any
=====================  ========================================  ===================

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

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import _inputs, _pytree
from fenchel import energies as _energies
from fenchel.energies import _dot, _vdot
from fenchel import regularizers as _regs

Array = jax.Array
Energy = _energies.Energy


class MaximizerInfo(NamedTuple):
    """Diagnostics of one maximization.

    Attributes:
      iterations: iterations (or sweeps, or sampling rounds) used.
      residual: convergence measure (see the module docstring); 0 for
        :class:`ClosedForm`.
      objective: Φ(θ, ŷ) − Ω(ŷ) at the returned ŷ.
      converged: whether ``residual <= tol``.
    """

    iterations: Array
    residual: Array
    objective: Array
    converged: Array


class NotConvergedError(RuntimeError):
    """Raised by :func:`maximize` with ``on_failure="raise"``."""


class NonConcaveWarning(RuntimeWarning):
    """The inner problem is not concave: a local solver may stop at a saddle or a
    local maximum, and the GFY loss it gives is a lower bound of the true one."""


def _setting_error(solver, name, expected, value):
    return ValueError(f"{solver}.{name} must be {expected}, got {value!r}")


def _check_int(solver: str, name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise _setting_error(solver, name, f"an integer >= {minimum}", value)


def _check_real(solver: str, name: str, value, *, low: float = 0.0, high: float = np.inf,
                low_open: bool = True, high_open: bool = False) -> None:
    if _pytree.is_traced(value):
        return
    if isinstance(value, jax.Array) and value.ndim == 0:
        value = value.item()
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
          and np.isfinite(value) and (value > low if low_open else value >= low)
          and (value < high if high_open else value <= high))
    if not ok:
        if np.isfinite(high):
            expected = (f"a finite number in {'(' if low_open else '['}{low:g}, "
                        f"{high:g}{')' if high_open else ']'}")
        else:
            expected = f"a finite number {'>' if low_open else '>='} {low:g}"
        raise _setting_error(solver, name, expected, value)


def _check_bool(solver: str, name: str, value) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise _setting_error(solver, name, "True or False", value)


def objective(energy: Energy, reg: _regs.Regularizer, theta: Any, y: Array) -> Array:
    """The inner objective ``F(y) = Φ(θ, y) − Ω(y)`` (scalar)."""
    return energy(theta, y) - reg.value(y)


def objective_gap(energy: Energy, reg: _regs.Regularizer, theta: Any, a: Array,
                  b: Array) -> Array:
    """``F(a) − F(b)`` with ``F = Φ(θ, ·) − Ω``, computed from differences.

    For the built-in energies the difference is formed before the sums
    (``<θ, a − b>``; ``<u, d> + ½ dᵀS(a + b)`` with ``d = a − b``, ``S = ½(U + Uᵀ)``;
    ``<u, d> − ½ (Vᵀd)·(Vᵀ(a + b))`` for the low-rank pairwise energy), and Ω's
    entry by entry, so nearby points with large objectives do not lose the
    gap to cancellation. Its gradient in θ is ``∇_θ Φ(θ, a) − ∇_θ Φ(θ, b)``.
    """
    d = a - b
    if energy is _energies.bilinear:
        energy_gap = _vdot(theta, d)
    elif energy is _energies.pairwise:
        u, interactions = theta
        sym = 0.5 * (interactions + interactions.T)
        energy_gap = _vdot(u, d) + 0.5 * _vdot(d, _dot(sym, a + b))
    elif energy is _energies.low_rank_pairwise:
        u, factor = theta
        energy_gap = (_vdot(u, d)
                      - 0.5 * _vdot(_dot(d, factor), _dot(a + b, factor)))
    else:
        energy_gap = energy(theta, a) - energy(theta, b)
    return energy_gap - reg.value_difference(a, b)


def _energy_grad(energy: Energy, theta: Any, y: Array) -> Array:
    return jax.grad(energy, argnums=1)(theta, y)


class _Smooth(NamedTuple):
    """First-order oracle of ``Φ(θ, ·)`` for the iterative solvers.

    ``quadratic`` marks energies at most quadratic in y (the built-in
    :func:`~fenchel.energies.bilinear`, :func:`~fenchel.energies.pairwise` and
    :func:`~fenchel.energies.low_rank_pairwise`):
    their gradient is affine, so the gradient at an extrapolated point is the same
    combination of known gradients, and ``Φ(b) − Φ(a) = <(∇Φ(a) + ∇Φ(b))/2, b − a>``
    exactly (the trapezoid rule is exact for quadratics). A solver then needs one
    gradient per iteration and no energy value.
    """

    value_and_grad: Any  # y -> (Φ(θ, y), ∇_y Φ(θ, y))
    grad: Any  # y -> ∇_y Φ(θ, y)
    quadratic: bool
    curvature: Any  # y -> power-iteration estimate of ‖∇²_y Φ(θ, y)‖₂ (a lower bound)


def _smooth(energy: Energy, theta: Any) -> _Smooth:
    if energy is _energies.bilinear:
        grad = lambda y: jnp.broadcast_to(theta, jnp.shape(y)).astype(jnp.result_type(y))
        return _Smooth(lambda y: (_vdot(theta, y), grad(y)), grad, True,
                       lambda y: jnp.zeros((), jnp.result_type(y)))
    if energy is _energies.pairwise:
        u, interactions = theta
        # ∇ of ½ yᵀUy is S y with S = ½(U + Uᵀ): one product per gradient, and S is
        # computed once per solve (once per batch when U is shared: under vmap an
        # unbatched U keeps S unbatched).
        sym = 0.5 * (interactions + interactions.T)

        def value_and_grad(y):
            field = _dot(sym, y)
            return _vdot(u, y) + 0.5 * _vdot(y, field), u + field

        return _Smooth(value_and_grad, lambda y: u + _dot(sym, y), True,
                       lambda y: _power_iteration(lambda v: _dot(sym, v), y))
    if energy is _energies.low_rank_pairwise:
        u, factor = theta
        # ∇ of −½‖Vᵀy‖² is −V(Vᵀy): two products with V, O(kr), and the k × k
        # matrix U = −VVᵀ is never formed; its norm ‖V‖₂² by power iteration on
        # v ↦ V(Vᵀv).

        def value_and_grad(y):
            projected = _dot(y, factor)
            return (_vdot(u, y) - 0.5 * _vdot(projected, projected),
                    u - _dot(factor, projected))

        def gram(v):  # V(Vᵀv)
            return _dot(factor, _dot(v, factor))

        return _Smooth(value_and_grad, lambda y: u - gram(y), True,
                       lambda y: _power_iteration(gram, y))
    value_and_grad = jax.value_and_grad(lambda y: energy(theta, y))
    grad = lambda y: value_and_grad(y)[1]
    hvp = lambda y: (lambda v: jax.jvp(grad, (y,), (v,))[1])
    return _Smooth(value_and_grad, grad, False,
                   lambda y: _power_iteration(hvp(y), y))


def _power_iteration(matvec, like: Array, num_iter: int = 8) -> Array:
    """``‖A v_n‖`` after ``num_iter`` power steps from a fixed start vector: an
    estimate of ``‖A‖₂`` from below (exact for a rank-one A)."""
    # A fixed, irregular start (not a PRNG draw: threefry costs more than the
    # iteration at small k) is generically not orthogonal to the top eigenvector.
    index = jnp.arange(jnp.size(like), dtype=jnp.result_type(like)).reshape(jnp.shape(like))
    v = 1.0 + 0.5 * jnp.sin(2.399963 * index + 0.5)
    v = v / jnp.linalg.norm(v)

    def step(v, _):
        av = matvec(v)
        norm = jnp.linalg.norm(av)
        return av / (norm + 1e-12), norm

    # Unrolled: a loop of a few tiny steps costs more in loop control than in flops.
    _, norms = jax.lax.scan(step, v, None, length=num_iter, unroll=True)
    return norms[-1]


def default_init(reg: _regs.Regularizer, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
    """A neutral starting point in ``dom Ω``: the box centre, the simplex
    barycentre, or zero."""
    if reg.is_box:
        return jnp.full(shape, 0.5 * (reg.lower + reg.upper), dtype)
    if isinstance(reg, _regs._Simplex):
        return jnp.full(shape, 1.0 / shape[-1], dtype)
    return jnp.zeros(shape, dtype)


def random_init(reg: _regs.Regularizer, key: Array, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
    """A random point of ``dom Ω``: uniform on a box, flat Dirichlet on the
    simplex, standard normal on R^k."""
    if reg.is_box:
        return jax.random.uniform(key, shape, dtype, reg.lower, reg.upper)
    if isinstance(reg, _regs._Simplex):
        return jax.random.dirichlet(key, jnp.ones(shape[-1]), shape[:-1]).astype(dtype)
    return jax.random.normal(key, shape, dtype)


def _info(energy, reg, theta, y, iterations, residual, tol) -> MaximizerInfo:
    # Keep y's precision: a float32 cast would hide convergence under x64.
    residual = jnp.asarray(residual, jnp.result_type(y))
    return MaximizerInfo(
        iterations=jnp.asarray(iterations, jnp.int32),
        residual=residual,
        objective=objective(energy, reg, theta, y),
        converged=residual <= tol)


def _loop(cond, body, state, maxiter: int, unroll: bool):
    """``while_loop`` normally; a fixed-length ``fori_loop`` (reverse-mode
    differentiable) when unrolling through the solver."""
    if unroll:
        return jax.lax.fori_loop(0, maxiter, lambda _, s: body(s), state)
    return jax.lax.while_loop(cond, body, state)


def _require_box(solver, reg):
    if not reg.is_box:
        raise TypeError(
            f"{type(solver).__name__} samples from a box domain; got "
            f"{type(reg).__name__}, whose domain is not a box")


@dataclasses.dataclass(frozen=True)
class Maximizer:
    """Base class of the inner solvers.

    A solver is a pytree: its numeric settings (tolerances, step sizes,
    temperatures; a wrapped solver) are leaves, and the settings that shape the
    computation (iteration counts, sample counts, flags) are static. So a solver
    can be passed to ``jax.jit`` as an argument.
    """

    _leaf_fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _pytree.register(cls)

    def check(self, energy: Energy, reg: _regs.Regularizer) -> None:
        """Raise ``TypeError`` if this solver cannot handle ``(energy, reg)``."""

    def __call__(self, energy, reg, theta, init=None, key=None):
        raise NotImplementedError

    def fixed_point_map(self, energy, reg, theta, y):
        """A map T with ``T(θ, ŷ) = ŷ`` exactly at the solutions (used for
        implicit differentiation)."""
        return _default_fixed_point_map(energy, reg, theta, y)


def _default_fixed_point_map(energy, reg, theta, y):
    # Mean-field map for entropic Ω, unit-step proximal gradient otherwise: both
    # have the maximizers of a concave objective as their fixed points.
    grad = _energy_grad(energy, theta, y)
    if reg.is_entropic:
        return reg.mirror_inverse(grad / reg.scale)
    return reg.prox(y + grad, 1.0)


@dataclasses.dataclass(frozen=True)
class ClosedForm(Maximizer):
    """``ŷ = ∇Ω*(θ)``: exact, for the bilinear energy Φ(θ, y) = <θ, y>.

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.maximizers import ClosedForm
      >>> y, info = ClosedForm()(fenchel.energies.bilinear,
      ...                        fenchel.regularizers.BinaryEntropy(), jnp.zeros(3))
    """

    def check(self, energy, reg):
        if energy is not _energies.bilinear:
            raise TypeError(
                "ClosedForm needs energy=fenchel.energies.bilinear; got "
                f"{getattr(energy, '__name__', energy)!r}")
        if not reg.has_linear_maximizer:
            raise TypeError(f"{type(reg).__name__} has no closed-form maximizer")

    def __call__(self, energy, reg, theta, init=None, key=None):
        y = reg.linear_maximizer(theta)
        return y, _info(energy, reg, theta, y, 0, 0.0, 0.0)

    def fixed_point_map(self, energy, reg, theta, y):
        return reg.linear_maximizer(theta)


@dataclasses.dataclass(frozen=True)
class ProjectedGradient(Maximizer):
    """Accelerated proximal gradient ascent (FISTA) with backtracking.

    Iterates, from the extrapolated point ``z``,

    .. math:: y^+ = \\operatorname{prox}_{Ω/L}\\big(z + \\tfrac1L ∇_y Φ(θ, z)\\big)

    doubling ``L`` until the ascent condition
    ``Φ(y⁺) ≥ Φ(z) + <∇Φ(z), y⁺ − z> − L/2 ‖y⁺ − z‖²`` holds (so no Lipschitz
    constant is needed), letting ``L`` shrink by ``decrease`` between iterations,
    and restarting the momentum whenever the objective drops (O'Donoghue and
    Candès, 2015). Needs ``reg.prox``: squared, box and simplex regularizers.

    For an energy quadratic in y (:func:`~fenchel.energies.bilinear`,
    :func:`~fenchel.energies.pairwise`, :func:`~fenchel.energies.low_rank_pairwise`)
    the curvature ``S = ∇²_y Φ`` is constant,
    so ``L`` starts at a power-iteration estimate of ``‖S‖₂`` and only grows; the
    ascent test is then exact from gradients alone (``−<∇Φ(y⁺) − ∇Φ(z), d> ≤ L‖d‖²``),
    the gradient at ``z`` is the momentum combination of the last two, and the
    restart test uses the exact change ``<(∇Φ(y) + ∇Φ(y⁺))/2, y⁺ − y>``: one
    gradient (one product with S) per accepted iteration, as cheap as a fixed
    step, with the safety of the line search. Other energies cost two
    evaluations of ``(Φ, ∇Φ)`` per accepted iteration.

    Attributes:
      maxiter: maximum number of iterations.
      tol: stop when the gradient mapping ``L‖y⁺ − z‖₂ <= tol``.
      accelerated: use Nesterov momentum (FISTA) or plain proximal gradient.
      initial_lipschitz: starting guess for ``L`` (for a quadratic energy the
        power-iteration estimate is used instead; with ``unroll``, the larger
        of this and 1.5 times the estimate).
      decrease: factor (≤ 1) applied to ``L`` after each iteration (not for a
        quadratic energy, whose curvature is constant).
      unroll: run exactly ``maxiter`` iterations in a differentiable loop.

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.maximizers import ProjectedGradient
      >>> theta = (jnp.array([1.0, -1.0]), -jnp.eye(2))
      >>> y, info = ProjectedGradient()(fenchel.energies.pairwise,
      ...                               fenchel.regularizers.SquaredBox(), theta)
    """

    maxiter: int = 500
    tol: float = 1e-5
    accelerated: bool = True
    initial_lipschitz: float = 1.0
    decrease: float = 0.9
    unroll: bool = False

    _leaf_fields: ClassVar[tuple[str, ...]] = ('tol', 'initial_lipschitz', 'decrease')

    def __post_init__(self):
        name = type(self).__name__
        _check_int(name, "maxiter", self.maxiter, 1)
        _check_real(name, "tol", self.tol, low_open=False)
        _check_bool(name, "accelerated", self.accelerated)
        _check_real(name, "initial_lipschitz", self.initial_lipschitz)
        _check_real(name, "decrease", self.decrease, high=1.0)
        _check_bool(name, "unroll", self.unroll)

    def check(self, energy, reg):
        if not reg.has_prox:
            raise TypeError(
                f"ProjectedGradient needs a regularizer with a closed-form prox; "
                f"{type(reg).__name__} has none: use MirrorAscent")

    def __call__(self, energy, reg, theta, init=None, key=None):
        smooth = _smooth(energy, theta)
        y0 = reg.project(_resolve_init(energy, reg, theta, init))
        dtype = y0.dtype
        eps = jnp.finfo(dtype).eps
        curvature = jax.lax.stop_gradient(smooth.curvature(y0)).astype(dtype)
        if self.unroll:
            # No backtracking when unrolled: the step must be safe from the start
            # and must not shrink-and-grow, so fix L above the curvature of Φ.
            lipschitz0 = jnp.maximum(jnp.asarray(self.initial_lipschitz, dtype), 1.5 * curvature)
            decrease = 1.0
        elif smooth.quadratic:
            # Constant curvature: start at the power-iteration estimate (from below)
            # and only grow, so steps are rarely rejected, and never re-tested in
            # lockstep across a vmapped batch. The floor keeps 1/L finite for Φ linear.
            lipschitz0 = jnp.maximum(curvature, 1e-6)
            decrease = 1.0
        else:
            lipschitz0 = jnp.asarray(self.initial_lipschitz, dtype)
            decrease = self.decrease

        def trial(z, phi_z, g_z, lipschitz):
            """Prox step from z; whether it fails the ascent test; (Φ, ∇Φ) at it."""
            y_new = reg.prox(z + g_z / lipschitz, 1.0 / lipschitz)
            d = y_new - z
            squared_step = _vdot(d, d)
            if smooth.quadratic:
                g_new = smooth.grad(y_new)
                phi_new = None
                # Exact for a quadratic: Φ(y⁺) − model(y⁺) = ½(L‖d‖² + <∇Φ(y⁺) − ∇Φ(z), d>),
                # with rounding slack for the gradient difference of nearby points.
                slack = 8 * eps * (jnp.linalg.norm(g_new) + jnp.linalg.norm(g_z)) * jnp.sqrt(squared_step)
                fails = -_vdot(g_new - g_z, d) > lipschitz * squared_step * (1 + 1e-3) + slack
            else:
                phi_new, g_new = smooth.value_and_grad(y_new)
                model = phi_z + _vdot(g_z, d) - 0.5 * lipschitz * squared_step
                slack = 10 * eps * (1 + jnp.abs(phi_z))
                # The value test alone cannot see a too-small L once L‖d‖² falls
                # under the rounding slack (L then shrinks forever and the iterates
                # stall); the curvature along d, from gradients, still can.
                too_curved = -_vdot(g_new - g_z, d) > lipschitz * squared_step * (1 + 1e-3)
                fails = (phi_new < model - slack) | too_curved
            return y_new, fails, phi_new, g_new

        def step(z, phi_z, g_z, lipschitz):
            result = trial(z, phi_z, g_z, lipschitz)
            if self.unroll or smooth.quadratic:
                # Unrolled: a fixed trip count keeps the loop differentiable. Quadratic:
                # a refused step is redone in the next iteration (see body), not in a
                # nested loop, whose every trip is a host round-trip on a GPU.
                return lipschitz, result

            def double(carry):
                lip, n, _ = carry
                lip = 2.0 * lip
                return lip, n + 1, trial(z, phi_z, g_z, lip)

            # The test is evaluated once per trial and carried: under vmap a
            # while_loop re-evaluates its condition to mask the update, and a
            # borderline test rounded differently there would loop forever.
            lipschitz, _, result = jax.lax.while_loop(
                lambda c: c[2][1] & (c[1] < 40), double, (lipschitz, 0, result))
            return lipschitz, result

        def body(state):
            y, y_prev, g_y, g_prev, t, lipschitz, it, _, f_y = state
            t_next = 0.5 * (1 + jnp.sqrt(1 + 4 * t * t)) if self.accelerated else jnp.ones_like(t)
            beta = (t - 1) / t_next
            z = y + beta * (y - y_prev)
            if smooth.quadratic:
                phi_z, g_z = None, g_y + beta * (g_y - g_prev)  # ∇Φ is affine
            else:
                phi_z, g_z = smooth.value_and_grad(z)
            lipschitz, (y_new, fails, phi_new, g_new) = step(z, phi_z, g_z, lipschitz)
            residual = lipschitz * jnp.linalg.norm(y_new - z)
            if smooth.quadratic:
                gain = (0.5 * _vdot(g_y + g_new, y_new - y)
                        - reg.value_difference(y_new, y))
            else:
                gain = phi_new - reg.value(y_new) - f_y
            # Adaptive restart: drop the momentum when the objective goes down.
            t_next = jnp.where(gain < 0, jnp.ones_like(t_next), t_next)
            new_state = (y_new, y, g_new, g_y, t_next, lipschitz * decrease, it + 1, residual,
                         f_y + gain)
            if self.unroll or not smooth.quadratic:
                return new_state
            # A step that fails the (exact) ascent test is refused: stay at y with twice
            # the curvature and no momentum. L only grows, so this is rare.
            refused = (y, y, g_y, g_y, jnp.ones_like(t), 2.0 * lipschitz, it + 1,
                       jnp.full_like(residual, jnp.inf), f_y)
            return jax.tree.map(lambda a, b: jnp.where(fails, a, b), refused, new_state)

        def cond(state):
            return (state[6] < self.maxiter) & (state[7] > self.tol)

        g0 = smooth.grad(y0)
        state = (y0, y0, g0, g0, jnp.asarray(1.0, dtype), lipschitz0.astype(dtype),
                 jnp.asarray(0), jnp.asarray(jnp.inf, dtype), objective(energy, reg, theta, y0))
        state = _loop(cond, body, state, self.maxiter, self.unroll)
        y, it, residual = state[0], state[6], state[7]
        return y, _info(energy, reg, theta, y, it, residual, self.tol)


@dataclasses.dataclass(frozen=True)
class MirrorAscent(Maximizer):
    """Entropic mirror ascent for :class:`~fenchel.regularizers.BinaryEntropy`
    and :class:`~fenchel.regularizers.ShannonSimplex`.

    With ψ the unscaled entropy (Ω = λψ) and ``z = ∇ψ(y)`` the logits, one step
    is

    .. math:: z^+ = (1 - ηλ)\\, z + η ∇_y Φ(θ, y), \\qquad y^+ = ∇ψ^*(z^+)

    (``η = 1/λ`` is the mean-field fixed-point iteration). The step starts at
    ``η = 1/(λ + ‖∇²Φ‖/μ_ψ)`` from a power-iteration estimate, is halved when
    the objective would go down and grows by 5% otherwise, up to ``1/λ``.
    Iterates stay in the interior, so y ∈ {0, 1} targets never produce NaNs.
    The gradient at the new point, needed by the next step anyway, also gives
    the objective's change: exactly, ``<(∇Φ(y) + ∇Φ(y⁺))/2, y⁺ − y>``, for an
    energy quadratic in y (bilinear, pairwise, low-rank pairwise), so the adaptive
    step costs one
    gradient per iteration, as much as a fixed one; other energies evaluate
    ``(Φ, ∇Φ)`` once per iteration.

    Attributes:
      maxiter: maximum number of iterations.
      tol: stop when ``‖y⁺ − y‖₂ / η <= tol``.
      step_size: fixed η instead of the adaptive rule.
      unroll: run exactly ``maxiter`` iterations in a differentiable loop.
    """

    maxiter: int = 500
    tol: float = 1e-5
    step_size: float | None = None
    unroll: bool = False

    _leaf_fields: ClassVar[tuple[str, ...]] = ('tol', 'step_size')

    def __post_init__(self):
        name = type(self).__name__
        _check_int(name, "maxiter", self.maxiter, 1)
        _check_real(name, "tol", self.tol, low_open=False)
        if self.step_size is not None:
            _check_real(name, "step_size", self.step_size)
        _check_bool(name, "unroll", self.unroll)

    def check(self, energy, reg):
        if not reg.is_entropic:
            raise TypeError(
                f"MirrorAscent needs an entropic regularizer (BinaryEntropy, "
                f"ShannonSimplex); got {type(reg).__name__}: use ProjectedGradient")

    def __call__(self, energy, reg, theta, init=None, key=None):
        lam = reg.scale
        smooth = _smooth(energy, theta)
        z0 = reg.mirror_map(_resolve_init(energy, reg, theta, init))
        y0 = reg.mirror_inverse(z0)
        dtype = y0.dtype
        if self.step_size is not None:
            eta0 = jnp.asarray(self.step_size, dtype)
        else:
            curvature = smooth.curvature(y0)
            eta0 = (1.0 / (lam + curvature / reg.strong_convexity_unscaled)).astype(dtype)
        adaptive = self.step_size is None and not self.unroll

        def body(state):
            z, y, g_y, eta, it, _, f_y, last = state
            z_new = (1 - eta * lam) * z + eta * g_y
            y_new = reg.mirror_inverse(z_new)
            # The gradient at y⁺ is the next step's; with it a quadratic Φ gives the
            # objective's change exactly, so a step costs one gradient and no value.
            if smooth.quadratic:
                g_new = smooth.grad(y_new)
                gain = 0.5 * _vdot(g_y + g_new, y_new - y) - reg.value_difference(y_new, y)
            else:
                phi_new, g_new = smooth.value_and_grad(y_new)
                gain = phi_new - reg.value(y_new) - f_y
            movement = jnp.linalg.norm(y_new - y)
            residual = movement / eta
            if adaptive:
                # Slack at rounding level: a looser one accepts the tiny ascent
                # failures of a 2-cycle at η = 1/λ, which then never converges.
                slack = 10 * jnp.finfo(dtype).eps * (1 + jnp.abs(f_y))
                # Near the optimum the objective moves by less than its rounding and
                # cannot tell a 2-cycle from progress: there, the step must also not
                # move y farther than the last accepted one. (Not the residual
                # ‖Δy‖/η: it grows as η is halved, and every later step would be refused.)
                tie = jnp.abs(gain) <= slack
                accept = (gain >= -slack) & (~tie | (movement <= last))
                z_new = jnp.where(accept, z_new, z)
                y_new = jnp.where(accept, y_new, y)
                g_new = jnp.where(accept, g_new, g_y)
                gain = jnp.where(accept, gain, jnp.zeros_like(gain))
                last = jnp.where(accept, movement, last)
                residual = jnp.where(accept, residual, jnp.inf)
                eta = jnp.where(accept, jnp.minimum(1.05 * eta, 1.0 / lam), 0.5 * eta)
            return (z_new, y_new, g_new, eta, it + 1, residual, f_y + gain, last)

        def cond(state):
            return (state[4] < self.maxiter) & (state[5] > self.tol)

        state = (z0, y0, smooth.grad(y0), eta0, jnp.asarray(0), jnp.asarray(jnp.inf, dtype),
                 objective(energy, reg, theta, y0), jnp.asarray(jnp.inf, dtype))
        state = _loop(cond, body, state, self.maxiter, self.unroll)
        y, it, residual = state[1], state[4], state[5]
        return y, _info(energy, reg, theta, y, it, residual, self.tol)


@dataclasses.dataclass(frozen=True)
class CoordinateAscent(Maximizer):
    """Exact block-coordinate ascent for the pairwise energies.

    With ``S = ½(U + Uᵀ)`` and ``s_i = u_i + Σ_{j≠i} S_ij y_j``, each coordinate
    solves ``max_{y_i} s_i y_i + ½ S_ii y_i² − Ω(y_i)`` in closed form:

    * SquaredBox (λ) and BoxIndicator (λ = 0): ``y_i = clip(s_i / (λ − S_ii))``
      when ``λ > S_ii``, else the better end of the box;
    * BinaryEntropy (λ): ``y_i = σ(s_i/λ)`` when ``S_ii = 0``; otherwise the
      root of ``s_i + S_ii σ(z) = λ z`` by bisection on the logit ``z``.

    One iteration is a sequential sweep over the ``k`` coordinates (``O(k²)``).
    For :func:`~fenchel.energies.low_rank_pairwise` (``S = −VVᵀ``, ``V: (k, r)``)
    the sweep keeps ``w = Vᵀy`` up to date instead of the field ``u + Sy``:
    ``s_i = u_i − V_i·w + ‖V_i‖² y_i`` and ``S_ii = −‖V_i‖²``, ``O(r)`` per
    coordinate, ``O(kr)`` per sweep.

    Attributes:
      maxiter: maximum number of sweeps.
      tol: stop when a sweep moves y by at most ``tol`` (‖·‖₂).
      unroll: run exactly ``maxiter`` sweeps in a differentiable loop.
    """

    maxiter: int = 200
    tol: float = 1e-5
    unroll: bool = False

    _leaf_fields: ClassVar[tuple[str, ...]] = ('tol',)

    def __post_init__(self):
        name = type(self).__name__
        _check_int(name, "maxiter", self.maxiter, 1)
        _check_real(name, "tol", self.tol, low_open=False)
        _check_bool(name, "unroll", self.unroll)

    def check(self, energy, reg):
        if energy is not _energies.pairwise and energy is not _energies.low_rank_pairwise:
            raise TypeError(
                "CoordinateAscent needs energy=fenchel.energies.pairwise or "
                "fenchel.energies.low_rank_pairwise; got "
                f"{getattr(energy, '__name__', energy)!r}")
        if not isinstance(reg, (_regs.BinaryEntropy, _regs.SquaredBox, _regs.BoxIndicator)):
            raise TypeError(
                "CoordinateAscent handles BinaryEntropy, SquaredBox and "
                f"BoxIndicator; got {type(reg).__name__}")

    def _coordinate(self, reg, s, d):
        if isinstance(reg, _regs.BinaryEntropy):
            lam = reg.scale
            lo = (s + jnp.minimum(d, 0.0)) / lam
            hi = (s + jnp.maximum(d, 0.0)) / lam

            def bisect(_, bounds):
                lo, hi = bounds
                mid = 0.5 * (lo + hi)
                above = s + d * jax.nn.sigmoid(mid) - lam * mid > 0
                return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

            lo, hi = jax.lax.fori_loop(0, 30, bisect, (lo, hi))
            return jax.nn.sigmoid(0.5 * (lo + hi))
        lam = reg.scale if isinstance(reg, _regs.SquaredBox) else 0.0
        curvature = lam - d
        interior = jnp.clip(s / jnp.where(curvature > 0, curvature, 1.0), reg.lower, reg.upper)
        value = lambda t: s * t - 0.5 * curvature * t * t
        end = jnp.where(value(reg.upper) >= value(reg.lower), reg.upper, reg.lower)
        return jnp.where(curvature > 0, interior, end).astype(s.dtype)

    def __call__(self, energy, reg, theta, init=None, key=None):
        u, second = theta
        k = u.shape[0]
        if energy is _energies.low_rank_pairwise:
            factor = second  # V: (k, r); S = −VVᵀ is never formed
            diag = -jnp.sum(factor * factor, axis=1)

            def start(y):
                return _dot(y, factor)  # w = Vᵀy

            def field(w, i):
                return u[i] - _vdot(factor[i], w)  # (u + Sy)_i

            def move(w, i, delta):
                return w + factor[i] * delta
        else:
            sym = 0.5 * (second + second.T)
            diag = jnp.diagonal(sym)

            def start(y):
                return u + _dot(sym, y)  # the field u + Sy

            def field(f, i):
                return f[i]

            def move(f, i, delta):
                return f + sym[:, i] * delta

        def sweep(y):
            def update(i, carry):
                y, kept = carry  # what gives the field, kept up to date
                s = field(kept, i) - diag[i] * y[i]
                yi = self._coordinate(reg, s, diag[i])
                return y.at[i].set(yi), move(kept, i, yi - y[i])

            y_new, _ = jax.lax.fori_loop(0, k, update, (y, start(y)))
            return y_new

        def body(state):
            y, it, _ = state
            y_new = sweep(y)
            return y_new, it + 1, jnp.linalg.norm(y_new - y)

        def cond(state):
            return (state[1] < self.maxiter) & (state[2] > self.tol)

        y0 = reg.project(_resolve_init(energy, reg, theta, init))
        state = (y0, jnp.asarray(0), jnp.asarray(jnp.inf, y0.dtype))
        y, it, residual = _loop(cond, body, state, self.maxiter, self.unroll)
        return y, _info(energy, reg, theta, y, it, residual, self.tol)


@dataclasses.dataclass(frozen=True)
class DerivativeFree(Maximizer):
    """Derivative-free iterative resampling over a box (implicit BC's inference).

    Draw ``num_samples`` points uniformly in the box; then ``iterations`` times,
    resample them with probabilities ``softmax(F(y)/temperature)``, perturb with
    Gaussian noise of standard deviation ``noise_scale·(upper − lower)``
    (multiplied by ``shrink`` each round) and clip; return the best point seen.
    No convergence certificate: ``info.residual`` is the final noise scale and
    ``info.converged`` is always true. Works for non-concave (neural) energies.

    Reference: Florence et al. Implicit Behavioral Cloning. CoRL 2021.
    """

    num_samples: int = 1024
    iterations: int = 3
    noise_scale: float = 0.33
    shrink: float = 0.5
    temperature: float = 1.0

    _leaf_fields: ClassVar[tuple[str, ...]] = ('noise_scale', 'shrink', 'temperature')

    def __post_init__(self):
        name = type(self).__name__
        _check_int(name, "num_samples", self.num_samples, 1)
        _check_int(name, "iterations", self.iterations, 0)
        _check_real(name, "noise_scale", self.noise_scale, low_open=False)
        _check_real(name, "shrink", self.shrink, high=1.0)
        _check_real(name, "temperature", self.temperature)

    def check(self, energy, reg):
        _require_box(self, reg)

    def __call__(self, energy, reg, theta, init=None, key=None):
        key = jax.random.key(0) if key is None else key
        init = _resolve_init(energy, reg, theta, init)
        evaluate = jax.vmap(lambda y: objective(energy, reg, theta, y))
        key, sub = jax.random.split(key)
        samples = random_init(reg, sub, (self.num_samples,) + init.shape, init.dtype)
        samples = samples.at[0].set(reg.project(init))
        width = reg.upper - reg.lower

        def keep_best(best, samples, values):
            i = jnp.argmax(values)
            return jax.tree.map(lambda old, new: jnp.where(values[i] > best[1], new, old),
                                best, (samples[i], values[i]))

        def round_(carry, noise):
            samples, values, best, key = carry
            key, pick, perturb = jax.random.split(key, 3)
            idx = jax.random.categorical(pick, values / self.temperature, shape=(self.num_samples,))
            moved = samples[idx] + noise * jax.random.normal(perturb, samples.shape, samples.dtype)
            moved = reg.project(moved)
            values = evaluate(moved)
            return (moved, values, keep_best(best, moved, values), key), None

        noises = self.noise_scale * width * self.shrink ** jnp.arange(self.iterations)
        values = evaluate(samples)
        # The best point of every round is kept: resampling may drop it (and the warm start).
        first = (samples[jnp.argmax(values)], jnp.max(values))
        (_, _, (y, _), _), _ = jax.lax.scan(
            round_, (samples, values, first, key), noises.astype(init.dtype))
        final_noise = noises[-1] if self.iterations else 0.0
        return y, _info(energy, reg, theta, y, self.iterations, final_noise, jnp.inf)


def _interior_gradient(energy: Energy, reg: _regs.Regularizer, theta: Any):
    """``ys: (n, k) -> (n, k)``: the gradient of ``Φ(θ, ·) − Ω`` at the nearest point of
    ``dom Ω`` (inside it for an entropic Ω, whose gradient is infinite on the boundary).
    Not taken through the clip, whose zero derivative would freeze chains on the
    boundary. Shared by the Langevin samplers."""
    eps = 1e-6 if reg.is_entropic else 0.0
    grad_one = jax.grad(lambda y: objective(energy, reg, theta, y))
    return jax.vmap(lambda y: grad_one(jnp.clip(y, reg.lower + eps, reg.upper - eps)))


def _initial_chains(reg: _regs.Regularizer, key: Array, init: Array, num_chains: int) -> Array:
    """``(num_chains, k)`` uniform draws on ``dom Ω``, chain 0 at ``init`` (projected)."""
    chains = random_init(reg, key, (num_chains,) + init.shape, init.dtype)
    return chains.at[0].set(reg.project(init))


@dataclasses.dataclass(frozen=True)
class Langevin(Maximizer):
    """Annealed projected Langevin ascent over a box, best of several chains.

    .. math:: y^+ = Π_{box}\\big(y + η ∇_y F(y) + \\sqrt{2 η T_t}\\, ξ\\big),
              \\quad ξ \\sim N(0, I)

    with the temperature ``T_t`` decreasing linearly from ``temperature`` to 0,
    so the chains end with plain projected gradient steps. Gradients of entropic
    Ω are taken in the interior. No convergence certificate: ``info.residual``
    is the last step's gradient mapping, and ``converged = residual <= tol``.
    """

    num_chains: int = 32
    maxiter: int = 200
    step_size: float = 1e-2
    temperature: float = 1e-2
    tol: float = 1e-3

    _leaf_fields: ClassVar[tuple[str, ...]] = ('step_size', 'temperature', 'tol')

    def __post_init__(self):
        name = type(self).__name__
        _check_int(name, "num_chains", self.num_chains, 1)
        _check_int(name, "maxiter", self.maxiter, 1)
        _check_real(name, "step_size", self.step_size)
        _check_real(name, "temperature", self.temperature, low_open=False)
        _check_real(name, "tol", self.tol, low_open=False)

    def check(self, energy, reg):
        _require_box(self, reg)

    def __call__(self, energy, reg, theta, init=None, key=None):
        key = jax.random.key(0) if key is None else key
        init = _resolve_init(energy, reg, theta, init)
        grad_f = _interior_gradient(energy, reg, theta)
        key, sub = jax.random.split(key)
        chains = _initial_chains(reg, sub, init, self.num_chains)
        temps = self.temperature * (1 - jnp.arange(self.maxiter) / max(self.maxiter - 1, 1))

        def step(carry, temp):
            chains, key = carry
            key, sub = jax.random.split(key)
            noise = jax.random.normal(sub, chains.shape, chains.dtype)
            moved = reg.project(chains + self.step_size * grad_f(chains)
                                + jnp.sqrt(2 * self.step_size * temp) * noise)
            return (moved, key), jnp.linalg.norm(moved - chains, axis=-1) / self.step_size

        (chains, _), residuals = jax.lax.scan(step, (chains, key), temps.astype(init.dtype))
        values = jax.vmap(lambda y: objective(energy, reg, theta, y))(chains)
        best = jnp.argmax(values)
        y = chains[best]
        return y, _info(energy, reg, theta, y, self.maxiter, residuals[-1, best], self.tol)


@dataclasses.dataclass(frozen=True)
class Restarts(Maximizer):
    """Run ``solver`` from ``init`` and from ``num_restarts`` random points of
    ``dom Ω``; keep the solution with the highest objective.

    For non-concave energies, where a single run finds a local maximum.
    """

    solver: Maximizer = dataclasses.field(default_factory=ProjectedGradient)
    num_restarts: int = 8

    _leaf_fields: ClassVar[tuple[str, ...]] = ('solver',)

    def __post_init__(self):
        if not isinstance(self.solver, Maximizer):
            raise TypeError("Restarts.solver must be a fenchel.maximizers.Maximizer, "
                            f"got {type(self.solver).__name__}")
        _check_int("Restarts", "num_restarts", self.num_restarts, 0)

    def check(self, energy, reg):
        self.solver.check(energy, reg)

    def __call__(self, energy, reg, theta, init=None, key=None):
        key = jax.random.key(0) if key is None else key
        init = _resolve_init(energy, reg, theta, init)
        init_key, run_key = jax.random.split(key)
        inits = random_init(reg, init_key, (self.num_restarts,) + init.shape, init.dtype)
        inits = jnp.concatenate([init[None], inits])
        keys = jax.random.split(run_key, self.num_restarts + 1)
        ys, infos = jax.vmap(lambda y0, k: self.solver(energy, reg, theta, y0, k))(inits, keys)
        best = jnp.argmax(infos.objective)
        return ys[best], jax.tree.map(lambda leaf: leaf[best], infos)

    def fixed_point_map(self, energy, reg, theta, y):
        return self.solver.fixed_point_map(energy, reg, theta, y)


@dataclasses.dataclass(frozen=True)
class Sequential(Maximizer):
    """Run solvers in turn, each warm-started at the previous one's solution
    (e.g. ``Sequential((DerivativeFree(), ProjectedGradient()))``: sample, then
    refine by gradient). ``info`` is the last solver's, with iterations summed.
    """

    solvers: tuple[Maximizer, ...] = ()

    _leaf_fields: ClassVar[tuple[str, ...]] = ('solvers',)

    def __post_init__(self):
        if not isinstance(self.solvers, (tuple, list)) or not self.solvers:
            raise ValueError("Sequential needs at least one solver: solvers must be a "
                             f"non-empty tuple of solvers, got {self.solvers!r}")
        for solver in self.solvers:
            if not isinstance(solver, Maximizer):
                raise TypeError("Sequential.solvers must hold fenchel.maximizers.Maximizer "
                                f"instances, got {type(solver).__name__}")
        object.__setattr__(self, "solvers", tuple(self.solvers))

    def check(self, energy, reg):
        for solver in self.solvers:
            solver.check(energy, reg)

    def __call__(self, energy, reg, theta, init=None, key=None):
        key = jax.random.key(0) if key is None else key
        y, total = init, 0
        for solver, sub in zip(self.solvers, jax.random.split(key, len(self.solvers))):
            y, info = solver(energy, reg, theta, y, sub)
            total = total + info.iterations
        return y, info._replace(iterations=total)

    def fixed_point_map(self, energy, reg, theta, y):
        return self.solvers[-1].fixed_point_map(energy, reg, theta, y)


def default_solver(energy: Energy, reg: _regs.Regularizer, theta: Any = None) -> Maximizer:
    """The solver :func:`maximize` uses when ``solver=None``.

    Closed form for the bilinear energy; mirror ascent for entropic Ω;
    accelerated proximal gradient otherwise. Given a concrete pairwise ``theta``
    whose inner problem is not concave (see :func:`concavity_excess`), that solver
    is wrapped in :class:`Restarts` (16 random restarts).
    """
    if energy is _energies.bilinear and reg.has_linear_maximizer:
        return ClosedForm()
    base = MirrorAscent() if reg.is_entropic else ProjectedGradient()
    if theta is not None and (concavity_excess(energy, reg, theta) or 0.0) > 0:
        return Restarts(base, num_restarts=16)
    return base


def concavity_excess(energy: Energy, reg: _regs.Regularizer, theta: Any) -> float | None:
    """How far a concrete pairwise problem is from concave: ``λ_max(½(U + Uᵀ)) − μ``.

    The inner objective ``<u, y> + ½ yᵀUy − Ω(y)`` is concave when the largest
    eigenvalue of the symmetric part of U is at most the strong convexity μ of Ω
    (a sufficient condition; the exact one for the squared regularizers).
    Returns a positive number (the largest over a batch) when it is not concave,
    0.0 when it is (up to rounding), and ``None`` when unknown: another energy, or
    a traced θ. :func:`~fenchel.energies.low_rank_pairwise` (``U = −VVᵀ ⪯ 0``) is
    concave for every θ: 0.0, traced or not.

    Example:
      >>> import fenchel as fy
      >>> import jax.numpy as jnp
      >>> from fenchel.maximizers import concavity_excess
      >>> U = jnp.array([[0.0, 3.0], [3.0, 0.0]])
      >>> concavity_excess(fy.energies.pairwise, fy.regularizers.SquaredBox(),
      ...                  (jnp.zeros(2), U))
      2.0
    """
    if energy is _energies.low_rank_pairwise:
        return 0.0
    if energy is not _energies.pairwise or theta is None or not _inputs.is_concrete((theta, reg)):
        return None
    interactions = np.asarray(theta[1], np.float64)
    if interactions.ndim < 2 or interactions.shape[-1] != interactions.shape[-2]:
        return None
    if not np.all(np.isfinite(interactions)):
        return None  # check_theta reports it
    sym = 0.5 * (interactions + np.swapaxes(interactions, -1, -2))
    eigenvalues = np.linalg.eigvalsh(sym)
    rounding = 64 * float(jnp.finfo(jnp.result_type(theta[1])).eps) * (
        1.0 + float(np.max(np.abs(eigenvalues))))
    excess = float(np.max(eigenvalues[..., -1])) - reg.strong_convexity
    return excess if excess > rounding else 0.0


# The solvers that stop at the first stationary point they reach.
_LOCAL_SOLVERS = (ProjectedGradient, MirrorAscent, CoordinateAscent)


def resolve_solver(energy: Energy, reg: _regs.Regularizer, theta: Any,
                   solver: Maximizer | None) -> Maximizer:
    """The solver to use for ``(energy, reg, theta)``, checked.

    ``None`` gives :func:`default_solver`. A concrete pairwise θ whose problem is
    not concave gives a :class:`NonConcaveWarning` (and Restarts by default); with
    :class:`~fenchel.regularizers.Squared` it raises ``ValueError`` (the maximum is
    +inf).

    Raises:
      TypeError: ``reg`` or ``solver`` of the wrong type, or a solver that cannot
        handle ``(energy, reg)``.
    """
    if not isinstance(reg, _regs.Regularizer):
        raise TypeError(f"reg must be a fenchel.regularizers.Regularizer, got {type(reg).__name__}")
    if solver is not None and not isinstance(solver, Maximizer):
        raise TypeError(f"solver must be a fenchel.maximizers.Maximizer or None, got "
                        f"{type(solver).__name__}")
    if not callable(energy):
        raise TypeError(f"energy must be a callable energy(theta, y), got {type(energy).__name__}")
    excess = concavity_excess(energy, reg, theta)
    if excess:
        lam_max = excess + reg.strong_convexity
        if not reg.is_box and not isinstance(reg, _regs._Simplex):
            raise ValueError(
                f"theta's U has λ_max(½(U + Uᵀ)) = {lam_max:.6g} > μ = {reg.strong_convexity:g} "
                f"of {type(reg).__name__}: the inner problem is unbounded above on R^k and the "
                "GFY loss is +inf; use U ⪯ μI (e.g. fenchel.energies.negative_semidefinite) or "
                "a bounded domain")
        chosen = default_solver(energy, reg, theta) if solver is None else solver
        if solver is None or isinstance(solver, _LOCAL_SOLVERS):
            what = (f"using {type(chosen).__name__}({type(chosen.solver).__name__}, "
                    f"num_restarts={chosen.num_restarts}), the best of several local maxima"
                    if solver is None else f"{type(solver).__name__} finds a stationary point only")
            warnings.warn(
                f"the pairwise inner problem is not concave: λ_max(½(U + Uᵀ)) = {lam_max:.6g} "
                f"exceeds μ = {reg.strong_convexity:g} of {type(reg).__name__}; {what}, which may "
                "be a saddle or a local maximum, so the loss is a lower bound. Pass "
                "solver=Restarts(...) or a sampling solver to choose.",
                NonConcaveWarning, stacklevel=3)
        solver = chosen
    elif solver is None:
        solver = default_solver(energy, reg)
    solver.check(energy, reg)
    return solver


def check_on_failure(on_failure: str) -> None:
    """Raise ``ValueError`` unless ``on_failure`` is ``"ignore"``, ``"warn"`` or ``"raise"``."""
    if on_failure not in ("ignore", "warn", "raise"):
        raise ValueError(f"on_failure must be 'ignore', 'warn' or 'raise', got {on_failure!r}")


check_theta = _inputs.check_theta
check_output = _inputs.check_output


def _resolve_init(energy, reg, theta, init, shape=None):
    expected = _energies.output_shape(energy, theta)
    if init is None:
        shape = expected if shape is None else tuple(shape)
        if shape is None:
            name = getattr(energy, "__name__", type(energy).__name__)
            raise ValueError(
                f"the output shape of energy {name!r} is unknown: pass init= "
                "(a starting point in dom Ω with the shape of y)")
        leaves = [leaf for leaf in jax.tree.leaves(theta) if jnp.issubdtype(jnp.result_type(leaf), jnp.floating)]
        dtype = jnp.result_type(*leaves) if leaves else jnp.float32
        return default_init(reg, shape, dtype)
    init = jnp.asarray(init)
    if expected is not None and tuple(init.shape) != expected:
        raise ValueError(f"init has shape {tuple(init.shape)}, expected {expected} for this theta")
    return init


def report(info: MaximizerInfo, on_failure: str) -> None:
    """Warn (``"warn"``) or raise :class:`NotConvergedError` (``"raise"``) when
    some problem in ``info`` did not converge; nothing for ``"ignore"``. Works on
    traced ``info`` through ``jax.debug.callback``."""
    if on_failure == "ignore":
        return

    def callback(converged, residual):
        if np.all(converged):
            return
        message = (f"inner maximization did not converge: residual "
                   f"{float(np.max(residual)):.3g} above tolerance in "
                   f"{int(np.size(converged) - np.sum(converged))} of {np.size(converged)} problems")
        if on_failure == "raise":
            raise NotConvergedError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)

    jax.debug.callback(callback, info.converged, info.residual)


def read_inputs(energy: Energy, theta: Any, *outputs: tuple[str, Any],
                extra: dict[str, tuple[Any, int]] | None = None):
    """Common input handling of the public entry points (see :mod:`fenchel._inputs`).

    Returns ``(theta, outputs, extra, batch, result_dtype)``: floating leaves cast to
    the compute dtype, outputs as floating arrays (``None`` kept), and the batch shape.
    """
    extra = extra or {}
    compute, result = _inputs.compute_dtype(theta, *(a for _, a in outputs if a is not None))
    theta = _inputs.cast_floating(theta, compute)
    _inputs.check_theta(theta)
    arrays = {name: _inputs.as_output(a, compute, name) for name, a in outputs}
    for name, array in arrays.items():
        if name != "y":
            _inputs.check_theta(array, name)
    extra = {name: (_inputs.cast_floating(a, compute), nd) for name, (a, nd) in extra.items()}
    batch = _inputs.batch_shape(energy, theta, arrays, extra)
    if not batch:
        probe = next((a for a in arrays.values() if a is not None), None)
        if probe is not None:
            _inputs.check_scalar_energy(energy, theta, probe)
    return theta, arrays, extra, batch, result


def maximize(energy: Energy, reg: _regs.Regularizer, theta: Any, *,
             solver: Maximizer | None = None, init: Array | None = None,
             key: Array | None = None, on_failure: str = "ignore") -> tuple[Array, MaximizerInfo]:
    """Solve the inner problem ``ŷ = argmax_{y ∈ dom Ω} Φ(θ, y) − Ω(y)``.

    Args:
      energy: ``Φ(theta, y) -> scalar``.
      reg: the regularizer Ω.
      theta: θ, any pytree, for one example; for the built-in energies leading
        axes are batch axes (the result equals ``jax.vmap``; see
        :mod:`fenchel._inputs`).
      solver: a :class:`Maximizer`; ``None`` picks :func:`default_solver`.
      init: warm start, shape of y; required when the energy's output shape is
        unknown (neural energies).
      key: PRNG key for the randomized solvers (default ``jax.random.key(0)``);
        every example of a batch gets the same key, as under ``jax.vmap``.
      on_failure: ``"ignore"`` (see ``info.converged``), ``"warn"`` or
        ``"raise"`` (:class:`NotConvergedError`, surfaced by JAX as a runtime
        error when raised inside ``jit``) if the solver did not converge.

    Returns:
      ``(y_hat, info)``: the solution, shape of y, and a :class:`MaximizerInfo`
      (with the batch shape for a batch).

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.maximizers import maximize
      >>> y, info = maximize(fenchel.energies.bilinear,
      ...                    fenchel.regularizers.SquaredBox(), jnp.array([0.5, 3.0]))
      >>> y.tolist()
      [0.5, 1.0]
    """
    check_on_failure(on_failure)
    solver = resolve_solver(energy, reg, theta, solver)
    theta, arrays, _, batch, result = read_inputs(energy, theta, ("init", init))

    def one(theta_, init):
        return solver(energy, reg, theta_, _resolve_init(energy, reg, theta_, init), key)

    y, info = _inputs.map_examples(one, energy, batch, theta, arrays)
    report(info, on_failure)
    return y.astype(result), info


def conjugate(energy: Energy, reg: _regs.Regularizer, theta: Any, *,
              solver: Maximizer | None = None, init: Array | None = None,
              key: Array | None = None, on_failure: str = "ignore") -> Array:
    """The generalized conjugate ``Ω^Φ(θ) = max_{y ∈ dom Ω} Φ(θ, y) − Ω(y)``.

    Differentiable in θ by Danskin's theorem, ``∇Ω^Φ(θ) = ∇_θ Φ(θ, ŷ)``, without
    differentiating through the solver. For the bilinear energy with a closed
    form, the stable ``reg.conjugate`` (softplus, logsumexp...) is used. Batches
    as :func:`maximize`.

    Returns:
      A scalar per example (a lower bound when the solver is inexact).

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.maximizers import conjugate
      >>> conjugate(fenchel.energies.bilinear,
      ...           fenchel.regularizers.ShannonSimplex(), jnp.zeros(2)).item()  # log 2
      0.693...
    """
    check_on_failure(on_failure)
    solver = resolve_solver(energy, reg, theta, solver)
    theta, arrays, _, batch, result = read_inputs(energy, theta, ("init", init))
    if isinstance(solver, ClosedForm):
        return reg.conjugate(theta).astype(result)

    def one(theta_, init):
        init = _resolve_init(energy, reg, theta_, init)
        y, info = solver(energy, jax.lax.stop_gradient(reg), jax.lax.stop_gradient(theta_),
                         init, key)
        return objective(energy, reg, theta_, jax.lax.stop_gradient(y)), info

    value, info = _inputs.map_examples(one, energy, batch, theta, arrays)
    report(info, on_failure)
    return value.astype(result)


__all__ = [
    "MaximizerInfo",
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
    "check_theta",
    "check_output",
]
