"""A scikit-learn estimator wrapping the multi-label energy networks.

:class:`EnergyNetworkClassifier` trains with the same machinery as
``fenchel multilabel`` (:func:`fenchel.multilabel.train.fit`), holding out
``validation_fraction`` of the training rows for early stopping, so it drops
into ``Pipeline``, ``GridSearchCV`` and ``cross_val_score``.

Example:
  >>> from sklearn.pipeline import make_pipeline
  >>> from sklearn.preprocessing import StandardScaler
  >>> clf = make_pipeline(StandardScaler(), EnergyNetworkClassifier(max_epochs=5))
  >>> clf.fit(X, Y).predict(X).shape  # doctest: +SKIP
  (n, k)
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from fenchel.multilabel.losses import Method
from fenchel.multilabel.metrics import decode
from fenchel.multilabel.train import Config, MultilabelSplitLike, fit


class EnergyNetworkClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label energy network trained with a (generalized) Fenchel-Young loss.

    Predicts ``ŷ = argmax_{y ∈ [0,1]^k} Φ_W(x, y) − λΩ(y)`` and decodes it with
    ``[ŷ > threshold]``.

    Args:
      energy: ``"unary"``, ``"pairwise"`` or ``"global"``.
      loss: ``"gfy"``, ``"perceptron"``, ``"bce"``, ``"hinge"``, ``"unrolled"``
        or ``"implicit"``.
      reg: ``"entropy"`` (binary entropy) or ``"squared"`` (squared norm on the box).
      reg_scale: λ.
      hidden: hidden width of the feature map (0: linear).
      learning_rate, weight_decay: AdamW.
      batch_size, max_epochs, patience: training budget and early stopping.
      validation_fraction: share of the rows held out for early stopping
        (0: no early stopping, train ``max_epochs`` epochs on everything).
      threshold: decoding threshold in [0, 1).
      random_state: seed of the held-out split, initialization and batches.
      concave: pairwise: keep ``U = −V Vᵀ ⪯ 0`` (else a free symmetric U).

    Attributes (after ``fit``):
      classes_: ``arange(k)``, the label indices.
      n_features_in_: d.
      model_: the trained :class:`~fenchel.multilabel.train.TrainedModel`.

    Example:
      >>> clf = EnergyNetworkClassifier(energy="pairwise", loss="gfy", max_epochs=3)
      >>> clf.get_params()["energy"]
      'pairwise'
    """

    def __init__(self, energy: str = "pairwise", loss: str = "gfy", reg: str = "entropy",
                 reg_scale: float = 1.0, hidden: int = 0, learning_rate: float = 1e-2,
                 weight_decay: float = 1e-4, batch_size: int = 64, max_epochs: int = 100,
                 patience: int = 10, validation_fraction: float = 0.2,
                 threshold: float = 0.5, random_state: int = 0, concave: bool = True):
        self.energy = energy
        self.loss = loss
        self.reg = reg
        self.reg_scale = reg_scale
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.threshold = threshold
        self.random_state = random_state
        self.concave = concave

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        tags.classifier_tags.multi_label = True
        return tags

    def fit(self, X, y):
        """Train on ``X: (n, d)`` and 0/1 labels ``y: (n, k)``.

        Returns:
          self.
        """
        X, y = validate_data(self, X, y, multi_output=True, dtype=np.float32,
                             y_numeric=True)
        y = np.asarray(y, np.float32)
        if y.ndim != 2:
            raise ValueError(f"y must be an (n, k) 0/1 label matrix, got shape {y.shape}")
        if not np.isin(y, (0, 1)).all():
            raise ValueError("y must hold only 0 and 1 (a multi-label indicator matrix)")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got "
                             f"{self.validation_fraction!r}")
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {self.threshold!r}")
        method = Method(self.energy, self.loss, self.reg, concave=self.concave)
        config = Config(learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                        hidden=self.hidden, reg_scale=self.reg_scale,
                        batch_size=self.batch_size, max_epochs=self.max_epochs,
                        patience=self.patience)
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(len(X))
        n_val = int(round(self.validation_fraction * len(X)))
        if n_val and len(X) - n_val < 1:
            raise ValueError(f"validation_fraction={self.validation_fraction} leaves no "
                             f"training rows out of {len(X)}")
        train_rows, val_rows = order[n_val:], order[:n_val]
        train = MultilabelSplitLike(X[train_rows], y[train_rows])
        # Without a validation split: max_epochs epochs, last parameters.
        validation = MultilabelSplitLike(X[val_rows], y[val_rows]) if n_val else None
        self.model_ = fit(method, config, train, validation, seed=int(self.random_state))
        self.classes_ = np.arange(y.shape[1])
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Relaxed predictions ``ŷ ∈ [0, 1]^{n×k}`` (marginal-like scores)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float32)
        return self.model_.predict_relaxed(X)

    def predict(self, X) -> np.ndarray:
        """0/1 label matrix ``[ŷ > threshold]``, ``(n, k)``."""
        return decode(self.predict_proba(X), self.threshold).astype(np.int64)

    # score: ClassifierMixin's, i.e. subset (exact-match) accuracy on multi-label y.


__all__ = ["EnergyNetworkClassifier"]
