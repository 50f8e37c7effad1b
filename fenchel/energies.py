"""Energies Φ(θ, y): plain callables ``energy(theta, y) -> scalar``.

θ may be any pytree (an array, a tuple ``(u, U)``, network parameters); y is an
array of shape ``(k,)`` (or any fixed shape). An energy is called on one
example; batch with ``jax.vmap``.

The solvers recognise three energies by identity: :func:`bilinear` (closed-form
maximizers), :func:`pairwise` (block-coordinate ascent, one product with the
symmetric part of U per gradient) and :func:`low_rank_pairwise` (the pairwise
energy with ``U = −VVᵀ`` given by its factor ``V: (k, r)``: gradients, curvature
estimates and coordinate updates in ``O(kr)``, never forming the ``k × k`` U).
For these the per-example shapes of θ are known, so leading axes are batch axes
(see :mod:`fenchel._inputs`). Any other callable is handled by the generic,
gradient-based or sampling solvers.

Concavity in y matters: with Φ concave in y the inner problem is concave and the
GFY loss satisfies ``L(θ; y) ≥ μ/2 ‖y − ŷ‖²``; with Φ linear in θ the loss is
convex in θ. :func:`pairwise` is concave in y iff ``U ⪯ 0``; use
:func:`negative_semidefinite` or :func:`project_negative_semidefinite` to keep
it so. :func:`low_rank_pairwise` is concave in y for every V, but it is not
linear in V (the loss is convex in ``(u, VVᵀ)``, not in V).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

Array = jax.Array
Energy = Callable[[Any, Array], Array]

# Products in full float32: a GPU's default (TF32) rounds them to about 1e-3 relative,
# enough to make a loss value visibly wrong and a solver's tolerance unreachable.
_PRECISION = jax.lax.Precision.HIGHEST


def _dot(a: Array, b: Array) -> Array:
    return jnp.matmul(a, b, precision=_PRECISION)


def _vdot(a: Array, b: Array) -> Array:
    return jnp.vdot(a, b, precision=_PRECISION)


def bilinear(theta: Array, y: Array) -> Array:
    """Bilinear (unary) energy.

    .. math:: Φ(θ, y) = \\langle θ, y \\rangle

    Args:
      theta: ``(k,)`` scores.
      y: ``(k,)`` output.

    Returns:
      A scalar.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.energies import bilinear
      >>> bilinear(jnp.array([1.0, 2.0]), jnp.array([1.0, 0.0])).item()
      1.0
    """
    return _vdot(theta, y)


def pairwise(theta: tuple[Array, Array], y: Array) -> Array:
    """Pairwise (quadratic) energy with unary and interaction terms.

    .. math:: Φ((u, U), y) = \\langle u, y \\rangle + \\tfrac12 \\langle y, U y \\rangle

    Linear in θ = (u, U); concave in y iff the symmetric part of U is negative
    semi-definite (build U with :func:`negative_semidefinite` to guarantee it).

    Args:
      theta: ``(u, U)`` with ``u: (k,)`` unaries and ``U: (k, k)`` interactions.
      y: ``(k,)`` output.

    Returns:
      A scalar.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.energies import pairwise
      >>> u, U = jnp.array([1.0, 0.0]), -jnp.eye(2)
      >>> pairwise((u, U), jnp.array([1.0, 1.0])).item()
      0.0
    """
    u, interactions = theta
    return _vdot(u, y) + 0.5 * _vdot(y, _dot(interactions, y))


def low_rank_pairwise(theta: tuple[Array, Array], y: Array) -> Array:
    """Pairwise energy with a low-rank concave interaction ``U = −V Vᵀ``, given by V.

    .. math:: Φ((u, V), y) = \\langle u, y \\rangle − \\tfrac12 \\lVert Vᵀ y \\rVert_2^2
              = \\langle u, y \\rangle + \\tfrac12 \\langle y, U y \\rangle,
              \\qquad U = −V Vᵀ ⪯ 0

    The same function of y as :func:`pairwise` with ``U = −V Vᵀ``
    (:func:`negative_semidefinite`), computed without the ``k × k`` matrix: the
    value and ``∇_y Φ = u − V(Vᵀy)`` cost ``O(kr)`` instead of ``O(k²)``, and the
    solvers recognise it (``O(kr)`` per iteration and per coordinate sweep).

    Concave in y for every V (``∇²_y Φ = −V Vᵀ ⪯ 0``), so the inner problem is
    always concave. Linear in ``(u, U)`` with ``U = −VVᵀ``, but **not linear in
    V** (it is quadratic in V): the GFY loss is convex in ``(u, U)``, and convex
    in u for a fixed V, but not convex in V. Its θ-gradient by Danskin is
    ``∇_u = ŷ − y`` and ``∇_V = −(ŷŷᵀ − yyᵀ) V``.

    Args:
      theta: ``(u, V)`` with ``u: (k,)`` unaries and ``V: (k, r)`` the factor of
        the interactions (any rank r ≥ 1, also r > k).
      y: ``(k,)`` output.

    Returns:
      A scalar.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.energies import low_rank_pairwise, negative_semidefinite, pairwise
      >>> u, V = jnp.array([1.0, 0.0, 2.0]), jnp.array([[1.0], [1.0], [0.0]])
      >>> y = jnp.array([1.0, 1.0, 0.5])
      >>> low_rank_pairwise((u, V), y).item()  # 1 + 1 − ½ (1 + 1)²
      0.0
      >>> pairwise((u, negative_semidefinite(V)), y).item()
      0.0
    """
    u, factor = theta
    projected = _dot(y, factor)  # Vᵀy: (r,)
    return _vdot(u, y) - 0.5 * _vdot(projected, projected)


def negative_semidefinite(factor: Array) -> Array:
    """Interaction matrix ``U = −V Vᵀ``, negative semi-definite by construction.

    Args:
      factor: ``V: (k, r)``.

    Returns:
      ``U: (k, k)`` with ``U ⪯ 0``; :func:`pairwise` with it is concave in y
      (:func:`low_rank_pairwise` takes V itself and never forms U).

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.energies import negative_semidefinite
      >>> negative_semidefinite(jnp.ones((2, 1))).tolist()
      [[-1.0, -1.0], [-1.0, -1.0]]
    """
    return -_dot(factor, factor.T)


def project_negative_semidefinite(matrix: Array) -> Array:
    """Nearest (Frobenius) negative semi-definite matrix to ``sym(matrix)``.

    .. math:: Π(U) = Q \\min(Λ, 0) Qᵀ, \\quad \\tfrac12(U + Uᵀ) = Q Λ Qᵀ

    Args:
      matrix: ``(k, k)``.

    Returns:
      ``(k, k)``, symmetric, ``⪯ 0``.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.energies import project_negative_semidefinite
      >>> project_negative_semidefinite(jnp.eye(2)).tolist()
      [[0.0, 0.0], [0.0, 0.0]]
    """
    sym = 0.5 * (matrix + matrix.T)
    eigvals, eigvecs = jnp.linalg.eigh(sym)
    return _dot(eigvecs * jnp.minimum(eigvals, 0.0), eigvecs.T)


def output_shape(energy: Energy, theta: Any) -> tuple[int, ...] | None:
    """The shape of y that ``energy`` expects for ``theta``, when it is known.

    Known for :func:`bilinear` (``theta.shape``), :func:`pairwise` and
    :func:`low_rank_pairwise` (``u.shape``); ``None`` for other energies, whose
    solvers then need ``init=`` (or ``y`` itself, in a loss).
    """
    if energy is bilinear:
        return tuple(jnp.shape(theta))
    if energy is pairwise or energy is low_rank_pairwise:
        return tuple(jnp.shape(theta[0]))
    return None


def nnx_energy(model: Any) -> tuple[Energy, Any]:
    """Turn a flax nnx module ``model(x, y) -> scalar`` into a GFY energy.

    The network's parameters *are* θ: the returned energy takes
    ``theta = (params, x)`` and returns ``model(x, y)`` evaluated with ``params``.
    Differentiating a loss w.r.t. ``params`` trains the network; the input ``x``
    rides along in θ so that one energy serves every example.

    .. math:: Φ((W, x), y) = E_W(x, y)

    Args:
      model: an ``nnx.Module`` whose ``__call__(x, y)`` returns a scalar (or an
        array of one element) for one example.

    Returns:
      ``(energy, params)``: the energy callable and the model's ``nnx.Param``
      state, a pytree to optimise with optax.

    Example:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> from fenchel.energies import nnx_energy
      >>> class Net(nnx.Module):
      ...   def __init__(self, rngs):
      ...     self.lin = nnx.Linear(3, 1, rngs=rngs)
      ...   def __call__(self, x, y):
      ...     return self.lin(jnp.concatenate([x, y]))[0]
      >>> energy, params = nnx_energy(Net(nnx.Rngs(0)))
      >>> energy((params, jnp.ones(1)), jnp.zeros(2)).shape
      ()
    """
    try:
        from flax import nnx
    except ImportError:  # flax is optional for the core
        raise ImportError('nnx_energy needs flax: pip install "fenchel[nnx]" (or flax)') from None
    if not isinstance(model, nnx.Module):
        raise TypeError(f"model must be a flax nnx.Module, got {type(model).__name__}")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def energy(theta: tuple[Any, Array], y: Array) -> Array:
        weights, x = theta
        value = nnx.merge(graphdef, weights, rest)(x, y)
        return jnp.reshape(value, ())

    return energy, params


__all__ = [
    "Energy",
    "bilinear",
    "pairwise",
    "low_rank_pairwise",
    "negative_semidefinite",
    "project_negative_semidefinite",
    "output_shape",
    "nnx_energy",
]
