"""Energies Φ(θ, y): objects called as ``energy(theta, y) -> scalar``.

θ may be any pytree (an array, a tuple ``(u, U)``, network parameters); y is an
array of shape ``(k,)`` (or any fixed shape). An energy is called on one
example; batch with ``jax.vmap``.

An energy is an instance of :class:`Energy`, which states what the solvers need
(the **energy protocol**), each with a default built on automatic
differentiation:

* :meth:`Energy.oracle` — ``(Φ, ∇_y Φ)``, ``∇_y Φ`` alone, whether Φ is at most
  quadratic in y (then ``∇_y Φ`` is affine and a solver needs one gradient per
  iteration), and a curvature estimate of ``‖∇²_y Φ‖₂``;
* :meth:`Energy.gap` — ``Φ(θ, a) − Φ(θ, b)`` without cancellation;
* :meth:`Energy.coordinate_oracle` — the field of one coordinate, where an exact
  coordinate update exists (the pairwise energies);
* :meth:`Energy.concavity_excess` — how far the inner problem is from concave,
  where it can be told;
* :meth:`Energy.batching` — which θ leaves are per example and with how many axes,
  so that leading axes are batch axes (``None``: one example per call);
* :meth:`Energy.output_shape` and :meth:`Energy.add_linear` (``Φ + <c, y>`` as the
  same energy with shifted θ, for loss-augmented inference).

:data:`bilinear`, :data:`pairwise` and :data:`low_rank_pairwise` (``U = −VVᵀ``
given by its factor ``V: (k, r)``: gradients, curvature estimates and coordinate
updates in ``O(kr)``, never forming the ``k × k`` U) are instances, and so is the
energy :func:`nnx_energy` builds. A plain callable ``energy(theta, y)`` still
works everywhere: :func:`as_energy` wraps it with the autodiff defaults.

Concavity in y matters: with Φ concave in y the inner problem is concave and the
GFY loss satisfies ``L(θ; y) ≥ μ/2 ‖y − ŷ‖²``; with Φ linear in θ the loss is
convex in θ. :data:`pairwise` is concave in y iff ``U ⪯ 0``; use
:func:`negative_semidefinite` or :func:`project_negative_semidefinite` to keep
it so. :data:`low_rank_pairwise` is concave in y for every V, but it is not
linear in V (the loss is convex in ``(u, VVᵀ)``, not in V).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fenchel._energy_protocol import (Batching, CoordinateOracle, Energy, FunctionEnergy,
                                      Oracle, _is_concrete, as_energy, power_iteration)

Array = jax.Array
# Products in full float32: a GPU's default (TF32) rounds them to about 1e-3 relative,
# enough to make a loss value visibly wrong and a solver's tolerance unreachable.
_PRECISION = jax.lax.Precision.HIGHEST


def _dot(a: Array, b: Array) -> Array:
    return jnp.matmul(a, b, precision=_PRECISION)


def _vdot(a: Array, b: Array) -> Array:
    return jnp.vdot(a, b, precision=_PRECISION)


def _check_pair(name: str, takes: str, theta) -> None:
    if not (isinstance(theta, (tuple, list)) and len(theta) == 2):
        raise TypeError(f"the {name} energy takes {takes}; got {type(theta).__name__}")


class _BuiltIn(Energy):
    """A module-level built-in energy: pickles by name, so identity survives a trip
    through another process, and all instances are equal (hashable for jit)."""

    name: str = ""

    @property
    def __name__(self):
        return self.name

    def __reduce__(self):
        return self.name

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))

    def __repr__(self):
        return f"fenchel.energies.{self.name}"


class Bilinear(_BuiltIn):
    """Bilinear (unary) energy; :data:`bilinear` is its instance.

    .. math:: Φ(θ, y) = \\langle θ, y \\rangle

    Called as ``energy(theta, y)``.

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

    name = "bilinear"
    linear_in_y = True

    def __call__(self, theta, y):
        return _vdot(theta, y)

    def scores(self, theta):
        return theta

    def oracle(self, theta):
        grad = lambda y: jnp.broadcast_to(theta, jnp.shape(y)).astype(jnp.result_type(y))
        return Oracle(lambda y: (_vdot(theta, y), grad(y)), grad, True,
                      lambda y: jnp.zeros((), jnp.result_type(y)))

    def gap(self, theta, a, b):
        return _vdot(theta, a - b)

    def concavity_excess(self, theta, strong_convexity):
        return 0.0

    def batching(self, theta):
        return Batching(1, (0,), "(k,)")

    def output_shape(self, theta):
        return tuple(jnp.shape(theta))

    def add_linear(self, theta, c):
        return theta + c


class Pairwise(_BuiltIn):
    """Pairwise (quadratic) energy with unary and interaction terms; :data:`pairwise`
    is its instance.

    .. math:: Φ((u, U), y) = \\langle u, y \\rangle + \\tfrac12 \\langle y, U y \\rangle

    Linear in θ = (u, U); concave in y iff the symmetric part of U is negative
    semi-definite (build U with :func:`negative_semidefinite` to guarantee it).

    Called as ``energy(theta, y)``.

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

    name = "pairwise"
    _takes = "theta=(u, U) with u: (k,) and U: (k, k)"

    def __call__(self, theta, y):
        u, interactions = theta
        return _vdot(u, y) + 0.5 * _vdot(y, _dot(interactions, y))

    def oracle(self, theta):
        u, interactions = theta
        # ∇ of ½ yᵀUy is S y with S = ½(U + Uᵀ): one product per gradient, and S is
        # computed once per solve (once per batch when U is shared: under vmap an
        # unbatched U keeps S unbatched).
        sym = 0.5 * (interactions + interactions.T)

        def value_and_grad(y):
            field = _dot(sym, y)
            return _vdot(u, y) + 0.5 * _vdot(y, field), u + field

        return Oracle(value_and_grad, lambda y: u + _dot(sym, y), True,
                      lambda y: power_iteration(lambda v: _dot(sym, v), y))

    def gap(self, theta, a, b):
        u, interactions = theta
        sym = 0.5 * (interactions + interactions.T)
        d = a - b
        return _vdot(u, d) + 0.5 * _vdot(d, _dot(sym, a + b))

    def coordinate_oracle(self, theta):
        u, interactions = theta
        sym = 0.5 * (interactions + interactions.T)
        return CoordinateOracle(
            diagonal=jnp.diagonal(sym),
            start=lambda y: u + _dot(sym, y),  # the field u + Sy
            field=lambda f, i: f[i],
            move=lambda f, i, delta: f + sym[:, i] * delta)

    def concavity_excess(self, theta, strong_convexity):
        if theta is None or not _is_concrete(theta):
            return None
        interactions = np.asarray(theta[1], np.float64)
        if interactions.ndim < 2 or interactions.shape[-1] != interactions.shape[-2]:
            return None
        if not np.all(np.isfinite(interactions)):
            return None  # the input checks report it
        sym = 0.5 * (interactions + np.swapaxes(interactions, -1, -2))
        eigenvalues = np.linalg.eigvalsh(sym)
        rounding = 64 * float(jnp.finfo(jnp.result_type(theta[1])).eps) * (
            1.0 + float(np.max(np.abs(eigenvalues))))
        excess = float(np.max(eigenvalues[..., -1])) - float(strong_convexity)
        return excess if excess > rounding else 0.0

    def batching(self, theta):
        _check_pair(self.name, self._takes, theta)
        return Batching((1, 2), ((0,), (0, 1)), "((k,), (k, k))")

    def output_shape(self, theta):
        return tuple(jnp.shape(theta[0]))

    def add_linear(self, theta, c):
        return (theta[0] + c, theta[1])


class LowRankPairwise(Pairwise):
    """Pairwise energy with a low-rank concave interaction ``U = −V Vᵀ``, given by V;
    :data:`low_rank_pairwise` is its instance.

    .. math:: Φ((u, V), y) = \\langle u, y \\rangle − \\tfrac12 \\lVert Vᵀ y \\rVert_2^2
              = \\langle u, y \\rangle + \\tfrac12 \\langle y, U y \\rangle,
              \\qquad U = −V Vᵀ ⪯ 0

    The same function of y as :data:`pairwise` with ``U = −V Vᵀ``
    (:func:`negative_semidefinite`), computed without the ``k × k`` matrix: the
    value and ``∇_y Φ = u − V(Vᵀy)`` cost ``O(kr)`` instead of ``O(k²)``, and so
    do the solvers' iterations and coordinate sweeps.

    Concave in y for every V (``∇²_y Φ = −V Vᵀ ⪯ 0``), so the inner problem is
    always concave. Linear in ``(u, U)`` with ``U = −VVᵀ``, but **not linear in
    V** (it is quadratic in V): the GFY loss is convex in ``(u, U)``, and convex
    in u for a fixed V, but not convex in V. Its θ-gradient by Danskin is
    ``∇_u = ŷ − y`` and ``∇_V = −(ŷŷᵀ − yyᵀ) V``.

    Called as ``energy(theta, y)``.

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

    name = "low_rank_pairwise"
    _takes = "theta=(u, V) with u: (k,) and V: (k, r)"

    def __call__(self, theta, y):
        u, factor = theta
        projected = _dot(y, factor)  # Vᵀy: (r,)
        return _vdot(u, y) - 0.5 * _vdot(projected, projected)

    def oracle(self, theta):
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

        return Oracle(value_and_grad, lambda y: u - gram(y), True,
                      lambda y: power_iteration(gram, y))

    def gap(self, theta, a, b):
        u, factor = theta
        d = a - b
        return _vdot(u, d) - 0.5 * _vdot(_dot(d, factor), _dot(a + b, factor))

    def coordinate_oracle(self, theta):
        u, factor = theta  # S = −VVᵀ is never formed: the state is w = Vᵀy
        return CoordinateOracle(
            diagonal=-jnp.sum(factor * factor, axis=1),
            start=lambda y: _dot(y, factor),
            field=lambda w, i: u[i] - _vdot(factor[i], w),
            move=lambda w, i, delta: w + factor[i] * delta)

    def concavity_excess(self, theta, strong_convexity):
        return 0.0  # −VVᵀ ⪯ 0 for every V, traced or not

    def batching(self, theta):
        _check_pair(self.name, self._takes, theta)
        # V: (k, r): only its first axis is k.
        return Batching((1, 2), ((0,), (0,)), "((k,), (k, r))")


#: ``Φ(θ, y) = <θ, y>`` (an instance of :class:`Bilinear`).
bilinear = Bilinear()
#: ``Φ((u, U), y) = <u, y> + ½<y, Uy>`` (an instance of :class:`Pairwise`).
pairwise = Pairwise()
#: ``Φ((u, V), y) = <u, y> − ½‖Vᵀy‖²`` (an instance of :class:`LowRankPairwise`).
low_rank_pairwise = LowRankPairwise()


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


def output_shape(energy: Any, theta: Any) -> tuple[int, ...] | None:
    """The shape of y that ``energy`` expects for ``theta``, when it is known
    (:meth:`Energy.output_shape`); ``None`` otherwise, when solvers need ``init=``
    (or ``y`` itself, in a loss)."""
    return as_energy(energy).output_shape(theta)


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
    return NNXEnergy(graphdef, rest, type(model).__name__), params


class NNXEnergy(Energy):
    """A flax nnx module as an :class:`Energy` (built by :func:`nnx_energy`):
    ``Φ((params, x), y) = model(x, y)`` with the module's other state fixed. The
    protocol's defaults apply (autodiff oracle, one example per call)."""

    def __init__(self, graphdef: Any, rest: Any, name: str = "NNXEnergy"):
        self.graphdef, self.rest, self.name = graphdef, rest, name

    def __call__(self, theta: tuple[Any, Array], y: Array) -> Array:
        from flax import nnx

        weights, x = theta
        value = nnx.merge(self.graphdef, weights, self.rest)(x, y)
        return jnp.reshape(value, ())

    @property
    def __name__(self):
        return self.name


__all__ = [
    "Energy",
    "Oracle",
    "CoordinateOracle",
    "Batching",
    "Bilinear",
    "Pairwise",
    "LowRankPairwise",
    "FunctionEnergy",
    "NNXEnergy",
    "as_energy",
    "power_iteration",
    "bilinear",
    "pairwise",
    "low_rank_pairwise",
    "negative_semidefinite",
    "project_negative_semidefinite",
    "output_shape",
    "nnx_energy",
]
