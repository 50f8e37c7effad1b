"""Multi-label classification with energy networks trained by GFY losses.

Modules: :mod:`~fenchel.multilabel.models` (energy networks),
:mod:`~fenchel.multilabel.losses` (training losses, inference),
:mod:`~fenchel.multilabel.metrics`, :mod:`~fenchel.multilabel.train`
(training, search, evaluation), :mod:`~fenchel.multilabel.estimator`
(scikit-learn estimator), :mod:`~fenchel.multilabel.reproduce` (experiment
grid), :mod:`~fenchel.multilabel.calibration` (the calibration experiment on
synthetic data) and :mod:`~fenchel.multilabel.cli`.
"""

from __future__ import annotations

from fenchel.multilabel import losses, metrics, models, train
from fenchel.multilabel.losses import LOSSES, REGULARIZERS, Method
from fenchel.multilabel.models import ENERGIES, EnergyNetwork, energy_spec
from fenchel.multilabel.train import Config, config_grid, fit, run_experiment

__all__ = ["losses", "metrics", "models", "train", "LOSSES", "REGULARIZERS", "ENERGIES",
           "Method", "EnergyNetwork", "energy_spec", "Config", "config_grid", "fit",
           "run_experiment"]
