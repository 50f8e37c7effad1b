"""First-order solvers: the closed form, accelerated proximal gradient (FISTA) and
entropic mirror ascent."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from fenchel import energies as _energies
from fenchel.energies import _vdot
from fenchel.maximizers._base import (Maximizer, check_bool, check_int, check_real, loop,
                                      make_info, objective, resolve_init)


@dataclasses.dataclass(frozen=True)
class ClosedForm(Maximizer):
    """``ŷ = ∇Ω*(s)``: exact, for an energy linear in y, ``Φ(θ, y) = <s(θ), y>``
    (the bilinear energy, s = θ; see :meth:`~fenchel.energies.Energy.scores`), and a
    regularizer with a closed-form linear maximizer. A regularizer whose maximizer is
    iterative offers ``linear_maximizer_with_info(s) -> (y, info)`` (``info`` with
    ``iterations``, ``residual``, ``converged``), and the status reports it.

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel
      >>> from fenchel.maximizers import ClosedForm
      >>> y, info = ClosedForm()(fenchel.energies.bilinear,
      ...                        fenchel.regularizers.BinaryEntropy(), jnp.zeros(3))
    """

    closed_form: ClassVar[bool] = True

    def check(self, energy, reg):
        energy = _energies.as_energy(energy)
        if not energy.linear_in_y:
            raise TypeError(
                "ClosedForm needs an energy linear in y (such as fenchel.energies.bilinear); "
                f"got {energy.__name__!r}")
        if not reg.has_linear_maximizer:
            raise TypeError(f"{type(reg).__name__} has no closed-form maximizer")

    def __call__(self, energy, reg, theta, init=None, key=None):
        energy = _energies.as_energy(energy)
        with_info = getattr(reg, "linear_maximizer_with_info", None)
        if with_info is None:
            y = reg.linear_maximizer(energy.scores(theta))
            return y, make_info(energy, reg, theta, y, 0, 0.0, 0.0)
        # An iterative "closed form" (Sinkhorn on the Birkhoff polytope) reports how it
        # ended: its iterations, its residual, and whether it converged.
        y, solve = with_info(energy.scores(theta))
        residual = jnp.where(solve.converged, 0.0, jnp.maximum(solve.residual, 1.0))
        info = make_info(energy, reg, theta, y, solve.iterations, residual, 0.0)
        return y, info._replace(residual=solve.residual.astype(info.residual.dtype))

    def fixed_point_map(self, energy, reg, theta, y):
        return reg.linear_maximizer(_energies.as_energy(energy).scores(theta))


@dataclasses.dataclass(frozen=True)
class ProjectedGradient(Maximizer):
    """Accelerated proximal gradient ascent (FISTA) with backtracking.

    Iterates, from the extrapolated point ``z``,

    .. math:: y^+ = \\operatorname{prox}_{Ω/L}\\big(z + \\tfrac1L ∇_y Φ(θ, z)\\big)

    doubling ``L`` until the ascent condition
    ``Φ(y⁺) ≥ Φ(z) + <∇Φ(z), y⁺ − z> − L/2 ‖y⁺ − z‖²`` holds (so no Lipschitz
    constant is needed), letting ``L`` shrink by ``decrease`` between iterations,
    and restarting the momentum whenever the objective drops (O'Donoghue and
    Candès, 2015). With ``reg.prox`` (squared, box and simplex regularizers) the
    step is proximal in Ω; without one, it steps on the smooth ``Φ − Ω`` and
    projects onto ``reg.domain`` (a user's Ω differentiable on its domain). An
    entropic Ω without a prox is refused: use :class:`MirrorAscent`.

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
        check_int(name, "maxiter", self.maxiter, 1)
        check_real(name, "tol", self.tol, low_open=False)
        check_bool(name, "accelerated", self.accelerated)
        check_real(name, "initial_lipschitz", self.initial_lipschitz)
        check_real(name, "decrease", self.decrease, high=1.0)
        check_bool(name, "unroll", self.unroll)

    local: ClassVar[bool] = True

    def check(self, energy, reg):
        if not reg.has_prox and reg.is_entropic:
            raise TypeError(
                f"ProjectedGradient needs a regularizer with a closed-form prox or one "
                f"differentiable on its whole domain; {type(reg).__name__} has neither: "
                "use MirrorAscent")

    def __call__(self, energy, reg, theta, init=None, key=None):
        energy = _energies.as_energy(energy)
        if reg.has_prox:
            smooth, prox, nonsmooth = energy.oracle(theta), reg.prox, reg.value
        else:
            # No prox: the smooth part is all of F = Φ − Ω, and the prox of the
            # domain's indicator is its projection.
            smooth = _energies.FunctionEnergy(
                lambda theta_, y: energy(theta_, y) - reg.value(y)).oracle(theta)
            prox = lambda v, step: reg.project(v)
            nonsmooth = lambda y: jnp.zeros((), jnp.result_type(y))
        y0 = reg.project(resolve_init(energy, reg, theta, init))
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
            y_new = prox(z + g_z / lipschitz, 1.0 / lipschitz)
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
                gain = phi_new - nonsmooth(y_new) - f_y
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
        state = loop(cond, body, state, self.maxiter, self.unroll)
        y, it, residual = state[0], state[6], state[7]
        return y, make_info(energy, reg, theta, y, it, residual, self.tol)


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
        check_int(name, "maxiter", self.maxiter, 1)
        check_real(name, "tol", self.tol, low_open=False)
        if self.step_size is not None:
            check_real(name, "step_size", self.step_size)
        check_bool(name, "unroll", self.unroll)

    local: ClassVar[bool] = True

    def check(self, energy, reg):
        if not reg.has_mirror_map:
            raise TypeError(
                f"MirrorAscent needs a regularizer with a mirror map (an entropic one such as "
                f"BinaryEntropy or ShannonSimplex); got {type(reg).__name__}: use "
                "ProjectedGradient")

    def __call__(self, energy, reg, theta, init=None, key=None):
        energy = _energies.as_energy(energy)
        lam = reg.scale
        smooth = energy.oracle(theta)
        z0 = reg.mirror_map(resolve_init(energy, reg, theta, init))
        y0 = reg.mirror_inverse(z0)
        dtype = y0.dtype
        if self.step_size is not None:
            eta0 = jnp.asarray(self.step_size, dtype)
        else:
            curvature = smooth.curvature(y0)
            # μ of ψ; a regularizer that does not state it is taken as 1-strongly convex.
            mu = reg.strong_convexity_unscaled or 1.0
            eta0 = (1.0 / (lam + curvature / mu)).astype(dtype)
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
        state = loop(cond, body, state, self.maxiter, self.unroll)
        y, it, residual = state[1], state[4], state[5]
        return y, make_info(energy, reg, theta, y, it, residual, self.tol)


