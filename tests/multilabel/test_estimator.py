"""The scikit-learn estimator: API, clone, pipelines, cross-validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fenchel.multilabel.estimator import EnergyNetworkClassifier

FAST = dict(max_epochs=3, patience=3, batch_size=32, learning_rate=1e-2)


@pytest.fixture(scope="module")
def raw_emotions(data_dir):
    from fenchel.datasets import load_dataset

    data = load_dataset("emotions", data_dir, seed=0, standardize=False)
    return data.train.x[:128], data.train.y[:128].astype(np.int64), data.test.x[:40]


def test_fit_predict_proba_score(raw_emotions):
    x, y, x_test = raw_emotions
    clf = make_pipeline(StandardScaler(), EnergyNetworkClassifier(**FAST))
    assert clf.fit(x, y) is clf
    proba = clf.predict_proba(x_test)
    labels = clf.predict(x_test)
    assert proba.shape == labels.shape == (40, y.shape[1])
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_array_equal(labels, (proba > 0.5).astype(int))
    assert 0.0 <= clf.score(x, y) <= 1.0
    estimator = clf[-1]
    assert estimator.n_features_in_ == x.shape[1]
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


def test_bad_input_is_rejected(raw_emotions):
    x, y, _ = raw_emotions
    with pytest.raises(ValueError, match="only 0 and 1"):
        EnergyNetworkClassifier(**FAST).fit(x, y * 2)
    with pytest.raises(ValueError, match="validation_fraction"):
        EnergyNetworkClassifier(validation_fraction=1.5, **FAST).fit(x, y)
    with pytest.raises(ValueError, match="loss"):
        EnergyNetworkClassifier(loss="nope", **FAST).fit(x, y)
    with pytest.raises(Exception, match="not fitted"):
        EnergyNetworkClassifier().predict(x)
