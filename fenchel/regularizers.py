"""Convex regularizers Ω whose domain holds the outputs.

A regularizer is a small frozen dataclass. Every one offers

* ``value(y)``: Ω(y) (``+inf`` is never returned: callers check the domain
  with ``contains`` instead, so that values stay finite under ``jit``);
* ``contains(y)`` and ``project(y)``: the domain ``dom Ω``;
* ``strong_convexity``: μ such that Ω is μ-strongly convex w.r.t. ‖·‖₂ on
  its domain (0 when it is not strongly convex);
* ``linear_maximizer(theta)``: the closed form of
  ``argmax_{y ∈ dom Ω} <theta, y> - Ω(y) = ∇Ω*(theta)`` where one exists;
* ``conjugate(theta)``: Ω*(θ), written in a numerically stable way;
* ``fenchel_young_loss(theta, y)``: the classic Fenchel-Young loss
  ``Ω*(θ) + Ω(y) − <θ, y>``, written as a sum of non-negative residual terms
  (no cancellation between large numbers, so it is ≥ 0 and accurate relative
  to its own size even for huge |θ|);
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
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fenchel import _closed_forms, _pytree

Array = jax.Array

# Entropic mirror maps are evaluated at clip(y, eps, 1 - eps) so that
# y ∈ {0, 1} maps to finite logits in float32.
_BOUNDARY_EPS = 1e-6


def domain_tolerance(dtype) -> float:
    """How far a ``y`` of ``dtype`` may lie outside ``dom Ω`` (absolute, per entry
    and on the simplex sum) and still count as inside: ``max(1e-5, 4·eps)``. It
    does not grow with k.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import domain_tolerance
      >>> domain_tolerance(jnp.float32)
      1e-05
    """
    return max(1e-5, 4.0 * float(jnp.finfo(dtype).eps))


@jax.custom_jvp
def xlogx(y: Array) -> Array:
    """``y log y`` (0 at 0), whose derivative ``log y + 1`` is −inf at y = 0 rather
    than NaN: the true one-sided derivative on the boundary of the domain.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import xlogx
      >>> xlogx(jnp.array([0.0, 1.0])).tolist()
      [0.0, 0.0]
    """
    return jax.scipy.special.xlogy(y, y)


@xlogx.defjvp
def _xlogx_jvp(primals, tangents):
    (y,), (dy,) = primals, tangents
    return xlogx(y), (jnp.log(y) + 1) * dy


def _times(a: Array, b: Array) -> Array:
    """``a·b`` with 0·(±inf) = 0 (a zero weight on an overflowing term); the
    ordinary product, derivative included, wherever b is finite."""
    product = a * b
    return jnp.where((a == 0) & jnp.isinf(b), jnp.zeros_like(product), product)


def _zero_along_y(y: Array, shift: Array) -> Array:
    """Exactly 0 in value, entry by entry, with derivative ``−shift`` in each y_i.

    The shift-invariant simplex losses below equal ``Ω*(θ) + Ω(y) − <θ, y>`` on the
    simplex but, as functions on R^k, differ from it by ``shift·(Σy − 1)``; adding
    this restores its derivative ``∇Ω(y) − θ`` in y without touching the value.
    """
    return -jax.lax.stop_gradient(shift) * (y - jax.lax.stop_gradient(y))


def _nonnegative(x: Array) -> Array:
    """Rounding-level negatives of a non-negative quantity set to 0; unlike
    ``maximum(x, 0)``, the derivative at exactly 0 is x's own."""
    return jnp.where(x < 0, jnp.zeros_like(x), x)


def _check_scale(scale) -> None:
    if _pytree.is_traced(scale):
        return  # e.g. under jax.grad with respect to the scale
    ok = (isinstance(scale, (int, float, np.integer, np.floating, np.ndarray, jax.Array))
          and not isinstance(scale, bool) and jnp.ndim(scale) == 0)
    try:
        ok = ok and math.isfinite(float(scale)) and float(scale) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")


def _check_bounds(lower: float, upper: float) -> None:
    for name, bound in (("lower", lower), ("upper", upper)):
        if not isinstance(bound, (int, float)) or not math.isfinite(bound):
            raise ValueError(f"{name} must be a finite number, got {bound!r}")
    if not lower < upper:
        raise ValueError(f"need lower < upper, got lower={lower!r}, upper={upper!r}")


def projection_simplex(v: Array) -> Array:
    """Euclidean projection onto the probability simplex over the last axis.

    .. math:: \\operatorname{argmin}_{p \\in \\triangle^k} \\|p - v\\|^2 =
              \\operatorname{sparsemax}(v)

    Args:
      v: ``(..., k)`` scores.

    Returns:
      ``(..., k)`` probabilities.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import projection_simplex
      >>> projection_simplex(jnp.array([2.0, 0.0])).tolist()
      [1.0, 0.0]
    """
    # Shift-invariant: subtracting the max keeps the sort and cumsum accurate for huge v.
    v = v - jax.lax.stop_gradient(jnp.max(v, axis=-1, keepdims=True))
    if v.ndim == 1:
        return optax.projections.projection_simplex(v)
    flat = v.reshape(-1, v.shape[-1])
    return jax.vmap(optax.projections.projection_simplex)(flat).reshape(v.shape)


@dataclasses.dataclass(frozen=True)
class Regularizer:
    """Base class: a convex Ω = λΩ₀; subclasses fill in the Ω₀ pieces.

    A regularizer is a pytree whose leaf is ``scale`` (the domain, e.g. a box's
    ``lower`` and ``upper``, is static): it can be passed to ``jax.jit`` as an
    argument, and ``jax.grad`` can differentiate with respect to λ.
    """

    scale: float = 1.0

    _leaf_fields: ClassVar[tuple[str, ...]] = ("scale",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _pytree.register(cls)

    # Class-level facts the solvers dispatch on.
    has_linear_maximizer: ClassVar[bool] = True
    has_prox: ClassVar[bool] = True
    is_entropic: ClassVar[bool] = False
    is_box: ClassVar[bool] = False  # domain is a box [lower, upper]^k
    strong_convexity_unscaled: ClassVar[float] = 1.0

    def __post_init__(self):
        _check_scale(self.scale)

    @property
    def strong_convexity(self) -> float:
        """μ such that Ω is μ-strongly convex w.r.t. ‖·‖₂ on its domain."""
        return self.scale * self.strong_convexity_unscaled

    def value(self, y: Array) -> Array:
        """Ω(y) for ``y: (..., k)`` in ``dom Ω``, summed over the last axis."""
        return self.scale * jnp.sum(self._elementwise_unscaled(y), axis=-1)

    def value_difference(self, a: Array, b: Array) -> Array:
        """Ω(a) − Ω(b), entry by entry before the sum (no cancellation between
        the large totals of nearby points). ``(..., k)`` → ``(...)``."""
        return self.scale * jnp.sum(self._elementwise_unscaled(a)
                                    - self._elementwise_unscaled(b), axis=-1)

    def fenchel_young_loss(self, theta: Array, y: Array) -> Array:
        """The Fenchel-Young loss of the bilinear energy, in a stable form.

        .. math:: L(θ; y) = Ω^*(θ) + Ω(y) − \\langle θ, y \\rangle ≥ 0

        Subclasses write it as a sum of non-negative terms (a Bregman divergence
        or a product of residuals); its gradient in θ is ``ŷ − y`` with
        ``ŷ = ∇Ω*(θ)``. ``theta, y: (..., k)`` → ``(...)``, y in ``dom Ω``.
        """
        return self.conjugate(theta) + self.value(y) - jnp.sum(theta * y, axis=-1)

    def linear_maximizer(self, theta: Array) -> Array:
        """``argmax_{y ∈ dom Ω} <θ, y> − Ω(y) = ∇Ω*(θ)``, same shape as θ."""
        return self._maximizer_unscaled(theta / self.scale)

    def conjugate(self, theta: Array) -> Array:
        """Ω*(θ) = max_{y ∈ dom Ω} <θ, y> − Ω(y), reduced over the last axis."""
        y = jax.lax.stop_gradient(self.linear_maximizer(theta))
        # Danskin: ∇Ω*(θ) = ŷ, which this expression has as its gradient.
        return jnp.sum(theta * y, axis=-1) - self.value(y)

    def gradient(self, y: Array) -> Array:
        """∇Ω(y) in the interior of the domain."""
        return jax.grad(lambda y_: jnp.sum(self.value(y_)))(y)

    # Pieces for subclasses.
    def _elementwise_unscaled(self, y: Array) -> Array:
        """The entries of Ω₀(y) before the sum over the last axis."""
        raise NotImplementedError

    def _maximizer_unscaled(self, theta: Array) -> Array:
        raise NotImplementedError(
            f"{type(self).__name__} has no closed-form linear maximizer")

    def contains(self, y: Array, atol: float | None = None) -> Array:
        """Whether every ``y`` in the batch lies in ``dom Ω`` up to ``atol``
        (default :func:`domain_tolerance` of y's dtype). NaN is never inside."""
        return jnp.all(self.contains_each(y, atol))

    def contains_each(self, y: Array, atol: float | None = None) -> Array:
        """:meth:`contains` for each example: ``(..., k)`` → ``(...)`` booleans."""
        raise NotImplementedError

    def project(self, y: Array) -> Array:
        """Euclidean projection onto ``dom Ω``."""
        raise NotImplementedError

    def prox(self, v: Array, step: float | Array) -> Array:
        """``argmin_{y ∈ dom Ω} step·Ω(y) + ½‖y − v‖²``."""
        raise NotImplementedError(
            f"{type(self).__name__} has no closed-form proximal operator; "
            "use fenchel.maximizers.MirrorAscent for entropic regularizers")

    def mirror_map(self, y: Array) -> Array:
        raise NotImplementedError(f"{type(self).__name__} has no mirror map")

    def mirror_inverse(self, z: Array) -> Array:
        raise NotImplementedError(f"{type(self).__name__} has no mirror map")


_pytree.register(Regularizer)


@dataclasses.dataclass(frozen=True)
class _Box(Regularizer):
    """Shared box-domain machinery: ``[lower, upper]^k``."""

    lower: float = 0.0
    upper: float = 1.0
    is_box: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        _check_bounds(self.lower, self.upper)

    def contains_each(self, y, atol=None):
        y = jnp.asarray(y)
        atol = domain_tolerance(y.dtype) if atol is None else atol
        return jnp.all((y >= self.lower - atol) & (y <= self.upper + atol), axis=-1)

    def project(self, y):
        return jnp.clip(y, self.lower, self.upper)


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

    has_prox: ClassVar[bool] = False
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

    def mirror_map(self, y):
        y = jnp.clip(y, _BOUNDARY_EPS, 1 - _BOUNDARY_EPS)
        return jnp.log(y) - jnp.log1p(-y)

    def mirror_inverse(self, z):
        return jax.nn.sigmoid(z)


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

    def _elementwise_unscaled(self, y):
        return 0.5 * jnp.square(y)

    def value_difference(self, a, b):
        return 0.5 * self.scale * jnp.sum((a - b) * (a + b), axis=-1)

    def _maximizer_unscaled(self, theta):
        return theta

    def fenchel_young_loss(self, theta, y):
        # (λ/2) ‖θ/λ − y‖²: the residual itself, not ‖θ‖²/2λ + λ‖y‖²/2 − <θ, y>.
        return 0.5 * self.scale * jnp.sum(jnp.square(theta / self.scale - y), axis=-1)

    def contains_each(self, y, atol=None):
        return jnp.all(jnp.isfinite(jnp.asarray(y)), axis=-1)

    def project(self, y):
        return y

    def prox(self, v, step):
        return v / (1.0 + step * self.scale)


@dataclasses.dataclass(frozen=True)
class _Simplex(Regularizer):
    """Shared simplex-domain machinery (last axis)."""

    def contains_each(self, y, atol=None):
        y = jnp.asarray(y)
        atol = domain_tolerance(y.dtype) if atol is None else atol
        return (jnp.all((y >= -atol) & (y <= 1 + atol), axis=-1)
                & (jnp.abs(jnp.sum(y, axis=-1) - 1) <= atol))

    def project(self, y):
        return projection_simplex(y)


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

    def prox(self, v, step):
        return projection_simplex(v / (1.0 + step * self.scale))


__all__ = [
    "Regularizer",
    "BinaryEntropy",
    "SquaredBox",
    "Squared",
    "ShannonSimplex",
    "SquaredSimplex",
    "BoxIndicator",
    "projection_simplex",
    "domain_tolerance",
    "xlogx",
]
