"""Case ``training``: training throughput (examples per second) on yeast.

The multilabel trainer (``fenchel.multilabel``) was not available when this
case was written, so it times a minimal, equivalent training loop built from
optax and :func:`fenchel.gfy_loss`: a linear pairwise energy network

.. math:: θ(x) = (Wᵀx + b,\\; −VVᵀ), \\qquad Φ(θ(x), y) = <Wᵀx + b, y> + ½ yᵀ(−VVᵀ)y

trained with Adam on minibatches of the yeast training split, one jitted step
per minibatch (inner maximization, loss, gradient, update). The bilinear model
(``V = 0``, closed-form sigmoid cross-entropy) is the reference: the ratio says
what the inner maximization costs per example.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fenchel import energies, losses, maximizers
from fenchel.bench.problems import REGULARIZERS
from fenchel.bench.results import CaseResult
from fenchel.bench.timing import time_python

# model name -> (energy, solver factory or None for the closed form)
MODELS = {
    "bilinear": (energies.bilinear, None),
    "pairwise": (energies.pairwise, None),  # default solver of the regularizer
    "pairwise-coordinate": (energies.pairwise, maximizers.CoordinateAscent),
}


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Sizes of the ``training`` case.

    Attributes:
      dataset: a MULAN name for :func:`fenchel.datasets.load_dataset`, or
        ``"synthetic"`` (random data of ``synthetic_shape``; no files needed).
      data_dir: data folder (default: ``FENCHEL_DATA`` / the datasets default).
      batch: minibatch size.
      rank: columns of V.
      regularizers: names in :data:`fenchel.bench.problems.REGULARIZERS`.
      models: names in :data:`MODELS`.
      epochs: timed epochs (after one warm-up epoch).
      synthetic_shape: ``(n, d, k)`` of the synthetic data.
    """

    dataset: str = "yeast"
    data_dir: str | None = None
    batch: int = 64
    rank: int = 8
    regularizers: tuple[str, ...] = ("BinaryEntropy", "SquaredBox")
    models: tuple[str, ...] = ("bilinear", "pairwise", "pairwise-coordinate")
    epochs: int = 10
    max_seconds: float = 20.0
    synthetic_shape: tuple[int, int, int] = (64, 5, 3)


QUICK = TrainingConfig(dataset="synthetic", batch=16, epochs=1, models=("bilinear", "pairwise"),
                       regularizers=("BinaryEntropy",))


def load_training_data(config: TrainingConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` training arrays: yeast's training split, or synthetic data."""
    if config.dataset == "synthetic":
        n, d, k = config.synthetic_shape
        rng = np.random.default_rng(0)
        x = rng.normal(size=(n, d)).astype(np.float32)
        y = (rng.random((n, k)) < 0.3).astype(np.float32)
        return x, y
    from fenchel.datasets import load_dataset  # only this case needs the data files
    data = load_dataset(config.dataset, config.data_dir, seed=0, download=False)
    return data.train.x, data.train.y


def make_train_step(model: str, reg, optimizer: optax.GradientTransformation) -> Callable:
    """A jitted ``(params, opt_state, x, y) -> (params, opt_state, loss)`` step."""
    energy, solver_factory = MODELS[model]
    solver = None if solver_factory is None else solver_factory()

    def theta_of(params, x):
        unaries = x @ params["W"] + params["b"]
        if energy is energies.bilinear:
            return unaries, None
        return unaries, energies.negative_semidefinite(params["V"])

    def mean_loss(params, x, y):
        unaries, interactions = theta_of(params, x)
        if interactions is None:
            one = lambda u, y_i: losses.gfy_loss(energy, reg, u, y_i)
        else:
            one = lambda u, y_i: losses.gfy_loss(energy, reg, (u, interactions), y_i, solver=solver)
        return jnp.mean(jax.vmap(one)(unaries, y))

    @jax.jit
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(mean_loss)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def _init_params(d: int, k: int, rank: int) -> dict:
    k_w, k_v = jax.random.split(jax.random.key(0))
    return {"W": 0.01 * jax.random.normal(k_w, (d, k)), "b": jnp.zeros(k),
            "V": 0.1 * jax.random.normal(k_v, (k, rank))}


def run(config: TrainingConfig = TrainingConfig(), log: Callable[[str], None] = print) -> CaseResult:
    """One row per (Ω, model): examples per second over whole epochs."""
    x, y = load_training_data(config)
    n, d = x.shape
    k = y.shape[1]
    steps = n // config.batch  # drop the ragged last batch: one compiled shape
    batches = [(jnp.asarray(x[i * config.batch:(i + 1) * config.batch]),
                jnp.asarray(y[i * config.batch:(i + 1) * config.batch])) for i in range(steps)]
    result = CaseResult(
        name="training",
        title=(f"training throughput on {config.dataset} (n={steps * config.batch}, d={d}, k={k}), "
               f"Adam, batch {config.batch}; ratio against the bilinear model"),
        columns=["reg", "model", "examples_per_s", "vs_bilinear", "ms_per_step", "final_loss", "epochs"])
    result.notes.append("minimal optax + fy.gfy_loss training loop (fenchel.multilabel's trainer "
                        "was not available when this case was written)")
    for reg_name in config.regularizers:
        reg = REGULARIZERS[reg_name]()
        reference = None
        for model in config.models:
            optimizer = optax.adam(1e-3)
            step = make_train_step(model, reg, optimizer)
            state = {"params": _init_params(d, k, config.rank)}
            state["opt"] = optimizer.init(state["params"])

            def epoch():
                loss = None
                for xb, yb in batches:
                    state["params"], state["opt"], loss = step(state["params"], state["opt"], xb, yb)
                return jax.block_until_ready(loss)

            start = time.perf_counter()
            epoch()  # warm-up: compiles the step
            warmup_s = time.perf_counter() - start
            seconds, reps, loss = time_python(epoch, reps=config.epochs, max_seconds=config.max_seconds)
            throughput = steps * config.batch / seconds
            reference = throughput if model == "bilinear" else reference
            row = {"reg": reg_name, "model": model, "examples_per_s": throughput,
                   "vs_bilinear": None if reference is None else throughput / reference,
                   "ms_per_step": 1e3 * seconds / steps, "final_loss": float(loss),
                   "epochs": reps, "warmup_epoch_s": warmup_s, "batch": config.batch,
                   "steps_per_epoch": steps}
            result.rows.append(row)
            log(f"training {reg_name} {model}: {throughput:.3g} ex/s, loss {float(loss):.3g}")
    return result


__all__ = ["MODELS", "TrainingConfig", "QUICK", "load_training_data", "make_train_step", "run"]
