"""The scikit-learn estimator: scikit-learn's estimator checks, API, clone, pipelines,
cross-validation, targets, random states and input validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fenchel.multilabel.estimator import EnergyNetworkClassifier

FAST = dict(max_epochs=3, patience=3, batch_size=32, learning_rate=1e-2)
# scikit-learn's checks fit dozens of small problems of new shapes, each a
# compilation: the unary energy compiles in ~1 s where the pairwise one (an
# iterative inner solver) takes ~4 s, and the wrapper under test is the same
# code for every energy (the default pairwise one also passes every check, in
# ~45 s instead of ~25 s; test_fit_predict_proba_score uses it). The budget is
# the smallest that still learns the checks' easy problems
# (check_classifiers_train wants > 83% training accuracy on two blobs, which
# 2 epochs at learning_rate=1e-2 do not reach).
TINY = dict(energy="unary", loss="gfy", max_epochs=2, patience=2, batch_size=16, hidden=4,
            learning_rate=0.1)

# Checks this estimator cannot pass, with the reason; strict, so that a check
# that starts passing is removed from here. Empty: it passes every check that
# runs. (Three are skipped by scikit-learn itself, not here: the pandas check
# without pandas installed, the array API check without SCIPY_ARRAY_API=1, and
# the multi-label decision_function check, as the estimator has none.)
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks([EnergyNetworkClassifier(**TINY)],
                         expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
                         xfail_strict=True)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def raw_emotions(data_dir):
    from fenchel.datasets import load_dataset

    data = load_dataset("emotions", data_dir, seed=0, standardize=False)
    return data.train.x[:128], data.train.y[:128].astype(np.int64), data.test.x[:40]


@pytest.fixture(scope="module")
def blobs():
    """``(X: (60, 3), y: (60, 2))``: two well-separated labels, learnable in 2 epochs."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(60, 2))
    x = np.concatenate([3.0 * y - 1.5, rng.normal(size=(60, 1))], axis=1)
    return x + 0.3 * rng.normal(size=x.shape), y


@pytest.fixture(scope="module")
def fitted_tiny(blobs):
    """``EnergyNetworkClassifier(**TINY)`` fitted on ``blobs`` once, for the tests that only
    predict with it (they do not change it)."""
    return EnergyNetworkClassifier(**TINY).fit(*blobs)


def test_fit_predict_proba_score(raw_emotions):
    x, y, x_test = raw_emotions
    clf = make_pipeline(StandardScaler(), EnergyNetworkClassifier(**FAST))
    assert clf.fit(x, y) is clf
    proba = clf.predict_proba(x_test)
    labels = clf.predict(x_test)
    assert proba.shape == labels.shape == (40, y.shape[1])
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_array_equal(labels, (proba > 0.5).astype(int))
    assert labels.dtype == y.dtype
    assert 0.0 <= clf.score(x, y) <= 1.0
    estimator = clf[-1]
    assert estimator.n_features_in_ == x.shape[1] and estimator.outputs_2d_
    np.testing.assert_array_equal(estimator.classes_, np.arange(y.shape[1]))


def test_params_clone_and_cross_validation(raw_emotions):
    x, y, _ = raw_emotions
    clf = EnergyNetworkClassifier(energy="unary", loss="bce", **FAST)
    params = clf.get_params()
    assert params["energy"] == "unary" and params["max_epochs"] == 3
    assert clf.set_params(threshold=0.3) is clf and clf.threshold == 0.3
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and not hasattr(copy, "model_")
    scores = cross_val_score(make_pipeline(StandardScaler(), clf), x, y, cv=2,
                             scoring="f1_samples")
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_example_f1_scorers_of_both_conventions(blobs):
    """``scoring="f1_samples"`` is scikit-learn's convention (example_f1), and
    ``make_scorer(example_f1_mulan)`` MULAN's, on the estimator's predictions."""
    from sklearn.metrics import get_scorer, make_scorer

    from fenchel.multilabel.metrics import example_f1, example_f1_mulan

    x, y = blobs
    y = np.concatenate([y, np.zeros((len(y), 1), y.dtype)], axis=1)
    y[:20] = 0  # examples with no label: the two conventions differ on them
    clf = EnergyNetworkClassifier(energy="unary", loss="bce", **FAST).fit(x, y)
    predicted = clf.predict(x)
    assert get_scorer("f1_samples")(clf, x, y) == pytest.approx(example_f1(y, predicted))
    assert make_scorer(example_f1_mulan)(clf, x, y) == example_f1_mulan(y, predicted)
    both_empty = np.sum(~y.any(axis=1) & ~predicted.any(axis=1))
    assert example_f1_mulan(y, predicted) == pytest.approx(
        example_f1(y, predicted) + both_empty / len(y))

def test_random_state_none_int_and_instance(blobs):
    x, y = blobs
    unseeded = EnergyNetworkClassifier(random_state=None, **TINY)
    assert unseeded.fit(x, y).predict(x).shape == y.shape
    assert unseeded.random_state is None  # the parameter is left as given

    def relaxed(random_state):
        clf = EnergyNetworkClassifier(random_state=random_state, **TINY)
        return clf.fit(x, y).predict_proba(x)

    np.testing.assert_array_equal(relaxed(3), relaxed(3))
    np.testing.assert_array_equal(relaxed(np.random.RandomState(3)), relaxed(3))
    assert not np.array_equal(relaxed(3), relaxed(4))


def test_a_binary_target_of_any_labels(blobs):
    x, y = blobs
    names = np.where(y[:, 0] == 1, "spam", "ham")
    clf = EnergyNetworkClassifier(**TINY).fit(x, names)
    assert clf.classes_.tolist() == ["ham", "spam"] and not clf.outputs_2d_
    proba = clf.predict_proba(x)
    assert proba.shape == (60, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(x), clf.classes_[(proba[:, 1] > 0.5).astype(int)])
    assert clf.score(x, names) > 0.9
    # The same label as an (n, 1) indicator column: the same model, 2-D outputs.
    column = EnergyNetworkClassifier(**TINY).fit(x, y[:, :1])
    np.testing.assert_array_equal(column.predict_proba(x)[:, 0], proba[:, 1])
    assert column.predict(x).shape == (60, 1) and column.outputs_2d_


@pytest.mark.parametrize("bad, error", [
    (np.nan, "Input X contains NaN"),
    (np.inf, "Input X contains infinity"),
])
def test_non_finite_x_is_refused(blobs, fitted_tiny, bad, error):
    x, y = blobs
    x = x.copy()
    x[3, 1] = bad
    with pytest.raises(ValueError, match=error):
        EnergyNetworkClassifier(**TINY).fit(x, y)
    with pytest.raises(ValueError, match=error):
        fitted_tiny.predict(x)


@pytest.mark.parametrize("kwargs, target, error", [
    (dict(), "twice", "only 0 and 1"),
    (dict(), "multiclass", "Only binary classification is supported. .* holds 3 classes"),
    (dict(), "continuous", "Unknown label type: continuous"),
    (dict(), "one class", "y holds 1 class"),
    (dict(validation_fraction=1.5), "labels", r"validation_fraction must be .* got 1\.5"),
    (dict(threshold=-0.1), "labels", r"threshold must be .* got -0\.1"),
    (dict(threshold=True), "labels", "threshold must be a number in \\[0, 1\\), got True"),
    (dict(loss="nope"), "labels", "loss must be one of"),
    (dict(max_epochs=0), "labels", "max_epochs must be a positive integer, got 0"),
])
def test_bad_input_is_rejected(blobs, kwargs, target, error):
    x, y = blobs
    targets = {"labels": y, "twice": 2 * y, "multiclass": y[:, 0] + y[:, 1],
               "continuous": x[:, 0], "one class": np.ones(len(x))}
    with pytest.raises(ValueError, match=error):
        EnergyNetworkClassifier(**{**TINY, **kwargs}).fit(x, targets[target])


def test_predict_before_fit_and_with_other_features(blobs, fitted_tiny):
    x, y = blobs
    with pytest.raises(Exception, match="not fitted"):
        EnergyNetworkClassifier().predict(x)
    with pytest.raises(ValueError, match="X has 2 features, but EnergyNetworkClassifier is "
                                         "expecting 3 features"):
        fitted_tiny.predict(x[:, :2])
