"""Case ``pairwise``: loss + gradient of the pairwise energy, GFY vs the baselines.

For a batch of pairwise problems ``θ_i = (u_i, U)`` (``u_i`` per example, ``U``
shared) and the mean loss over the batch, time ``jax.value_and_grad`` w.r.t.
``(u, U)`` of

* ``maximize`` — the bare inner maximization, K steps (no loss, no gradient):
  the lower bound a GFY step can approach; the baseline of the ratios;
* ``gfy`` — :func:`fenchel.losses.gfy_loss` (Danskin gradient, K steps forward);
* ``gfy_default`` — :func:`fenchel.losses.gfy_loss` with no ``solver``
  argument: the library's default solver (:func:`fenchel.maximizers.default_solver`:
  ``MirrorAscent`` for the binary entropy, ``ProjectedGradient`` for SquaredBox)
  at its default tolerance, stopping when converged, whatever K; its mean
  inner iteration count is measured by one untimed
  :func:`fenchel.maximizers.maximize` with the same (default) solver and
  start, and ``unrolled (K) / gfy_default`` says how unrolling K steps
  compares with what a GFY user gets without choosing anything;
* ``gfy_fixed`` — the same GFY loss, its forward solver run with
  ``unroll=True``: exactly the K iterations ``unrolled`` differentiates
  through (fixed step, no backtracking or adaptive step), under
  ``stop_gradient``; ``unrolled / gfy_fixed`` is the price of differentiating
  through the iterations alone;
* ``unrolled`` — :func:`fenchel.losses.unrolled_loss`, backpropagating through
  the K steps;
* ``implicit`` — :func:`fenchel.losses.implicit_loss`, K steps forward and an
  implicit-function-theorem backward pass (GMRES on the fixed-point map),

all but ``gfy_default`` with the same solver
(:func:`fenchel.bench.problems.fixed_iteration_solver`: K steps, ``tol=0``);
``unrolled`` runs it with ``unroll=True``, which fixes its step size.

Shapes: ``u`` is ``(batch, k)``, ``U`` is ``(k, k)`` (shared by the batch), the
targets ``y`` are ``(batch, k)`` in {0, 1}; every timed function maps
``(u, U, y)`` to ``(mean loss, (∇_u (batch, k), ∇_U (k, k)))``
(``maximize``: to ``(ŷ (batch, k), mean iterations)``).

Columns: ``vs_maximize`` = time / time(maximize) and ``unrolled_over`` =
time(unrolled) / time(this method), both for the same (Ω, k, K) (so the
``gfy`` row shows ``unrolled / gfy``, like for like, and the ``gfy_default``
row ``unrolled (K) / gfy_default``); ``loss`` is the mean loss each method
reached: the GFY loss for ``gfy``, ``gfy_default`` and ``gfy_fixed`` (equal
values mean equally accurate inner solves), the task loss ½‖ŷ_K − y‖² for
``unrolled`` and ``implicit`` (another function of θ: compare those two with
each other only); ``iters`` the mean inner iterations where measured
(``maximize``: the fixed-K solver, so ≤ K; ``gfy_default``: the default
solver). Memory: ``temp_MiB`` is XLA's temporary-buffer size of the compiled
function (every backend); ``device_peak_MiB`` the device allocator's peak
during one call above the memory in use before it, where the backend has
allocator statistics (GPU, TPU) and the call set a new high-water mark (see
:mod:`fenchel.bench.timing`), else ``-``.

Example:
  >>> import jax  # one of the timed functions, outside the benchmark
  >>> from fenchel import regularizers
  >>> from fenchel.bench.pairwise import batch_objective
  >>> from fenchel.bench.problems import pairwise_problem
  >>> p = pairwise_problem(0, batch=4, num_labels=3)
  >>> f = jax.jit(batch_objective("gfy_default", regularizers.SquaredBox(), None))
  >>> loss, (grad_u, grad_U) = f(p.unaries, p.interactions, p.targets)
  >>> loss.shape, grad_u.shape, grad_U.shape, bool(loss >= 0)
  ((), (4, 3), (3, 3), True)
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

METHODS = ("maximize", "gfy", "gfy_default", "gfy_fixed", "unrolled", "implicit")
# Methods whose ``loss`` is the GFY loss, and those whose ``loss`` is the task loss
# ½‖ŷ_K − y‖² of :func:`fenchel.losses.unrolled_loss` / ``implicit_loss``.
GFY_METHODS = ("gfy", "gfy_default", "gfy_fixed")
TASK_LOSS_METHODS = ("unrolled", "implicit")


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

# An accelerator (``fenchel bench --preset device``): a batch large enough to fill it and
# the two K of the goals (K = 100) and of memory growth (10 → 100), at k = 174 (the
# implicit-differentiation goal) and k = 1000. 8 row groups of 6 compiled functions:
# compilation, not timing, is most of its time.
DEVICE = PairwiseConfig(num_labels=(174, 1000), iterations=(10, 100), batch=4096, reps=5,
                        max_seconds=2.0)


def batch_objective(method: str, reg, solver) -> Callable:
    """``f(u, U, y)``: the benchmarked function of ``method`` on a batch.

    For ``maximize`` it returns the solutions and iterations used; for the
    losses, ``(mean loss, (∇_u, ∇_U))``. ``gfy_default`` ignores ``solver``: it
    calls :func:`fenchel.losses.gfy_loss` with no solver argument.

    Shapes: ``u (batch, k)``, ``U (k, k)``, ``y (batch, k)``.
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
    elif method == "gfy_default":
        loss = lambda theta, y_i: losses.gfy_loss(pairwise, reg, theta, y_i)
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


def default_solver_iterations(reg) -> Callable:
    """``f(u, U, y) -> mean iterations`` of the solver ``gfy_default`` runs.

    :func:`fenchel.maximizers.maximize` with no ``solver`` (the default one)
    from the default start, i.e. the very inner solve of
    ``gfy_loss(pairwise, reg, θ, y)``, whose iteration count the loss does
    not return. Shapes: ``u (batch, k)``, ``U (k, k)``, ``y (batch, k)``.
    """
    def iterations(u, interactions, y):
        one = lambda u_i, y_i: maximizers.maximize(
            energies.pairwise, reg, (u_i, interactions),
            init=maximizers.default_init(reg, y_i.shape, y_i.dtype))[1].iterations
        return jnp.mean(jax.vmap(one)(u, y))
    return iterations


def _skipped(config, k, iterations, method):
    return any(k == sk and iterations == sK and (sm is None or sm == method)
               for sk, sK, sm in config.skip)


def run(config: PairwiseConfig = PairwiseConfig(), log: Callable[[str], None] = print) -> CaseResult:
    """Run the grid; one row per (Ω, k, K, method).

    Ratios are ``time / time(maximize)`` (``vs_maximize``) and ``time(unrolled) /
    time`` (``unrolled_over``) for the same (Ω, k, K). The grid runs in order of
    increasing k, then K (then Ω), the order of increasing memory, so that the
    device allocator's peak (which cannot be reset) is exact for as many rows as
    possible; the rows are then sorted by (Ω, k, K, method) for the table.
    """
    result = CaseResult(
        name="pairwise",
        title=(f"loss + gradient of the pairwise energy, batch {config.batch}, "
               "vs inner iterations K (time ratio against the bare maximization; "
               "unrolled_over = time(unrolled, same K) / time)"),
        columns=["reg", "k", "K", "method", "median_ms", "vs_maximize", "unrolled_over",
                 "loss", "iters", "temp_MiB", "device_peak_MiB", "reps", "compile_s"])
    default_iterations: dict[tuple[str, int], float] = {}
    for k in config.num_labels:
        problem = pairwise_problem(0, config.batch, k)
        args = (problem.unaries, problem.interactions, problem.targets)
        for iterations in config.iterations:
            for reg_name in config.regularizers:
                reg = REGULARIZERS[reg_name]()
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
                if "gfy_default" in measured and (reg_name, k) not in default_iterations:
                    # Untimed: the default solver's iterations do not depend on K.
                    default_iterations[reg_name, k] = float(
                        jax.jit(default_solver_iterations(reg))(*args))
                baseline = measured["maximize"].median_s if "maximize" in measured else None
                unrolled = measured["unrolled"].median_s if "unrolled" in measured else None
                for method, m in measured.items():
                    used = maximizers.default_solver(energies.pairwise, reg) \
                        if method == "gfy_default" else solver
                    row = {"reg": reg_name, "k": k, "K": iterations, "method": method,
                           "batch": config.batch, "solver": repr(used),
                           "median_ms": 1e3 * m.median_s,
                           "min_ms": 1e3 * m.min_s, "reps": m.reps, "number": m.number,
                           "compile_s": m.compile_s,
                           "temp_MiB": _mib(m.temp_bytes), "peak_MiB": _mib(m.peak_bytes),
                           "device_peak_MiB": _mib(m.device_peak_bytes),
                           "device_peak_upper_MiB": _mib(m.device_peak_upper_bytes),
                           "vs_maximize": None if baseline is None else m.median_s / baseline,
                           "unrolled_over": None if unrolled is None else unrolled / m.median_s,
                           "loss": None, "mean_iterations": None}
                    if method == "maximize":
                        row["mean_iterations"] = float(m.output[1])
                    else:
                        row["loss"] = float(m.output[0])
                    if method == "gfy_default":
                        row["mean_iterations"] = default_iterations[reg_name, k]
                    row["iters"] = row["mean_iterations"]
                    result.rows.append(row)
                    log(f"pairwise {reg_name} k={k} K={iterations} {method}: "
                        f"{row['median_ms']:.3g} ms (x{row['vs_maximize'] or float('nan'):.2f}), "
                        f"temp {row['temp_MiB'] or 0:.3g} MiB, {m.reps} reps")
    order = {name: i for i, name in enumerate(config.regularizers)}
    result.rows.sort(key=lambda r: (order[r["reg"]], r["k"], r["K"], METHODS.index(r["method"])))
    result.summary = summarize(result.rows)
    return result


def _mib(size: int | None) -> float | None:
    return None if size is None else size / 2**20


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
      the same against ``gfy_fixed`` (same forward iterations as unrolling) and
      ``unrolled_vs_gfy_default_min_at_K100`` / ``..._max_at_K100`` against
      ``gfy_default`` (the default solver, run to its tolerance);
    * ``gfy_default_iterations_max``: the most mean inner iterations the default
      solver needed (over Ω and k);
    * ``gfy_loss_rel_spread_max_at_K100``: max over (Ω, k) at K = 100 of
      (max − min)/max of the GFY loss values of ``gfy``, ``gfy_fixed`` and
      ``gfy_default`` (≈ 0: K fixed steps are as accurate as the default solver
      run to its tolerance); ``task_loss_rel_spread_max_at_K100`` the same for
      the task losses ½‖ŷ_K − y‖² of ``unrolled`` and ``implicit`` (a different
      function of θ than the GFY loss, so the two families are not compared);
    * ``gfy_temp_growth`` / ``unrolled_temp_growth``: temp memory at the largest
      K over that at the smallest, max over (Ω, k) (goal for GFY: ≈ 1);
    * ``implicit_vs_gfy_min_at_k174``: min over (Ω, K) at k = 174 of
      time(implicit)/time(gfy) (goal > 1).

    Example:
      >>> from fenchel.bench.pairwise import summarize
      >>> rows = [{"reg": "R", "k": 14, "K": 100, "method": m, "median_ms": t,
      ...          "vs_maximize": t, "loss": l}
      ...         for m, t, l in (("maximize", 1.0, None), ("gfy", 1.0, 0.5),
      ...                         ("gfy_default", 2.0, 0.5), ("unrolled", 4.0, 0.5))]
      >>> s = summarize(rows)
      >>> s["unrolled_vs_gfy_min_at_K100"], s["unrolled_vs_gfy_default_min_at_K100"]
      (4.0, 2.0)
    """
    summary: dict = {}
    gfy = [r for r in rows if r["method"] == "gfy" and r.get("vs_maximize")]
    if gfy:
        summary["gfy_vs_maximize_max"] = max(r["vs_maximize"] for r in gfy)
        summary["gfy_vs_maximize_median"] = sorted(r["vs_maximize"] for r in gfy)[len(gfy) // 2]
    ratios, fixed_ratios, default_ratios, implicit = [], [], [], []
    growth = {"gfy": [], "unrolled": []}
    for r in gfy:
        un = _lookup(rows, reg=r["reg"], k=r["k"], K=r["K"], method="unrolled")
        im = _lookup(rows, reg=r["reg"], k=r["k"], K=r["K"], method="implicit")
        fx = _lookup(rows, reg=r["reg"], k=r["k"], K=r["K"], method="gfy_fixed")
        df = _lookup(rows, reg=r["reg"], k=r["k"], K=r["K"], method="gfy_default")
        if un and r["K"] == 100:
            ratios.append(un["median_ms"] / r["median_ms"])
            if fx:
                fixed_ratios.append(un["median_ms"] / fx["median_ms"])
            if df:
                default_ratios.append(un["median_ms"] / df["median_ms"])
        if im and r["k"] == 174:
            implicit.append(im["median_ms"] / r["median_ms"])
    if ratios:
        summary["unrolled_vs_gfy_min_at_K100"] = min(ratios)
    if fixed_ratios:
        summary["unrolled_vs_gfy_fixed_min_at_K100"] = min(fixed_ratios)
    if default_ratios:
        summary["unrolled_vs_gfy_default_min_at_K100"] = min(default_ratios)
        summary["unrolled_vs_gfy_default_max_at_K100"] = max(default_ratios)
    default_iterations = [r["mean_iterations"] for r in rows
                          if r["method"] == "gfy_default" and r.get("mean_iterations") is not None]
    if default_iterations:
        summary["gfy_default_iterations_max"] = max(default_iterations)
    for key, family in (("gfy_loss_rel_spread_max_at_K100", GFY_METHODS),
                        ("task_loss_rel_spread_max_at_K100", TASK_LOSS_METHODS)):
        spreads = []
        for reg, k in sorted({(r["reg"], r["k"]) for r in rows if r["K"] == 100}):
            values = [r["loss"] for r in rows if r["reg"] == reg and r["k"] == k
                      and r["K"] == 100 and r["method"] in family and r.get("loss") is not None]
            if len(values) >= 2 and max(values) > 0:
                spreads.append((max(values) - min(values)) / max(values))
        if spreads:
            summary[key] = max(spreads)
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


__all__ = ["METHODS", "GFY_METHODS", "TASK_LOSS_METHODS", "PairwiseConfig", "QUICK", "DEVICE",
           "batch_objective", "default_solver_iterations", "run", "summarize"]
