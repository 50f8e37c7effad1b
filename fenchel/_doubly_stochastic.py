"""Maximizers over the Birkhoff polytope (doubly stochastic k×k matrices, stored
flattened as ``(..., k*k)``, row-major): the Euclidean projection by dual block
coordinate ascent and the entropic one by log-domain Sinkhorn, each with a
convergence report, and derivatives by implicit differentiation at the solution.
Both start with one block-coordinate sweep (for the entropic one, a log-domain
Sinkhorn sweep) and go on with Newton steps on the same dual (a sweep where the
line search fails): a few iterations where Sinkhorn alone needs hundreds for large
|Z| (nearly a permutation).

Both solutions have the form ``Y = W ⊙ (Z − α1ᵀ − 1βᵀ)`` (squared: ``W`` the
support, the dual potentials α, β of the row and column constraints) or
``Y = exp(Z − α1ᵀ − 1βᵀ)`` (entropic). Differentiating the marginal constraints
gives ``dY = W ⊙ (dZ − dα1ᵀ − 1dβᵀ)`` with (dα, dβ) solving the 2k×2k system
``[[diag(W1), W], [Wᵀ, diag(Wᵀ1)]] (dα, dβ) = (rows, columns of W ⊙ dZ)``
(``W = Y`` for the entropic one): the exact Jacobian, never the loop's.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


class SolveInfo(NamedTuple):
    """How an iterative Birkhoff solve ended (each field has the batch shape).

    Attributes:
      iterations: sweeps used (one row and one column update each).
      residual: ``max_i |Σ_j Y_ij − 1|`` (columns are exact after the last sweep).
      converged: ``residual <= tol``.
    """

    iterations: Array
    residual: Array
    converged: Array


def side(n: int) -> int:
    """k for a flattened k×k matrix of ``n`` entries; ``ValueError`` unless n = k²."""
    k = math.isqrt(n)
    if n < 1 or k * k != n:
        raise ValueError(f"a Birkhoff point is a k×k matrix flattened over the last axis (k² "
                         f"entries); the last axis has {n} entries, which is not a square")
    return k


def default_tol(dtype) -> float:
    """The marginal residual the solvers aim for: half the domain tolerance in
    single (or lower) precision, 1e-10 in double (where the domain tolerance, 1e-5,
    would waste the precision)."""
    if jnp.finfo(dtype).bits > 32:
        return 1e-10
    return 0.5 * max(1e-5, 4.0 * float(jnp.finfo(dtype).eps))


def _simplex_threshold(v: Array) -> Array:
    """τ with ``Σ_j max(v_j − τ, 0) = 1`` over the last axis (the sparsemax threshold)."""
    k = v.shape[-1]
    u = -jnp.sort(-v, axis=-1)
    cumulative = jnp.cumsum(u, axis=-1) - 1
    index = jnp.arange(1, k + 1, dtype=v.dtype)
    support = jnp.sum(u * index > cumulative, axis=-1, keepdims=True)
    return (jnp.take_along_axis(cumulative, support - 1, axis=-1) / support.astype(v.dtype))[..., 0]


def squared_sweep(z: Array, beta: Array) -> tuple[Array, Array]:
    """One dual block-coordinate sweep for the Euclidean projection of ``z: (k, k)``:
    the exact row potentials α for the column ones β, then the reverse."""
    alpha = _simplex_threshold(z - beta[None, :])
    beta = _simplex_threshold((z - alpha[:, None]).T)
    return alpha, beta


def squared_primal(z, alpha, beta):
    return jnp.maximum(z - alpha[:, None] - beta[None, :], 0)


# Step lengths tried at once by the Newton line search (no nested loop under vmap).
# NumPy, not jnp: a jnp array made at import would start the XLA backend, before a
# program can call jax.distributed.initialize.
_STEPS = 0.5 ** np.arange(20)


def _column_update(z, alpha, kind):
    """The exact column potentials for given row ones (columns then sum to 1)."""
    if kind == "squared":
        return _simplex_threshold((z - alpha[:, None]).T)
    return jax.nn.logsumexp(z - alpha[:, None], axis=0)


def newton_step(z: Array, alpha: Array, beta: Array, kind: str) -> tuple[Array, Array]:
    """One (semi-smooth) Newton step on the dual, ``min_{α,β} Σ h(Z − α1ᵀ − 1βᵀ) + Σα
    + Σβ`` with ``h(x) = ½[x]₊²`` (squared) or ``e^x`` (entropic), whose
    (generalized) Hessian is the marginal system of ``W`` (the support, or Y); Armijo
    on a fixed ladder of step lengths, then an exact column update. Where no step
    length passes (rounding in the dual values, a row that lost its support), a
    block-coordinate sweep instead, which always descends."""
    k = z.shape[0]
    sweep, primal = _KINDS[kind]
    steps = jnp.asarray(_STEPS, z.dtype)

    def dual(a, b):
        """The dual value, and the largest marginal residual (the decrease test of the
        value alone fails once its changes fall under float32 rounding)."""
        y = primal(z, a, b)
        value = (0.5 * jnp.sum(y * y) if kind == "squared" else jnp.sum(y)) + jnp.sum(a) + jnp.sum(b)
        residual = jnp.maximum(jnp.max(jnp.abs(jnp.sum(y, axis=1) - 1)),
                               jnp.max(jnp.abs(jnp.sum(y, axis=0) - 1)))
        return value, residual

    y = primal(z, alpha, beta)
    weights = (y > 0).astype(z.dtype) if kind == "squared" else y
    gradient = jnp.concatenate([1 - jnp.sum(y, axis=1), 1 - jnp.sum(y, axis=0)])
    system = jnp.block([[jnp.diag(jnp.sum(weights, axis=1)), weights],
                        [weights.T, jnp.diag(jnp.sum(weights, axis=0))]])
    # A small ridge: the system is singular along (1, −1) and where rows lose support.
    direction = -jnp.linalg.solve(system + 1e-6 * k * jnp.eye(2 * k, dtype=z.dtype), gradient)
    values, residuals = jax.vmap(
        lambda t: dual(alpha + t * direction[:k], beta + t * direction[k:]))(steps)
    slope = jnp.dot(gradient, direction)  # < 0: a descent direction
    value, residual = dual(alpha, beta)
    accepted = (values <= value + 1e-4 * steps * slope) | (residuals < 0.5 * residual)
    t = steps[jnp.argmax(accepted)]
    newton_alpha = alpha + t * direction[:k]
    newton_beta = _column_update(z, newton_alpha, kind)
    sweep_alpha, sweep_beta = sweep(z, beta)
    ok = jnp.any(accepted)
    return jnp.where(ok, newton_alpha, sweep_alpha), jnp.where(ok, newton_beta, sweep_beta)


def entropic_sweep(z: Array, beta: Array) -> tuple[Array, Array]:
    """One Sinkhorn sweep in the log domain for ``z: (k, k)``."""
    alpha = jax.nn.logsumexp(z - beta[None, :], axis=1)
    beta = jax.nn.logsumexp(z - alpha[:, None], axis=0)
    return alpha, beta


def entropic_primal(z, alpha, beta):
    return jnp.exp(z - alpha[:, None] - beta[None, :])


_KINDS = {"squared": (squared_sweep, squared_primal),
          "entropic": (entropic_sweep, entropic_primal)}


def _step(z, alpha, beta, kind):
    """One iteration after the first sweep: a Newton step on the dual."""
    return newton_step(z, alpha, beta, kind)


def _solve_one(z: Array, kind: str, maxiter: int, tol: float) -> tuple[Array, SolveInfo]:
    sweep, primal = _KINDS[kind]

    def residual(alpha, beta):
        return jnp.max(jnp.abs(jnp.sum(primal(z, alpha, beta), axis=1) - 1))

    def cond(state):
        _, _, it, res = state
        return (it < maxiter) & (res > tol)

    def body(state):
        alpha, beta, it, _ = state
        alpha, beta = _step(z, alpha, beta, kind)
        return alpha, beta, it + 1, residual(alpha, beta)

    k = z.shape[0]
    alpha, beta = sweep(z, jnp.zeros(k, z.dtype))
    state = (alpha, beta, jnp.ones((), jnp.int32), residual(alpha, beta))
    alpha, beta, iterations, res = jax.lax.while_loop(cond, body, state)
    y = primal(z, alpha, beta)
    return y, SolveInfo(iterations, res, res <= tol)


def _marginal_solve(weights: Array, rows: Array, columns: Array) -> tuple[Array, Array]:
    """(dα, dβ) from ``[[diag(W1), W], [Wᵀ, diag(Wᵀ1)]] (dα, dβ) = (rows, columns)``,
    minimal norm (the system is singular along (1, −1), and more where the support
    splits into blocks)."""
    k = weights.shape[0]
    system = jnp.block([[jnp.diag(jnp.sum(weights, axis=1)), weights],
                        [weights.T, jnp.diag(jnp.sum(weights, axis=0))]])
    solution = jnp.linalg.pinv(system, hermitian=True) @ jnp.concatenate([rows, columns])
    return solution[:k], solution[k:]


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _implicit(z: Array, y: Array, kind: str) -> Array:
    """``y`` (the solution for ``z``, computed without derivatives) with the implicit
    derivatives in z; y's own tangent is ignored."""
    del z
    return y


@_implicit.defjvp
def _implicit_jvp(kind, primals, tangents):
    (z, y), (dz, _) = primals, tangents
    # y through this same function: the entropic weights depend on z, and their own
    # derivatives stay exact at every order.
    y = _implicit(z, y, kind)
    weights = jax.lax.stop_gradient((y > 0).astype(y.dtype)) if kind == "squared" else y
    weighted = weights * dz
    d_alpha, d_beta = _marginal_solve(weights, jnp.sum(weighted, axis=1),
                                      jnp.sum(weighted, axis=0))
    return y, weights * (dz - d_alpha[:, None] - d_beta[None, :])


def solve(z: Array, kind: str, maxiter: int = 1000, tol: float | None = None
          ) -> tuple[Array, SolveInfo]:
    """The maximizer over the Birkhoff polytope for flattened ``z: (..., k*k)`` and
    its :class:`SolveInfo`: ``kind="squared"`` the Euclidean projection,
    ``"entropic"`` ``argmax <Z, Y> − <Y, log Y − 1>`` (Sinkhorn). ``tol`` defaults
    to :func:`default_tol` of z's dtype. Derivatives in z are implicit (exact at the
    solution), of every order; nothing is differentiated through the loop."""
    z = jnp.asarray(z)
    k = side(z.shape[-1])
    tol = default_tol(z.dtype) if tol is None else tol
    flat = z.reshape(-1, k, k)

    def one(m):
        y, info = _solve_one(jax.lax.stop_gradient(m), kind, maxiter, tol)
        return _implicit(m, y, kind), info

    y, info = jax.vmap(one)(flat)
    batch = z.shape[:-1]
    return y.reshape(z.shape), jax.tree.map(lambda leaf: leaf.reshape(batch), info)


def solve_unrolled(z: Array, kind: str, num_steps: int) -> Array:
    """The same iterations as :func:`solve` (a first sweep, then ``num_steps − 1``
    Newton steps or sweeps), a fixed number of them, differentiated through the loop:
    the unrolled baseline the benchmarks compare with. ``z: (k, k)``."""
    _, primal = _KINDS[kind]
    alpha, beta = _KINDS[kind][0](z, jnp.zeros(z.shape[0], z.dtype))
    alpha, beta = jax.lax.fori_loop(1, num_steps, lambda _, ab: _step(z, ab[0], ab[1], kind),
                                    (alpha, beta))
    return primal(z, alpha, beta)


def projection_birkhoff(z: Array, maxiter: int = 1000, tol: float | None = None) -> Array:
    """Euclidean projection onto the Birkhoff polytope of flattened k×k matrices.

    .. math:: \\operatorname{argmin}_{Y ≥ 0,\\ Y1 = 1,\\ Yᵀ1 = 1} \\tfrac12 \\|Y − Z\\|_F^2
              = \\max(Z − α1ᵀ − 1βᵀ, 0)

    The dual potentials α, β are found by a semi-smooth Newton method on the dual
    (after one block-coordinate sweep: a sparsemax threshold per row, then per
    column; a sweep again wherever the line search fails), until the
    row sums are within ``tol`` of 1 (columns are exact); :func:`solve` also gives
    the :class:`SolveInfo`. Derivatives are implicit (exact on the support).

    Args:
      z: ``(..., k*k)`` matrices flattened row-major.
      maxiter: the most sweeps.
      tol: the row-sum residual to reach (default :func:`default_tol`).

    Returns:
      ``(..., k*k)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import projection_birkhoff
      >>> y = projection_birkhoff(jnp.array([1.0, 0.0, 0.0, 0.0]))
      >>> [round(v, 4) for v in y.tolist()]
      [0.75, 0.25, 0.25, 0.75]
    """
    return solve(z, "squared", maxiter, tol)[0]


def sinkhorn(z: Array, maxiter: int = 1000, tol: float | None = None) -> Array:
    """The entropic maximizer on the Birkhoff polytope: a log-domain Sinkhorn sweep,
    then Newton steps on the same dual (Sinkhorn sweeps where the line search fails).

    .. math:: \\operatorname{argmax}_{Y ∈ \\mathcal B_k} \\langle Z, Y \\rangle −
              \\langle Y, \\log Y − 1 \\rangle = \\exp(Z − α1ᵀ − 1βᵀ)

    Args:
      z: ``(..., k*k)`` scores flattened row-major.
      maxiter: the most sweeps.
      tol: the row-sum residual to reach (default :func:`default_tol`).

    Returns:
      ``(..., k*k)``; :func:`solve` with ``kind="entropic"`` also gives the
      :class:`SolveInfo`.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import sinkhorn
      >>> [round(v, 4) for v in sinkhorn(jnp.zeros(4)).tolist()]
      [0.5, 0.5, 0.5, 0.5]

    References:
      Cuturi. Sinkhorn Distances: Lightspeed Computation of Optimal Transport.
      NeurIPS 2013.
    """
    return solve(z, "entropic", maxiter, tol)[0]
