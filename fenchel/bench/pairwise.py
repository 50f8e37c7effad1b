"""Case ``pairwise``: loss + gradient of the pairwise energy, GFY vs the baselines.

For a batch of pairwise problems ``θ_i = (u_i, U)`` (``u_i`` per example, ``U``
shared) and the mean loss over the batch, time ``jax.value_and_grad`` w.r.t.
``(u, U)`` of

* ``maximize`` — the bare inner maximization, K steps (no loss, no gradient):
  the lower bound a GFY step can approach; the baseline of the ratios;
* ``gfy`` — :func:`fenchel.losses.gfy_loss` (Danskin gradient, K steps forward);
* ``gfy_fixed`` — the same GFY loss, its forward solver run with
  ``unroll=True``: exactly the K iterations ``unrolled`` differentiates
  through (fixed step, no backtracking or adaptive step), under
  ``stop_gradient``; ``unrolled / gfy_fixed`` is the price of differentiating
  through the iterations alone;
* ``unrolled`` — :func:`fenchel.losses.unrolled_loss`, backpropagating through
  the K steps;
* ``implicit`` — :func:`fenchel.losses.implicit_loss`, K steps forward and an
  implicit-function-theorem backward pass (GMRES on the fixed-point map),

all with the same solver (:func:`fenchel.bench.problems.fixed_iteration_solver`);
``unrolled`` runs it with ``unroll=True``, which fixes its step size.
Memory is XLA's temporary-buffer size of the compiled function.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from fenchel import energies, losses, maximizers
from fenchel.bench.problems import REGULARIZERS, fixed_iteration_solver, pairwise_problem
from fenchel.bench.results import CaseResult
from fenchel.bench.timing import measure_many

METHODS = ("maximize", "gfy", "gfy_fixed", "unrolled", "implicit")


@dataclasses.dataclass(frozen=True)
class PairwiseConfig:
    """Grid of the ``pairwise`` case.

    Attributes:
      num_labels: the label counts k.
      iterations: the inner iteration counts K.
      regularizers: names in :data:`fenchel.bench.problems.REGULARIZERS`.
      batch: examples per batch.
      reps: timed repetitions per configuration.
      max_seconds: time budget per configuration (fewer reps beyond it).
      skip: ``(k, K, method)`` triples not run (too slow on this machine);
        ``None`` in the method matches all methods.
    """

    num_labels: tuple[int, ...] = (14, 174, 1000)
    iterations: tuple[int, ...] = (10, 50, 100, 500)
    regularizers: tuple[str, ...] = ("BinaryEntropy", "SquaredBox")
    batch: int = 256
    reps: int = 5
    max_seconds: float = 5.0
    skip: tuple[tuple[int, int, str | None], ...] = ()


# Smoke test: SquaredBox (ProjectedGradient) here; MirrorAscent runs in the solvers smoke test.
QUICK = PairwiseConfig(num_labels=(3,), iterations=(2,), regularizers=("SquaredBox",), batch=2, reps=1)


def batch_objective(method: str, reg, solver) -> Callable:
    """``f(u, U, y)``: the benchmarked function of ``method`` on a batch.

    For ``maximize`` it returns the solutions and iterations used; for the
    losses, ``(mean loss, (∇_u, ∇_U))``.
    """
    pairwise = energies.pairwise
    if method == "maximize":
        def solve(u, interactions, y):
            one = lambda u_i, y_i: maximizers.maximize(
                pairwise, reg, (u_i, interactions), solver=solver, init=maximizers.default_init(reg, y_i.shape))
            y_hat, info = jax.vmap(one)(u, y)
            return y_hat, jnp.mean(info.iterations)
        return solve
    if method == "gfy":
        loss = lambda theta, y_i: losses.gfy_loss(pairwise, reg, theta, y_i, solver=solver)
    elif method == "gfy_fixed":
        fixed = dataclasses.replace(solver, unroll=True)
        loss = lambda theta, y_i: losses.gfy_loss(pairwise, reg, theta, y_i, solver=fixed)
    elif method == "unrolled":
        loss = lambda theta, y_i: losses.unrolled_loss(
            pairwise, reg, theta, y_i, solver=solver, num_steps=solver.maxiter)
    elif method == "implicit":
        loss = lambda theta, y_i: losses.implicit_loss(pairwise, reg, theta, y_i, solver=solver)
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")

    def mean_loss(u, interactions, y):
        return jnp.mean(jax.vmap(lambda u_i, y_i: loss((u_i, interactions), y_i))(u, y))

    return jax.value_and_grad(mean_loss, argnums=(0, 1))


def _skipped(config, k, iterations, method):
    return any(k == sk and iterations == sK and (sm is None or sm == method)
               for sk, sK, sm in config.skip)


def run(config: PairwiseConfig = PairwiseConfig(), log: Callable[[str], None] = print) -> CaseResult:
    """Run the grid; one row per (Ω, k, K, method).

    Ratios are ``time / time(maximize)`` and ``temp memory / temp memory of
    gfy`` for the same (Ω, k, K).
    """
    result = CaseResult(
        name="pairwise",
        title=(f"loss + gradient of the pairwise energy, batch {config.batch}, "
               "vs inner iterations K (time ratio against the bare maximization)"),
        columns=["reg", "k", "K", "method", "median_ms", "vs_maximize", "temp_MiB",
                 "reps", "compile_s"])
    for reg_name in config.regularizers:
        reg = REGULARIZERS[reg_name]()
        for k in config.num_labels:
            problem = pairwise_problem(0, config.batch, k)
            args = (problem.unaries, problem.interactions, problem.targets)
            for iterations in config.iterations:
                solver = fixed_iteration_solver(reg, iterations)
                methods = [m for m in METHODS if not _skipped(config, k, iterations, m)]
                if len(methods) < len(METHODS):
                    result.notes.append(f"{reg_name} k={k} K={iterations}: not run "
                                        f"{sorted(set(METHODS) - set(methods))} (too slow here)")
                if not methods:
                    continue
                measured = measure_many(
                    {method: (batch_objective(method, reg, solver), args) for method in methods},
                    reps=config.reps, max_seconds=config.max_seconds)
                baseline = measured["maximize"].median_s if "maximize" in measured else None
                for method, m in measured.items():
                    row = {"reg": reg_name, "k": k, "K": iterations, "method": method,
                           "batch": config.batch, "median_ms": 1e3 * m.median_s,
                           "min_ms": 1e3 * m.min_s, "reps": m.reps, "number": m.number,
                           "compile_s": m.compile_s,
                           "temp_MiB": None if m.temp_bytes is None else m.temp_bytes / 2**20,
                           "peak_MiB": None if m.peak_bytes is None else m.peak_bytes / 2**20,
                           "vs_maximize": None if baseline is None else m.median_s / baseline}
                    if method == "maximize":
                        row["mean_iterations"] = float(m.output[1])
                    else:
                        row["loss"] = float(m.output[0])
                    result.rows.append(row)
                    log(f"pairwise {reg_name} k={k} K={iterations} {method}: "
                        f"{row['median_ms']:.3g} ms (x{row['vs_maximize'] or float('nan'):.2f}), "
                        f"temp {row['temp_MiB'] or 0:.3g} MiB, {m.reps} reps")
    result.summary = summarize(result.rows)
    return result


def _lookup(rows, **keys):
    for row in rows:
        if all(row.get(k) == v for k, v in keys.items()):
            return row
    return None


def summarize(rows: list[dict]) -> dict:
    """The issue's goals, as ratios (worst case over the grid where several apply):

    * ``gfy_vs_maximize_max``: max over configurations of time(gfy)/time(maximize)
      (goal ≤ 1.3);
    * ``unrolled_vs_gfy_min_at_K100``: min over (Ω, k) at K = 100 of
      time(unrolled)/time(gfy) (goal ≥ 3); ``unrolled_vs_gfy_fixed_min_at_K100``
      the same against ``gfy_fixed`` (same forward iterations as unrolling);
    * ``gfy_temp_growth`` / ``unrolled_temp_growth``: temp memory at the largest
      K over that at the smallest, max over (Ω, k) (goal for GFY: ≈ 1);
    * ``implicit_vs_gfy_min_at_k174``: min over (Ω, K) at k = 174 of
      time(implicit)/time(gfy) (goal > 1).
    """
    summary: dict = {}
    gfy = [r for r in rows if r["method"] == "gfy" and r.get("vs_maximize")]
    if gfy:
        summary["gfy_vs_maximize_max"] = max(r["vs_maximize"] for r in gfy)
        summary["gfy_vs_maximize_median"] = sorted(r["vs_maximize"] for r in gfy)[len(gfy) // 2]
    ratios, fixed_ratios, implicit = [], [], []
    growth = {"gfy": [], "unrolled": []}
    for r in gfy:
        un = _lookup(rows, reg=r["reg"], k=r["k"], K=r["K"], method="unrolled")
        im = _lookup(rows, reg=r["reg"], k=r["k"], K=r["K"], method="implicit")
        fx = _lookup(rows, reg=r["reg"], k=r["k"], K=r["K"], method="gfy_fixed")
        if un and r["K"] == 100:
            ratios.append(un["median_ms"] / r["median_ms"])
            if fx:
                fixed_ratios.append(un["median_ms"] / fx["median_ms"])
        if im and r["k"] == 174:
            implicit.append(im["median_ms"] / r["median_ms"])
    if ratios:
        summary["unrolled_vs_gfy_min_at_K100"] = min(ratios)
    if fixed_ratios:
        summary["unrolled_vs_gfy_fixed_min_at_K100"] = min(fixed_ratios)
    if implicit:
        summary["implicit_vs_gfy_min_at_k174"] = min(implicit)
    for method in growth:
        for reg, k in {(r["reg"], r["k"]) for r in rows}:
            mine = sorted((r for r in rows if r["method"] == method and r["reg"] == reg
                           and r["k"] == k and r.get("temp_MiB")), key=lambda r: r["K"])
            if len(mine) >= 2:
                growth[method].append(mine[-1]["temp_MiB"] / mine[0]["temp_MiB"])
        if growth[method]:
            summary[f"{method}_temp_growth_max"] = max(growth[method])
    return summary


__all__ = ["METHODS", "PairwiseConfig", "QUICK", "batch_objective", "run", "summarize"]
