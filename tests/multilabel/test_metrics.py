"""Properties of the multi-label metrics, checked against scikit-learn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.metrics
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fenchel.multilabel import metrics

label_matrices = st.integers(2, 6).flatmap(lambda k: st.integers(1, 8).flatmap(
    lambda n: st.tuples(hnp.arrays(np.int8, (n, k), elements=st.integers(0, 1)),
                        hnp.arrays(np.int8, (n, k), elements=st.integers(0, 1)))))


@settings(max_examples=30, deadline=None)
@given(label_matrices)
def test_metrics_match_sklearn(pair):
    y_true, y_pred = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for zero_division in (0.0, 1.0):
            expected = {
                "example_f1": sklearn.metrics.f1_score(
                    y_true, y_pred, average="samples", zero_division=zero_division),
                "micro_f1": sklearn.metrics.f1_score(
                    y_true, y_pred, average="micro", zero_division=zero_division),
                "macro_f1": sklearn.metrics.f1_score(
                    y_true, y_pred, average="macro", zero_division=zero_division),
            }
            for name, value in expected.items():
                got = getattr(metrics, name)(y_true, y_pred, zero_division=zero_division)
                assert got == pytest.approx(value, abs=1e-12), (name, zero_division)
    assert metrics.hamming_accuracy(y_true, y_pred) == pytest.approx(
        1 - sklearn.metrics.hamming_loss(y_true, y_pred))
    assert metrics.subset_accuracy(y_true, y_pred) == pytest.approx(
        sklearn.metrics.accuracy_score(y_true, y_pred))


@settings(max_examples=40, deadline=None)
@given(label_matrices)
def test_perfect_and_complementary_predictions(pair):
    y, _ = pair
    scores = metrics.all_metrics(y, y)
    assert scores["hamming_accuracy"] == 1.0 and scores["subset_accuracy"] == 1.0
    # F1 is 1 wherever there is a label to find (empty rows count 0 by default).
    assert scores["example_f1"] == pytest.approx(np.mean(y.sum(axis=1) > 0))
    assert metrics.example_f1(y, y, zero_division=1.0) == 1.0
    flipped = 1 - y
    assert metrics.hamming_accuracy(y, flipped) == 0.0
    assert metrics.subset_accuracy(y, flipped) == 0.0
    assert metrics.micro_f1(y, flipped) == 0.0
    for value in metrics.all_metrics(y, pair[1]).values():
        assert 0.0 <= value <= 1.0


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, (5, 3), elements=st.floats(0, 1)),
       st.floats(0.0, 0.99))
def test_decode_thresholds(relaxed, threshold):
    decoded = metrics.decode(relaxed, threshold)
    assert set(np.unique(decoded)) <= {0, 1}
    np.testing.assert_array_equal(decoded, relaxed > threshold)
    # A higher threshold never predicts more labels.
    assert np.all(metrics.decode(relaxed, min(threshold + 0.005, 0.995)) <= decoded)


def test_tune_threshold_picks_the_best_candidate():
    y = np.array([[1, 0, 1], [0, 1, 0]])
    relaxed = np.array([[0.4, 0.1, 0.35], [0.2, 0.3, 0.05]])
    best = metrics.tune_threshold(y, relaxed, "example_f1")
    assert metrics.example_f1(y, metrics.decode(relaxed, best)) == 1.0
    assert metrics.example_f1(y, metrics.decode(relaxed, 0.5)) == 0.0


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="same shape"):
        metrics.hamming_accuracy(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        metrics.example_f1(np.zeros((1, 2)), np.full((1, 2), 0.5))
    with pytest.raises(ValueError, match="threshold"):
        metrics.decode(np.zeros((1, 2)), 1.0)
    with pytest.raises(ValueError, match="metric"):
        metrics.tune_threshold(np.zeros((1, 2)), np.zeros((1, 2)), "accuracy")
