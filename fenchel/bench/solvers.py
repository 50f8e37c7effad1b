"""Case ``solvers``: maximizer throughput and accuracy, against scipy's L-BFGS-B.

Each solver of :mod:`fenchel.maximizers` that handles the problem solves a
batch (``jax.vmap`` of :func:`fenchel.maximize`, jitted) with its default
settings; the plain reference is ``scipy.optimize.minimize(method="L-BFGS-B")``
run example by example on ``−F`` with bounds (float64, gradient from numpy for
the pairwise energy, from a jitted single-example ``jax.grad`` for the neural
one). Two problems:

* ``pairwise``: the pairwise energy (concave; unique solution);
* ``neural``: an MLP ``E(x, y)`` over the concatenated input and output
  (not concave in y: solvers may stop at different local maxima).

Accuracy is the objective gap ``F(y*) − F(ŷ)`` averaged over the batch, with
``y*`` the best point per example among a tight L-BFGS-B run (``gtol=1e-10``)
and every solver's answer; for the concave problem ``y*`` is the optimum.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from flax import nnx

from fenchel import energies, maximizers
from fenchel.bench.problems import REGULARIZERS, pairwise_problem
from fenchel.bench.results import CaseResult
from fenchel.bench.timing import measure_many, time_python

# Interior margin for entropic Ω in L-BFGS-B: its gradient is infinite on the boundary.
_ENTROPY_MARGIN = 1e-9


def solvers_for(energy_name: str, reg_name: str) -> dict[str, maximizers.Maximizer]:
    """The solvers benchmarked for a problem, each with default settings."""
    first_order = maximizers.MirrorAscent() if reg_name == "BinaryEntropy" else maximizers.ProjectedGradient()
    out = {type(first_order).__name__: first_order}
    if energy_name == "pairwise":
        out["CoordinateAscent"] = maximizers.CoordinateAscent()
    out["DerivativeFree"] = maximizers.DerivativeFree()
    out["Langevin"] = maximizers.Langevin()
    return out


class _MLPEnergy(nnx.Module):
    """``E(x, y) = w₂ᵀ tanh(W₁ [x; y] + b₁)``: a small neural energy."""

    def __init__(self, x_dim: int, y_dim: int, hidden: int, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(x_dim + y_dim, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, 1, rngs=rngs)

    def __call__(self, x, y):
        return self.out(jnp.tanh(self.hidden(jnp.concatenate([x, y]))))[0]


@dataclasses.dataclass(frozen=True)
class SolverConfig:
    """Sizes of the ``solvers`` case.

    Attributes:
      batch: examples per batch.
      num_labels: k of the pairwise problem.
      neural_dims: ``(x_dim, y_dim, hidden)`` of the MLP energy (yeast-like).
      regularizers: names in :data:`fenchel.bench.problems.REGULARIZERS`.
      scipy_examples: examples the scipy reference solves (the first ones of
        the batch; its throughput is per example, so a subset suffices and
        keeps the run short); accuracies are averaged over these examples.
      reps / max_seconds: as in :func:`fenchel.bench.timing.measure`.
    """

    batch: int = 256
    num_labels: int = 174
    neural_dims: tuple[int, int, int] = (103, 14, 64)
    regularizers: tuple[str, ...] = ("BinaryEntropy", "SquaredBox")
    scipy_examples: int = 16
    reps: int = 3
    max_seconds: float = 10.0


QUICK = SolverConfig(batch=2, num_labels=3, neural_dims=(3, 2, 4), regularizers=("BinaryEntropy",), reps=1)

# An accelerator (``fenchel bench --preset device``): a larger batch; scipy still solves
# ``scipy_examples`` examples on the host and its time is scaled to the batch.
DEVICE = SolverConfig(batch=4096, reps=3, max_seconds=3.0)


def _problems(config: SolverConfig):
    """``name -> (energy, thetas (batched pytree), in_axes, y_dim, numpy objective/grad)``."""
    pw = pairwise_problem(2, config.batch, config.num_labels)
    u = np.asarray(pw.unaries, np.float64)
    U = np.asarray(pw.interactions, np.float64)
    S = 0.5 * (U + U.T)

    def pairwise_np(i):
        return lambda y: (u[i] @ y + 0.5 * y @ U @ y, u[i] + S @ y)

    x_dim, y_dim, hidden = config.neural_dims
    energy, params = energies.nnx_energy(_MLPEnergy(x_dim, y_dim, hidden, nnx.Rngs(0)))
    xs = jax.random.normal(jax.random.key(3), (config.batch, x_dim))
    value_grad = jax.jit(jax.value_and_grad(lambda x, y: energy((params, x), y), argnums=1))

    def neural_np(i):
        def f(y):
            value, grad = value_grad(xs[i], jnp.asarray(y, jnp.float32))
            return float(value), np.asarray(grad, np.float64)
        return f

    return {
        "pairwise": (energies.pairwise, (pw.unaries, pw.interactions), (0, None),
                     config.num_labels, pairwise_np),
        "neural": (energy, (params, xs), (None, 0), y_dim, neural_np),
    }


def _reg_np(reg_name: str):
    """``(Ω(y), ∇Ω(y))`` in numpy, and the L-BFGS-B bounds."""
    if reg_name == "BinaryEntropy":
        def value_grad(y):
            return (float(np.sum(y * np.log(y) + (1 - y) * np.log1p(-y))),
                    np.log(y) - np.log1p(-y))
        return value_grad, (_ENTROPY_MARGIN, 1 - _ENTROPY_MARGIN)
    return (lambda y: (0.5 * float(y @ y), y)), (0.0, 1.0)


def lbfgsb_batch(phi_np: Callable[[int], Callable], reg_name: str, batch: int, y_dim: int,
                 **options) -> np.ndarray:
    """Solve ``max_y Φ_i(y) − Ω(y)`` for each example with scipy's L-BFGS-B.

    Args:
      phi_np: ``i -> (y -> (Φ_i(y), ∇Φ_i(y)))`` in numpy.
      reg_name: the regularizer's name.
      options: passed to ``scipy.optimize.minimize(..., options=)``.

    Returns:
      ``(batch, y_dim)`` solutions.
    """
    reg_value_grad, bounds = _reg_np(reg_name)
    out = np.empty((batch, y_dim))
    for i in range(batch):
        phi = phi_np(i)

        def negative(y):
            value, grad = phi(y)
            r_value, r_grad = reg_value_grad(y)
            return -(value - r_value), -(grad - r_grad)

        solution = scipy.optimize.minimize(negative, np.full(y_dim, 0.5), jac=True,
                                           method="L-BFGS-B", bounds=[bounds] * y_dim,
                                           options=options)
        out[i] = solution.x
    return out


def run(config: SolverConfig = SolverConfig(), log: Callable[[str], None] = print) -> CaseResult:
    """One row per (problem, Ω, solver), plus the scipy reference rows."""
    result = CaseResult(
        name="solvers",
        title=(f"maximizer throughput on a batch of {config.batch} (default settings), "
               "vs scipy L-BFGS-B example by example"),
        columns=["energy", "reg", "solver", "examples_per_s", "vs_scipy", "mean_gap",
                 "mean_iterations", "reps"])
    for energy_name, (energy, thetas, in_axes, y_dim, phi_np) in _problems(config).items():
        for reg_name in config.regularizers:
            reg = REGULARIZERS[reg_name]()
            objective = jax.jit(jax.vmap(lambda t, y: maximizers.objective(energy, reg, t, y),
                                         in_axes=(in_axes, 0)))
            solutions, rows = {}, []

            lbfgsb_batch(phi_np, reg_name, 1, y_dim)  # warm-up: jit of the neural gradient
            n_ref = min(config.scipy_examples, config.batch)
            seconds, reps, y_scipy = time_python(
                lambda: lbfgsb_batch(phi_np, reg_name, n_ref, y_dim),
                reps=config.reps, max_seconds=config.max_seconds)
            solutions["scipy L-BFGS-B"] = y_scipy
            seconds *= config.batch / n_ref  # per-example cost, scaled to the batch
            rows.append({"solver": "scipy L-BFGS-B", "seconds": seconds, "reps": reps,
                         "examples_timed": n_ref, "mean_iterations": None})
            scipy_seconds = seconds

            def make_solve(solver):
                def solve(thetas):
                    one = lambda t: maximizers.maximize(
                        energy, reg, t, solver=solver,
                        init=maximizers.default_init(reg, (y_dim,)))
                    y_hat, info = jax.vmap(one, in_axes=(in_axes,))(thetas)
                    return y_hat, jnp.mean(info.iterations)
                return solve

            measured = measure_many(
                {name: (make_solve(solver), (thetas,))
                 for name, solver in solvers_for(energy_name, reg_name).items()},
                reps=config.reps, max_seconds=config.max_seconds)
            for name, m in measured.items():
                solutions[name] = np.asarray(m.output[0])[:n_ref]
                rows.append({"solver": name, "seconds": m.median_s, "reps": m.reps,
                             "compile_s": m.compile_s, "mean_iterations": float(m.output[1])})

            tight = lbfgsb_batch(phi_np, reg_name, n_ref, y_dim,
                                 ftol=0.0, gtol=1e-10, maxiter=20000)
            project = lambda y: np.clip(y, _ENTROPY_MARGIN, 1 - _ENTROPY_MARGIN) \
                if reg_name == "BinaryEntropy" else y
            first = tuple(part if axis is None else part[:n_ref]
                          for part, axis in zip(thetas, in_axes))
            values = {name: np.asarray(objective(first, jnp.asarray(project(y), jnp.float32)), np.float64)
                      for name, y in {**solutions, "tight": tight}.items()}
            best = np.max(np.stack(list(values.values())), axis=0)
            for row in rows:
                gap = best - values[row["solver"]]
                row.update({"energy": energy_name, "reg": reg_name, "batch": config.batch,
                            "examples_per_s": config.batch / row["seconds"],
                            "vs_scipy": scipy_seconds / row["seconds"],
                            "mean_gap": float(np.mean(gap)), "max_gap": float(np.max(gap))})
                result.rows.append(row)
                log(f"solvers {energy_name} {reg_name} {row['solver']}: "
                    f"{row['examples_per_s']:.3g} ex/s (x{row['vs_scipy']:.2f} scipy), "
                    f"gap {row['mean_gap']:.2g}")
    result.notes.append("vs_scipy = throughput / scipy's throughput on the same problems; "
                        f"mean_gap = mean over the first {min(config.scipy_examples, config.batch)} examples "
                        "of F(y*) − F(ŷ) (float32 objective); scipy's time is measured on "
                        "those examples and scaled to the batch.")
    return result


__all__ = ["SolverConfig", "QUICK", "DEVICE", "solvers_for", "lbfgsb_batch", "run"]
