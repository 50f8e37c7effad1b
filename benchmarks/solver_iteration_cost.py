"""Cost of one iteration of each solver of ``fenchel.maximizers``, as ratios, in one process.

Every solver solves the same batch of pairwise problems
(:func:`fenchel.bench.problems.pairwise_problem`: ``Φ((u, U), y) = <u, y> + ½ yᵀUy``,
U ⪯ 0 shared, k labels) through ``jax.vmap`` of :func:`fenchel.maximize`, jitted,
with ``tol=0`` so that it runs every iteration it is given. Each solver is timed
at two iteration counts ``K_lo < K_hi`` (interleaved repetitions,
:func:`fenchel.bench.timing.measure_many`; the fastest repetition, which other
processes on a shared machine disturb least), and

    cost per iteration = (time(K_hi) − time(K_lo)) / (K_hi − K_lo),

which removes the fixed cost of a call (set-up, the final objective and status).
It is printed in microseconds per batch and as a ratio to the same measure for a
loop of fixed-step projected gradient steps (one batched ``∇_y Φ`` and a clip per
iteration: the floor of a first-order method) and to ``ProjectedGradient``'s
iteration (the steadier ratio on a loaded machine, both being solver loops), with
the fixed cost of a call next to it. The iteration count of
``DerivativeFree`` is its ``iterations`` (each resamples ``num_samples = 128`` points; the
default is 1024);
``Restarts`` wraps ``ProjectedGradient`` (its iterations are the inner solver's,
run from ``num_restarts`` starts). The iteration counts are those the batch ran
(the largest over its examples, which a vmapped loop runs): a solver may stop
before its ``maxiter`` on an exactly zero step, even with ``tol=0``. ``ClosedForm`` has no iterations: its row is
the cost of a call (on the bilinear energy, the only one it solves).

Run (a minute or two on 2 CPU cores)::

    python benchmarks/solver_iteration_cost.py [--k 50] [--batch 256] [--reps 7]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp

import fenchel as fy
from fenchel import energies, maximizers, regularizers
from fenchel.bench.problems import pairwise_problem
from fenchel.bench.timing import measure_many


def _solvers(k_lo: int, k_hi: int):
    """``name -> (regularizer, solver at K_lo, solver at K_hi)``, every solver on a
    regularizer it handles (mirror ascent needs an entropic Ω, the sampling solvers
    a bounded domain)."""
    box, entropy = regularizers.SquaredBox(), regularizers.BinaryEntropy()
    pg = lambda K: maximizers.ProjectedGradient(maxiter=K, tol=0.0)
    return {
        "ProjectedGradient (SquaredBox)": (box, pg(k_lo), pg(k_hi)),
        "MirrorAscent (BinaryEntropy)": (entropy, maximizers.MirrorAscent(maxiter=k_lo, tol=0.0),
                                         maximizers.MirrorAscent(maxiter=k_hi, tol=0.0)),
        "CoordinateAscent (BinaryEntropy)": (entropy, maximizers.CoordinateAscent(maxiter=k_lo, tol=0.0),
                                             maximizers.CoordinateAscent(maxiter=k_hi, tol=0.0)),
        "CoordinateAscent (SquaredBox)": (box, maximizers.CoordinateAscent(maxiter=k_lo, tol=0.0),
                                          maximizers.CoordinateAscent(maxiter=k_hi, tol=0.0)),
        "Restarts(ProjectedGradient, 8) (SquaredBox)": (
            box, maximizers.Restarts(pg(k_lo), num_restarts=8),
            maximizers.Restarts(pg(k_hi), num_restarts=8)),
        "Langevin, 32 chains (SquaredBox)": (
            box, maximizers.Langevin(maxiter=k_lo, tol=0.0),
            maximizers.Langevin(maxiter=k_hi, tol=0.0)),
        "DerivativeFree, 128 samples (SquaredBox)": (
            box, maximizers.DerivativeFree(num_samples=128, iterations=max(1, k_lo // 4)),
            maximizers.DerivativeFree(num_samples=128, iterations=max(2, k_hi // 4))),
    }


def _batched_solve(reg, solver, thetas, k):
    key = jax.random.key(0)

    def solve(thetas):
        one = lambda t, key: fy.maximize(energies.pairwise, reg, t, solver=solver,
                                         init=maximizers.default_init(reg, (k,)), key=key)
        keys = jax.random.split(key, thetas[0].shape[0])
        y_hat, info = jax.vmap(one, in_axes=((0, None), 0))(thetas, keys)
        return y_hat, jnp.max(info.iterations)
    return solve, (thetas,)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=50, help="labels (dimension of y)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--k-lo", type=int, default=2, help="the smaller iteration count")
    parser.add_argument("--k-hi", type=int, default=20, help="the larger iteration count")
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args(argv)

    problem = pairwise_problem(0, args.batch, args.k)
    thetas = (problem.unaries, problem.interactions)
    grad_phi = jax.vmap(jax.grad(energies.pairwise, argnums=1), in_axes=((0, None), 0))
    y0 = jnp.full((args.batch, args.k), 0.5)

    def gradient_steps(iterations):
        """The unit: ``iterations`` fixed-step projected gradient steps in a loop (one
        ∇_y Φ and a clip each), so the loop's own cost is counted as in the solvers."""
        def run(thetas, y):
            step = lambda _, y: jnp.clip(y + 0.05 * grad_phi(thetas, y), 0.0, 1.0)
            return jax.lax.fori_loop(0, iterations, step, y), jnp.asarray(iterations)
        return run, (thetas, y0)

    functions = {"unit @lo": gradient_steps(args.k_lo), "unit @hi": gradient_steps(args.k_hi)}
    bilinear = lambda u: jax.vmap(lambda t: fy.maximize(
        energies.bilinear, regularizers.BinaryEntropy(), t, solver=maximizers.ClosedForm())[0])(u)
    functions["ClosedForm (bilinear, BinaryEntropy): one call"] = (bilinear, (problem.unaries,))
    names = list(_solvers(args.k_lo, args.k_hi))
    for name, (reg, lo, hi) in _solvers(args.k_lo, args.k_hi).items():
        functions[name + " @lo"] = _batched_solve(reg, lo, thetas, args.k)
        functions[name + " @hi"] = _batched_solve(reg, hi, thetas, args.k)
    measured = measure_many(functions, reps=args.reps, max_seconds=120.0)

    unit = ((measured["unit @hi"].min_s - measured["unit @lo"].min_s)
            / (args.k_hi - args.k_lo))
    print(f"backend {jax.default_backend()}, batch {args.batch}, k = {args.k}, "
          f"pairwise energy (U ⪯ 0), K_lo = {args.k_lo}, K_hi = {args.k_hi}, "
          f"reps {args.reps}, fastest repetition")
    print(f"unit: one fixed-step projected gradient iteration (one batched ∇_y Φ) "
          f"= {unit * 1e6:.1f} µs")
    print()
    print("| solver (Ω) | µs per iteration (batch) | per iteration / unit | "
          "per iteration / ProjectedGradient's | fixed cost of a call, µs | "
          "iterations the batch ran (lo, hi) |")
    print("|---|---|---|---|---|---|")
    closed = measured["ClosedForm (bilinear, BinaryEntropy): one call"].min_s
    print(f"| ClosedForm (bilinear, BinaryEntropy) | - | - | - | {closed * 1e6:.1f} "
          f"({closed / unit:.2f} × unit) | 0 |")
    costs = {}
    for name in names:
        lo, hi = measured[name + " @lo"], measured[name + " @hi"]
        # The iterations the batch ran (its slowest example's): a solver may stop
        # before maxiter even at tol=0, on an exactly zero step.
        ran = (int(lo.output[1]), int(hi.output[1]))
        if ran[1] > ran[0]:
            per_iteration = (hi.min_s - lo.min_s) / (ran[1] - ran[0])
            costs[name] = (per_iteration, lo.min_s - ran[0] * per_iteration, ran)
    reference = costs.get(names[0], (None,))[0]
    for name in names:
        if name not in costs:
            print(f"| {name} | - | - | - | - | no difference to measure |")
            continue
        per_iteration, fixed, ran = costs[name]
        relative = f"{per_iteration / reference:.2f}" if reference else "-"
        print(f"| {name} | {per_iteration * 1e6:.1f} | {per_iteration / unit:.2f} | {relative} | "
              f"{fixed * 1e6:.1f} | {ran[0]}, {ran[1]} |")


if __name__ == "__main__":
    main()
