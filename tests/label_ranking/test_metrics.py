"""Kendall's τ and Spearman's ρ per example against scipy, and the deterministic decoding
of tied scores."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings, strategies as st

from fenchel.label_ranking.metrics import (kendall_tau, ranking_metrics, scores_to_ranks,
                                           spearman_rho)


def _rankings(rng, n, k):
    return np.argsort(rng.random((n, k)), axis=1).astype(np.int64) + 1


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.integers(1, 6), st.integers(0, 2**31))
def test_against_scipy(k, n, seed):
    rng = np.random.default_rng(seed)
    truth, predicted = _rankings(rng, n, k), _rankings(rng, n, k)
    tau, rho = kendall_tau(truth, predicted), spearman_rho(truth, predicted)
    for i in range(n):
        assert tau[i] == pytest.approx(scipy.stats.kendalltau(truth[i], predicted[i])[0],
                                       abs=1e-12)
        assert rho[i] == pytest.approx(scipy.stats.spearmanr(truth[i], predicted[i])[0],
                                       abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 8), st.integers(0, 2**31))
def test_tied_scores_break_by_label_index(k, seed):
    """Scores with ties decode to the strict ranking that orders each group of ties by
    label index, the same as sorting by (−score, index)."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 3, size=(4, k)).astype(float)  # many ties
    ranks = scores_to_ranks(scores)
    for row, score in zip(ranks, scores):
        order = sorted(range(k), key=lambda j: (-score[j], j))
        expected = np.empty(k, int)
        expected[order] = np.arange(1, k + 1)
        np.testing.assert_array_equal(row, expected)
    assert np.all(np.sort(ranks, axis=1) == np.arange(1, k + 1))


def test_scores_decode_highest_first_and_metrics_of_perfect_and_reversed():
    truth = np.array([[2, 1, 3]])
    assert ranking_metrics(truth, [[0.5, 0.9, 0.1]])["kendall_tau"].tolist() == [1.0]
    reverse = ranking_metrics(truth, [[0.5, 0.1, 0.9]])
    assert reverse["kendall_tau"].tolist() == [-1.0] and reverse["spearman"].tolist() == [-1.0]


@pytest.mark.parametrize("call,match", [
    (lambda: kendall_tau([[1, 2]], [[1, 1]]), "predicted_ranks rows must be permutations"),
    (lambda: kendall_tau([[1, 2]], [[1.0, 2.0]]), "predicted_ranks must hold integer"),
    (lambda: kendall_tau([[1, 2, 3]], [[1, 2]]), "same shape"),
    (lambda: spearman_rho([1, 2], [1, 2]), r"true_ranks must have shape \(n, k\)"),
    (lambda: scores_to_ranks([[0.0, np.nan]]), "scores must be finite"),
])
def test_refusals_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
