"""A scikit-learn estimator wrapping the multi-label energy networks.

:class:`EnergyNetworkClassifier` trains with the same machinery as
``fenchel multilabel`` (:func:`fenchel.multilabel.train.fit`), holding out
``validation_fraction`` of the training rows for early stopping, so it drops
into ``Pipeline``, ``GridSearchCV`` and ``cross_val_score``. It passes
scikit-learn's estimator checks (``tests/multilabel/test_estimator.py`` lists
the few it cannot pass, and why).

Targets:

* ``y: (n, k)``, a multi-label indicator matrix of 0/1 (any numeric or bool
  dtype): ``predict`` returns ``(n, k)`` 0/1 labels of ``y``'s dtype and
  ``predict_proba`` the ``(n, k)`` relaxed marginals ŷ; ``classes_`` is
  ``arange(k)``.
* ``y: (n,)`` with two classes (any labels: numbers, strings, bools): one
  binary label, ``classes_[1]`` being the positive one; ``predict`` returns
  ``(n,)`` labels of ``classes_`` and ``predict_proba`` ``(n, 2)`` columns
  ``[1 − ŷ, ŷ]``, as for scikit-learn's binary classifiers.

Multi-class targets (one label out of three or more) are refused: the
network's outputs live in the box ``[0, 1]^k``, not on the simplex.

Scoring: ``score`` is scikit-learn's accuracy (subset accuracy on ``(n, k)``
targets); ``predict`` decodes at ``threshold`` (0.5 by default, no tuning).
Example F1 on ``(n, k)`` targets comes in two conventions for an example with
no true and no predicted label: ``scoring="f1_samples"`` (scikit-learn's,
equal to :func:`~fenchel.multilabel.metrics.example_f1`) scores it 0, and
``scoring=make_scorer(fenchel.multilabel.metrics.example_f1_mulan)``
(MULAN's, as in SPEN and InfNet) scores it 1.

Example:
  >>> import numpy as np
  >>> from sklearn.pipeline import make_pipeline
  >>> from sklearn.preprocessing import StandardScaler
  >>> from fenchel.multilabel.estimator import EnergyNetworkClassifier
  >>> X = np.random.default_rng(0).normal(size=(60, 4))
  >>> Y = (X[:, :3] > 0).astype(int)  # three labels
  >>> clf = make_pipeline(StandardScaler(), EnergyNetworkClassifier(max_epochs=5))
  >>> clf.fit(X, Y).predict(X).shape
  (60, 3)
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from fenchel.multilabel.losses import Method
from fenchel.multilabel.metrics import decode
from fenchel.multilabel.train import Config, MultilabelSplitLike, fit


def _check_unit_interval(name: str, value) -> None:
    """Raise ``ValueError`` unless ``0 <= value < 1``."""
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) and 0.0 <= value < 1.0):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


def _encode_targets(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """0/1 training targets of a validated ``y``, its ``classes_``, and whether it is 2-D.

    Args:
      y: ``(n, k)`` 0/1 indicator matrix, or ``(n,)`` labels of two classes.

    Returns:
      ``(targets, classes, outputs_2d)``: ``targets: (n, k)`` float32 0/1
      (``k = 1`` for a 1-D ``y``, 1 meaning ``classes[1]``), ``classes``
      (``arange(k)``, or the two sorted labels), ``outputs_2d``.

    Example:
      >>> import numpy as np
      >>> from fenchel.multilabel.estimator import _encode_targets
      >>> targets, classes, outputs_2d = _encode_targets(np.array(["no", "yes", "no"]))
      >>> targets[:, 0].tolist(), classes.tolist(), outputs_2d
      ([0.0, 1.0, 0.0], ['no', 'yes'], False)
    """
    check_classification_targets(y)  # "Unknown label type: continuous..."
    if y.ndim == 2:
        if not np.isin(y, (0, 1)).all():
            values = np.unique(y)
            raise ValueError(
                f"y of shape {y.shape} must be a multi-label indicator matrix holding only "
                f"0 and 1, got the values {values[:5].tolist()}"
                f"{' ...' if len(values) > 5 else ''}; for one binary label of any two "
                "classes pass a 1-D y")
        return y.astype(np.float32), np.arange(y.shape[1]), True
    classes = np.unique(y)
    if len(classes) == 1:
        raise ValueError(f"y holds 1 class ({classes[0]!r}): a binary classifier needs "
                         "samples of 2 classes")
    if len(classes) > 2:
        raise ValueError(
            "Only binary classification is supported. The type of the target is "
            f"multiclass: y of shape {y.shape} holds {len(classes)} classes, expected 2 "
            "(the outputs live in [0, 1]^k, not on the simplex); for several binary "
            "labels pass an (n, k) 0/1 indicator matrix")
    return (y == classes[1]).astype(np.float32)[:, None], classes, False


def _split_rows(n: int, fraction: float, rng: np.random.RandomState):
    """``(train_rows, validation_rows)``: a random ``fraction`` of ``range(n)`` held out.

    Example:
      >>> import numpy as np
      >>> from fenchel.multilabel.estimator import _split_rows
      >>> [len(rows) for rows in _split_rows(10, 0.2, np.random.RandomState(0))]
      [8, 2]
    """
    order = rng.permutation(n)
    n_val = int(round(fraction * n))
    if n_val and n - n_val < 1:
        raise ValueError(f"validation_fraction={fraction} leaves no training rows out of {n}")
    return order[n_val:], order[:n_val]


class EnergyNetworkClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label energy network trained with a (generalized) Fenchel-Young loss.

    Predicts ``ŷ = argmax_{y ∈ [0,1]^k} Φ_W(x, y) − λΩ(y)`` and decodes it with
    ``[ŷ > threshold]``. ``y`` is an ``(n, k)`` 0/1 indicator matrix, or a
    1-D binary target (see the module docstring).

    Args:
      energy: ``"unary"``, ``"pairwise"`` or ``"global"``.
      loss: ``"gfy"``, ``"perceptron"``, ``"bce"``, ``"hinge"``, ``"unrolled"``,
        ``"implicit"`` or ``"minmin"`` (learned log-partition, α = 1, 32 samples).
      reg: ``"entropy"`` (binary entropy) or ``"squared"`` (squared norm on the box);
        ``"box"`` for ``minmin`` only (prediction by the relaxed mode).
      reg_scale: λ.
      hidden: hidden width of the feature map (0: linear).
      learning_rate, weight_decay: AdamW.
      batch_size, max_epochs, patience: training budget and early stopping.
      validation_fraction: share of the rows held out for early stopping
        (0: no early stopping, train ``max_epochs`` epochs on everything).
      threshold: decoding threshold in [0, 1).
      random_state: seed of the held-out split, initialization and batches:
        an int (reproducible fits), a ``numpy.random.RandomState``, or
        ``None`` (fresh randomness at every fit).
      concave: pairwise: keep ``U = −V Vᵀ ⪯ 0`` (else a free symmetric U).
      rank: concave pairwise: the rank r of ``V: (k, r)`` (None: r = k); r < k
        uses :func:`fenchel.energies.low_rank_pairwise` (``O(kr)`` per inner
        iteration).
      dropout: dropout rate in [0, 1) of the feature map in training (on every
        hidden activation, or on the inputs of a linear map); none at prediction.
      depth: number of hidden layers of width ``hidden`` (when ``hidden > 0``).

    Attributes set by ``fit``, scikit-learn style.

    Attributes:
      classes_: ``arange(k)`` for an ``(n, k)`` indicator ``y``; the two labels
        (sorted, ``classes_[1]`` the positive one) for a 1-D ``y``.
      outputs_2d_: whether ``y`` was 2-D (``predict`` then returns ``(n, k)``).
      n_features_in_: d.
      feature_names_in_: the column names of a ``DataFrame`` ``X``, if any.
      model_: the trained :class:`~fenchel.multilabel.train.TrainedModel`.

    Example:
      >>> from fenchel.multilabel.estimator import EnergyNetworkClassifier
      >>> clf = EnergyNetworkClassifier(energy="pairwise", loss="gfy", max_epochs=3)
      >>> clf.get_params()["energy"]
      'pairwise'
    """

    def __init__(self, energy: str = "pairwise", loss: str = "gfy", reg: str = "entropy",
                 reg_scale: float = 1.0, hidden: int = 0, learning_rate: float = 1e-2,
                 weight_decay: float = 1e-4, batch_size: int = 64, max_epochs: int = 100,
                 patience: int = 10, validation_fraction: float = 0.2,
                 threshold: float = 0.5, random_state=0, concave: bool = True,
                 rank: int | None = None, dropout: float = 0.0, depth: int = 1):
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
        self.rank = rank
        self.dropout = dropout
        self.depth = depth

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # (n, k) indicator matrices
        tags.target_tags.single_output = True  # 1-D binary targets
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.multi_class = False  # outputs in the box, not the simplex
        return tags

    def fit(self, X, y):
        """Train on ``X: (n, d)`` and ``y``: ``(n, k)`` 0/1 labels or ``(n,)`` binary labels.

        Raises:
          ValueError: non-finite or malformed ``X``, a ``y`` that is not an
            indicator matrix or a binary target, or an invalid parameter.

        Returns:
          self.
        """
        _check_unit_interval("validation_fraction", self.validation_fraction)
        _check_unit_interval("threshold", self.threshold)
        method = Method(self.energy, self.loss, self.reg, concave=self.concave)
        config = Config(learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                        hidden=self.hidden, reg_scale=self.reg_scale,
                        batch_size=self.batch_size, max_epochs=self.max_epochs,
                        patience=self.patience, rank=self.rank, dropout=self.dropout,
                        depth=self.depth)
        X, y = validate_data(self, X, y, multi_output=True, dtype=np.float32)
        if scipy.sparse.issparse(y):
            y = y.toarray()
        targets, classes, outputs_2d = _encode_targets(y)
        rng = check_random_state(self.random_state)
        train_rows, val_rows = _split_rows(len(X), self.validation_fraction, rng)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        train = MultilabelSplitLike(X[train_rows], targets[train_rows])
        # Without a validation split: max_epochs epochs, last parameters.
        validation = (MultilabelSplitLike(X[val_rows], targets[val_rows])
                      if len(val_rows) else None)
        self.model_ = fit(method, config, train, validation, seed=seed)
        self.classes_, self.outputs_2d_ = classes, outputs_2d
        self._target_dtype = y.dtype
        return self

    def _relaxed(self, X) -> np.ndarray:
        """``ŷ ∈ [0, 1]^{n×k}`` for a validated ``X: (n, d)``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        return self.model_.predict_relaxed(X)

    def predict_proba(self, X) -> np.ndarray:
        """Relaxed predictions: ``(n, k)`` marginal-like scores ŷ in [0, 1], or for a
        1-D ``y`` the ``(n, 2)`` columns ``[1 − ŷ, ŷ]`` of ``classes_``."""
        relaxed = self._relaxed(X)
        if self.outputs_2d_:
            return relaxed
        return np.column_stack([1.0 - relaxed[:, 0], relaxed[:, 0]])

    def predict(self, X) -> np.ndarray:
        """Labels ``[ŷ > threshold]``: ``(n, k)`` 0/1 of ``y``'s dtype, or ``(n,)`` of
        ``classes_`` for a 1-D ``y``."""
        labels = decode(self._relaxed(X), self.threshold)
        if self.outputs_2d_:
            return labels.astype(self._target_dtype)
        return self.classes_[labels[:, 0]]

    # score: ClassifierMixin's, i.e. accuracy (subset accuracy on multi-label y).


__all__ = ["EnergyNetworkClassifier"]
