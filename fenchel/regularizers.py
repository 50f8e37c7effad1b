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
import optax

Array = jax.Array

# Entropic mirror maps are evaluated at clip(y, eps, 1 - eps) so that
# y ∈ {0, 1} maps to finite logits in float32.
_BOUNDARY_EPS = 1e-6


def _check_scale(scale: float) -> None:
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
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
      >>> projection_simplex(jnp.array([2.0, 0.0])).tolist()
      [1.0, 0.0]
    """
    if v.ndim == 1:
        return optax.projections.projection_simplex(v)
    flat = v.reshape(-1, v.shape[-1])
    return jax.vmap(optax.projections.projection_simplex)(flat).reshape(v.shape)


@dataclasses.dataclass(frozen=True)
class Regularizer:
    """Base class: a convex Ω = λΩ₀; subclasses fill in the Ω₀ pieces."""

    scale: float = 1.0

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
        """Ω(y) for ``y: (..., k)``, summed over the last axis."""
        return self.scale * self._value_unscaled(y)

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
    def _value_unscaled(self, y: Array) -> Array:
        raise NotImplementedError

    def _maximizer_unscaled(self, theta: Array) -> Array:
        raise NotImplementedError(
            f"{type(self).__name__} has no closed-form linear maximizer")

    def contains(self, y: Array, atol: float = 1e-5) -> Array:
        """Whether every ``y`` in the batch lies in ``dom Ω`` (up to ``atol``)."""
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


@dataclasses.dataclass(frozen=True)
class _Box(Regularizer):
    """Shared box-domain machinery: ``[lower, upper]^k``."""

    lower: float = 0.0
    upper: float = 1.0
    is_box: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        _check_bounds(self.lower, self.upper)

    def contains(self, y, atol=1e-5):
        return jnp.all((y >= self.lower - atol) & (y <= self.upper + atol))

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

    def _value_unscaled(self, y):
        y = jnp.asarray(y)
        return jnp.sum(jax.scipy.special.xlogy(y, y)
                       + jax.scipy.special.xlogy(1 - y, 1 - y), axis=-1)

    def _maximizer_unscaled(self, theta):
        return jax.nn.sigmoid(theta)

    def conjugate(self, theta):
        # λ Σ softplus(θ/λ): exact and stable for huge |θ|.
        return self.scale * jnp.sum(jax.nn.softplus(theta / self.scale), axis=-1)

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
      >>> SquaredBox().linear_maximizer(jnp.array([0.5, 2.0])).tolist()
      [0.5, 1.0]
    """

    def _value_unscaled(self, y):
        return 0.5 * jnp.sum(jnp.square(y), axis=-1)

    def _maximizer_unscaled(self, theta):
        return jnp.clip(theta, self.lower, self.upper)

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
      >>> BoxIndicator().linear_maximizer(jnp.array([-1.0, 2.0])).tolist()
      [0.0, 1.0]
    """

    strong_convexity_unscaled: ClassVar[float] = 0.0

    def _value_unscaled(self, y):
        return jnp.zeros(jnp.shape(y)[:-1], dtype=jnp.result_type(y))

    def linear_maximizer(self, theta):
        return jnp.where(theta > 0, self.upper, self.lower).astype(theta.dtype)

    def prox(self, v, step):
        return jnp.clip(v, self.lower, self.upper)


@dataclasses.dataclass(frozen=True)
class Squared(Regularizer):
    """Squared Euclidean norm on R^k.

    .. math:: Ω(y) = \\frac{λ}{2} \\|y\\|^2, \\quad y ∈ \\mathbb{R}^k

    Linear maximizer ``θ/λ``; the bilinear GFY loss is the squared loss
    ``(λ/2)‖θ/λ − y‖²``. μ = λ.

    Example:
      >>> Squared(scale=2.0).linear_maximizer(jnp.array([4.0])).tolist()
      [2.0]
    """

    def _value_unscaled(self, y):
        return 0.5 * jnp.sum(jnp.square(y), axis=-1)

    def _maximizer_unscaled(self, theta):
        return theta

    def contains(self, y, atol=1e-5):
        return jnp.all(jnp.isfinite(y))

    def project(self, y):
        return y

    def prox(self, v, step):
        return v / (1.0 + step * self.scale)


@dataclasses.dataclass(frozen=True)
class _Simplex(Regularizer):
    """Shared simplex-domain machinery (last axis)."""

    def contains(self, y, atol=1e-5):
        return jnp.all(y >= -atol) & jnp.all(jnp.abs(jnp.sum(y, axis=-1) - 1) <= atol * y.shape[-1])

    def project(self, y):
        return projection_simplex(y)


@dataclasses.dataclass(frozen=True)
class ShannonSimplex(_Simplex):
    """Shannon negative entropy on the probability simplex.

    .. math:: Ω(y) = λ \\sum_i y_i \\log y_i, \\quad y ∈ \\triangle^k

    Linear maximizer: ``softmax(θ/λ)``; conjugate: ``λ logsumexp(θ/λ)``; the
    bilinear GFY loss is the softmax cross-entropy. μ = λ (w.r.t. ‖·‖₂ and ‖·‖₁).

    Example:
      >>> ShannonSimplex().linear_maximizer(jnp.zeros(2)).tolist()
      [0.5, 0.5]
    """

    has_prox: ClassVar[bool] = False
    is_entropic: ClassVar[bool] = True

    def _value_unscaled(self, y):
        return jnp.sum(jax.scipy.special.xlogy(y, y), axis=-1)

    def _maximizer_unscaled(self, theta):
        return jax.nn.softmax(theta, axis=-1)

    def conjugate(self, theta):
        return self.scale * jax.nn.logsumexp(theta / self.scale, axis=-1)

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
      >>> SquaredSimplex().linear_maximizer(jnp.array([2.0, 0.0])).tolist()
      [1.0, 0.0]
    """

    def _value_unscaled(self, y):
        return 0.5 * jnp.sum(jnp.square(y), axis=-1)

    def _maximizer_unscaled(self, theta):
        return projection_simplex(theta)

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
]
