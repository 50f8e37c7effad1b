"""Multi-label evaluation metrics (pure numpy) and decoding of relaxed predictions.

Notation: ``Y, Ŷ ∈ {0, 1}^{n×k}`` true and predicted label matrices; for
example i, ``Y_i`` is its label set; for label j, ``TP_j, FP_j, FN_j`` count
over examples. All metrics lie in [0, 1] (higher is better).

Empty sets: an F1 whose numerator and denominator are both 0 (no true and no
predicted label) counts as ``zero_division`` — 0 by default, as scikit-learn's
``f1_score`` (whose values these functions reproduce). Example F1 is reported
under both conventions: :func:`example_f1` (scikit-learn's, such an example
scores 0) and :func:`example_f1_mulan` (MULAN's, it scores 1).
"""

from __future__ import annotations

import numpy as np

METRICS = ("hamming_accuracy", "example_f1", "example_f1_mulan", "micro_f1", "macro_f1",
           "subset_accuracy")
"""The metrics of :func:`all_metrics`, in the order results report them."""

SELECTION_METRICS = ("hamming_accuracy", "example_f1_expected")
"""What :func:`fenchel.multilabel.train.search` picks a configuration by: validation
Hamming accuracy with rounding at 0.5 (the early-stopping criterion), or validation
example F1 (scikit-learn's convention) with :func:`decode_expected_f1`."""


def check_select_by(select_by: str) -> None:
    """Raise ``ValueError`` unless ``select_by`` is one of :data:`SELECTION_METRICS`.

    Example:
      >>> from fenchel.multilabel.metrics import check_select_by
      >>> check_select_by("hamming_accuracy")
    """
    if select_by not in SELECTION_METRICS:
        raise ValueError(f"select_by must be one of {SELECTION_METRICS}, got {select_by!r}")


def _check(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 2 or y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must be (n, k) arrays of the same shape, got "
                         f"{y_true.shape} and {y_pred.shape}")
    for name, array in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.isin(array, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0 and 1; decode relaxed predictions "
                             "with fenchel.multilabel.metrics.decode first")
    return y_true.astype(bool), y_pred.astype(bool)


def _f1(tp, fp, fn, zero_division: float):
    tp, fp, fn = (np.asarray(a, np.float64) for a in (tp, fp, fn))
    denominator = 2 * tp + fp + fn
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, 2 * tp / safe, zero_division)


def hamming_accuracy(y_true, y_pred) -> float:
    """1 − Hamming loss: the share of correct (example, label) entries.

    .. math:: \\frac{1}{nk} \\sum_{i,j} [Y_{ij} = Ŷ_{ij}]

    Args:
      y_true, y_pred: ``(n, k)`` 0/1 arrays.

    Returns:
      A float in [0, 1].

    Example:
      >>> from fenchel.multilabel.metrics import hamming_accuracy
      >>> hamming_accuracy([[1, 0]], [[1, 1]])
      0.5
    """
    y_true, y_pred = _check(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def example_f1(y_true, y_pred, zero_division: float = 0.0) -> float:
    """Example-based F1: the mean over examples of each example's F1.

    .. math:: \\frac1n \\sum_i \\frac{2 |Y_i ∩ Ŷ_i|}{|Y_i| + |Ŷ_i|}

    With the default ``zero_division=0`` this is scikit-learn's convention
    (``f1_score(average="samples")``, also DVN's, Gygli et al. 2017): an
    example with no true and no predicted label scores 0. For MULAN's
    convention (it scores 1) see :func:`example_f1_mulan`.

    Args:
      y_true, y_pred: ``(n, k)`` 0/1 arrays.
      zero_division: the F1 of an example with ``|Y_i| + |Ŷ_i| = 0``.

    Example:
      >>> from fenchel.multilabel.metrics import example_f1
      >>> example_f1([[1, 0], [0, 0]], [[1, 1], [0, 0]], zero_division=1.0)
      0.8333333333333333
    """
    y_true, y_pred = _check(y_true, y_pred)
    tp = np.sum(y_true & y_pred, axis=1)
    fp = np.sum(~y_true & y_pred, axis=1)
    fn = np.sum(y_true & ~y_pred, axis=1)
    return float(np.mean(_f1(tp, fp, fn, zero_division)))


def example_f1_mulan(y_true, y_pred) -> float:
    """Example-based F1 under MULAN's convention: an example with no true and no
    predicted label (empty and correctly predicted empty) scores 1.

    .. math:: \\frac1n \\sum_i F_i, \\quad
       F_i = \\frac{2 |Y_i ∩ Ŷ_i|}{|Y_i| + |Ŷ_i|} \\text{ if } |Y_i| + |Ŷ_i| > 0,
       \\text{ else } 1

    It equals ``example_f1(y_true, y_pred, zero_division=1)``, that is
    :func:`example_f1` (scikit-learn's convention, such an example scores 0)
    plus ``e / n``, ``e`` the number of examples with ``Y_i = Ŷ_i = ∅``; the
    two differ only on data with unlabelled examples (e.g. birds).

    The convention of MULAN's example-based F-measure, used by SPEN (Belanger
    & McCallum 2016) and InfNet (Tu & Gimpel 2018); scikit-learn
    (``zero_division=0``) and DVN (Gygli et al. 2017) count such an example 0.

    Args:
      y_true, y_pred: ``(n, k)`` 0/1 arrays.

    Returns:
      A float in [0, 1].

    Example:
      >>> from fenchel.multilabel.metrics import example_f1, example_f1_mulan
      >>> y_true, y_pred = [[1, 0], [0, 0]], [[1, 1], [0, 0]]
      >>> example_f1(y_true, y_pred), example_f1_mulan(y_true, y_pred)
      (0.3333333333333333, 0.8333333333333333)
    """
    return example_f1(y_true, y_pred, zero_division=1.0)


def micro_f1(y_true, y_pred, zero_division: float = 0.0) -> float:
    """Micro-averaged F1: F1 of the counts pooled over all labels.

    .. math:: \\frac{2 \\sum_j TP_j}{\\sum_j (2 TP_j + FP_j + FN_j)}

    Example:
      >>> from fenchel.multilabel.metrics import micro_f1
      >>> micro_f1([[1, 0], [0, 1]], [[1, 1], [0, 0]])
      0.5
    """
    y_true, y_pred = _check(y_true, y_pred)
    tp = np.sum(y_true & y_pred)
    fp = np.sum(~y_true & y_pred)
    fn = np.sum(y_true & ~y_pred)
    return float(_f1(tp, fp, fn, zero_division))


def macro_f1(y_true, y_pred, zero_division: float = 0.0) -> float:
    """Macro-averaged F1: the mean over labels of each label's F1.

    .. math:: \\frac1k \\sum_j \\frac{2 TP_j}{2 TP_j + FP_j + FN_j}

    Example:
      >>> from fenchel.multilabel.metrics import macro_f1
      >>> macro_f1([[1, 0], [0, 1]], [[1, 1], [0, 0]])
      0.5
    """
    y_true, y_pred = _check(y_true, y_pred)
    tp = np.sum(y_true & y_pred, axis=0)
    fp = np.sum(~y_true & y_pred, axis=0)
    fn = np.sum(y_true & ~y_pred, axis=0)
    return float(np.mean(_f1(tp, fp, fn, zero_division)))


def subset_accuracy(y_true, y_pred) -> float:
    """Subset (exact-match) accuracy: the share of examples with ``Ŷ_i = Y_i``.

    .. math:: \\frac1n \\sum_i [Y_i = Ŷ_i]

    Example:
      >>> from fenchel.multilabel.metrics import subset_accuracy
      >>> subset_accuracy([[1, 0], [0, 1]], [[1, 0], [0, 0]])
      0.5
    """
    y_true, y_pred = _check(y_true, y_pred)
    return float(np.mean(np.all(y_true == y_pred, axis=1)))


def all_metrics(y_true, y_pred) -> dict[str, float]:
    """Every metric of :data:`METRICS`, as a dict: micro and macro F1 with
    ``zero_division=0``, example F1 under both conventions (``example_f1``:
    scikit-learn's, ``example_f1_mulan``: MULAN's).

    Example:
      >>> from fenchel.multilabel.metrics import all_metrics
      >>> scores = all_metrics([[1, 0], [0, 0]], [[1, 0], [0, 0]])
      >>> scores["example_f1"], scores["example_f1_mulan"]
      (0.5, 1.0)
    """
    return {name: globals()[name](y_true, y_pred) for name in METRICS}


def decode(y_relaxed, threshold: float = 0.5) -> np.ndarray:
    """Round a relaxed prediction ``ŷ ∈ [0, 1]^{n×k}``: ``[ŷ_ij > threshold]``.

    Args:
      y_relaxed: ``(n, k)`` values in [0, 1].
      threshold: the cut, in [0, 1).

    Returns:
      ``(n, k)`` int8 0/1 array.

    Example:
      >>> from fenchel.multilabel.metrics import decode
      >>> decode([[0.2, 0.7]]).tolist()
      [[0, 1]]
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold!r}")
    return (np.asarray(y_relaxed) > threshold).astype(np.int8)


def decode_expected_f1(y_relaxed) -> np.ndarray:
    """Plug-in F1 decoding: each example's ``m`` highest-scoring labels, ``m`` chosen
    per example to maximize an estimate of its expected F1.

    Read ``ŷ ∈ [0, 1]^k`` as label marginals, ``ŷ_(1) ≥ ŷ_(2) ≥ …`` sorted. The
    expected F1 of predicting the top ``m`` labels is estimated by the ratio of
    expectations (the expected overlap over the expected denominator)

    .. math:: \\hat F(m) = \\frac{2 \\sum_{j ≤ m} ŷ_{(j)}}{m + \\sum_{j=1}^{k} ŷ_j},
              \\qquad m^\\star = \\arg\\max_{1 ≤ m ≤ k} \\hat F(m),

    and the top ``m*`` labels are predicted. Unlike a threshold, the number of
    labels adapts to each example's spread of scores, and it has no parameter to
    tune. At least one label is predicted: under scikit-learn's convention an
    empty prediction scores 0. It is only as good as ``ŷ`` is calibrated: for
    scores far from marginals (e.g. many labels at 0.3 on an example with two) it
    predicts far too many labels; select it on validation data like any decoding.
    Ties in ``F̂`` go to the smaller ``m``; ties in ``ŷ`` to the lower label index.

    Args:
      y_relaxed: ``(n, k)`` values in [0, 1].

    Returns:
      ``(n, k)`` int8 0/1 array, at least one 1 per row.

    Example:
      >>> from fenchel.multilabel.metrics import decode_expected_f1
      >>> decode_expected_f1([[0.9, 0.6, 0.1], [0.3, 0.2, 0.25]]).tolist()
      [[1, 1, 0], [1, 0, 1]]
    """
    scores = np.asarray(y_relaxed, np.float64)
    if scores.ndim != 2 or scores.shape[1] < 1:
        raise ValueError(f"y_relaxed must be an (n, k) array with k >= 1, got shape "
                         f"{scores.shape}")
    if not (np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()):
        raise ValueError("y_relaxed must hold values in [0, 1] (relaxed predictions)")
    order = np.argsort(-scores, axis=1, kind="stable")
    sorted_scores = np.take_along_axis(scores, order, axis=1)
    sizes = np.arange(1, scores.shape[1] + 1)
    estimate = 2 * np.cumsum(sorted_scores, axis=1) / (sizes + scores.sum(1, keepdims=True))
    count = np.argmax(estimate, axis=1) + 1  # first maximum: the smaller m
    chosen = sizes[None, :] <= count[:, None]  # in sorted order
    decoded = np.zeros(scores.shape, np.int8)
    np.put_along_axis(decoded, order, chosen.astype(np.int8), axis=1)
    return decoded


def tune_threshold(y_true, y_relaxed, metric: str = "example_f1",
                   candidates=None) -> float:
    """The decoding threshold that maximizes ``metric`` on (validation) data.

    Ties go to the candidate closest to 0.5.

    Args:
      y_true: ``(n, k)`` 0/1 labels.
      y_relaxed: ``(n, k)`` relaxed predictions in [0, 1].
      metric: a name from :data:`METRICS` (``"example_f1_mulan"`` included).
      candidates: thresholds to try (default 0.05, 0.10, ..., 0.95).

    Returns:
      The best threshold.

    Example:
      >>> from fenchel.multilabel.metrics import tune_threshold
      >>> tune_threshold([[1, 0]], [[0.3, 0.1]], candidates=[0.2, 0.5])
      0.2
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if len(y_true) == 0:
        raise ValueError("no rows to tune the threshold on (an empty validation split?)")
    candidates = np.round(np.arange(0.05, 0.96, 0.05), 2) if candidates is None else candidates
    candidates = sorted((float(c) for c in candidates), key=lambda c: abs(c - 0.5))
    scores = [globals()[metric](y_true, decode(y_relaxed, c)) for c in candidates]
    return candidates[int(np.argmax(scores))]


__all__ = ["METRICS", "hamming_accuracy", "example_f1", "example_f1_mulan", "micro_f1",
           "macro_f1", "subset_accuracy", "all_metrics", "decode", "decode_expected_f1",
           "tune_threshold", "SELECTION_METRICS",
           "check_select_by"]
