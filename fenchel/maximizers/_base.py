"""The maximizer protocol, its status and diagnostics, and the pieces every solver
shares: the inner objective, starting points, settings checks and the loop."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import _pytree
from fenchel import energies as _energies
from fenchel import regularizers as _regs

Array = jax.Array
Energy = _energies.Energy


class Status(enum.IntEnum):
    """How a maximization ended, carried as an int32 array in
    :attr:`MaximizerInfo.status` (like optimistix's ``RESULTS``).

    ``SUCCESSFUL``: the convergence measure reached the tolerance (a stationary
    point; optimal when the problem is concave). ``MAX_ITERATIONS``: the solver
    ran out of iterations first. ``NONFINITE``: the solution or its convergence
    measure is NaN or infinite (a non-finite θ, an energy that overflows).
    ``NOT_CONCAVE``: the solver stopped at a stationary point, but the inner
    problem is not concave (a concrete θ checked by the energy), so it may be a
    saddle or a local maximum. ``NO_CERTIFICATE``: a sampling solver, which
    certifies nothing.

    Example:
      >>> from fenchel.maximizers import Status
      >>> Status.message(1)
      'the solver ran out of iterations before the convergence measure reached its tolerance'
    """

    SUCCESSFUL = 0
    MAX_ITERATIONS = 1
    NONFINITE = 2
    NOT_CONCAVE = 3
    NO_CERTIFICATE = 4

    @staticmethod
    def message(code) -> str:
        """The explanation of a status code (an int or a 0-d array)."""
        return _MESSAGES[Status(int(code))]


_MESSAGES = {
    Status.SUCCESSFUL: "converged: the convergence measure reached its tolerance",
    Status.MAX_ITERATIONS: ("the solver ran out of iterations before the convergence measure "
                            "reached its tolerance"),
    Status.NONFINITE: "the solution or its convergence measure is not finite (NaN or ±inf)",
    Status.NOT_CONCAVE: ("stopped at a stationary point of a problem that is not concave: it may "
                         "be a saddle or a local maximum, and the loss a lower bound"),
    Status.NO_CERTIFICATE: "a sampling solver: the point is the best found, with no certificate",
}


class MaximizerInfo(NamedTuple):
    """Diagnostics of one maximization (each field has the batch shape).

    Attributes:
      iterations: iterations (or sweeps, or sampling rounds) used.
      residual: convergence measure (see :mod:`fenchel.maximizers`); 0 for
        :class:`~fenchel.maximizers.ClosedForm`.
      objective: Φ(θ, ŷ) − Ω(ŷ) at the returned ŷ.
      converged: whether ``residual <= tol`` (stationarity).
      status: a :class:`Status` code (int32): why the solver stopped.
    """

    iterations: Array
    residual: Array
    objective: Array
    converged: Array
    status: Array = None


class NotConvergedError(RuntimeError):
    """A maximization with ``on_failure="raise"`` did not succeed.

    Raised as is by eager calls and inside :func:`fenchel.maximizers.jit`; under a
    bare ``jax.jit`` JAX can only raise its own ``JaxRuntimeError``, whose message
    then carries this one (see :func:`fenchel.maximizers.jit`)."""


class NonConcaveWarning(RuntimeWarning):
    """The inner problem is not concave: a local solver may stop at a saddle or a
    local maximum, and the GFY loss it gives is a lower bound of the true one."""


# --------------------------------------------------------------------------- settings


def _setting_error(solver, name, expected, value):
    return ValueError(f"{solver}.{name} must be {expected}, got {value!r}")


def check_int(solver: str, name: str, value, minimum: int) -> None:
    """Raise ``ValueError`` naming ``solver.name`` unless value is an int ≥ minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise _setting_error(solver, name, f"an integer >= {minimum}", value)


def check_real(solver: str, name: str, value, *, low: float = 0.0, high: float = np.inf,
               low_open: bool = True, high_open: bool = False) -> None:
    """Raise ``ValueError`` naming ``solver.name`` unless value is a finite number in
    the interval (traced values pass: they are checked by the computation)."""
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


def check_bool(solver: str, name: str, value) -> None:
    """Raise ``ValueError`` naming ``solver.name`` unless value is a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise _setting_error(solver, name, "True or False", value)


def require_bounded(solver, reg: _regs.Regularizer) -> None:
    """Raise ``TypeError`` unless ``reg``'s domain is bounded (sampling solvers)."""
    if not reg.domain.bounded:
        raise TypeError(
            f"{type(solver).__name__} samples from a bounded domain; got "
            f"{type(reg).__name__}, whose domain {reg.domain!r} is unbounded")


# --------------------------------------------------------------------------- objective


def objective(energy: Energy, reg: _regs.Regularizer, theta: Any, y: Array) -> Array:
    """The inner objective ``F(y) = Φ(θ, y) − Ω(y)`` (scalar)."""
    return energy(theta, y) - reg.value(y)


def objective_gap(energy: Energy, reg: _regs.Regularizer, theta: Any, a: Array,
                  b: Array) -> Array:
    """``F(a) − F(b)`` with ``F = Φ(θ, ·) − Ω``, computed from differences.

    The energy's :meth:`~fenchel.energies.Energy.gap` forms its difference before
    the sums (``<θ, a − b>``; ``<u, d> + ½ dᵀS(a + b)`` with ``d = a − b``,
    ``S = ½(U + Uᵀ)``, for the pairwise energy), and Ω's
    :meth:`~fenchel.regularizers.Regularizer.value_difference` entry by entry, so
    nearby points with large objectives do not lose the gap to cancellation. Its
    gradient in θ is ``∇_θ Φ(θ, a) − ∇_θ Φ(θ, b)``.
    """
    return _energies.as_energy(energy).gap(theta, a, b) - reg.value_difference(a, b)


def default_init(reg: _regs.Regularizer, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
    """A neutral starting point in ``dom Ω``: the domain's centre (the box centre,
    the simplex barycentre, zero)."""
    return reg.domain.center(tuple(shape), dtype)


def random_init(reg: _regs.Regularizer, key: Array, shape: tuple[int, ...],
                dtype=jnp.float32) -> Array:
    """Random points of ``dom Ω`` from the domain's sampler (uniform on a box, flat
    Dirichlet on the simplex, standard normal on R^k)."""
    return reg.domain.sample(key, tuple(shape), dtype)


def make_info(energy, reg, theta, y, iterations, residual, tol, *,
              certified: bool = True) -> MaximizerInfo:
    """The :class:`MaximizerInfo` of a solve that stopped at ``y`` with the given
    iteration count and convergence measure; ``certified=False`` for sampling
    solvers (status ``NO_CERTIFICATE`` unless non-finite)."""
    # Keep y's precision: a float32 cast would hide convergence under x64.
    residual = jnp.asarray(residual, jnp.result_type(y))
    value = objective(energy, reg, theta, y)
    converged = residual <= tol
    finite = jnp.all(jnp.isfinite(y)) & jnp.isfinite(value) & ~jnp.isnan(residual)
    ok = Status.SUCCESSFUL if certified else Status.NO_CERTIFICATE
    status = jnp.where(~finite, Status.NONFINITE,
                       jnp.where(converged, ok, Status.MAX_ITERATIONS)).astype(jnp.int32)
    return MaximizerInfo(iterations=jnp.asarray(iterations, jnp.int32), residual=residual,
                         objective=value, converged=converged, status=status)


def loop(cond, body, state, maxiter: int, unroll: bool):
    """``while_loop`` normally; a fixed-length ``fori_loop`` (reverse-mode
    differentiable) when unrolling through the solver."""
    if unroll:
        return jax.lax.fori_loop(0, maxiter, lambda _, s: body(s), state)
    return jax.lax.while_loop(cond, body, state)


def resolve_init(energy, reg, theta, init, shape=None):
    """``init`` as an array, or the domain's centre with the energy's output shape
    (``shape`` overrides it); ``ValueError`` when neither is known."""
    energy = _energies.as_energy(energy)
    expected = energy.output_shape(theta)
    if init is None:
        shape = expected if shape is None else tuple(shape)
        if shape is None:
            raise ValueError(
                f"the output shape of energy {energy.__name__!r} is unknown: pass init= "
                "(a starting point in dom Ω with the shape of y)")
        leaves = [leaf for leaf in jax.tree.leaves(theta)
                  if jnp.issubdtype(jnp.result_type(leaf), jnp.floating)]
        dtype = jnp.result_type(*leaves) if leaves else jnp.float32
        return default_init(reg, shape, dtype)
    init = jnp.asarray(init)
    if expected is not None and tuple(init.shape) != tuple(expected):
        raise ValueError(f"init has shape {tuple(init.shape)}, expected {tuple(expected)} "
                         "for this theta")
    return init


# --------------------------------------------------------------------------- protocol


@dataclasses.dataclass(frozen=True)
class Maximizer:
    """Base class of the inner solvers: the maximizer protocol.

    A solver is called as ``solver(energy, reg, theta, init=None, key=None) ->
    (y_hat, info)`` on one example (vmap for batches), with ``energy`` an
    :class:`~fenchel.energies.Energy` (wrap a plain callable with
    :func:`~fenchel.energies.as_energy`) and ``info`` a :class:`MaximizerInfo`
    (build it with :func:`make_info`). ``check(energy, reg)`` raises ``TypeError``
    for a pair it cannot handle, asking the energy's and the regularizer's
    capabilities, never their types. ``fixed_point_map`` gives implicit
    differentiation a map whose fixed points are the solutions.

    A solver is a pytree: its numeric settings (tolerances, step sizes,
    temperatures; a wrapped solver) are leaves, and the settings that shape the
    computation (iteration counts, sample counts, flags) are static. So a solver
    can be passed to ``jax.jit`` as an argument. ``local = True`` marks solvers that
    stop at the first stationary point (warned about on non-concave problems).
    See ``docs/extending.md`` for a solver written from scratch.
    """

    _leaf_fields: ClassVar[tuple[str, ...]] = ()
    local: ClassVar[bool] = False
    #: ŷ = ∇Ω*(scores): losses then use Ω's stable closed forms (conjugate, FY loss).
    closed_form: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _pytree.register(cls)

    def check(self, energy: Energy, reg: _regs.Regularizer) -> None:
        """Raise ``TypeError`` if this solver cannot handle ``(energy, reg)``."""

    def __call__(self, energy, reg, theta, init=None, key=None):
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def fixed_point_map(self, energy, reg, theta, y):
        """A map T with ``T(θ, ŷ) = ŷ`` exactly at the solutions (used for
        implicit differentiation)."""
        return default_fixed_point_map(energy, reg, theta, y)


def is_maximizer(obj) -> bool:
    """Whether ``obj`` follows the maximizer protocol: callable, with ``check`` and
    ``fixed_point_map`` (a :class:`Maximizer` subclass always does)."""
    return (callable(obj) and not isinstance(obj, type)  # an instance, not the class
            and all(callable(getattr(obj, name, None)) for name in ("check", "fixed_point_map")))


def default_fixed_point_map(energy, reg, theta, y):
    """Mean-field map for an Ω with a mirror map, unit-step proximal gradient with a
    prox, a projected gradient step on ``Φ − Ω`` otherwise: all have the maximizers
    of a concave objective as their fixed points."""
    grad = _energies.as_energy(energy).oracle(theta).grad(y)
    if reg.has_mirror_map:
        return reg.mirror_inverse(grad / reg.scale)
    if reg.has_prox:
        return reg.prox(y + grad, 1.0)
    return reg.project(y + grad - reg.gradient(y))
