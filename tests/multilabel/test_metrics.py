"""Properties of the multi-label metrics, checked against scikit-learn."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
import sklearn.metrics
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel.multilabel import metrics

label_matrices = st.integers(2, 6).flatmap(lambda k: st.integers(1, 8).flatmap(
    lambda n: st.tuples(hnp.arrays(np.int8, (n, k), elements=st.integers(0, 1)),
                        hnp.arrays(np.int8, (n, k), elements=st.integers(0, 1)))))


@settings(max_examples=examples(30), deadline=None)
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


@settings(max_examples=examples(40), deadline=None)
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


@settings(max_examples=examples(40), deadline=None)
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


def _exact_example_f1(y_true, y_pred, zero_division: int) -> Fraction:
    """Example F1 by a per-example loop in exact rational arithmetic."""
    total = Fraction(0)
    for truth, predicted in zip(np.asarray(y_true).tolist(), np.asarray(y_pred).tolist()):
        found = sum(t and p for t, p in zip(truth, predicted))
        size = sum(truth) + sum(predicted)
        total += Fraction(2 * found, size) if size else Fraction(zero_division)
    return total / len(y_true)


# Sparse rows, so that examples with no true and no predicted label are common.
sparse_label_matrices = st.integers(1, 5).flatmap(lambda k: st.integers(1, 30).flatmap(
    lambda n: st.tuples(*[hnp.arrays(np.int8, (n, k), elements=st.sampled_from((0, 0, 0, 1)))
                          for _ in range(2)])))


@settings(max_examples=examples(60), deadline=None)
@given(sparse_label_matrices)
def test_mulan_example_f1_adds_the_share_of_correctly_empty_examples(pair):
    """example_f1_mulan = example_f1 + (examples with Y_i = Ŷ_i = ∅) / n: exactly in
    rational arithmetic, to rounding in floats; both equal a per-example loop."""
    y_true, y_pred = pair
    n = len(y_true)
    both_empty = int(np.sum(~y_true.any(axis=1) & ~y_pred.any(axis=1)))
    mulan = metrics.example_f1_mulan(y_true, y_pred)
    sklearn_convention = metrics.example_f1(y_true, y_pred)
    exact_mulan = _exact_example_f1(y_true, y_pred, 1)
    assert exact_mulan == _exact_example_f1(y_true, y_pred, 0) + Fraction(both_empty, n)
    assert mulan == pytest.approx(float(exact_mulan), rel=0, abs=1e-12)
    assert sklearn_convention == pytest.approx(float(exact_mulan - Fraction(both_empty, n)),
                                               rel=0, abs=1e-12)
    assert mulan == pytest.approx(sklearn_convention + both_empty / n, rel=0, abs=1e-12)
    assert mulan == metrics.example_f1(y_true, y_pred, zero_division=1.0)
    if both_empty == 0:
        assert mulan == sklearn_convention  # the same per-example scores: bitwise equal
    with warnings.catch_warnings():  # (scikit-learn reads one column as a binary target)
        warnings.simplefilter("ignore")
        assert y_true.shape[1] == 1 or mulan == pytest.approx(sklearn.metrics.f1_score(
            y_true, y_pred, average="samples", zero_division=1.0), abs=1e-12)
    scores = metrics.all_metrics(y_true, y_pred)
    assert list(scores) == list(metrics.METRICS)
    assert scores["example_f1_mulan"] == mulan and scores["example_f1"] == sklearn_convention


def test_mulan_example_f1_of_an_all_empty_set_is_one():
    empty = np.zeros((4, 3), np.int8)
    assert metrics.example_f1_mulan(empty, empty) == 1.0
    assert metrics.example_f1(empty, empty) == 0.0
    # An empty truth with a predicted label scores 0 under both conventions.
    assert metrics.example_f1_mulan([[0, 0]], [[0, 1]]) == 0.0


@pytest.mark.parametrize("bad", [0.5, 2, -1, np.nan])
def test_mulan_example_f1_refuses_values_other_than_0_and_1(bad):
    good = np.zeros((2, 3))
    broken = good.copy()
    broken[1, 2] = bad
    with pytest.raises(ValueError, match="y_pred must hold only 0 and 1"):
        metrics.example_f1_mulan(good, broken)
    with pytest.raises(ValueError, match="y_true must hold only 0 and 1"):
        metrics.example_f1_mulan(broken, good)
    with pytest.raises(ValueError, match="same shape"):
        metrics.example_f1_mulan(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="same shape"):
        metrics.example_f1_mulan(np.zeros(3), np.zeros(3))


def test_the_threshold_can_be_tuned_for_either_convention():
    # Example 0 has no label: only MULAN's convention rewards predicting none for it,
    # which needs t >= 0.7; example 1 needs t < 0.8.
    y = np.array([[0, 0], [1, 0]])
    relaxed = np.array([[0.7, 0.1], [0.8, 0.1]])
    assert metrics.tune_threshold(y, relaxed, "example_f1") == 0.5
    best = metrics.tune_threshold(y, relaxed, "example_f1_mulan")
    assert best == 0.7
    assert metrics.example_f1_mulan(y, metrics.decode(relaxed, best)) == 1.0
    assert metrics.example_f1_mulan(y, metrics.decode(relaxed, 0.5)) == 0.5


def _plug_in_estimate(scores: np.ndarray, chosen: np.ndarray) -> float:
    """2 Σ_{chosen} ŷ / (|chosen| + Σ ŷ): the ratio-of-expectations estimate of E[F1]."""
    return 2 * scores[chosen].sum() / (chosen.sum() + scores.sum())


relaxed_rows = st.integers(1, 7).flatmap(lambda k: hnp.arrays(
    np.float64, (3, k), elements=st.floats(0, 1, allow_subnormal=False)))


@settings(max_examples=examples(60), deadline=None)
@given(relaxed_rows)
def test_expected_f1_decoding_maximizes_the_estimate_over_every_label_set(scores):
    import itertools

    decoded = metrics.decode_expected_f1(scores)
    assert decoded.dtype == np.int8 and decoded.shape == scores.shape
    for row, chosen in zip(scores, decoded.astype(bool)):
        assert chosen.any()  # an empty prediction scores 0 under scikit-learn's convention
        best = max(_plug_in_estimate(row, np.array(mask, bool))
                   for mask in itertools.product((0, 1), repeat=len(row)) if any(mask))
        assert _plug_in_estimate(row, chosen) == pytest.approx(best, rel=1e-12, abs=1e-12)


@settings(max_examples=examples(30), deadline=None)
@given(label_matrices, st.randoms(use_true_random=False))
def test_expected_f1_decoding_of_certain_labels_is_the_labels(pair, rng):
    labels, _ = pair
    labels = labels.copy()
    labels[~labels.any(axis=1), 0] = 1  # at least one label: the decoding never predicts none
    np.testing.assert_array_equal(metrics.decode_expected_f1(labels.astype(float)), labels)
    # Labels permuted with the scores come out permuted (distinct scores: no ties).
    scores = np.linspace(0.01, 0.99, labels.size).reshape(labels.shape)
    rng.shuffle(scores.reshape(-1))
    order = list(range(labels.shape[1]))
    rng.shuffle(order)
    np.testing.assert_array_equal(metrics.decode_expected_f1(scores[:, order]),
                                  metrics.decode_expected_f1(scores)[:, order])


@pytest.mark.parametrize("bad", [[[0.5, 1.5]], [[np.nan, 0.2]], [[-0.1, 0.2]], [0.5, 0.2],
                                 np.zeros((2, 0))])
def test_expected_f1_decoding_refuses_what_is_not_relaxed_predictions(bad):
    with pytest.raises(ValueError, match="y_relaxed"):
        metrics.decode_expected_f1(bad)
