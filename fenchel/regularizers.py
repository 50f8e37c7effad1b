"""Convex regularizers Ω whose domain holds the outputs.

A regularizer is a small frozen dataclass. Every one offers

* ``value(y)``: Ω(y) (``+inf`` is never returned: callers check the domain
  with ``contains`` instead, so that values stay finite under ``jit``);
* ``domain``: ``dom Ω``, a :class:`~fenchel.domains.Domain` (box, simplex, R^k...)
  that projects, checks membership, samples and describes itself; ``contains(y)``
  and ``project(y)`` ask it;
* ``strong_convexity``: μ such that Ω is μ-strongly convex w.r.t. ‖·‖₂ on
  its domain (0 when it is not strongly convex);
* ``linear_maximizer(theta)``: the closed form of
  ``argmax_{y ∈ dom Ω} <theta, y> - Ω(y) = ∇Ω*(theta)`` where one exists;
* ``conjugate(theta)``: Ω*(θ), written in a numerically stable way;
* ``fenchel_young_loss(theta, y)``: the classic Fenchel-Young loss
  ``Ω*(θ) + Ω(y) − <θ, y>``, written as a sum of non-negative residual terms
  (no cancellation between large numbers, so it is ≥ 0 and accurate relative
  to its own size even for huge ``|θ|``);
* ``value_difference(a, b)``: Ω(a) − Ω(b), summed entry by entry;
* ``prox(v, step)``: ``argmin_y step·Ω(y) + ½‖y − v‖²`` where it has a closed
  form (used by proximal gradient ascent);
* ``mirror_map(y)`` / ``mirror_inverse(z)``: ∇ψ and ∇ψ* for the entropic
  regularizers (used by mirror ascent).

All of them take a ``scale`` λ > 0 (the temperature): the regularizer is
λΩ₀ with Ω₀ the unscaled one. All are element-wise over the last axis, except
the simplex ones, whose domain is the probability simplex over the last axis.

References:
  Blondel, Martins, Niculae. Learning with Fenchel-Young Losses. JMLR 2020.
  Blondel et al. Learning Energy Networks with Generalized Fenchel-Young
  Losses. NeurIPS 2022.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from fenchel import _closed_forms
from fenchel import domains as _domains
from fenchel._regularizer import Regularizer, _nonnegative, _times, xlogx
from fenchel._ranking_regularizers import (EntropicBirkhoff, EntropicPermutahedron,
                                           SquaredBirkhoff, SquaredPermutahedron)
from fenchel._tsallis import Tsallis, entmax
from fenchel.domains import domain_tolerance, projection_simplex

Array = jax.Array

# Entropic mirror maps are evaluated at clip(y, eps, 1 - eps) so that
# y ∈ {0, 1} maps to finite logits in float32.
_BOUNDARY_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class _Box(Regularizer):
    """Shared box-domain machinery: ``[lower, upper]^k``."""

    lower: float = 0.0
    upper: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        _domains.Box(self.lower, self.upper)  # checks the bounds

    @property
    def domain(self):
        return _domains.Box(self.lower, self.upper)

    def _quadratic_coordinate(self, s, d, lam):
        """``argmax_{t ∈ [l, u]} s t − ½ (λ − d) t²``: interior or the better end."""
        curvature = lam - d
        interior = jnp.clip(s / jnp.where(curvature > 0, curvature, 1.0), self.lower, self.upper)
        value = lambda t: s * t - 0.5 * curvature * t * t
        end = jnp.where(value(self.upper) >= value(self.lower), self.upper, self.lower)
        return jnp.where(curvature > 0, interior, end).astype(s.dtype)


@dataclasses.dataclass(frozen=True)
class BinaryEntropy(_Box):
    """Binary (Fermi-Dirac) negative entropy on the unit box.

    .. math:: Ω(y) = λ \\sum_i y_i \\log y_i + (1 - y_i) \\log(1 - y_i),
              \\quad y ∈ [0, 1]^k

    Its linear maximizer is the sigmoid, ``ŷ = σ(θ/λ)``, and the bilinear GFY
    loss is the sigmoid binary cross-entropy. μ = 4λ on [0, 1]^k.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import BinaryEntropy
      >>> reg = BinaryEntropy()
      >>> reg.linear_maximizer(jnp.array([0.0])).tolist()
      [0.5]
    """

    is_entropic: ClassVar[bool] = True
    strong_convexity_unscaled: ClassVar[float] = 4.0

    def __post_init__(self):
        super().__post_init__()
        if (self.lower, self.upper) != (0.0, 1.0):
            raise ValueError(
                "BinaryEntropy lives on [0, 1]^k; got "
                f"lower={self.lower!r}, upper={self.upper!r}")

    def _elementwise_unscaled(self, y):
        y = jnp.asarray(y)
        return xlogx(y) + xlogx(1 - y)

    def _maximizer_unscaled(self, theta):
        return jax.nn.sigmoid(theta)

    def conjugate(self, theta):
        # λ Σ softplus(θ/λ): exact and stable for huge |θ|.
        return self.scale * jnp.sum(jax.nn.softplus(theta / self.scale), axis=-1)

    def fenchel_young_loss(self, theta, y):
        # λ Σ KL(Bernoulli(y) ‖ Bernoulli(σ(t))), t = θ/λ, with log σ(±t) = −softplus(∓t):
        # KL = y log y + (1 − y) log(1 − y) + y softplus(−t) + (1 − y) softplus(t), terms
        # without cancellation between large numbers; the BCE for y ∈ {0, 1}.
        # Computed by _closed_forms.binary_entropy_loss (one exp and one log1p per entry;
        # the entropy terms skipped when every target is 0 or 1), whose custom JVP gives
        # σ(t) − y in θ and ∇Ω(y) − θ in y directly.
        return self.scale * _closed_forms.binary_entropy_loss(theta / self.scale, y)

    def fenchel_young_loss_or_nan(self, theta, y, atol):
        return _closed_forms.guarded_binary_entropy_loss(self.scale, theta, y, atol)

    def mirror_map(self, y):
        y = jnp.clip(y, _BOUNDARY_EPS, 1 - _BOUNDARY_EPS)
        return jnp.log(y) - jnp.log1p(-y)

    def mirror_inverse(self, z):
        return jax.nn.sigmoid(z)

    def coordinate_maximizer(self, s, d):
        # σ(s/λ) when d = 0; otherwise the root of s + d σ(z) = λ z, by bisection on
        # the logit z (the left side is monotone in z; the root lies in the bracket).
        lam = self.scale
        lo = (s + jnp.minimum(d, 0.0)) / lam
        hi = (s + jnp.maximum(d, 0.0)) / lam

        def bisect(_, bounds):
            lo, hi = bounds
            mid = 0.5 * (lo + hi)
            above = s + d * jax.nn.sigmoid(mid) - lam * mid > 0
            return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

        lo, hi = jax.lax.fori_loop(0, 30, bisect, (lo, hi))
        return jax.nn.sigmoid(0.5 * (lo + hi))


@dataclasses.dataclass(frozen=True)
class SquaredBox(_Box):
    """Squared norm restricted to a box.

    .. math:: Ω(y) = \\frac{λ}{2} \\|y\\|^2, \\quad y ∈ [l, u]^k

    Linear maximizer: ``clip(θ/λ, l, u)``. μ = λ.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import SquaredBox
      >>> SquaredBox().linear_maximizer(jnp.array([0.5, 2.0])).tolist()
      [0.5, 1.0]
    """

    strong_convexity_unscaled: ClassVar[float] = 1.0

    def _elementwise_unscaled(self, y):
        return 0.5 * jnp.square(y)

    def value_difference(self, a, b):
        return 0.5 * self.scale * jnp.sum((a - b) * (a + b), axis=-1)

    def _maximizer_unscaled(self, theta):
        return jnp.clip(theta, self.lower, self.upper)

    def fenchel_young_loss(self, theta, y):
        # λ Σ (ŷ − y)(t − (ŷ + y)/2), t = θ/λ, ŷ = clip(t): both factors have the
        # same sign on the box, so every term is ≥ 0 ((t − y)²/2 inside).
        t = theta / self.scale
        y_hat = jnp.clip(t, self.lower, self.upper)
        terms = _times(y_hat - y, t - 0.5 * (y_hat + y))
        return self.scale * jnp.sum(_nonnegative(terms), axis=-1)

    def prox(self, v, step):
        return jnp.clip(v / (1.0 + step * self.scale), self.lower, self.upper)

    def coordinate_maximizer(self, s, d):
        return self._quadratic_coordinate(s, d, self.scale)


@dataclasses.dataclass(frozen=True)
class BoxIndicator(_Box):
    """Indicator of a box: Ω(y) = 0 on [l, u]^k (the generalized perceptron).

    .. math:: Ω(y) = 0, \\quad y ∈ [l, u]^k

    Linear maximizer: ``u`` where θ > 0, ``l`` elsewhere. Not strongly convex
    (μ = 0), so the GFY loss it gives is the (generalized) perceptron loss.
    ``scale`` is accepted for uniformity; it does not change Ω.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import BoxIndicator
      >>> BoxIndicator().linear_maximizer(jnp.array([-1.0, 2.0])).tolist()
      [0.0, 1.0]
    """

    strong_convexity_unscaled: ClassVar[float] = 0.0

    def _elementwise_unscaled(self, y):
        return jnp.zeros_like(jnp.asarray(y))

    def linear_maximizer(self, theta):
        return jnp.where(theta > 0, self.upper, self.lower).astype(theta.dtype)

    def conjugate(self, theta):
        return jnp.sum(theta * jax.lax.stop_gradient(self.linear_maximizer(theta)), axis=-1)

    def fenchel_young_loss(self, theta, y):
        # Σ θ_i (ŷ_i − y_i): each term ≥ 0 on the box (ŷ_i is the end θ_i points to).
        terms = _times(self.linear_maximizer(theta) - y, theta)
        return jnp.sum(_nonnegative(terms), axis=-1)

    def prox(self, v, step):
        return jnp.clip(v, self.lower, self.upper)

    def coordinate_maximizer(self, s, d):
        return self._quadratic_coordinate(s, d, 0.0)


@dataclasses.dataclass(frozen=True)
class Squared(Regularizer):
    """Squared Euclidean norm on R^k.

    .. math:: Ω(y) = \\frac{λ}{2} \\|y\\|^2, \\quad y ∈ \\mathbb{R}^k

    Linear maximizer ``θ/λ``; the bilinear GFY loss is the squared loss
    ``(λ/2)‖θ/λ − y‖²``. μ = λ.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import Squared
      >>> Squared(scale=2.0).linear_maximizer(jnp.array([4.0])).tolist()
      [2.0]
    """

    domain = _domains.Reals()
    strong_convexity_unscaled: ClassVar[float] = 1.0

    def _elementwise_unscaled(self, y):
        return 0.5 * jnp.square(y)

    def value_difference(self, a, b):
        return 0.5 * self.scale * jnp.sum((a - b) * (a + b), axis=-1)

    def _maximizer_unscaled(self, theta):
        return theta

    def fenchel_young_loss(self, theta, y):
        # (λ/2) ‖θ/λ − y‖²: the residual itself, not ‖θ‖²/2λ + λ‖y‖²/2 − <θ, y>.
        return 0.5 * self.scale * jnp.sum(jnp.square(theta / self.scale - y), axis=-1)

    def prox(self, v, step):
        return v / (1.0 + step * self.scale)


@dataclasses.dataclass(frozen=True)
class _Simplex(Regularizer):
    """Shared simplex-domain machinery (last axis)."""

    domain = _domains.Simplex()
    strong_convexity_unscaled: ClassVar[float] = 1.0


@dataclasses.dataclass(frozen=True)
class ShannonSimplex(_Simplex):
    """Shannon negative entropy on the probability simplex.

    .. math:: Ω(y) = λ \\sum_i y_i \\log y_i, \\quad y ∈ \\triangle^k

    Linear maximizer: ``softmax(θ/λ)``; conjugate: ``λ logsumexp(θ/λ)``; the
    bilinear GFY loss is the softmax cross-entropy. μ = λ (w.r.t. ‖·‖₂ and ‖·‖₁).

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import ShannonSimplex
      >>> ShannonSimplex().linear_maximizer(jnp.zeros(2)).tolist()
      [0.5, 0.5]
    """

    has_prox: ClassVar[bool] = False
    is_entropic: ClassVar[bool] = True

    def _elementwise_unscaled(self, y):
        return xlogx(jnp.asarray(y))

    def _maximizer_unscaled(self, theta):
        return jax.nn.softmax(theta, axis=-1)

    def conjugate(self, theta):
        return self.scale * jax.nn.logsumexp(theta / self.scale, axis=-1)

    def fenchel_young_loss(self, theta, y):
        # λ KL(y ‖ softmax(t)) = λ Σ y_i (log y_i − log_softmax(t)_i): shift-invariant
        # in t and term-wise ≥ 0 up to the normalisation; the cross-entropy for one-hot y.
        # Computed by _closed_forms.shannon_loss (log_softmax from t − max t; the entropy
        # term skipped when every target is 0 or 1), whose custom JVP gives softmax(t) − y
        # in θ and ∇Ω(y) − θ in y directly.
        return self.scale * _closed_forms.shannon_loss(theta / self.scale, y)

    def fenchel_young_loss_or_nan(self, theta, y, atol):
        return _closed_forms.guarded_simplex_loss(self.scale, theta, y, atol, shannon=True)

    def mirror_map(self, y):
        return jnp.log(jnp.clip(y, _BOUNDARY_EPS, None))

    def mirror_inverse(self, z):
        return jax.nn.softmax(z, axis=-1)


@dataclasses.dataclass(frozen=True)
class SquaredSimplex(_Simplex):
    """Squared norm on the probability simplex (gives sparsemax).

    .. math:: Ω(y) = \\frac{λ}{2} \\|y\\|^2, \\quad y ∈ \\triangle^k

    Linear maximizer: ``sparsemax(θ/λ)``; the bilinear GFY loss is the
    sparsemax loss. μ = λ.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import SquaredSimplex
      >>> SquaredSimplex().linear_maximizer(jnp.array([2.0, 0.0])).tolist()
      [1.0, 0.0]
    """

    def _elementwise_unscaled(self, y):
        return 0.5 * jnp.square(y)

    def value_difference(self, a, b):
        return 0.5 * self.scale * jnp.sum((a - b) * (a + b), axis=-1)

    def _maximizer_unscaled(self, theta):
        return projection_simplex(theta)

    def fenchel_young_loss(self, theta, y):
        # With p = sparsemax(t) = max(t − τ, 0) and s = t − τ (shift invariance):
        # λ Σ (p_i − y_i)(s_i − (p_i + y_i)/2), which is (p_i − y_i)²/2 on the support
        # (where s_i = p_i) and y_i (y_i/2 − s_i) ≥ 0 off it; _closed_forms.sparsemax_loss,
        # whose custom JVP gives p − y in θ and ∇Ω(y) − θ in y directly.
        return self.scale * _closed_forms.sparsemax_loss(theta / self.scale, y)

    def fenchel_young_loss_or_nan(self, theta, y, atol):
        return _closed_forms.guarded_simplex_loss(self.scale, theta, y, atol, shannon=False)

    def prox(self, v, step):
        return projection_simplex(v / (1.0 + step * self.scale))


#: The built-in regularizers, registered once: name -> the instances that the property
#: tests check (``tests/`` and :mod:`fenchel.testing` derive their catalogues from it).
#: A new built-in is its class plus one :func:`register_builtin` line.
BUILT_INS: dict[str, tuple[Regularizer, ...]] = {}


def register_builtin(name: str, *examples: Regularizer) -> None:
    """Add a built-in regularizer to :data:`BUILT_INS` with example instances
    (the first one at default settings)."""
    if not examples:
        raise ValueError(f"register_builtin({name!r}) needs at least one example instance")
    BUILT_INS[name] = tuple(examples)


register_builtin("BinaryEntropy", BinaryEntropy(), BinaryEntropy(scale=0.5))
register_builtin("SquaredBox", SquaredBox(), SquaredBox(lower=-1.0, upper=2.0, scale=0.5))
register_builtin("BoxIndicator", BoxIndicator(), BoxIndicator(lower=-1.0, upper=2.0))
register_builtin("Squared", Squared(), Squared(scale=2.0))
register_builtin("SquaredSimplex", SquaredSimplex(), SquaredSimplex(scale=0.5))
register_builtin("ShannonSimplex", ShannonSimplex(), ShannonSimplex(scale=2.0))

register_builtin("Tsallis", Tsallis(alpha=1.5), Tsallis(alpha=1.25, scale=0.5))
# The ranking regularizers (permutahedron, Birkhoff polytope) are checked by
# tests/test_ranking_domains.py through fenchel.testing, not yet by the catalogue-wide
# tests derived from BUILT_INS: those need references on these domains first.
_RANKING_EXAMPLES: dict[str, tuple[Regularizer, ...]] = {
    "SquaredPermutahedron": (SquaredPermutahedron(),
                             SquaredPermutahedron(scale=0.5, w=(1.0, 0.5, 0.0, -2.0))),
    "EntropicPermutahedron": (EntropicPermutahedron(),
                              EntropicPermutahedron(scale=2.0, w=(0.1, 0.2, 0.3, 3.0))),
    "SquaredBirkhoff": (SquaredBirkhoff(), SquaredBirkhoff(scale=0.5)),
    "EntropicBirkhoff": (EntropicBirkhoff(), EntropicBirkhoff(scale=2.0)),
}

__all__ = [
    "Regularizer",
    "BUILT_INS",
    "register_builtin",
    "BinaryEntropy",
    "SquaredBox",
    "Squared",
    "ShannonSimplex",
    "SquaredSimplex",
    "BoxIndicator",
    "Tsallis",
    "SquaredPermutahedron",
    "EntropicPermutahedron",
    "SquaredBirkhoff",
    "EntropicBirkhoff",
    "entmax",
    "projection_simplex",
    "domain_tolerance",
    "xlogx",
]
