"""Rankings as points of the permutahedron and the Birkhoff polytope, and back.

A ranking of k labels is given by its ranks ``r: (..., k)``, a permutation of
``1..k`` with ``r_i = 1`` for the label ranked first (the convention of the label
ranking data sets). Encoders give the vertex that a ranking is:

* :func:`permutahedron_vertex`: ``y_i = w_[r_i]``, the ``r_i``-th largest weight of
  ``w`` (default ``(k, …, 1)``, so ``y = k + 1 − r``);
* :func:`permutation_matrix`: the k×k matrix with ``Y[i, r_i − 1] = 1``, flattened
  (the layout of :class:`~fenchel.domains.Birkhoff`).

Decoders give the ranking a prediction stands for: :func:`ranks_from_scores` (an
argsort, exact for the permutahedron: the vertex that maximizes ``<y, w_π>`` sorts
like y) and :func:`permutation_from_doubly_stochastic` (the maximum-weight
assignment, :func:`scipy.optimize.linear_sum_assignment`, on the host).

Example:
  >>> import jax.numpy as jnp
  >>> from fenchel import ranking
  >>> ranking.ranks_from_scores(jnp.array([0.2, 3.0, 1.0])).tolist()
  [3, 1, 2]
  >>> ranking.permutahedron_vertex(jnp.array([3, 1, 2])).tolist()
  [1.0, 3.0, 2.0]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fenchel import _doubly_stochastic
from fenchel._structured_domains import Permutahedron

Array = jax.Array

__all__ = ["ranks_from_scores", "permutahedron_vertex", "permutation_matrix",
           "permutation_from_doubly_stochastic"]


def ranks_from_scores(scores: Array) -> Array:
    """Ranks ``(..., k)`` (int32, 1 = largest score) of ``scores: (..., k)``; ties are
    broken by position (the earlier label first), deterministically. Works under
    ``jit`` and ``vmap``.

    .. math:: r_i = 1 + |\\{j : s_j > s_i\\}| + |\\{j < i : s_j = s_i\\}|

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.ranking import ranks_from_scores
      >>> ranks_from_scores(jnp.array([1.0, 1.0, 5.0])).tolist()
      [2, 3, 1]
    """
    scores = jnp.asarray(scores)
    if scores.ndim < 1:
        raise ValueError(f"scores must have at least one axis (k labels), got shape {scores.shape}")
    order = jnp.argsort(-scores, axis=-1, stable=True)
    return (jnp.argsort(order, axis=-1) + 1).astype(jnp.int32)


def _check_ranks(ranks) -> Array:
    ranks = jnp.asarray(ranks)
    if ranks.ndim < 1 or not jnp.issubdtype(ranks.dtype, jnp.integer):
        raise TypeError(f"ranks must be an integer array (..., k), got dtype {ranks.dtype} "
                        f"and shape {ranks.shape}")
    if not isinstance(ranks, jax.core.Tracer):
        k = ranks.shape[-1]
        ok = np.all(np.sort(np.asarray(ranks), axis=-1) == np.arange(1, k + 1))
        if not ok:
            raise ValueError(f"ranks must hold a permutation of 1..{k} on the last axis, got "
                             f"{np.asarray(ranks).tolist()}")
    return ranks


def permutahedron_vertex(ranks: Array, w=None, dtype=jnp.float32) -> Array:
    """The vertex of the permutahedron ``P(w)`` a ranking is: ``y_i = w_[r_i]`` (the
    label ranked first gets the largest weight). ``ranks: (..., k)`` → ``(..., k)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.ranking import permutahedron_vertex
      >>> permutahedron_vertex(jnp.array([2, 1]), w=(0.5, 1.0)).tolist()
      [0.5, 1.0]
    """
    ranks = _check_ranks(ranks)
    weights = Permutahedron(w).weights(ranks.shape[-1], dtype)
    return weights[ranks - 1]


def permutation_matrix(ranks: Array, dtype=jnp.float32) -> Array:
    """The permutation matrix of a ranking, ``Y[i, r_i − 1] = 1`` (label i at position
    ``r_i``), flattened row-major: ``ranks: (..., k)`` → ``(..., k*k)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel.ranking import permutation_matrix
      >>> permutation_matrix(jnp.array([2, 1])).tolist()
      [0.0, 1.0, 1.0, 0.0]
    """
    ranks = _check_ranks(ranks)
    k = ranks.shape[-1]
    return jax.nn.one_hot(ranks - 1, k, dtype=dtype).reshape(ranks.shape[:-1] + (k * k,))


def permutation_from_doubly_stochastic(y) -> np.ndarray:
    """The ranking of largest weight under a (doubly stochastic) matrix: ranks
    ``(..., k)`` (int32) with label i at position ``r_i``, maximizing
    ``Σ_i Y[i, r_i − 1]`` (:func:`scipy.optimize.linear_sum_assignment`). Runs on the
    host (numpy): not under ``jit``.

    Args:
      y: ``(..., k*k)`` flattened row-major, as :class:`~fenchel.domains.Birkhoff` holds it.

    Example:
      >>> import numpy as np
      >>> from fenchel.ranking import permutation_from_doubly_stochastic
      >>> permutation_from_doubly_stochastic(np.array([0.2, 0.8, 0.8, 0.2])).tolist()
      [2, 1]
    """
    if isinstance(y, jax.core.Tracer):
        raise TypeError("permutation_from_doubly_stochastic runs on the host "
                        "(scipy.optimize.linear_sum_assignment): call it outside jax.jit")
    y = np.asarray(y, np.float64)
    if y.ndim < 1:
        raise ValueError(f"y must have a last axis of k² entries, got shape {y.shape}")
    k = _doubly_stochastic.side(y.shape[-1])
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite, got a non-finite entry")
    import scipy.optimize  # the core needs no scipy; only this host decoder does

    flat = y.reshape(-1, k, k)
    ranks = np.empty((flat.shape[0], k), np.int32)
    for n, matrix in enumerate(flat):
        rows, columns = scipy.optimize.linear_sum_assignment(matrix, maximize=True)
        ranks[n, rows] = columns + 1
    return ranks.reshape(y.shape[:-1] + (k,))
