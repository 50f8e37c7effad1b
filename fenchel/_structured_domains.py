"""The domains of rankings and matchings: the permutahedron and the Birkhoff
polytope (re-exported by :mod:`fenchel.domains`)."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import _doubly_stochastic
from fenchel import _isotonic
from fenchel.domains import Domain, domain_tolerance

Array = jax.Array


def _tolerance(y, atol) -> float:
    return domain_tolerance(jnp.result_type(y)) if atol is None else atol


def _check_weights(w) -> tuple[float, ...] | None:
    if w is None:
        return None
    try:
        values = np.asarray(w, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"w must be None or a sequence of finite numbers, got {w!r}") from None
    if values.ndim != 1 or values.size < 1 or not np.all(np.isfinite(values)):
        raise ValueError(f"w must be None or a non-empty 1-d sequence of finite numbers, "
                         f"got {w!r}")
    return tuple(float(v) for v in values)


def _random_permutations(key, shape, k):
    """``shape + (k,)`` independent random permutations of range(k)."""
    return jnp.argsort(jax.random.uniform(key, tuple(shape) + (k,)), axis=-1)


def _mixture_weights(key, shape, count, dtype):
    return jax.random.dirichlet(key, jnp.ones(count), tuple(shape)).astype(dtype)


@dataclasses.dataclass(frozen=True)
class Permutahedron(Domain):
    """The permutahedron ``P(w)``: the convex hull of the permutations of ``w``.

    .. math:: P(w) = \\operatorname{conv}\\{w_π : π ∈ S_k\\} = \\{y : \\textstyle\\sum_{i ≤ j}
              y_{[i]} ≤ \\sum_{i ≤ j} w_{[i]}\\ (j < k),\\ \\sum y = \\sum w\\}

    with ``y_[i]`` the i-th largest entry. ``w=None`` means ``(k, k − 1, …, 1)`` for
    the size k of each ``y: (..., k)``. A ranking is the vertex ``w_[r_i]``: label i
    at rank ``r_i`` gets the ``r_i``-th largest weight (see :mod:`fenchel.ranking`).
    Projection by pool-adjacent-violators (:func:`projection_permutahedron`).
    Membership is up to ``atol`` per entry, times ``max(1, max |w|)`` (so a
    partial sum of j entries may exceed its bound by j of those).

    Args:
      w: ``None`` or the generating vector (any order; only its sorted values matter).

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import Permutahedron
      >>> Permutahedron().project(jnp.array([0.0, 0.0, 9.0])).tolist()
      [1.5, 1.5, 3.0]
      >>> bool(Permutahedron((3.0, 2.0, 1.0)).contains(jnp.array([2.0, 2.0, 2.0])))
      True
    """

    w: tuple[float, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "w", _check_weights(self.w))

    def weights(self, k: int, dtype=jnp.float32) -> Array:
        """``w`` sorted in decreasing order, ``(k,)``; ``ValueError`` when an explicit
        w has another length."""
        if self.w is None:
            return jnp.arange(k, 0, -1).astype(dtype)
        if len(self.w) != k:
            raise ValueError(f"Permutahedron(w) has {len(self.w)} weights but y has k = {k} "
                             "entries on its last axis")
        return jnp.asarray(sorted(self.w, reverse=True), dtype)

    def _float_weights(self, y):
        y = jnp.asarray(y)
        dtype = y.dtype if jnp.issubdtype(y.dtype, jnp.floating) else jnp.float32
        return y, self.weights(y.shape[-1], dtype)

    def project(self, y):
        y, w = self._float_weights(y)
        return _isotonic.projection_permutahedron(y, w)

    def _excess(self, y, w):
        """Per example: the largest excess of a sorted partial sum over its bound,
        each divided by its number of entries, and the gap of the total."""
        partial = jnp.cumsum(-jnp.sort(-y, axis=-1), axis=-1)
        bounds = jnp.cumsum(w)
        counts = jnp.arange(1, y.shape[-1] + 1, dtype=y.dtype)
        excess = jnp.max((partial - bounds) / counts, axis=-1)
        return excess, jnp.abs(partial[..., -1] - bounds[-1]) / y.shape[-1]

    def contains_each(self, y, atol=None):
        y, w = self._float_weights(y)
        largest = y.shape[-1] if self.w is None else max(abs(v) for v in self.w)
        atol = _tolerance(y, atol) * max(1.0, largest)
        excess, total = self._excess(y, w)
        finite = jnp.all(jnp.isfinite(y), axis=-1)
        return finite & (excess <= atol) & (total <= atol)

    def snap(self, y, atol=None):
        # A point within the tolerance is kept as it is (no projection: a second PAV
        # per loss call; the loss moves by as little as the point is off).
        return jnp.asarray(y), self.contains_each(y, atol)

    def center(self, shape, dtype=jnp.float32):
        return jnp.full(shape, jnp.mean(self.weights(shape[-1], dtype)), dtype)

    def sample(self, key, shape, dtype=jnp.float32):
        # A random convex combination of k random vertices.
        k = shape[-1]
        w = self.weights(k, dtype)
        perm_key, mix_key = jax.random.split(key)
        vertices = w[_random_permutations(perm_key, tuple(shape[:-1]) + (k,), k)]
        mix = _mixture_weights(mix_key, shape[:-1], k, dtype)
        return jnp.einsum("...j,...jk->...k", mix, vertices).astype(dtype)

    def interior(self, y, margin):
        # Towards the centre, by a fraction of the spread (entries stay inside).
        p = self.project(y)
        _, w = self._float_weights(p)
        spread = jnp.maximum(w[0] - w[-1], 1e-12)
        t = jnp.minimum(margin / spread, 1.0)
        return (1 - t) * p + t * jnp.mean(w)

    @property
    def width(self):
        if self.w is None:
            return math.inf  # grows with k
        return max(self.w) - min(self.w)

    def describe(self, atol):
        w = "(k, k − 1, …, 1)" if self.w is None else f"{self.w}"
        return (f"expected points of the permutahedron of w = {w}: finite entries whose j "
                f"largest sum to at most the j largest of w, and all to Σw (±{atol:g} per entry)")

    def describe_violation(self, y):
        y = np.asarray(y, np.float64)
        if not np.all(np.isfinite(y)):
            return super().describe_violation(y)
        w = np.asarray(self.weights(y.shape[-1], jnp.float32), np.float64)
        partial = np.cumsum(-np.sort(-y, axis=-1), axis=-1)
        excess = np.max(partial - np.cumsum(w), axis=-1)
        return (f"a sorted partial sum above its bound by {np.max(excess):.9g}, totals in "
                f"[{np.min(partial[..., -1]):.9g}, {np.max(partial[..., -1]):.9g}] "
                f"(Σw = {np.sum(w):.9g})")


@dataclasses.dataclass(frozen=True)
class Birkhoff(Domain):
    """The Birkhoff polytope: doubly stochastic k×k matrices, flattened row-major over
    the last axis, ``y: (..., k*k)``.

    .. math:: \\mathcal B_k = \\{Y ∈ \\mathbb R^{k×k} : Y ≥ 0,\\ Y1 = 1,\\ Yᵀ1 = 1\\}
              = \\operatorname{conv}\\{\\text{permutation matrices}\\}

    k is read from the size of the last axis (it must be a square); ``k`` pins it.
    ``y.reshape(..., k, k)[i, j]`` is the weight of item i at position j; a ranking
    is a permutation matrix (see :mod:`fenchel.ranking`). Membership is up to
    ``atol`` per entry and on each row and column sum. Projection by a semi-smooth
    Newton method on the dual (:func:`projection_birkhoff`).

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.domains import Birkhoff
      >>> Birkhoff().center((4,)).tolist()
      [0.5, 0.5, 0.5, 0.5]
      >>> bool(Birkhoff().contains(jnp.array([0.0, 1.0, 1.0, 0.0])))
      True
    """

    k: int | None = None

    def __post_init__(self):
        if self.k is not None and (isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer))
                                   or self.k < 1):
            raise ValueError(f"k must be None or an integer ≥ 1, got {self.k!r}")

    def side(self, n: int) -> int:
        """k for a last axis of ``n = k²`` entries; ``ValueError`` otherwise."""
        k = _doubly_stochastic.side(n)
        if self.k is not None and k != self.k:
            raise ValueError(f"Birkhoff(k={self.k}) expects {self.k ** 2} entries on the last "
                             f"axis, got {n}")
        return k

    def _matrices(self, y):
        y = jnp.asarray(y)
        k = self.side(y.shape[-1])
        return y.reshape(y.shape[:-1] + (k, k)), k

    def project(self, y):
        y = jnp.asarray(y)
        self.side(y.shape[-1])
        return _doubly_stochastic.projection_birkhoff(y)

    def contains_each(self, y, atol=None):
        m, _ = self._matrices(y)
        atol = _tolerance(m, atol)
        entries = jnp.all((m >= -atol) & (m <= 1 + atol), axis=(-2, -1))
        rows = jnp.all(jnp.abs(jnp.sum(m, axis=-1) - 1) <= atol, axis=-1)
        columns = jnp.all(jnp.abs(jnp.sum(m, axis=-2) - 1) <= atol, axis=-1)
        return entries & rows & columns

    def snap(self, y, atol=None):
        # Negatives within the tolerance are set to 0, as on the simplex; no projection
        # (an iterative solve per loss call for a target already within the tolerance).
        y = jnp.asarray(y)
        return jnp.where(y < 0, 0, y).astype(y.dtype), self.contains_each(y, atol)

    def center(self, shape, dtype=jnp.float32):
        return jnp.full(shape, 1.0 / self.side(shape[-1]), dtype)

    def sample(self, key, shape, dtype=jnp.float32):
        # A random convex combination of k random permutation matrices.
        k = self.side(shape[-1])
        perm_key, mix_key = jax.random.split(key)
        perms = _random_permutations(perm_key, tuple(shape[:-1]) + (k,), k)
        matrices = jax.nn.one_hot(perms, k, dtype=dtype)  # (..., k, k rows, k columns)
        mix = _mixture_weights(mix_key, shape[:-1], k, dtype)
        return jnp.einsum("...j,...jab->...ab", mix, matrices).reshape(shape).astype(dtype)

    def interior(self, y, margin):
        p = self.project(y)
        k = self.side(jnp.shape(p)[-1])
        return (p + margin) / (1 + k * margin)

    @property
    def width(self):
        return 1.0

    def describe(self, atol):
        return ("expected doubly stochastic k×k matrices flattened over the last axis (k² "
                f"entries ≥ 0, each row and column summing to 1, ±{atol:g})")

    def describe_violation(self, y):
        y = np.asarray(y, np.float64)
        if not np.all(np.isfinite(y)):
            return super().describe_violation(y)
        k = self.side(y.shape[-1])
        m = y.reshape(y.shape[:-1] + (k, k))
        rows, columns = m.sum(axis=-1), m.sum(axis=-2)
        return (f"smallest entry {m.min():.9g}, row sums in [{rows.min():.9g}, "
                f"{rows.max():.9g}], column sums in [{columns.min():.9g}, {columns.max():.9g}]")
