"""The regularizer protocol: the :class:`Regularizer` base class, the capabilities it
detects from a subclass's methods, and the defaults (with exact derivatives of every
order) that a user's regularizer inherits. :mod:`fenchel.regularizers` re-exports it
with the built-ins."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import _pytree
from fenchel import domains as _domains

Array = jax.Array


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
