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
from fenchel import domains as _domains
from fenchel.domains import domain_tolerance, projection_simplex

Array = jax.Array

# Entropic mirror maps are evaluated at clip(y, eps, 1 - eps) so that
# y ∈ {0, 1} maps to finite logits in float32.
_BOUNDARY_EPS = 1e-6


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


# The optional capabilities a regularizer may offer, each detected from the methods a
# subclass defines (so a user's regularizer needs nothing but ``domain`` and ``value``):
# flag -> the methods any of which provides it.
_CAPABILITIES = {
    "has_linear_maximizer": ("linear_maximizer", "_maximizer_unscaled"),
    "has_prox": ("prox",),
    "has_mirror_map": ("mirror_map",),
    "has_coordinate_maximizer": ("coordinate_maximizer",),
}


@dataclasses.dataclass(frozen=True)
class Regularizer:
    """Base class: a convex Ω on a domain; subclass it for your own.

    A regularizer needs a :attr:`domain` (a :class:`~fenchel.domains.Domain`, as a
    class attribute or a property) and :meth:`value`, ``Ω(y)`` for ``y: (..., k)``
    summed over the last axis. Everything else has a default, and each optional
    capability is detected from the methods a subclass defines:

    * ``linear_maximizer(θ)`` (``has_linear_maximizer``): the closed form of
      ``argmax_{y ∈ dom Ω} <θ, y> − Ω(y) = ∇Ω*(θ)``, used by
      :class:`~fenchel.maximizers.ClosedForm`;
    * ``prox(v, step)`` (``has_prox``): ``argmin_y step·Ω(y) + ½‖y − v‖²``, used by
      :class:`~fenchel.maximizers.ProjectedGradient` (without one, it steps on
      ``Φ − Ω`` and projects with the domain, which needs Ω differentiable on it);
    * ``mirror_map(y)`` and ``mirror_inverse(z)`` (``has_mirror_map``): ∇ψ and ∇ψ*
      of an entropic Ω = λψ, used by :class:`~fenchel.maximizers.MirrorAscent`;
    * ``coordinate_maximizer(s, d)`` (``has_coordinate_maximizer``): for a
      separable Ω on a box, ``argmax_t s·t + ½ d t² − Ω_i(t)``, used by
      :class:`~fenchel.maximizers.CoordinateAscent`.

    ``strong_convexity_unscaled`` (μ of Ω at λ = 1, default 0: unknown) lets the
    solvers tell a concave inner problem from one that may not be. ``is_entropic``
    marks an Ω whose gradient is infinite on the boundary of its domain.

    A regularizer is a pytree whose leaves are ``scale`` and any array-valued
    field (other fields are static): it can be passed to ``jax.jit`` as an
    argument, and ``jax.grad`` can differentiate with respect to λ.

    Example:
      >>> import dataclasses
      >>> import jax.numpy as jnp
      >>> import fenchel as fy
      >>> @dataclasses.dataclass(frozen=True)
      ... class WeightedSquaredBox(fy.regularizers.Regularizer):
      ...     weights: tuple = (1.0, 2.0)
      ...     domain = fy.domains.Box(0.0, 1.0)
      ...     def value(self, y):
      ...         return 0.5 * jnp.sum(jnp.asarray(self.weights) * y ** 2, axis=-1)
      >>> reg = WeightedSquaredBox()
      >>> y_hat, _ = fy.maximize(fy.energies.bilinear, reg, jnp.array([0.5, 1.0]))
      >>> [round(v, 4) for v in y_hat.tolist()]  # clip(θ / w, 0, 1)
      [0.5, 0.5]
    """

    scale: float = 1.0

    _leaf_fields: ClassVar[tuple[str, ...]] = ("scale",)

    has_linear_maximizer: ClassVar[bool] = False
    has_prox: ClassVar[bool] = False
    has_mirror_map: ClassVar[bool] = False
    has_coordinate_maximizer: ClassVar[bool] = False
    is_entropic: ClassVar[bool] = False
    strong_convexity_unscaled: ClassVar[float] = 0.0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for flag, methods in _CAPABILITIES.items():
            if flag not in cls.__dict__:
                provided = any(getattr(cls, m) is not getattr(Regularizer, m) for m in methods)
                setattr(cls, flag, provided)
        _pytree.register(cls)

    def __post_init__(self):
        _check_scale(self.scale)

    @property
    def domain(self) -> _domains.Domain:
        """``dom Ω``, a :class:`~fenchel.domains.Domain`."""
        raise NotImplementedError(
            f"{type(self).__name__} must define a domain (e.g. the class attribute "
            "domain = fenchel.domains.Box(0.0, 1.0))")

    @property
    def is_box(self) -> bool:
        """Deprecated: whether ``domain`` is a :class:`~fenchel.domains.Box` (ask
        ``reg.domain`` instead)."""
        return isinstance(self.domain, _domains.Box)

    @property
    def strong_convexity(self) -> float:
        """μ such that Ω is μ-strongly convex w.r.t. ‖·‖₂ on its domain."""
        return self.scale * self.strong_convexity_unscaled

    def value(self, y: Array) -> Array:
        """Ω(y) for ``y: (..., k)`` in ``dom Ω``, summed over the last axis."""
        return self.scale * jnp.sum(self._elementwise_unscaled(y), axis=-1)

    def value_difference(self, a: Array, b: Array) -> Array:
        """Ω(a) − Ω(b), entry by entry before the sum when Ω is separable (no
        cancellation between the large totals of nearby points). ``(..., k)`` →
        ``(...)``."""
        if type(self)._elementwise_unscaled is Regularizer._elementwise_unscaled:
            return self.value(a) - self.value(b)
        return self.scale * jnp.sum(self._elementwise_unscaled(a)
                                    - self._elementwise_unscaled(b), axis=-1)

    def fenchel_young_loss(self, theta: Array, y: Array) -> Array:
        """The Fenchel-Young loss of the bilinear energy, in a stable form.

        .. math:: L(θ; y) = Ω^*(θ) + Ω(y) − \\langle θ, y \\rangle ≥ 0

        Built-in subclasses write it as a sum of non-negative terms (a Bregman
        divergence or a product of residuals); its gradient in θ is ``ŷ − y`` with
        ``ŷ = ∇Ω*(θ)``. ``theta, y: (..., k)`` → ``(...)``, y in ``dom Ω``.
        """
        return _fenchel_young_default(self, theta, y)

    def fenchel_young_loss_or_nan(self, theta: Array, y: Array, atol: float) -> Array:
        """:meth:`fenchel_young_loss` of y moved onto the domain (its ``snap``), NaN for
        the examples whose y lies outside by more than ``atol``: what ``gfy_loss``
        returns for a closed form. The classic losses fuse the check into their own
        passes over y."""
        y_inside, inside = self.domain.snap(y, atol)
        return jnp.where(inside, self.fenchel_young_loss(theta, y_inside), jnp.nan)

    def linear_maximizer(self, theta: Array) -> Array:
        """``argmax_{y ∈ dom Ω} <θ, y> − Ω(y) = ∇Ω*(θ)``, same shape as θ."""
        return self._maximizer_unscaled(theta / self.scale)

    def conjugate(self, theta: Array) -> Array:
        """Ω*(θ) = max_{y ∈ dom Ω} <θ, y> − Ω(y), reduced over the last axis."""
        return _conjugate_default(self, theta)

    def gradient(self, y: Array) -> Array:
        """∇Ω(y) in the interior of the domain."""
        return jax.grad(lambda y_: jnp.sum(self.value(y_)))(y)

    # Pieces for subclasses.
    def _elementwise_unscaled(self, y: Array) -> Array:
        """The entries of Ω₀(y) before the sum over the last axis (separable Ω)."""
        raise NotImplementedError(f"{type(self).__name__} must define value(y)")

    def _maximizer_unscaled(self, theta: Array) -> Array:
        raise NotImplementedError(
            f"{type(self).__name__} has no closed-form linear maximizer")

    def contains(self, y: Array, atol: float | None = None) -> Array:
        """Whether every ``y`` in the batch lies in ``dom Ω`` up to ``atol``
        (default :func:`domain_tolerance` of y's dtype). NaN is never inside."""
        return self.domain.contains(y, atol)

    def contains_each(self, y: Array, atol: float | None = None) -> Array:
        """:meth:`contains` for each example: ``(..., k)`` → ``(...)`` booleans."""
        return self.domain.contains_each(y, atol)

    def project(self, y: Array) -> Array:
        """Euclidean projection onto ``dom Ω``."""
        return self.domain.project(y)

    def prox(self, v: Array, step: float | Array) -> Array:
        """``argmin_{y ∈ dom Ω} step·Ω(y) + ½‖y − v‖²``."""
        raise NotImplementedError(
            f"{type(self).__name__} has no closed-form proximal operator; "
            "use fenchel.maximizers.MirrorAscent for entropic regularizers")

    def mirror_map(self, y: Array) -> Array:
        raise NotImplementedError(f"{type(self).__name__} has no mirror map")

    def mirror_inverse(self, z: Array) -> Array:
        raise NotImplementedError(f"{type(self).__name__} has no mirror map")

    def coordinate_maximizer(self, s: Array, d: Array) -> Array:
        """``argmax_{t ∈ [l, u]} s·t + ½ d t² − Ω_i(t)`` for a separable Ω on a box
        (one coordinate of the pairwise problem, ``d = S_ii``)."""
        raise NotImplementedError(f"{type(self).__name__} has no coordinate maximizer")


_pytree.register(Regularizer)


def _value_jvp_in_reg(reg, dreg, y):
    """The change of Ω(y) when the regularizer's leaves (λ, array fields) move by dreg."""
    return jax.jvp(lambda r: r.value(y), (reg,), (dreg,))[1]


@jax.custom_jvp
def _conjugate_default(reg, theta):
    y_hat = reg.linear_maximizer(theta)
    return jnp.sum(theta * y_hat, axis=-1) - reg.value(y_hat)


@_conjugate_default.defjvp
def _conjugate_default_jvp(primals, tangents):
    # Danskin: ∇Ω*(θ) = ŷ(θ), and ∂_λ Ω*(θ) = −∂_λ Ω(ŷ) at fixed ŷ. ŷ is left
    # differentiable here, so second derivatives are ŷ's Jacobian, not zero.
    reg, theta = primals
    dreg, dtheta = tangents
    y_hat = reg.linear_maximizer(theta)
    value = jnp.sum(theta * y_hat, axis=-1) - reg.value(y_hat)
    fixed = jax.lax.stop_gradient(y_hat)
    tangent = jnp.sum(dtheta * y_hat, axis=-1) - _value_jvp_in_reg(reg, dreg, fixed)
    return value, tangent


@jax.custom_jvp
def _fenchel_young_default(reg, theta, y):
    y_hat = reg.linear_maximizer(theta)
    # Σ θ(ŷ − y) − (Ω(ŷ) − Ω(y)), with Ω's difference formed before its sum.
    return jnp.sum(theta * (y_hat - y), axis=-1) - reg.value_difference(y_hat, y)


@_fenchel_young_default.defjvp
def _fenchel_young_default_jvp(primals, tangents):
    # ∇_θ L = ŷ(θ) − y, ∇_y L = ∇Ω(y) − θ, ∂_λ L = ∂_λ(Ω(y) − Ω(ŷ)) at fixed ŷ; ŷ stays
    # differentiable, so second derivatives (∂ŷ/∂θ) are exact.
    reg, theta, y = primals
    dreg, dtheta, dy = tangents
    value = _fenchel_young_default(reg, theta, y)
    y_hat = reg.linear_maximizer(theta)
    fixed = jax.lax.stop_gradient(y_hat)
    d_omega_y = jax.jvp(reg.value, (y,), (dy,))[1]
    tangent = (jnp.sum(dtheta * (y_hat - y), axis=-1) - jnp.sum(theta * dy, axis=-1) + d_omega_y
               + _value_jvp_in_reg(reg, dreg, y) - _value_jvp_in_reg(reg, dreg, fixed))
    return value, tangent


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

from fenchel._tsallis import Tsallis, entmax  # noqa: E402 (built on the classes above)

register_builtin("Tsallis", Tsallis(alpha=1.5), Tsallis(alpha=1.25, scale=0.5))

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
    "entmax",
    "projection_simplex",
    "domain_tolerance",
    "xlogx",
]
