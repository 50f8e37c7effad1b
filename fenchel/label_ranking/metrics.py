"""Ranking metrics: Kendall's τ and Spearman's ρ per example, and the decoding of scores.

A ranking of ``k`` labels is a rank vector ``r ∈ {1..k}^k`` (``r_j``: the position of
label ``j``, 1 = first), as in the data files. Models output scores (higher = ranked
earlier); :func:`scores_to_ranks` turns them into a ranking, breaking ties
deterministically (the lower label index first), so that every prediction is scored as a
strict ranking against the truth, which has no ties.

.. math:: τ(r, r') = \\frac{2}{k(k−1)} \\sum_{i<j} \\operatorname{sign}(r_i − r_j)
          \\operatorname{sign}(r'_i − r'_j), \\qquad
          ρ(r, r') = 1 − \\frac{6 \\sum_j (r_j − r'_j)^2}{k(k^2 − 1)}

For strict rankings these equal ``scipy.stats.kendalltau`` and ``scipy.stats.spearmanr``.
"""

from __future__ import annotations

import numpy as np


def _as_matrix(name: str, array, integer: bool) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n, k) with k >= 2, got {array.shape}")
    if integer:
        if not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"{name} must hold integer ranks, got dtype {array.dtype}")
        k = array.shape[1]
        bad = np.any(np.sort(array, axis=1) != np.arange(1, k + 1), axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name} rows must be permutations of 1..{k}, got row {row}: "
                             f"{array[row].tolist()}")
    elif not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, got a non-finite value in row "
                         f"{int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])}")
    return array


def scores_to_ranks(scores) -> np.ndarray:
    """The ranking of each row of scores: the highest score gets rank 1.

    Ties are broken by label index (the lower index ranks first), so the result is a
    strict ranking and the same on every machine: :func:`fenchel.ranking.ranks_from_scores`
    on checked, finite scores.

    Args:
      scores: (n, k) finite numbers.

    Returns:
      (n, k) int32 ranks, each row a permutation of ``1..k``.

    Example:
      >>> from fenchel.label_ranking.metrics import scores_to_ranks
      >>> scores_to_ranks([[0.1, 0.7, 0.1]]).tolist()
      [[2, 1, 3]]
    """
    from fenchel.ranking import ranks_from_scores

    scores = _as_matrix("scores", scores, integer=False)
    return np.asarray(ranks_from_scores(scores))


def _check_pair(true_ranks, predicted_ranks) -> tuple[np.ndarray, np.ndarray]:
    true_ranks = _as_matrix("true_ranks", true_ranks, integer=True)
    predicted_ranks = _as_matrix("predicted_ranks", predicted_ranks, integer=True)
    if true_ranks.shape != predicted_ranks.shape:
        raise ValueError(f"true_ranks and predicted_ranks must have the same shape, got "
                         f"{true_ranks.shape} and {predicted_ranks.shape}")
    return true_ranks, predicted_ranks


def kendall_tau(true_ranks, predicted_ranks) -> np.ndarray:
    """Kendall's τ between two strict rankings, per example.

    .. math:: τ = \\frac{2}{k(k−1)} \\sum_{i<j} \\operatorname{sign}(r_i − r_j)
              \\operatorname{sign}(r'_i − r'_j) ∈ [−1, 1]

    Args:
      true_ranks: (n, k) integer ranks, rows permutations of ``1..k``.
      predicted_ranks: (n, k) likewise (:func:`scores_to_ranks` of a model's scores).

    Returns:
      (n,) float64.

    Example:
      >>> from fenchel.label_ranking.metrics import kendall_tau
      >>> kendall_tau([[1, 2, 3]], [[1, 3, 2]]).tolist()  # one discordant pair of three
      [0.3333333333333333]
    """
    true_ranks, predicted_ranks = _check_pair(true_ranks, predicted_ranks)
    k = true_ranks.shape[1]
    upper = np.triu(np.ones((k, k), bool), 1)
    true_sign = np.sign(true_ranks[:, :, None] - true_ranks[:, None, :])
    predicted_sign = np.sign(predicted_ranks[:, :, None] - predicted_ranks[:, None, :])
    agreement = np.sum((true_sign * predicted_sign)[:, upper], axis=1)
    return agreement / (k * (k - 1) / 2)


def spearman_rho(true_ranks, predicted_ranks) -> np.ndarray:
    """Spearman's ρ between two strict rankings, per example.

    .. math:: ρ = 1 − \\frac{6 \\sum_j (r_j − r'_j)^2}{k(k^2 − 1)} ∈ [−1, 1]

    Args:
      true_ranks, predicted_ranks: (n, k) integer ranks, rows permutations of ``1..k``.

    Returns:
      (n,) float64.

    Example:
      >>> from fenchel.label_ranking.metrics import spearman_rho
      >>> spearman_rho([[1, 2, 3]], [[3, 2, 1]]).tolist()
      [-1.0]
    """
    true_ranks, predicted_ranks = _check_pair(true_ranks, predicted_ranks)
    k = true_ranks.shape[1]
    squared = np.sum((true_ranks.astype(np.float64) - predicted_ranks) ** 2, axis=1)
    return 1.0 - 6.0 * squared / (k * (k * k - 1))


def ranking_metrics(true_ranks, scores) -> dict[str, np.ndarray]:
    """Both metrics of a model's scores, per example: ``{"kendall_tau": (n,),
    "spearman": (n,)}`` after :func:`scores_to_ranks`.

    Example:
      >>> from fenchel.label_ranking.metrics import ranking_metrics
      >>> ranking_metrics([[2, 1, 3]], [[0.1, 0.9, 0.0]])["kendall_tau"].tolist()
      [1.0]
    """
    predicted = scores_to_ranks(scores)
    return {"kendall_tau": kendall_tau(true_ranks, predicted),
            "spearman": spearman_rho(true_ranks, predicted)}


__all__ = ["scores_to_ranks", "kendall_tau", "spearman_rho", "ranking_metrics"]
