"""Methods, one cross-validation fold, and the whole repeated cross-validation.

:func:`run_fold` is the unit of work (one data set, one method, one fold of one
repeat): it standardizes with the training folds' statistics, picks the configuration
with the best Kendall τ on an inner validation split of the training folds, refits it on
all the training folds and returns a dict of test metrics. :func:`cross_validate` runs
every fold and aggregates; a grid runner calls :func:`run_fold` directly.

Methods (:data:`METHODS`): every head of :data:`fenchel.label_ranking.models.HEADS`,
trained by :func:`fenchel.training.train` (AdamW, early stopping on the validation τ;
the refit trains for the chosen number of steps), and ``knn``, the k-nearest-neighbour
Borda ranker (scikit-learn; the neighbours' rank vectors are summed and sorted).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from typing import Any, Callable, Mapping, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fenchel.label_ranking.data import LabelRankingData
from fenchel.label_ranking.metrics import kendall_tau, scores_to_ranks, spearman_rho
from fenchel.label_ranking.models import HEADS, Head, feature_map, init_feature_map
from fenchel.label_ranking.protocol import Fold, cv_folds, inner_split, standardizer


@dataclasses.dataclass(frozen=True)
class Settings:
    """The fixed (not tuned) settings of a run.

    Budgets count optimizer steps, not epochs, so that a small data set gets as many
    updates as a large one (ten-fold training sets range from 135 to 37,000 examples).

    Attributes:
      max_steps: step budget of a selection fit (early stopping may end it sooner).
      eval_every: steps between two validation evaluations of a selection fit.
      patience: evaluations without a better validation τ before a selection fit stops.
      batch_size: minibatch size (capped at the number of training examples).
      validation_fraction: share of the training folds held out to choose the
        configuration and the number of steps.
    """

    max_steps: int = 2000
    eval_every: int = 25
    patience: int = 12
    batch_size: int = 64
    validation_fraction: float = 0.2

    def __post_init__(self):
        for name in ("max_steps", "eval_every", "patience", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got "
                             f"{self.validation_fraction!r}")


class Fitted(NamedTuple):
    """A trained model: ``predict(x) -> (n, k) ranks`` and what the fit reports
    (``steps``: the steps a refit should train for, when the method trains)."""

    predict: Callable[[np.ndarray], np.ndarray]
    info: Mapping[str, Any]


class Method(Protocol):
    """What :func:`run_fold` needs of a method."""

    name: str
    grid: Mapping[str, tuple]

    def fit(self, config: Mapping[str, Any], x: np.ndarray, ranks: np.ndarray, key: jax.Array,
            settings: Settings, validation: tuple[np.ndarray, np.ndarray] | None = None
            ) -> Fitted:
        """Train on ``(x, ranks)``; with ``validation``, early-stop on it."""


def configurations(grid: Mapping[str, tuple]) -> list[dict[str, Any]]:
    """Every combination of a grid ``{name: values}``, in the grid's order.

    Example:
      >>> from fenchel.label_ranking.experiment import configurations
      >>> configurations({"hidden": (0, 32), "weight_decay": (1e-4,)})
      [{'hidden': 0, 'weight_decay': 0.0001}, {'hidden': 32, 'weight_decay': 0.0001}]
    """
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*grid.values())]


def mean_tau(true_ranks: np.ndarray, predicted_ranks: np.ndarray) -> float:
    """Kendall's τ averaged over examples."""
    return float(np.mean(kendall_tau(true_ranks, predicted_ranks)))


# --- trained networks ------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _loss_fn(head: Head) -> Callable:
    # One function object per head: fenchel.training caches the compiled step on it, so
    # every fold and repeat of a configuration reuses one compilation.
    def loss_fn(params, batch, key):
        outputs = feature_map(params["net"], batch["x"])
        return jnp.mean(head.loss(outputs, params["extra"], batch["y"], key))

    return loss_fn


@functools.lru_cache(maxsize=None)
def _optimizer(learning_rate: float, weight_decay: float) -> optax.GradientTransformation:
    return optax.adamw(learning_rate, weight_decay=weight_decay)


@functools.lru_cache(maxsize=None)
def _score_fn(head: Head) -> Callable:
    return jax.jit(lambda params, x: head.scores(feature_map(params["net"], x), params["extra"]))


def predict_ranks(head: Head, params, x: np.ndarray) -> np.ndarray:
    """The rankings a trained network gives to ``x: (n, d)``."""
    return head.ranks(np.asarray(_score_fn(head)(params, jnp.asarray(x, jnp.float32))))


@dataclasses.dataclass(frozen=True)
class NetworkMethod:
    """A feature map and a head, trained with :func:`fenchel.training.train`."""

    head: Head
    grid: Mapping[str, tuple] = dataclasses.field(default_factory=lambda: {
        "hidden": (0, 64), "learning_rate": (1e-2,), "weight_decay": (1e-4, 1e-2)})

    @property
    def name(self) -> str:
        return self.head.name

    def fit(self, config, x, ranks, key, settings, validation=None):
        from fenchel.training import train

        n, k = ranks.shape
        key_net, key_extra, key_train = jax.random.split(key, 3)
        params = {"net": init_feature_map(key_net, x.shape[1], self.head.n_outputs(k),
                                          int(config["hidden"])),
                  "extra": self.head.init_extra(key_extra, k)}
        batch_size = min(settings.batch_size, n)
        eval_fn = None
        if validation is not None:
            x_val, ranks_val = validation

            def eval_fn(p):
                return mean_tau(ranks_val, predict_ranks(self.head, p, x_val))

        result = train(_loss_fn(self.head), params,
                       _optimizer(float(config["learning_rate"]), float(config["weight_decay"])),
                       {"x": np.asarray(x, np.float32), "y": self.head.targets(ranks)},
                       batch_size=batch_size, key=key_train,
                       num_steps=int(config.get("steps", settings.max_steps)),
                       eval_fn=eval_fn, eval_every=settings.eval_every,
                       patience=settings.patience if eval_fn else None, progress=False)
        loss = result.history["loss"][-1] if result.history["loss"] else float("nan")
        return Fitted(functools.partial(predict_ranks, self.head, result.best_params),
                      {"steps": int(result.best_step or result.steps), "final_loss": float(loss)})


# --- k nearest neighbours --------------------------------------------------------------

def borda_ranks(neighbour_ranks: np.ndarray) -> np.ndarray:
    """Borda aggregation: sort the labels by the sum of their ranks over the neighbours
    (smallest sum first; ties by label index). ``(n, m, k)`` → ``(n, k)``.

    Example:
      >>> import numpy as np
      >>> from fenchel.label_ranking.experiment import borda_ranks
      >>> borda_ranks(np.array([[[1, 2, 3], [2, 1, 3], [1, 3, 2]]])).tolist()
      [[1, 2, 3]]
    """
    return scores_to_ranks(-np.sum(neighbour_ranks, axis=-2, dtype=np.float64))


@dataclasses.dataclass(frozen=True)
class KNNBorda:
    """k-nearest-neighbour Borda ranker on (standardized) features, Euclidean distance."""

    grid: Mapping[str, tuple] = dataclasses.field(
        default_factory=lambda: {"n_neighbors": (5, 10, 20, 50)})
    name = "knn"

    def fit(self, config, x, ranks, key, settings, validation=None):
        from sklearn.neighbors import NearestNeighbors

        neighbours = NearestNeighbors(n_neighbors=min(int(config["n_neighbors"]), len(x)))
        neighbours.fit(x)

        def predict(x_new):
            index = neighbours.kneighbors(np.asarray(x_new), return_distance=False)
            return borda_ranks(ranks[index])

        return Fitted(predict, {})


METHODS: dict[str, Method] = {name: NetworkMethod(head) for name, head in HEADS.items()}
METHODS["knn"] = KNNBorda()
"""Every method by name: the trained heads and the ``knn`` baseline."""


def get_method(name: str) -> Method:
    """The method called ``name`` (one of :data:`METHODS`).

    Example:
      >>> from fenchel.label_ranking.experiment import get_method
      >>> get_method("knn").name
      'knn'
    """
    if name not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {name!r}")
    return METHODS[name]


# --- one fold, all folds ---------------------------------------------------------------

def _key(seed: int, repeat: int, fold: int) -> jax.Array:
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), repeat), fold)


def run_fold(data: LabelRankingData, method: str | Method, fold: Fold, *, seed: int = 0,
             settings: Settings | None = None, grid: Mapping[str, tuple] | None = None
             ) -> dict[str, Any]:
    """Select, refit and test one method on one fold.

    1. Standardize with the training folds' mean and standard deviation.
    2. Split the training folds (:func:`~fenchel.label_ranking.protocol.inner_split`,
       seed ``(seed, repeat, fold)``); fit every configuration of the grid on the fit
       part, early-stopping on the validation part's Kendall τ.
    3. Refit the configuration with the best validation τ (the first on ties) on all
       the training folds, for the steps its selection fit chose.
    4. Score the test fold.

    Args:
      data: the data set.
      method: a name of :data:`METHODS` or a :class:`Method`.
      fold: a :class:`~fenchel.label_ranking.protocol.Fold` of ``data``.
      seed: seed of the inner split and of the initializations.
      settings: fixed settings (default :class:`Settings`).
      grid: ``{name: values}`` of the candidate configurations (default: the method's).

    Returns:
      ``{"repeat", "fold", "n_test", "kendall_tau", "spearman"`` (means over the test
      examples), ``"config"`` (the chosen one, with the refit's ``steps`` for trained
      methods), ``"validation_kendall_tau"``, ``"candidates"`` (each configuration's
      validation τ), ``"seconds"}``.

    Example:
      Skipped in the doctests: it reads the data.

      >>> from fenchel.label_ranking import cv_folds, load_dataset, run_fold
      >>> data = load_dataset("iris")  # doctest: +SKIP
      >>> fold = cv_folds(data.n_examples, 10, 1, seed=0)[0]  # doctest: +SKIP
      >>> run_fold(data, "knn", fold)["kendall_tau"]  # doctest: +SKIP
      0.93...
    """
    start = time.perf_counter()
    method = get_method(method) if isinstance(method, str) else method
    settings = settings or Settings()
    grid = dict(method.grid if grid is None else grid)
    if np.intersect1d(fold.train, fold.test).size:
        raise ValueError("fold.train and fold.test must be disjoint")
    mean, scale = standardizer(data.x[fold.train])
    x = ((data.x - mean) / scale).astype(np.float32)
    fit_rows, val_rows = inner_split(fold.train, settings.validation_fraction,
                                     (seed, fold.repeat, fold.fold))
    key = _key(seed, fold.repeat, fold.fold)

    candidates = []
    for config in configurations(grid):
        fitted = method.fit(config, x[fit_rows], data.ranks[fit_rows], key, settings,
                            validation=(x[val_rows], data.ranks[val_rows]))
        tau = mean_tau(data.ranks[val_rows], fitted.predict(x[val_rows]))
        candidates.append({"config": config, "validation_kendall_tau": tau, **fitted.info})
    best = max(candidates, key=lambda c: c["validation_kendall_tau"])  # first on ties
    chosen = dict(best["config"])
    if "steps" in best:
        chosen["steps"] = best["steps"]
    fitted = method.fit(chosen, x[fold.train], data.ranks[fold.train], key, settings)
    predicted = fitted.predict(x[fold.test])
    truth = data.ranks[fold.test]
    return {
        "repeat": fold.repeat,
        "fold": fold.fold,
        "n_test": len(fold.test),
        "kendall_tau": mean_tau(truth, predicted),
        "spearman": float(np.mean(spearman_rho(truth, predicted))),
        "config": chosen,
        "validation_kendall_tau": best["validation_kendall_tau"],
        "candidates": candidates,
        "seconds": time.perf_counter() - start,
    }


def summarize(folds: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate per-fold results: ``kendall_tau`` and ``spearman`` are means over all
    test examples of all folds (each fold weighted by its size), ``kendall_tau_std`` and
    ``spearman_std`` the standard deviations of the per-fold means.

    Example:
      >>> from fenchel.label_ranking.experiment import summarize
      >>> out = summarize([{"n_test": 1, "kendall_tau": 1.0, "spearman": 1.0},
      ...                  {"n_test": 3, "kendall_tau": 0.0, "spearman": 0.0}])
      >>> out["kendall_tau"], out["kendall_tau_std"]
      (0.25, 0.5)
    """
    if not folds:
        raise ValueError("folds must hold at least one fold result, got none")
    sizes = np.array([f["n_test"] for f in folds], np.float64)
    summary = {}
    for metric in ("kendall_tau", "spearman"):
        values = np.array([f[metric] for f in folds], np.float64)
        summary[metric] = float(np.sum(values * sizes) / np.sum(sizes))
        summary[f"{metric}_std"] = float(np.std(values))
    return summary


def cross_validate(data: LabelRankingData, method: str | Method, *, n_folds: int = 10,
                   n_repeats: int = 5, seed: int = 0, settings: Settings | None = None,
                   grid: Mapping[str, tuple] | None = None,
                   progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Repeated cross-validation of one method on one data set (:func:`run_fold` on every
    fold of :func:`~fenchel.label_ranking.protocol.cv_folds`).

    Returns:
      :func:`summarize`'s metrics plus ``dataset``, ``method``, ``n_folds``,
      ``n_repeats``, ``seed``, ``settings``, ``folds`` (every :func:`run_fold` result),
      ``configs`` (the configuration chosen in each fold) and ``seconds``.
    """
    start = time.perf_counter()
    method = get_method(method) if isinstance(method, str) else method
    settings = settings or Settings()
    results = []
    for fold in cv_folds(data.n_examples, n_folds, n_repeats, seed):
        results.append(run_fold(data, method, fold, seed=seed, settings=settings, grid=grid))
        if progress is not None:
            progress(results[-1])
    return {"dataset": data.name, "method": method.name, "n_folds": n_folds,
            "n_repeats": n_repeats, "seed": seed, "settings": dataclasses.asdict(settings),
            "grid": {name: list(values) for name, values in
                     (method.grid if grid is None else grid).items()},
            **summarize(results), "folds": results,
            "configs": [r["config"] for r in results],
            "seconds": time.perf_counter() - start}


__all__ = ["Settings", "Fitted", "Method", "NetworkMethod", "KNNBorda", "METHODS",
           "get_method", "configurations", "borda_ranks", "mean_tau", "predict_ranks",
           "run_fold", "summarize", "cross_validate"]
