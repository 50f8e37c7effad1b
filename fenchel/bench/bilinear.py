"""Case ``bilinear``: the classic Fenchel-Young losses through ``gfy_loss`` vs optax.

With the bilinear energy Φ(θ, y) = <θ, y>, :func:`fenchel.gfy_loss` reduces to
closed forms that optax also ships:

==================  ==========================================  =========
Ω                   optax loss                                  targets
==================  ==========================================  =========
BinaryEntropy       ``sigmoid_binary_cross_entropy`` (summed)   multilabel
SquaredSimplex      ``multiclass_sparsemax_loss``               one class
ShannonSimplex      ``softmax_cross_entropy``                   one class
==================  ==========================================  =========

For each, time ``jax.value_and_grad`` of the mean loss over a batch w.r.t. the
scores (interleaved repetitions, so load changes hit both alike), and check
the per-example values agree.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fenchel import energies, losses, regularizers
from fenchel.bench.results import CaseResult
from fenchel.bench.timing import measure_many


def _optax_bce(scores, y):
    return jnp.sum(optax.sigmoid_binary_cross_entropy(scores, y), axis=-1)


def _optax_sparsemax(scores, y):
    return optax.losses.multiclass_sparsemax_loss(scores, jnp.argmax(y, axis=-1))


def _optax_softmax(scores, y):
    return optax.softmax_cross_entropy(scores, y)


# name -> (regularizer, optax per-example loss (batch, k) -> (batch,), multilabel?)
PAIRS: dict[str, tuple[regularizers.Regularizer, Callable, bool]] = {
    "BinaryEntropy": (regularizers.BinaryEntropy(), _optax_bce, True),
    "SquaredSimplex": (regularizers.SquaredSimplex(), _optax_sparsemax, False),
    "ShannonSimplex": (regularizers.ShannonSimplex(), _optax_softmax, False),
}


@dataclasses.dataclass(frozen=True)
class BilinearConfig:
    """Grid of the ``bilinear`` case: label counts, batch size, repetitions."""

    num_labels: tuple[int, ...] = (14, 174, 1000)
    batch: int = 256
    reps: int = 20
    max_seconds: float = 3.0


QUICK = BilinearConfig(num_labels=(4,), batch=3, reps=1)

# An accelerator (``fenchel bench --preset device``): a batch that fills it.
DEVICE = BilinearConfig(num_labels=(14, 174, 1000), batch=4096, reps=20, max_seconds=1.0)


def _inputs(batch: int, k: int, multilabel: bool):
    k_s, k_y = jax.random.split(jax.random.key(1))
    scores = 3.0 * jax.random.normal(k_s, (batch, k))
    if multilabel:
        targets = jax.random.bernoulli(k_y, 0.3, (batch, k)).astype(jnp.float32)
    else:
        targets = jax.nn.one_hot(jax.random.randint(k_y, (batch,), 0, k), k)
    return scores, targets


def gfy_batch_loss(reg: regularizers.Regularizer) -> Callable:
    """``(scores (batch, k), targets) -> (batch,)`` bilinear GFY losses."""
    return jax.vmap(lambda s, y: losses.gfy_loss(energies.bilinear, reg, s, y))


def run(config: BilinearConfig = BilinearConfig(), log: Callable[[str], None] = print) -> CaseResult:
    """One row per (Ω, k, implementation); ratios against optax."""
    result = CaseResult(
        name="bilinear",
        title=(f"value + gradient of the mean bilinear loss, batch {config.batch}: "
               "fy.gfy_loss vs optax (time ratio against optax)"),
        columns=["reg", "k", "impl", "median_us", "vs_optax", "max_abs_diff", "reps"])
    for name, (reg, optax_loss, multilabel) in PAIRS.items():
        for k in config.num_labels:
            scores, targets = _inputs(config.batch, k, multilabel)
            per_example = {"optax": optax_loss, "gfy": gfy_batch_loss(reg)}
            values = {impl: np.asarray(jax.jit(f)(scores, targets)) for impl, f in per_example.items()}
            diff = float(np.max(np.abs(values["gfy"] - values["optax"])))
            objectives = {impl: (jax.value_and_grad(lambda s, y, f=f: jnp.mean(f(s, y))),
                                 (scores, targets)) for impl, f in per_example.items()}
            measured = measure_many(objectives, reps=config.reps, max_seconds=config.max_seconds)
            baseline = measured["optax"].median_s
            for impl, m in measured.items():
                row = {"reg": name, "k": k, "impl": impl, "batch": config.batch,
                       "median_us": 1e6 * m.median_s, "min_us": 1e6 * m.min_s,
                       "vs_optax": m.median_s / baseline, "reps": m.reps, "number": m.number,
                       "compile_s": m.compile_s,
                       "max_abs_diff": diff if impl == "gfy" else None,
                       "max_rel_diff": (float(np.max(np.abs(values["gfy"] - values["optax"])
                                                     / np.maximum(np.abs(values["optax"]), 1e-6)))
                                        if impl == "gfy" else None)}
                result.rows.append(row)
                log(f"bilinear {name} k={k} {impl}: {row['median_us']:.3g} us "
                    f"(x{row['vs_optax']:.2f}), max |diff| {diff:.2g}")
    gfy_rows = [r for r in result.rows if r["impl"] == "gfy"]
    result.summary = {
        "gfy_vs_optax_max": max(r["vs_optax"] for r in gfy_rows),
        "gfy_vs_optax_median": sorted(r["vs_optax"] for r in gfy_rows)[len(gfy_rows) // 2],
        "max_abs_diff": max(r["max_abs_diff"] for r in gfy_rows),
    }
    return result


__all__ = ["PAIRS", "BilinearConfig", "QUICK", "DEVICE", "gfy_batch_loss", "run"]
