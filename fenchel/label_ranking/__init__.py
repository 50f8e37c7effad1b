"""Label ranking: predict a ranking of k labels from features (Cheng, Hühn and
Hüllermeier's 15 benchmarks), with Fenchel-Young losses on the permutahedron and the
Birkhoff polytope.

* :mod:`~fenchel.label_ranking.data` — the CSV loader (names under
  ``$FENCHEL_LABEL_RANKING_DATA``, or a path), checked line by line and by sha256.
* :mod:`~fenchel.label_ranking.metrics` — Kendall's τ and Spearman's ρ per example.
* :mod:`~fenchel.label_ranking.protocol` — repeated seeded k-fold cross-validation and
  the inner validation split.
* :mod:`~fenchel.label_ranking.models` — the feature map and the ranking heads.
* :mod:`~fenchel.label_ranking.experiment` — the methods, one fold (:func:`run_fold`,
  the unit a grid runner calls) and the whole cross-validation.
* :mod:`~fenchel.label_ranking.cli` — ``fenchel label-ranking``.
"""

from fenchel.label_ranking.data import LabelRankingData, list_datasets, load_dataset, read_csv
from fenchel.label_ranking.experiment import (METHODS, KNNBorda, NetworkMethod, Settings,
                                              cross_validate, get_method, run_fold, summarize)
from fenchel.label_ranking.metrics import kendall_tau, ranking_metrics, scores_to_ranks, spearman_rho
from fenchel.label_ranking.protocol import Fold, cv_folds, inner_split

__all__ = ["LabelRankingData", "list_datasets", "load_dataset", "read_csv", "METHODS",
           "KNNBorda", "NetworkMethod", "Settings", "cross_validate", "get_method", "run_fold",
           "summarize", "kendall_tau", "ranking_metrics", "scores_to_ranks", "spearman_rho",
           "Fold", "cv_folds", "inner_split"]
