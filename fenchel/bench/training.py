"""Case ``training``: throughput of the multi-label trainer (examples per second) on yeast.

Times :func:`fenchel.multilabel.train.fit`, the trainer behind ``fenchel
multilabel`` and ``fenchel reproduce multilabel``, for a fixed number of
epochs (``validation=None``: no early stopping, no validation pass), on
yeast's training split (and, in the ``device`` preset, bibtex's too when its
files are in the data folder). Every method is timed after a warm-up ``fit`` that
compiles its jitted epoch (a ``lax.scan`` over the minibatches), so the
figure is steady-state training: the inner maximization, the loss, its
gradient and the AdamW update of every step, plus the per-epoch shuffling
and host-to-device copies. The reference is ``unary-bce`` (closed-form
sigmoid cross-entropy, no inner solver): the ratio says what the energy and
its loss cost per example, on the same dataset and feature map.

Shapes: a dataset's training split is ``x (n, d)``, ``y (n, k)`` in {0, 1};
``fit`` drops the ragged last minibatch, so an epoch trains on
``(n // batch) * batch`` examples and throughput is that times the epochs over
the seconds of one ``fit``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from fenchel.bench.results import CaseResult

REFERENCE = "unary-bce"
_RATIO = f"vs_{REFERENCE.replace('-', '_')}"  # the column of throughput / the reference's


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Sizes of the ``training`` case.

    Attributes:
      dataset: a MULAN name for :func:`fenchel.datasets.load_dataset`, or
        ``"synthetic"`` (random data of ``synthetic_shape``; no files needed).
        Its files must be in the data folder (``fenchel bench`` checks before
        the first case).
      optional_datasets: more MULAN names, each run after ``dataset`` when its
        files are in the data folder and skipped with a note otherwise.
      data_dir: data folder (default: ``FENCHEL_DATA`` / the datasets default).
      methods: multi-label method names (``energy-loss[-reg]``); the first
        should be :data:`REFERENCE`.
      hidden: hidden widths of the feature map to time.
      batch: minibatch size.
      epochs: epochs per timed ``fit``.
      reps: timed ``fit`` calls (median).
      max_seconds: time budget per method (fewer reps beyond it).
      synthetic_shape: ``(n, d, k)`` of the synthetic data.
      cold_methods: methods also timed without warm starts (``warm_start=False``:
        every solve from the centre of the box), beside the default warm-started row.
    """

    dataset: str = "yeast"
    optional_datasets: tuple[str, ...] = ()
    data_dir: str | None = None
    methods: tuple[str, ...] = (REFERENCE, "unary-gfy-squared", "pairwise-gfy-entropy",
                                "pairwise-gfy-squared", "pairwise-perceptron", "pairwise-hinge",
                                "pairwise-unrolled-entropy", "pairwise-implicit-entropy",
                                "global-gfy-entropy")
    hidden: tuple[int, ...] = (0, 512)
    batch: int = 64
    epochs: int = 5
    reps: int = 5
    max_seconds: float = 20.0
    synthetic_shape: tuple[int, int, int] = (64, 5, 3)
    cold_methods: tuple[str, ...] = ("pairwise-gfy-entropy", "pairwise-gfy-squared")


QUICK = TrainingConfig(dataset="synthetic", batch=16, epochs=1, reps=1, hidden=(0,),
                       methods=(REFERENCE, "pairwise-gfy-entropy"),
                       cold_methods=("pairwise-gfy-entropy",))

# An accelerator: a larger minibatch and more epochs per fit (an epoch of yeast is then
# one step), one feature map, the methods that compare GFY with its alternatives, and
# bibtex (k = 159) where its files are present.
DEVICE = TrainingConfig(dataset="yeast", optional_datasets=("bibtex",), batch=1024, epochs=20,
                        hidden=(512,), reps=3, max_seconds=5.0,
                        methods=(REFERENCE, "pairwise-gfy-entropy", "pairwise-gfy-squared",
                                 "pairwise-unrolled-entropy", "pairwise-implicit-entropy",
                                 "global-gfy-entropy"))


def load_training_data(config: TrainingConfig, dataset: str | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``(x (n, d), y (n, k))`` training arrays of ``dataset`` (default:
    ``config.dataset``): its training split, or synthetic data.

    Raises:
      ValueError, OSError: the dataset's files are not in the data folder (nothing
        is downloaded) or cannot be read.

    Example:
      >>> from fenchel.bench.training import QUICK, load_training_data
      >>> x, y = load_training_data(QUICK)
      >>> x.shape, y.shape
      ((64, 5), (64, 3))
    """
    dataset = config.dataset if dataset is None else dataset
    if dataset == "synthetic":
        n, d, k = config.synthetic_shape
        rng = np.random.default_rng(0)
        x = rng.normal(size=(n, d)).astype(np.float32)
        y = (rng.random((n, k)) < 0.3).astype(np.float32)
        return x, y
    from fenchel.datasets import load_dataset  # only this case needs the data files
    data = load_dataset(dataset, config.data_dir, seed=0, download=False)
    return data.train.x, data.train.y


def run(config: TrainingConfig = TrainingConfig(), log: Callable[[str], None] = print) -> CaseResult:
    """One row per (dataset, hidden, method, warm start): examples per second over
    whole epochs of ``fit``.

    Every fit of one (dataset, hidden) is compiled first, then the timed
    repetitions are interleaved across methods (like the other cases), so a change
    in machine load hits all of them alike and the ratios stay meaningful.
    """
    from fenchel.multilabel.losses import Method
    from fenchel.multilabel.train import Config, MultilabelSplitLike, fit

    data = {config.dataset: load_training_data(config)}
    notes = []
    for name in config.optional_datasets:
        if name in data:
            continue
        try:
            data[name] = load_training_data(config, name)
        except (ValueError, OSError) as err:
            notes.append(f"dataset {name} not run: {err}")
            log(f"training: skipping dataset {name} ({err})")
    described = ", ".join(f"{name} (n={x.shape[0]}, d={x.shape[1]}, k={y.shape[1]})"
                          for name, (x, y) in data.items())
    result = CaseResult(
        name="training",
        title=(f"fenchel.multilabel trainer on {described}, AdamW, batch {config.batch}, "
               f"{config.epochs} epochs per fit; ratio against {REFERENCE}"),
        columns=["dataset", "hidden", "method", "warm_start", "examples_per_s", _RATIO,
                 "ms_per_epoch", "iters_last_epoch", "final_loss", "compile_s", "reps"],
        notes=notes)
    for dataset, (x, y) in data.items():
        train = MultilabelSplitLike(x, y)
        n, d = x.shape
        k = y.shape[1]
        batch = min(config.batch, n)
        examples = config.epochs * (n // batch) * batch  # fit drops the ragged last batch
        if batch < config.batch:
            result.notes.append(f"{dataset}: batch {batch} (the whole training split)")
        for hidden in config.hidden:
            entries = []
            for name in config.methods:
                method = Method.from_name(name)
                for warm in (True, False) if name in config.cold_methods else (True,):
                    run_config = Config(hidden=hidden, batch_size=batch, max_epochs=config.epochs,
                                        learning_rate=3e-3, reg_scale=1.0, warm_start=warm)
                    train_once = (lambda method=method, run_config=run_config:
                                  fit(method, run_config, train, None, seed=0))
                    start = time.perf_counter()
                    train_once()  # warm-up: compiles the epoch
                    entries.append({"name": name, "warm": warm, "fn": train_once,
                                    "compile_s": time.perf_counter() - start, "times": [],
                                    "trained": None})
            # fit waits for every epoch's loss (a float on the host), so its wall
            # time covers all the device work.
            for _ in range(config.reps):
                for entry in entries:
                    if entry["times"] and sum(entry["times"]) > config.max_seconds:
                        continue
                    start = time.perf_counter()
                    entry["trained"] = entry["fn"]()
                    entry["times"].append(time.perf_counter() - start)
            reference = None
            for entry in entries:
                seconds = float(np.median(entry["times"]))
                throughput = examples / seconds
                if entry["name"] == REFERENCE:
                    reference = throughput
                trained = entry["trained"]
                iterations = trained.inner_iterations[-1] if trained.inner_iterations else None
                row = {"dataset": dataset, "n": n, "d": d, "k": k, "hidden": hidden,
                       "method": entry["name"], "warm_start": entry["warm"],
                       "examples_per_s": throughput,
                       _RATIO: None if reference is None else throughput / reference,
                       "ms_per_epoch": 1e3 * seconds / config.epochs,
                       "iters_last_epoch": iterations,
                       "final_loss": float(trained.history[-1][0]),
                       "compile_s": entry["compile_s"], "reps": len(entry["times"]),
                       "batch": batch, "epochs": config.epochs}
                result.rows.append(row)
                log(f"training {dataset} hidden={hidden} {entry['name']}"
                    f"{'' if entry['warm'] else ' (cold)'}: {throughput:.3g} ex/s, "
                    f"{row['ms_per_epoch']:.3g} ms/epoch")
    return result


__all__ = ["REFERENCE", "TrainingConfig", "QUICK", "DEVICE", "load_training_data", "run"]
