"""Case ``training``: throughput of the multi-label trainer (examples per second) on yeast.

Times :func:`fenchel.multilabel.train.fit`, the trainer behind ``fenchel
multilabel`` and ``fenchel reproduce multilabel``, for a fixed number of
epochs (``validation=None``: no early stopping, no validation pass), on
yeast's training split. Every method is timed after a warm-up ``fit`` that
compiles its jitted epoch (a ``lax.scan`` over the minibatches), so the
figure is steady-state training: the inner maximization, the loss, its
gradient and the AdamW update of every step, plus the per-epoch shuffling
and host-to-device copies. The reference is ``unary-bce`` (closed-form
sigmoid cross-entropy, no inner solver): the ratio says what the energy and
its loss cost per example.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from fenchel.bench.results import CaseResult
from fenchel.bench.timing import time_python

REFERENCE = "unary-bce"
_RATIO = f"vs_{REFERENCE.replace('-', '_')}"  # the column of throughput / the reference's


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Sizes of the ``training`` case.

    Attributes:
      dataset: a MULAN name for :func:`fenchel.datasets.load_dataset`, or
        ``"synthetic"`` (random data of ``synthetic_shape``; no files needed).
      data_dir: data folder (default: ``FENCHEL_DATA`` / the datasets default).
      methods: multi-label method names (``energy-loss[-reg]``); the first
        should be :data:`REFERENCE`.
      hidden: hidden widths of the feature map to time.
      batch: minibatch size.
      epochs: epochs per timed ``fit``.
      reps: timed ``fit`` calls (median).
      max_seconds: time budget per method (fewer reps beyond it).
      synthetic_shape: ``(n, d, k)`` of the synthetic data.
    """

    dataset: str = "yeast"
    data_dir: str | None = None
    methods: tuple[str, ...] = (REFERENCE, "unary-gfy-squared", "pairwise-gfy-entropy",
                                "pairwise-gfy-squared", "pairwise-perceptron", "pairwise-hinge",
                                "pairwise-unrolled-entropy", "pairwise-implicit-entropy",
                                "global-gfy-entropy")
    hidden: tuple[int, ...] = (0, 512)
    batch: int = 64
    epochs: int = 5
    reps: int = 3
    max_seconds: float = 20.0
    synthetic_shape: tuple[int, int, int] = (64, 5, 3)


QUICK = TrainingConfig(dataset="synthetic", batch=16, epochs=1, reps=1, hidden=(0,),
                       methods=(REFERENCE, "pairwise-gfy-entropy"))


def load_training_data(config: TrainingConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` training arrays: the dataset's training split, or synthetic data."""
    if config.dataset == "synthetic":
        n, d, k = config.synthetic_shape
        rng = np.random.default_rng(0)
        x = rng.normal(size=(n, d)).astype(np.float32)
        y = (rng.random((n, k)) < 0.3).astype(np.float32)
        return x, y
    from fenchel.datasets import load_dataset  # only this case needs the data files
    data = load_dataset(config.dataset, config.data_dir, seed=0, download=False)
    return data.train.x, data.train.y


def run(config: TrainingConfig = TrainingConfig(), log: Callable[[str], None] = print) -> CaseResult:
    """One row per (hidden, method): examples per second over whole epochs of ``fit``."""
    from fenchel.multilabel.losses import Method
    from fenchel.multilabel.train import Config, MultilabelSplitLike, fit

    x, y = load_training_data(config)
    train = MultilabelSplitLike(x, y)
    n, d = x.shape
    k = y.shape[1]
    batch = min(config.batch, n)
    examples = config.epochs * (n // batch) * batch  # fit drops the ragged last batch
    result = CaseResult(
        name="training",
        title=(f"fenchel.multilabel trainer on {config.dataset} (n={n}, d={d}, k={k}), AdamW, "
               f"batch {batch}, {config.epochs} epochs per fit; ratio against {REFERENCE}"),
        columns=["hidden", "method", "examples_per_s", _RATIO,
                 "ms_per_epoch", "final_loss", "compile_s", "reps"])
    for hidden in config.hidden:
        reference = None
        for name in config.methods:
            method = Method.from_name(name)
            run_config = Config(hidden=hidden, batch_size=batch, max_epochs=config.epochs,
                                learning_rate=3e-3, reg_scale=1.0)
            train_once = lambda: fit(method, run_config, train, None, seed=0)
            start = time.perf_counter()
            train_once()  # warm-up: compiles the epoch
            compile_s = time.perf_counter() - start
            seconds, reps, trained = time_python(train_once, reps=config.reps,
                                                 max_seconds=config.max_seconds)
            throughput = examples / seconds
            if name == REFERENCE:
                reference = throughput
            row = {"hidden": hidden, "method": name, "examples_per_s": throughput,
                   _RATIO: None if reference is None else throughput / reference,
                   "ms_per_epoch": 1e3 * seconds / config.epochs,
                   "final_loss": float(trained.history[-1][0]), "compile_s": compile_s,
                   "reps": reps, "batch": batch, "epochs": config.epochs}
            result.rows.append(row)
            log(f"training hidden={hidden} {name}: {throughput:.3g} ex/s, "
                f"{row['ms_per_epoch']:.3g} ms/epoch")
    return result


__all__ = ["REFERENCE", "TrainingConfig", "QUICK", "load_training_data", "run"]
