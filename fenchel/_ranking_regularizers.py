"""Regularizers on the permutahedron and the Birkhoff polytope (re-exported by
:mod:`fenchel.regularizers`): squared and entropic, with the maximizers of
Blondel, Teboul, Berthet and Djolonga (ICML 2020) on the permutahedron and a dual
Newton method or Sinkhorn on the Birkhoff polytope.

Their ``conjugate`` and ``fenchel_young_loss`` are the base class defaults: the
gradient in θ is ``ŷ − y`` (Danskin), and second derivatives are the Jacobian of
ŷ, exact (piecewise, through the pooling pattern) on the permutahedron and by
implicit differentiation at the solution on the Birkhoff polytope.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import _doubly_stochastic
from fenchel import _isotonic
from fenchel._regularizer import Regularizer, xlogx
from fenchel._structured_domains import Birkhoff, Permutahedron, _check_weights

Array = jax.Array


def _half_square_difference(reg, a, b):
    return 0.5 * reg.scale * jnp.sum((a - b) * (a + b), axis=-1)


@dataclasses.dataclass(frozen=True)
class _OnPermutahedron(Regularizer):
    """Shared permutahedron-domain machinery."""

    w: tuple[float, ...] | None = None

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "w", _check_weights(self.w))

    @property
    def domain(self):
        return Permutahedron(self.w)

    def _weights(self, theta):
        theta = jnp.asarray(theta)
        return self.domain.weights(theta.shape[-1], theta.dtype)


@dataclasses.dataclass(frozen=True)
class SquaredPermutahedron(_OnPermutahedron):
    """Squared norm on the permutahedron ``P(w)`` (default ``w = (k, …, 1)``).

    .. math:: Ω(y) = \\frac{λ}{2} \\|y\\|^2, \\quad y ∈ P(w);
              \\qquad ŷ(θ) = \\operatorname{proj}_{P(w)}(θ / λ)

    The linear maximizer is the Euclidean projection by pool-adjacent-violators
    (O(k log k)): the "soft rank" of the scores. μ = λ.

    Args:
      scale: λ > 0.
      w: ``None`` or the generating vector.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import SquaredPermutahedron
      >>> SquaredPermutahedron().linear_maximizer(jnp.array([0.0, 5.0, 1.0])).tolist()
      [1.0, 3.0, 2.0]

    References:
      Blondel, Teboul, Berthet, Djolonga. Fast Differentiable Sorting and Ranking.
      ICML 2020.
    """

    strong_convexity_unscaled: ClassVar[float] = 1.0

    def _elementwise_unscaled(self, y):
        return 0.5 * jnp.square(y)

    def value_difference(self, a, b):
        return _half_square_difference(self, a, b)

    def _maximizer_unscaled(self, theta):
        return _isotonic.projection_permutahedron(theta, self._weights(theta))

    def prox(self, v, step):
        return _isotonic.projection_permutahedron(v / (1.0 + step * self.scale),
                                                  self._weights(v))


@dataclasses.dataclass(frozen=True)
class EntropicPermutahedron(_OnPermutahedron):
    """Negative entropy on the permutahedron ``P(w)``, ``w > 0`` (default
    ``(k, …, 1)``).

    .. math:: Ω(y) = λ \\langle y, \\log y − 1 \\rangle, \\quad y ∈ P(w);
              \\qquad ŷ(θ) = \\exp\\big(θ/λ − v_E\\big)

    the KL projection of ``e^{θ/λ}`` onto P(w), by the log-domain isotonic problem
    (:func:`~fenchel.domains.kl_projection_permutahedron`). Every point of P(w) has
    entries ≥ min w > 0, so Ω is smooth on its domain; μ = λ / max w.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import EntropicPermutahedron
      >>> y = EntropicPermutahedron().linear_maximizer(jnp.log(jnp.array([1.0, 2.0])))
      >>> [round(v, 4) for v in y.tolist()]
      [1.0, 2.0]

    References:
      Blondel, Teboul, Berthet, Djolonga. Fast Differentiable Sorting and Ranking.
      ICML 2020.
    """

    def __post_init__(self):
        super().__post_init__()
        if self.w is not None and min(self.w) <= 0:
            raise ValueError(f"EntropicPermutahedron needs w > 0 (the entropy is finite on "
                             f"P(w) only then), got w={self.w!r}")

    @property
    def strong_convexity(self):
        # ∇²Ω = λ diag(1/y) ⪰ λ / max y, and max y ≤ max w on P(w); unknown for w = None.
        return 0.0 if self.w is None else self.scale / max(self.w)

    def _elementwise_unscaled(self, y):
        y = jnp.asarray(y)
        return xlogx(y) - y

    def _maximizer_unscaled(self, theta):
        return _isotonic.kl_projection_permutahedron(theta, self._weights(theta))


@dataclasses.dataclass(frozen=True)
class _OnBirkhoff(Regularizer):
    """Shared Birkhoff-domain machinery: an iterative maximizer with a status.

    ``maxiter`` and ``tol`` (the row-sum residual, default
    :func:`~fenchel._doubly_stochastic.default_tol` of θ's dtype) set the solver; :meth:`linear_maximizer_with_info`
    reports how it ended (:class:`~fenchel.maximizers.ClosedForm` passes it on).
    """

    maxiter: int = 1000
    tol: float | None = None

    domain = Birkhoff()
    _kind: ClassVar[str] = ""

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.maxiter, bool) or not isinstance(self.maxiter, (int, np.integer)) \
                or self.maxiter < 1:
            raise ValueError(f"{type(self).__name__}.maxiter must be an integer ≥ 1, got "
                             f"{self.maxiter!r}")
        if self.tol is not None and (isinstance(self.tol, bool) or not isinstance(
                self.tol, (int, float, np.integer, np.floating)) or not self.tol > 0
                or not np.isfinite(self.tol)):
            raise ValueError(f"{type(self).__name__}.tol must be None or a finite number > 0, "
                             f"got {self.tol!r}")

    def linear_maximizer_with_info(self, theta):
        """``(ŷ, info)``: the linear maximizer and its
        :class:`~fenchel.domains.SolveInfo` (iterations, row-sum residual, converged)."""
        return _doubly_stochastic.solve(theta / self.scale, self._kind, self.maxiter, self.tol)

    def _maximizer_unscaled(self, theta):
        return _doubly_stochastic.solve(theta, self._kind, self.maxiter, self.tol)[0]


@dataclasses.dataclass(frozen=True)
class SquaredBirkhoff(_OnBirkhoff):
    """Squared Frobenius norm on the Birkhoff polytope (k×k flattened, ``(..., k*k)``).

    .. math:: Ω(Y) = \\frac{λ}{2} \\|Y\\|_F^2, \\quad Y ∈ \\mathcal B_k;
              \\qquad Ŷ(Θ) = \\operatorname{proj}_{\\mathcal B_k}(Θ / λ)

    The projection is computed by a semi-smooth Newton method on its dual
    (:func:`~fenchel.domains.projection_birkhoff`); derivatives are implicit. μ = λ.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import SquaredBirkhoff
      >>> y = SquaredBirkhoff().linear_maximizer(jnp.array([3.0, 0.0, 0.0, 3.0]))
      >>> [round(v, 4) for v in y.tolist()]
      [1.0, 0.0, 0.0, 1.0]
    """

    strong_convexity_unscaled: ClassVar[float] = 1.0
    _kind: ClassVar[str] = "squared"

    def _elementwise_unscaled(self, y):
        return 0.5 * jnp.square(y)

    def value_difference(self, a, b):
        return _half_square_difference(self, a, b)

    def prox(self, v, step):
        return _doubly_stochastic.solve(v / (1.0 + step * self.scale), "squared",
                                        self.maxiter, self.tol)[0]


@dataclasses.dataclass(frozen=True)
class EntropicBirkhoff(_OnBirkhoff):
    """Negative entropy on the Birkhoff polytope (k×k flattened, ``(..., k*k)``).

    .. math:: Ω(Y) = λ \\langle Y, \\log Y − 1 \\rangle, \\quad Y ∈ \\mathcal B_k;
              \\qquad Ŷ(Θ) = \\exp(Θ/λ − α1ᵀ − 1βᵀ)

    The maximizer is log-domain Sinkhorn accelerated by Newton steps on its dual
    (:func:`~fenchel.domains.sinkhorn`); its mirror map (log Y, and the maximizer
    back) lets :class:`~fenchel.maximizers.MirrorAscent` solve other energies,
    stopped when the row sums are within ``tol`` of 1; derivatives are implicit
    (exact at the solution, of every order). μ = λ (entries are at most 1).

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import EntropicBirkhoff
      >>> EntropicBirkhoff().linear_maximizer(jnp.zeros(4)).tolist()
      [0.5, 0.5, 0.5, 0.5]

    References:
      Cuturi. Sinkhorn Distances: Lightspeed Computation of Optimal Transport.
      NeurIPS 2013.
    """

    is_entropic: ClassVar[bool] = True
    strong_convexity_unscaled: ClassVar[float] = 1.0
    _kind: ClassVar[str] = "entropic"

    def _elementwise_unscaled(self, y):
        y = jnp.asarray(y)
        return xlogx(y) - y

    def mirror_map(self, y):
        # ∇ψ(Y) = log Y, from entries clipped away from 0 (finite in float32).
        return jnp.log(jnp.clip(y, 1e-6, None))

    def mirror_inverse(self, z):
        # ∇ψ*(Z) = argmax_{Y ∈ B_k} <Z, Y> − ψ(Y): the Sinkhorn maximizer itself.
        return self._maximizer_unscaled(z)
