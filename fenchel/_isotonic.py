"""Isotonic regression by pool-adjacent-violators, and through it the projections
onto the permutahedron (Euclidean and KL), after Blondel, Teboul, Berthet and
Djolonga, "Fast Differentiable Sorting and Ranking" (ICML 2020).

The pooling pattern (which sorted coordinates share a block) is found by a
sequential stack in a ``fori_loop``; the block values are then recomputed from it
with segment sums, so that derivatives of every order are those of the exact,
piecewise smooth solution, not of the loop (reverse-mode cannot go through a
``while_loop``, and the pattern is locally constant).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def _pool_pattern(first: Array, second: Array, entropic: bool) -> Array:
    """Block ids ``(k,)`` (non-decreasing from 0) of the non-increasing isotonic fit.

    Each coordinate carries the statistics of a one-element block: ``(x_i, 1)`` for
    the squared fit (block value: the mean), ``(s_i, w_i)`` for the KL fit (block
    value ``logsumexp(s_B) − log Σ_B w``). Pooling merges the last two blocks while
    their values increase.
    """
    k = first.shape[0]

    def value(a, b):
        return a - jnp.log(b) if entropic else a / b

    def merge(a1, b1, a2, b2):
        return (jnp.logaddexp(a1, a2) if entropic else a1 + a2), b1 + b2

    def violated(state):
        a, b, _, top = state
        safe = jnp.maximum(top, 2)
        return (top >= 2) & (value(a[safe - 2], b[safe - 2]) < value(a[safe - 1], b[safe - 1]))

    def pool(state):
        a, b, start, top = state
        merged_a, merged_b = merge(a[top - 2], b[top - 2], a[top - 1], b[top - 1])
        return a.at[top - 2].set(merged_a), b.at[top - 2].set(merged_b), start, top - 1

    def push(i, state):
        a, b, start, top = state
        state = (a.at[top].set(first[i]), b.at[top].set(second[i]), start.at[top].set(i),
                 top + 1)
        return jax.lax.while_loop(violated, pool, state)

    state = (jnp.zeros_like(first), jnp.ones_like(second), jnp.zeros(k, jnp.int32),
             jnp.zeros((), jnp.int32))
    _, _, start, top = jax.lax.fori_loop(0, k, push, state)
    # Mark the start of each live block; a coordinate's block is the number of
    # starts at or before it, minus one.
    live = jnp.arange(k) < top
    starts = jnp.zeros(k, jnp.int32).at[jnp.where(live, start, k)].set(1, mode="drop")
    return jnp.cumsum(starts) - 1


def _segment_sum(x: Array, ids: Array) -> Array:
    return jax.ops.segment_sum(x, ids, num_segments=x.shape[0], indices_are_sorted=True)


def isotonic_squared(x: Array) -> Array:
    """Non-increasing isotonic regression (least squares) of ``x: (k,)``.

    .. math:: \\operatorname{argmin}_{v_1 ≥ v_2 ≥ … ≥ v_k} \\tfrac12 \\|v − x\\|^2

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import isotonic_squared
      >>> isotonic_squared(jnp.array([1.0, 2.0, 0.0])).tolist()
      [1.5, 1.5, 0.0]
    """
    ids = _pool_pattern(jax.lax.stop_gradient(x), jnp.ones_like(x), entropic=False)
    means = _segment_sum(x, ids) / jnp.maximum(_segment_sum(jnp.ones_like(x), ids), 1)
    return means[ids]


def isotonic_kl(s: Array, w: Array) -> Array:
    """The isotonic problem of the KL projection onto the permutahedron, for
    ``s, w: (k,)``, ``w > 0``.

    .. math:: \\operatorname{argmin}_{v_1 ≥ … ≥ v_k} \\sum_i e^{s_i − v_i} + w_i v_i,
              \\quad v_B = \\log \\textstyle\\sum_B e^{s} − \\log \\sum_B w \\text{ on a block } B

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import isotonic_kl
      >>> [round(v, 4) for v in isotonic_kl(jnp.log(jnp.array([2.0, 1.0])),
      ...                                   jnp.array([2.0, 1.0])).tolist()]
      [0.0, 0.0]
    """
    ids = _pool_pattern(jax.lax.stop_gradient(s), jax.lax.stop_gradient(w), entropic=True)
    # A stable segment logsumexp: the block maximum (constant derivative-wise) first.
    top = jax.ops.segment_max(jax.lax.stop_gradient(s), ids, num_segments=s.shape[0],
                              indices_are_sorted=True)
    top = jnp.where(jnp.isfinite(top), top, 0)
    lse = jnp.log(_segment_sum(jnp.exp(s - top[ids]), ids)) + top
    sums = _segment_sum(w, ids)
    return (lse - jnp.log(jnp.where(sums > 0, sums, 1)))[ids]


def _over_last_axis(one, z: Array, w: Array) -> Array:
    """``one(z_i, w)`` for each ``(k,)`` row of ``z: (..., k)``."""
    z = jnp.asarray(z)
    if z.ndim == 1:
        return one(z, w)
    flat = z.reshape(-1, z.shape[-1])
    return jax.vmap(one, in_axes=(0, None))(flat, w).reshape(z.shape)


def _sorted_weights(w: Array, dtype) -> Array:
    return -jnp.sort(-jnp.asarray(w, dtype))


def _project_one(z, w, entropic):
    # Sort z in decreasing order (a permutation σ); the fit is done on z_σ and sent back.
    order = jnp.argsort(-jax.lax.stop_gradient(z), stable=True)
    inverse = jnp.argsort(order)
    s = z[order]
    w = _sorted_weights(w, z.dtype)
    if entropic:
        return jnp.exp(s - isotonic_kl(s, w))[inverse]
    return (s - isotonic_squared(s - w))[inverse]


def projection_permutahedron(z: Array, w: Array) -> Array:
    """Euclidean projection onto the permutahedron ``P(w)`` (the convex hull of the
    permutations of w) over the last axis, by pool-adjacent-violators.

    .. math:: \\operatorname{argmin}_{y ∈ P(w)} \\tfrac12 \\|y − z\\|^2
              = z − v(z_σ − w_{\\downarrow})_{σ^{-1}}

    with σ the sort of z in decreasing order and v the non-increasing isotonic
    regression (:func:`isotonic_squared`). O(k log k) work per example; ``jit``,
    ``vmap`` and derivatives of every order (piecewise linear, exact) work.

    Args:
      z: ``(..., k)`` points.
      w: ``(k,)`` the generating vector (any order).

    Returns:
      ``(..., k)``, in z's dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import projection_permutahedron
      >>> projection_permutahedron(jnp.array([0.0, 0.0]), jnp.array([2.0, 1.0])).tolist()
      [1.5, 1.5]

    References:
      Blondel, Teboul, Berthet, Djolonga. Fast Differentiable Sorting and Ranking.
      ICML 2020.
    """
    return _over_last_axis(lambda z_, w_: _project_one(z_, w_, False), z, w)


def kl_projection_permutahedron(z: Array, w: Array) -> Array:
    """The entropic maximizer on the permutahedron ``P(w)``, ``w > 0``, over the
    last axis: the KL projection of ``e^z``.

    .. math:: \\operatorname{argmax}_{y ∈ P(w)} \\langle z, y \\rangle − \\langle y, \\log y − 1 \\rangle
              = \\exp\\big(z − v_E(z_σ, w_{\\downarrow})_{σ^{-1}}\\big)

    with v_E the isotonic problem of :func:`isotonic_kl`.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import kl_projection_permutahedron
      >>> y = kl_projection_permutahedron(jnp.array([0.0, 0.0]), jnp.array([2.0, 1.0]))
      >>> [round(v, 4) for v in y.tolist()]
      [1.5, 1.5]

    References:
      Blondel, Teboul, Berthet, Djolonga. Fast Differentiable Sorting and Ranking.
      ICML 2020.
    """
    return _over_last_axis(lambda z_, w_: _project_one(z_, w_, True), z, w)
