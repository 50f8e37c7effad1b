"""The selection policy (which solver by default), the input rules of the public
entry points, failure reports, :func:`maximize` and :func:`conjugate`."""

from __future__ import annotations

import functools
import re
import warnings
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import _inputs
from fenchel import energies as _energies
from fenchel import regularizers as _regs
from fenchel.maximizers._base import objective as objective_value
from fenchel.maximizers._base import (Maximizer, MaximizerInfo, NonConcaveWarning,
                                      NotConvergedError, Status, is_maximizer, resolve_init)
from fenchel.maximizers._first_order import ClosedForm, MirrorAscent, ProjectedGradient
from fenchel.maximizers._wrappers import Restarts

Array = jax.Array
Energy = _energies.Energy


def default_solver(energy: Energy, reg: _regs.Regularizer, theta: Any = None) -> Maximizer:
    """The solver :func:`maximize` uses when ``solver=None``.

    Closed form for an energy linear in y (the bilinear one) and an Ω with a
    closed-form maximizer; mirror ascent for an Ω with a mirror map (entropic);
    accelerated proximal (or projected) gradient otherwise. Given a concrete
    ``theta`` whose inner problem is not concave (see :func:`concavity_excess`),
    that solver is wrapped in :class:`Restarts` (16 random restarts).

    Example:
      >>> import fenchel as fy
      >>> fy.maximizers.default_solver(fy.energies.pairwise, fy.regularizers.BinaryEntropy())
      MirrorAscent(maxiter=500, tol=1e-05, step_size=None, unroll=False)
    """
    energy = _energies.as_energy(energy)
    if energy.linear_in_y and reg.has_linear_maximizer:
        return ClosedForm()
    base = MirrorAscent() if reg.has_mirror_map else ProjectedGradient()
    if theta is not None and (concavity_excess(energy, reg, theta) or 0.0) > 0:
        return Restarts(base, num_restarts=16)
    return base


def concavity_excess(energy: Energy, reg: _regs.Regularizer, theta: Any) -> float | None:
    """How far a concrete problem is from concave: ``λ_max(∇²_y Φ) − μ``, from the
    energy's :meth:`~fenchel.energies.Energy.concavity_excess`.

    For the pairwise energy, the inner objective ``<u, y> + ½ yᵀUy − Ω(y)`` is
    concave when the largest eigenvalue of ``½(U + Uᵀ)`` is at most the strong
    convexity μ of Ω (a sufficient condition; the exact one for the squared
    regularizers). Returns a positive number (the largest over a batch) when it is
    not concave, 0.0 when it is (up to rounding), and ``None`` when unknown: an
    energy that cannot tell, or a traced θ. :data:`~fenchel.energies.low_rank_pairwise`
    (``U = −VVᵀ ⪯ 0``) is concave for every θ: 0.0, traced or not.

    Example:
      >>> import fenchel as fy
      >>> import jax.numpy as jnp
      >>> from fenchel.maximizers import concavity_excess
      >>> U = jnp.array([[0.0, 3.0], [3.0, 0.0]])
      >>> concavity_excess(fy.energies.pairwise, fy.regularizers.SquaredBox(),
      ...                  (jnp.zeros(2), U))
      2.0
    """
    if not _inputs.is_concrete(reg):
        return None
    return _energies.as_energy(energy).concavity_excess(theta, reg.strong_convexity)


def _resolve(energy, reg, theta, solver) -> tuple[Maximizer, bool]:
    """``(solver, not_concave)``: the checked solver and whether a concrete θ gave a
    problem that is not concave while a local solver runs on it."""
    if not isinstance(reg, _regs.Regularizer):
        raise TypeError(f"reg must be a fenchel.regularizers.Regularizer, got {type(reg).__name__}")
    if solver is not None and not is_maximizer(solver):
        raise TypeError(f"solver must be a fenchel.maximizers.Maximizer or None, got "
                        f"{type(solver).__name__}")
    energy = _energies.as_energy(energy)
    excess = concavity_excess(energy, reg, theta)
    not_concave = False
    if excess:
        lam_max = excess + reg.strong_convexity
        if not reg.domain.bounded:
            raise ValueError(
                f"theta gives λ_max(∇²_y Φ) = λ_max(½(U + Uᵀ)) = {lam_max:.6g} > μ = "
                f"{reg.strong_convexity:g} of {type(reg).__name__}: the inner problem is "
                f"unbounded above on its domain {reg.domain!r} and the GFY loss is +inf; use "
                "U ⪯ μI (e.g. fenchel.energies.negative_semidefinite) or a bounded domain")
        chosen = default_solver(energy, reg, theta) if solver is None else solver
        local = getattr(chosen, "local", False)
        if solver is None or local:
            what = (f"using {type(chosen).__name__}({type(chosen.solver).__name__}, "
                    f"num_restarts={chosen.num_restarts}), the best of several local maxima"
                    if solver is None else f"{type(solver).__name__} finds a stationary point only")
            warnings.warn(
                f"the inner problem of {energy.__name__} is not concave: λ_max(∇²_y Φ) = "
                f"λ_max(½(U + Uᵀ)) = {lam_max:.6g} exceeds μ = {reg.strong_convexity:g} of "
                f"{type(reg).__name__}; {what}, which may be a saddle or a local maximum, so "
                "the loss is a lower bound. Pass solver=Restarts(...) or a sampling solver to "
                "choose.", NonConcaveWarning, stacklevel=4)
        not_concave = local
        solver = chosen
    elif solver is None:
        solver = default_solver(energy, reg)
    solver.check(energy, reg)
    return solver, not_concave


def resolve_solver(energy: Energy, reg: _regs.Regularizer, theta: Any,
                   solver: Maximizer | None) -> Maximizer:
    """The solver to use for ``(energy, reg, theta)``, checked.

    ``None`` gives :func:`default_solver`. A concrete θ whose problem is not
    concave gives a :class:`NonConcaveWarning` (and Restarts by default); on an
    unbounded domain (:class:`~fenchel.regularizers.Squared`) it raises
    ``ValueError`` (the maximum is +inf).

    Raises:
      TypeError: ``reg`` or ``solver`` of the wrong type, or a solver that cannot
        handle ``(energy, reg)``.
    """
    return _resolve(energy, reg, theta, solver)[0]


def check_on_failure(on_failure: str) -> None:
    """Raise ``ValueError`` unless ``on_failure`` is ``"ignore"``, ``"warn"`` or ``"raise"``."""
    if on_failure not in ("ignore", "warn", "raise"):
        raise ValueError(f"on_failure must be 'ignore', 'warn' or 'raise', got {on_failure!r}")


check_theta = _inputs.check_theta
check_output = _inputs.check_output

# The statuses on_failure reports: a solve that is not done, or not finite.
_FAILURES = (Status.MAX_ITERATIONS, Status.NONFINITE)


def _status(info: MaximizerInfo) -> Array:
    """``info.status``, or one derived from ``converged`` for a user's solver that
    leaves it out."""
    if info.status is not None:
        return info.status
    return jnp.where(info.converged, Status.SUCCESSFUL, Status.MAX_ITERATIONS).astype(jnp.int32)


def mark_not_concave(info: MaximizerInfo, not_concave: bool) -> MaximizerInfo:
    """``info`` with ``SUCCESSFUL`` turned into ``NOT_CONCAVE`` when the problem was
    found not concave (a stationary point of it may be a saddle)."""
    status = _status(info)
    if not_concave:
        status = jnp.where(status == Status.SUCCESSFUL, Status.NOT_CONCAVE, status)
    return info._replace(status=status.astype(jnp.int32))


def report(info: MaximizerInfo, on_failure: str) -> None:
    """Warn (``"warn"``) or raise :class:`NotConvergedError` (``"raise"``) when
    some problem in ``info`` ended with a failing status (``MAX_ITERATIONS`` or
    ``NONFINITE``); nothing for ``"ignore"``. Works on traced ``info`` through
    ``jax.debug.callback`` (inside ``jax.jit``, see :func:`jit`)."""
    if on_failure == "ignore":
        return

    def callback(status, residual):
        status = np.asarray(status)
        failed = np.isin(status, [int(s) for s in _FAILURES])
        if not np.any(failed):
            return
        counts = {Status(int(code)).name: int(np.sum(status == code))
                  for code in np.unique(status[failed])}
        worst = Status(int(np.max(status[failed])))
        message = (f"inner maximization did not converge in {int(np.sum(failed))} of "
                   f"{status.size} problems ({', '.join(f'{n}: {c}' for n, c in counts.items())}; "
                   f"largest residual {float(np.nanmax(np.where(failed, residual, -np.inf))):.3g}): "
                   f"{Status.message(worst)}")
        if on_failure == "raise":
            raise NotConvergedError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)

    jax.debug.callback(callback, _status(info), info.residual)


_WRAPPED_ERROR = re.compile(r"NotConvergedError: (?P<message>[^\n]*)")


def jit(fun: Callable | None = None, **jit_kwargs) -> Callable:
    """``jax.jit`` that raises :class:`NotConvergedError` for ``on_failure="raise"``.

    Inside a compiled function JAX turns every exception raised by a host
    callback into its own ``JaxRuntimeError``; this wrapper (like
    ``equinox.filter_jit``) re-raises the error of a failed maximization with its
    documented type and message. Anything else passes through unchanged.

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel as fy
      >>> @fy.maximizers.jit
      ... def solve(theta):
      ...     return fy.maximize(fy.energies.pairwise, fy.regularizers.SquaredBox(), theta,
      ...                        solver=fy.maximizers.ProjectedGradient(maxiter=1),
      ...                        on_failure="raise")[0]
      >>> solve((jnp.array([3.0, -1.0]), -10.0 * jnp.eye(2)))
      Traceback (most recent call last):
      ...
      fenchel.maximizers._base.NotConvergedError: inner maximization did not converge ...
    """
    if fun is None:
        return functools.partial(jit, **jit_kwargs)
    compiled = jax.jit(fun, **jit_kwargs)

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        try:
            return jax.block_until_ready(compiled(*args, **kwargs))
        except jax.errors.JaxRuntimeError as error:
            found = _WRAPPED_ERROR.findall(str(error))
            if not found:
                raise
            raise NotConvergedError(found[-1]) from None

    wrapper.lower = compiled.lower
    return wrapper


def read_inputs(energy: Energy, theta: Any, *outputs: tuple[str, Any],
                extra: dict[str, tuple[Any, int]] | None = None):
    """Common input handling of the public entry points (see :mod:`fenchel._inputs`).

    Returns ``(theta, outputs, extra, batch, result_dtype)``: floating leaves cast to
    the compute dtype, outputs as floating arrays (``None`` kept), and the batch shape.
    """
    energy = _energies.as_energy(energy)
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
      on_failure: ``"ignore"`` (see ``info.status``), ``"warn"`` or ``"raise"``
        (:class:`NotConvergedError`; inside ``jit``, wrap with :func:`jit`) if the
        solver did not converge or met a non-finite value.

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
    energy = _energies.as_energy(energy)
    solver, not_concave = _resolve(energy, reg, theta, solver)
    theta, arrays, _, batch, result = read_inputs(energy, theta, ("init", init))

    def one(theta_, init):
        return solver(energy, reg, theta_, resolve_init(energy, reg, theta_, init), key)

    y, info = _inputs.map_examples(one, energy, batch, theta, arrays)
    info = mark_not_concave(info, not_concave)
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
    energy = _energies.as_energy(energy)
    solver, _ = _resolve(energy, reg, theta, solver)
    theta, arrays, _, batch, result = read_inputs(energy, theta, ("init", init))
    if getattr(solver, "closed_form", False):
        return _inputs.map_examples(lambda theta_: reg.conjugate(energy.scores(theta_)),
                                    energy, batch, theta, {}).astype(result)

    def one(theta_, init):
        init = resolve_init(energy, reg, theta_, init)
        y, info = solver(energy, jax.lax.stop_gradient(reg), jax.lax.stop_gradient(theta_),
                         init, key)
        return objective_value(energy, reg, theta_, jax.lax.stop_gradient(y)), info

    value, info = _inputs.map_examples(one, energy, batch, theta, arrays)
    report(info, on_failure)
    return value.astype(result)
