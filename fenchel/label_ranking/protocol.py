"""The evaluation protocol: repeated, seeded k-fold cross-validation and inner validation.

Cheng et al. (2009) and Korba et al. (2018) report ten-fold cross-validation repeated
five times. Repeat ``r`` shuffles the examples with ``np.random.default_rng([seed, r])``
and cuts the permutation into ``n_folds`` contiguous parts of sizes differing by at most
one (``np.array_split``); fold ``f`` of repeat ``r`` tests on part ``f`` and trains on the
others. Within a repeat every example is tested exactly once.

Hyper-parameters are chosen on an :func:`inner_split` of the training folds (never on the
test fold), and features are standardized with the training folds' statistics only
(:func:`standardizer`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Fold(NamedTuple):
    """One train/test split of a repeated cross-validation.

    Attributes:
      repeat: index of the repetition, ``0 <= repeat < n_repeats``.
      fold: index of the fold within it, ``0 <= fold < n_folds``.
      train: sorted int64 indices of the training examples.
      test: sorted int64 indices of the test examples.
    """

    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray


def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_seed(seed) -> int | tuple[int, ...]:
    """An integer seed >= 0, or a tuple of them (e.g. ``(seed, repeat, fold)``)."""
    words = seed if isinstance(seed, tuple) else (seed,)
    if not words or any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 0
                        for w in words):
        raise ValueError(f"seed must be an integer >= 0 or a tuple of them, got {seed!r}")
    return tuple(int(w) for w in words) if isinstance(seed, tuple) else int(seed)


def repeat_parts(n: int, n_folds: int, repeat: int, seed: int) -> list[np.ndarray]:
    """The ``n_folds`` test parts of repeat ``repeat``: a partition of ``range(n)``."""
    permutation = np.random.default_rng([seed, repeat]).permutation(n)
    return [np.sort(part) for part in np.array_split(permutation, n_folds)]


def cv_folds(n: int, n_folds: int = 10, n_repeats: int = 5, seed: int = 0) -> list[Fold]:
    """All folds of ``n_repeats`` × ``n_folds``-fold cross-validation, seeded.

    Within each repeat the test parts are disjoint and cover ``range(n)``; their sizes
    differ by at most one; train is the complement of test.

    Args:
      n: number of examples, ``n >= n_folds``.
      n_folds: folds per repeat, ``>= 2``.
      n_repeats: repetitions, ``>= 1``, each with its own shuffle.
      seed: integer ``>= 0``; the same seed gives the same folds on every machine.

    Returns:
      ``n_repeats * n_folds`` :class:`Fold` records, repeat-major.

    Raises:
      ValueError: naming the argument, when a count or the seed is out of range.

    Example:
      >>> from fenchel.label_ranking.protocol import cv_folds
      >>> folds = cv_folds(10, n_folds=5, n_repeats=2, seed=0)
      >>> len(folds), [len(f.test) for f in folds[:5]]
      (10, [2, 2, 2, 2, 2])
    """
    n_folds = _check_count("n_folds", n_folds, 2)
    n_repeats = _check_count("n_repeats", n_repeats, 1)
    n = _check_count("n", n, 1)
    seed = _check_count("seed", seed, 0)
    if n < n_folds:
        raise ValueError(f"n_folds must be at most the number of examples ({n}), got {n_folds}")
    everything = np.arange(n)
    folds = []
    for repeat in range(n_repeats):
        for fold, test in enumerate(repeat_parts(n, n_folds, repeat, seed)):
            folds.append(Fold(repeat, fold, np.setdiff1d(everything, test), test))
    return folds


def inner_split(train: np.ndarray, validation_fraction: float,
                seed: int | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Splits training indices into fit and validation indices, seeded.

    ``max(1, round(validation_fraction * len(train)))`` of them, drawn by
    ``np.random.default_rng(seed)``, go to validation; both parts are returned sorted.

    Args:
      train: (m,) indices, ``m >= 2``.
      validation_fraction: in (0, 1).
      seed: integer ``>= 0``, or a tuple of them such as ``(seed, repeat, fold)``.

    Returns:
      ``(fit, validation)``, disjoint, their union ``train``.

    Example:
      >>> import numpy as np
      >>> from fenchel.label_ranking.protocol import inner_split
      >>> fit, validation = inner_split(np.arange(10), 0.2, seed=0)
      >>> len(fit), len(validation)
      (8, 2)
    """
    train = np.asarray(train)
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction!r}")
    if train.ndim != 1 or len(train) < 2:
        raise ValueError(f"train must be at least two indices, got shape {train.shape}")
    seed = _check_seed(seed)
    n_validation = min(len(train) - 1, max(1, int(round(validation_fraction * len(train)))))
    permutation = np.random.default_rng(list(np.atleast_1d(seed))).permutation(len(train))
    return np.sort(train[permutation[n_validation:]]), np.sort(train[permutation[:n_validation]])


def standardizer(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, scale)`` of the columns of ``x``, for ``(x' − mean) / scale``.

    Constant columns (standard deviation 0 up to rounding) get scale 1: they are
    centred, not blown up.

    Example:
      >>> import numpy as np
      >>> from fenchel.label_ranking.protocol import standardizer
      >>> mean, scale = standardizer(np.array([[0.0, 1.0], [2.0, 1.0]]))
      >>> mean.tolist(), scale.tolist()
      ([1.0, 1.0], [1.0, 1.0])
    """
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    scale = np.where(std > 1e-12 * (1.0 + np.abs(mean)), std, 1.0)
    return mean, scale


__all__ = ["Fold", "cv_folds", "repeat_parts", "inner_split", "standardizer"]
