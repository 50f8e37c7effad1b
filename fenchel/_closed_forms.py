"""Fast, stable closed forms of the classic Fenchel-Young losses (private).

Each loss takes ``t = θ/λ`` and ``y`` (``(..., k)``, y in the domain) and returns
the unscaled loss ``L₀(t; y) = Ω₀*(t) + Ω₀(y) − <t, y>`` (``(...)``) as a sum of
terms without cancellation between large numbers (accurate relative to its size
for huge |t|; docs/reliability.md). The regularizers return ``λ L₀(θ/λ; y)``, so
derivatives with respect to λ follow by the chain rule.

Speed (issue 26, "fast by default"; measured with ``fenchel bench --cases
bilinear`` against optax, and by the XLA ops of ``jax.jit(f).lower(...).compile()``):

* Each loss is a :func:`jax.custom_jvp` whose tangent is the closed-form gradient
  instead of the derivative of the stable form's many terms: ``ŷ − y`` in t
  (sigmoid, softmax, sparsemax) and ``∇Ω₀(y) − t`` in y (±inf on the faces of the
  entropic Ω, never NaN). The rules are written with ordinary differentiable
  operations, so every higher order differentiates ``ŷ(t)``: the Hessian in θ is
  ``∇²Ω*(θ)`` (``diag(σ(1 − σ))/λ``, ``(diag(p) − ppᵀ)/λ``) forward or reverse.
  Zero tangents stay symbolic, so a derivative in θ alone never multiplies
  ``∇Ω₀(y) = −inf`` by a zero tangent.
* The entropy ``Σ y log y`` of the targets is exactly 0 for hard targets (one-hot,
  binary); on CPU its per-entry logarithms are skipped by a ``lax.cond`` on the
  whole batch (``jax.vmap`` included, through :func:`jax.custom_batching.custom_vmap`).
* The softplus of the binary entropy is ``max(±t, 0) + log1p(e^{−|t|})``: one exp and
  one log1p per entry for both signs (optax's ``log_sigmoid(±t)`` takes two of each).
* :func:`guarded_binary_entropy_loss` and :func:`guarded_simplex_loss` are ``gfy_loss``'s domain guard for these losses
  (``_inputs.onto_domain`` + ``nan_outside``, same values and derivatives) made in
  one fused pass over y that also finds whether the targets are hard.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from jax.custom_batching import custom_vmap

Array = jax.Array


@jax.custom_jvp
def _xlogx(y: Array) -> Array:
    """``y log y`` with 0 at 0 (NaN for y < 0), whose derivative ``log y + 1`` is −inf
    at 0 (as :func:`fenchel.regularizers.xlogx`; kept here to avoid an import cycle)."""
    return jnp.where(y == 0, jnp.zeros_like(y), y * jnp.log(y))


@_xlogx.defjvp
def _xlogx_jvp(primals, tangents):
    (y,), (dy,) = primals, tangents
    return _xlogx(y), (jnp.log(y) + 1) * dy


@custom_vmap
def _batch_any_positive(x: Array) -> Array:
    """Whether any entry of ``x`` is > 0: one boolean for the whole array, and for the
    whole batch under ``jax.vmap`` (then unbatched, so that a ``lax.cond`` on it stays a
    branch: a batched predicate turns it into a select that computes both branches).
    NaN entries may be skipped (XLA's CPU max reduction does): a NaN target makes the
    loss NaN through its other terms anyway."""
    return jnp.logical_not(jnp.max(x) <= 0)


@_batch_any_positive.def_vmap
def _batch_any_positive_vmap(axis_size, in_batched, x):
    del axis_size, in_batched
    return _batch_any_positive(x), False


def _softness(y: Array) -> Array:
    """Per entry, ``|y (1 − y)|``: 0 exactly where y is 0 or 1, > 0 (or NaN) elsewhere."""
    return jnp.abs(y * (1 - y))


def _any_soft(y: Array) -> Array:
    """Whether any entry of the batch ``y`` is neither 0 nor 1."""
    return _batch_any_positive(jnp.sum(_softness(jax.lax.stop_gradient(y)), axis=-1))


def _negative_entropy(y: Array, binary: bool, soft: Array | None) -> Array:
    """``Σ y log y`` (``+ (1 − y) log(1 − y)`` if ``binary``) over the last axis.

    Every term is exactly 0 where y is 0 or 1, so for hard targets (one-hot or binary,
    the usual case) the sum is 0 and its per-entry logarithms are skipped: on CPU, a
    ``lax.cond`` on ``soft``, whether any entry of the batch is another value (computed
    here when None). Other platforms compute the sum (a branch would synchronize a GPU
    with the host).
    """
    def terms(y):
        out = _xlogx(y) + _xlogx(1 - y) if binary else _xlogx(y)
        return jnp.sum(out, axis=-1)

    def zero(y):
        return jnp.zeros(y.shape[:-1], y.dtype)

    def skip_if_hard(y):
        flag = _any_soft(y) if soft is None else soft
        return jax.lax.cond(flag, terms, zero, y)

    return jax.lax.platform_dependent(y, cpu=skip_if_hard, default=terms)


def _nonnegative(x: Array) -> Array:
    return jnp.where(x < 0, jnp.zeros_like(x), x)


def _is_zero(tangent) -> bool:
    return isinstance(tangent, jax.custom_derivatives.SymbolicZero)


def _tangent(grad_t: Array, dt, grad_y, dy) -> Array:
    """``<grad_t, dt> + <grad_y(), dy>`` over the last axis, symbolic zeros skipped."""
    out = 0.0
    if not _is_zero(dt):
        out = out + jnp.sum(grad_t * dt, axis=-1)
    if not _is_zero(dy):
        out = out + jnp.sum(grad_y() * dy, axis=-1)
    return out


# --------------------------------------------------------------------- binary entropy


def _binary_entropy_parts(t, y, soft):
    # |t| as a select, not abs: its derivative at t = 0 is 1 (the t ≥ 0 branch), so
    # σ below differentiates to σ(1 − σ) there too (abs would give 0).
    magnitude = jnp.where(t >= 0, t, -t)
    e = jnp.exp(-magnitude)  # in (0, 1]: no overflow for any t
    # KL(Bernoulli(y) ‖ Bernoulli(σ(t))) = y log y + (1 − y) log(1 − y)
    #   + y softplus(−t) + (1 − y) softplus(t), with
    #   softplus(±t) = max(±t, 0) + log1p(e^{−|t|}): every term but the entropy ≥ 0.
    linear = jnp.where(t >= 0, (1 - y) * t, -y * t)
    kl = _negative_entropy(y, True, soft) + jnp.sum(linear + jnp.log1p(e), axis=-1)
    return _nonnegative(kl), e


@jax.custom_jvp
def binary_entropy_loss(t: Array, y: Array, soft: Array | None = None) -> Array:
    """λ = 1 sigmoid binary cross-entropy: ``Σ KL(Bernoulli(y_i) ‖ Bernoulli(σ(t_i)))``.
    ``soft``: whether any target of the batch is neither 0 nor 1 (None: find out)."""
    return _binary_entropy_parts(t, y, soft)[0]


def _binary_entropy_jvp(primals, tangents):
    (t, y, soft), (dt, dy, _) = primals, tangents
    value, e = _binary_entropy_parts(t, y, soft)
    sigmoid = jnp.where(t >= 0, jnp.ones_like(e), e) / (1 + e)
    # ∇Ω₀(y) = log y − log(1 − y): −inf at 0, +inf at 1.
    grad_y = lambda: jnp.log(y) - jnp.log1p(-y) - t
    return value, _tangent(sigmoid - y, dt, grad_y, dy)


binary_entropy_loss.defjvp(_binary_entropy_jvp, symbolic_zeros=True)


# --------------------------------------------------------------------- Shannon entropy


def _shannon_parts(t, y, soft):
    # KL(y ‖ softmax(t)) = Σ y_i log y_i − Σ y_i log p_i, log p = z − log Σ exp(z) with
    # z = t − max t ≤ 0 (no overflow): the terms −y_i log p_i are ≥ 0, the entropy ≤ 0.
    z = t - jax.lax.stop_gradient(jnp.max(t, axis=-1, keepdims=True))
    e = jnp.exp(z)
    total = jnp.sum(e, axis=-1, keepdims=True)
    log_p = z - jnp.log(total)
    kl = _negative_entropy(y, False, soft) - jnp.sum(y * log_p, axis=-1)
    return _nonnegative(kl), e, total


@jax.custom_jvp
def shannon_loss(t: Array, y: Array, soft: Array | None = None) -> Array:
    """λ = 1 softmax cross-entropy: ``KL(y ‖ softmax(t))``. ``soft``: whether any target
    of the batch is neither 0 nor 1 (None: find out)."""
    return _shannon_parts(t, y, soft)[0]


def _shannon_jvp(primals, tangents):
    (t, y, soft), (dt, dy, _) = primals, tangents
    value, e, total = _shannon_parts(t, y, soft)
    # ∇Ω₀(y) = log y + 1: −inf at 0.
    grad_y = lambda: jnp.log(y) + 1 - t
    return value, _tangent(e / total - y, dt, grad_y, dy)


shannon_loss.defjvp(_shannon_jvp, symbolic_zeros=True)


# --------------------------------------------------------------------- sparsemax


def _sparsemax(t):
    """sparsemax over the last axis of a t whose max is 0 (optax's projection)."""
    if t.ndim == 1:
        return optax.projections.projection_simplex(t)
    flat = t.reshape(-1, t.shape[-1])
    return jax.vmap(optax.projections.projection_simplex)(flat).reshape(t.shape)


def _sparsemax_parts(t, y):
    # With p = sparsemax(t) = max(t − τ, 0) and s = t − τ (shift invariance):
    # Σ (p_i − y_i)(s_i − (p_i + y_i)/2), which is (p_i − y_i)²/2 on the support
    # (where s_i = p_i) and y_i (y_i/2 − s_i) ≥ 0 off it.
    t = t - jax.lax.stop_gradient(jnp.max(t, axis=-1, keepdims=True))
    p = _sparsemax(t)
    support = p > 0
    count = jnp.sum(support, axis=-1, keepdims=True)
    tau = (jnp.sum(jnp.where(support, t, 0), axis=-1, keepdims=True) - 1) / count
    s = jnp.where(support, p, t - tau)
    terms = _nonnegative((p - y) * (s - 0.5 * (p + y)))
    return jnp.sum(terms, axis=-1), p


@jax.custom_jvp
def sparsemax_loss(t: Array, y: Array) -> Array:
    """λ = 1 sparsemax loss: ``½‖y‖² + Ω₀*(t) − <t, y>`` on the simplex."""
    return _sparsemax_parts(t, y)[0]


def _sparsemax_jvp(primals, tangents):
    (t, y), (dt, dy) = primals, tangents
    value, p = _sparsemax_parts(t, y)
    return value, _tangent(p - y, dt, lambda: y - t, dy)


sparsemax_loss.defjvp(_sparsemax_jvp, symbolic_zeros=True)


# --------------------------------------------------------------------- gfy_loss's guard


def _softness_or_nan(y_fixed: Array, atol: float) -> Array:
    """Per example: NaN if an entry lies outside [−atol, 1 + atol] (or is NaN), else
    Σ |y (1 − y)|, > 0 iff an entry is neither 0 nor 1 (the entropy's skip test)."""
    within = (y_fixed >= -atol) & (y_fixed <= 1 + atol)
    return jnp.sum(jnp.where(within, _softness(y_fixed), jnp.nan), axis=-1)


def guarded_binary_entropy_loss(scale, theta: Array, y: Array, atol: float) -> Array:
    """``BinaryEntropy``'s loss for ``gfy_loss``: y moved onto [0, 1]^k, NaN for the
    examples whose y lies outside by more than ``atol`` — the same values and
    derivatives as :func:`fenchel._inputs.onto_domain` + ``nan_outside``, with the
    domain check made in the passes over y that the loss makes anyway."""
    softness = _softness_or_nan(jax.lax.stop_gradient(y), atol)
    value = binary_entropy_loss(theta / scale, _clip(y, 0.0, 1.0), _batch_any_positive(softness))
    return jnp.where(~jnp.isnan(softness), scale * value, jnp.nan)


def guarded_simplex_loss(scale, theta: Array, y: Array, atol: float, shannon: bool) -> Array:
    """``ShannonSimplex``'s (``shannon=True``) or ``SquaredSimplex``'s loss for
    ``gfy_loss``, guarded like :func:`guarded_binary_entropy_loss` (entries in
    [−atol, 1 + atol], the sum within ``atol`` of 1; negatives within the tolerance
    set to 0)."""
    y_fixed = jax.lax.stop_gradient(y)
    softness = _softness_or_nan(y_fixed, atol)
    inside = ~jnp.isnan(softness) & (jnp.abs(jnp.sum(y_fixed, axis=-1) - 1) <= atol)
    t, y_inside = theta / scale, _clip(y, 0.0, None)
    value = (shannon_loss(t, y_inside, _batch_any_positive(softness)) if shannon
             else sparsemax_loss(t, y_inside))
    return jnp.where(inside, scale * value, jnp.nan)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _clip(y: Array, lower: float, upper: float | None) -> Array:
    """``y`` moved into [lower, upper] (``upper=None``: no upper bound) with derivative
    1 inside and 0 where it was moved (``jnp.clip``'s is ½ at the bounds, where binary
    targets sit). ``maximum``/``minimum`` rather than ``where``: XLA's CPU reductions
    fuse them (a select would be written to memory first). NaN stays NaN."""
    y = jnp.maximum(y, lower)
    return y if upper is None else jnp.minimum(y, upper)


@_clip.defjvp
def _clip_jvp(lower, upper, primals, tangents):
    (y,), (dy,) = primals, tangents
    moved = y < lower if upper is None else (y < lower) | (y > upper)
    return _clip(y, lower, upper), jnp.where(moved, jnp.zeros_like(dy), dy)
