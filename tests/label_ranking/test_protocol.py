"""Repeated cross-validation folds: within a repeat no example is in two test folds and
every example is tested once; train and test are complements; inner splits stay inside
the training folds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fenchel.label_ranking.protocol import cv_folds, inner_split, standardizer


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.integers(1, 3), st.integers(0, 200), st.integers(0, 2**31))
def test_folds_partition_each_repeat(n_folds, n_repeats, extra, seed):
    n = n_folds + extra
    folds = cv_folds(n, n_folds, n_repeats, seed)
    assert len(folds) == n_folds * n_repeats
    for repeat in range(n_repeats):
        mine = [f for f in folds if f.repeat == repeat]
        tests = np.concatenate([f.test for f in mine])
        assert len(tests) == n and len(np.unique(tests)) == n  # no example in two folds
        sizes = [len(f.test) for f in mine]
        assert max(sizes) - min(sizes) <= 1
        for f in mine:
            assert np.intersect1d(f.train, f.test).size == 0
            np.testing.assert_array_equal(np.union1d(f.train, f.test), np.arange(n))
    again = cv_folds(n, n_folds, n_repeats, seed)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(folds, again))


def test_repeats_shuffle_differently():
    folds = cv_folds(100, 10, 2, seed=0)
    assert not np.array_equal(folds[0].test, folds[10].test)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 300), st.floats(0.05, 0.5), st.integers(0, 1000))
def test_inner_split_stays_in_the_training_folds(m, fraction, seed):
    train = np.sort(np.random.default_rng(seed).choice(1000, m, replace=False))
    fit, validation = inner_split(train, fraction, (seed, 1, 2))
    assert len(validation) >= 1 and len(fit) >= 1
    assert np.intersect1d(fit, validation).size == 0
    np.testing.assert_array_equal(np.union1d(fit, validation), train)


@pytest.mark.parametrize("call,match", [
    (lambda: cv_folds(5, 10), r"n_folds must be at most the number of examples \(5\), got 10"),
    (lambda: cv_folds(5, 1), "n_folds must be an integer >= 2, got 1"),
    (lambda: cv_folds(5, 2, 0), "n_repeats must be an integer >= 1, got 0"),
    (lambda: cv_folds(5, 2, 1, seed=-1), "seed must be an integer >= 0, got -1"),
    (lambda: inner_split(np.arange(5), 1.0, 0), r"validation_fraction must be in \(0, 1\)"),
    (lambda: inner_split(np.arange(1), 0.5, 0), "train must be at least two indices"),
])
def test_refusals(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_standardizer_keeps_constant_columns():
    mean, scale = standardizer(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_allclose(mean, [2.0, 5.0])
    np.testing.assert_allclose(scale, [1.0, 1.0])
