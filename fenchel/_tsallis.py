"""The Tsallis α-entropy on the simplex, whose linear maximizer is α-entmax.

Written as a user would write a regularizer (a ``domain``, ``value`` through the
separable entries, a closed-form maximizer), and registered in
:mod:`fenchel.regularizers` by one line (``register_builtin``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import domains as _domains
from fenchel._regularizer import Regularizer, _nonnegative

Array = jax.Array


def _entmax_threshold_bisection(z: Array, alpha: float) -> Array:
    """p = [(α−1)z − τ]₊^{1/(α−1)} with τ such that Σp = 1, by bisection on τ.

    With the largest (α−1)z shifted to 0, τ lies in [−1, −k^{1−α}]: at the left end
    the largest entry alone is 1, at the right end every entry is at most 1/k. Each step halves
    the bracket, so ``nmant + 2`` steps reach the dtype's resolution; the result is
    renormalised (as the entmax package does) so that it sums to 1 exactly.
    """
    k = z.shape[-1]
    # Shift-invariant: with the max at 0 the bracket [−1, −k^{1−α}] is resolved in any
    # dtype, however large |z| (at 1e8, top − 1 would round back to top).
    scaled = (alpha - 1.0) * (z - jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True)))
    lo = jnp.full(scaled.shape[:-1] + (1,), -1.0, scaled.dtype)
    hi = jnp.full_like(lo, -((1.0 / k) ** (alpha - 1.0)))
    power = 1.0 / (alpha - 1.0)

    def mass(tau):
        return jnp.sum(jnp.maximum(scaled - tau, 0.0) ** power, axis=-1, keepdims=True)

    def step(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        above = mass(mid) >= 1.0  # mass decreases in τ: the root is at or right of mid
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

    steps = jnp.finfo(z.dtype).nmant + 2
    lo, hi = jax.lax.fori_loop(0, steps, step, (lo, hi))
    p = jnp.maximum(scaled - 0.5 * (lo + hi), 0.0) ** power
    return p / jnp.sum(p, axis=-1, keepdims=True)


@jax.custom_jvp
def _entmax(z: Array, alpha: float) -> Array:
    return _entmax_threshold_bisection(z, alpha)


@_entmax.defjvp
def _entmax_jvp(primals, tangents):
    # J = diag(s) − s sᵀ / Σs with s = p^{2−α} on the support (Peters et al. 2019):
    # exact, so derivatives of every order come from this rule, not the bisection.
    z, alpha = primals
    dz, _ = tangents
    p = _entmax(z, alpha)
    s = jnp.where(p > 0, p ** (2.0 - alpha), 0.0)
    s_dz = jnp.sum(s * dz, axis=-1, keepdims=True)
    return p, s * dz - s * s_dz / jnp.sum(s, axis=-1, keepdims=True)


def entmax(theta: Array, alpha: float = 1.5) -> Array:
    """α-entmax over the last axis: the maximizer of ``<θ, p> − Ω_α(p)`` on the
    simplex, with Ω_α the Tsallis α-entropy (softmax at α → 1, sparsemax at α = 2).

    .. math:: \\operatorname{entmax}_α(θ) = [(α − 1)θ − τ\\mathbf 1]_+^{1/(α−1)},
              \\quad τ \\text{ such that the entries sum to } 1

    Args:
      theta: ``(..., k)`` scores.
      alpha: α in (1, 2].

    Returns:
      ``(..., k)`` probabilities; exact derivatives (of any order) by the Jacobian
      ``diag(s) − ssᵀ/Σs``, ``s = p^{2−α}`` on the support.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.regularizers import entmax
      >>> [round(v, 4) for v in entmax(jnp.array([1.0, 0.0, -1.0])).tolist()]
      [0.8307, 0.1693, 0.0]

    References:
      Peters, Niculae, Martins. Sparse Sequence-to-Sequence Models. ACL 2019.
    """
    theta = jnp.asarray(theta)
    return _entmax(theta, alpha)


@dataclasses.dataclass(frozen=True)
class Tsallis(Regularizer):
    """Tsallis α-negentropy on the probability simplex (gives α-entmax).

    .. math:: Ω(y) = \\frac{λ}{α(α − 1)} \\sum_i (y_i^α − y_i),
              \\quad y ∈ \\triangle^k, \\quad 1 < α ≤ 2

    Linear maximizer ``entmax_α(θ/λ)`` (sparse: entries can be exactly 0); α = 2
    is :class:`~fenchel.regularizers.SquaredSimplex` up to a constant (sparsemax),
    α → 1 the Shannon entropy (softmax); α = 1.5 is the usual choice. Its Hessian
    ``y^{α−2}`` is ≥ 1 on the simplex, so μ = λ. The gradient is finite on the
    faces, so the general solvers step on ``Φ − Ω`` and project onto the simplex.

    Example:
      >>> import jax.numpy as jnp
      >>> import fenchel as fy
      >>> reg = fy.regularizers.Tsallis(alpha=1.5)
      >>> [round(v, 4) for v in reg.linear_maximizer(jnp.array([1.0, 0.0, -1.0])).tolist()]
      [0.8307, 0.1693, 0.0]

    References:
      Peters, Niculae, Martins. Sparse Sequence-to-Sequence Models. ACL 2019.
      Blondel, Martins, Niculae. Learning with Fenchel-Young Losses. JMLR 2020.
    """

    alpha: float = 1.5

    domain = _domains.Simplex()
    strong_convexity_unscaled: ClassVar[float] = 1.0

    def __post_init__(self):
        super().__post_init__()
        alpha = self.alpha
        if (isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating))
                or not math.isfinite(alpha) or not 1.0 < alpha <= 2.0):
            raise ValueError(f"Tsallis.alpha must be a finite number in (1, 2], got {alpha!r}")

    def _elementwise_unscaled(self, y):
        y = jnp.asarray(y)
        a = self.alpha
        # y^α − y: 0 at y = 0 and y = 1; y^α with α > 1 has a finite derivative at 0.
        return (jnp.power(jnp.maximum(y, 0.0), a) - y) / (a * (a - 1.0))

    def _maximizer_unscaled(self, theta):
        return entmax(theta, self.alpha)

    def fenchel_young_loss(self, theta, y):
        # Σθ(ŷ − y) − (Ω(ŷ) − Ω(y)) with Ω's difference entry by entry, from θ − max θ
        # (ŷ and y both sum to 1: the same value, without |θ|·eps of cancellation for
        # huge scores); the last term is 0 in value and gives back the y-derivative
        # ∇Ω(y) − θ that the shift would move by max θ.
        top = jax.lax.stop_gradient(jnp.max(theta, axis=-1, keepdims=True))
        total = jnp.sum(y, axis=-1)
        value = super().fenchel_young_loss(theta - top, y)
        return _nonnegative(value - top[..., 0] * (total - jax.lax.stop_gradient(total)))


__all__ = ["Tsallis", "entmax"]
