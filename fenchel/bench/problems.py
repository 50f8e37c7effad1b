"""Synthetic inputs shared by the benchmark cases (fixed seeds, so runs compare)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from fenchel import energies, maximizers, regularizers

Array = jax.Array

REGULARIZERS = {
    "BinaryEntropy": regularizers.BinaryEntropy,
    "SquaredBox": regularizers.SquaredBox,
}


class PairwiseProblem(NamedTuple):
    """A batch of pairwise-energy problems ``Φ((u_i, U), y) = <u_i, y> + ½ yᵀUy``.

    Attributes:
      unaries: ``(batch, k)`` per-example unaries ``u_i``.
      interactions: ``(k, k)`` shared ``U = −VVᵀ/k``, negative semi-definite
        with ``‖U‖₂ ≈ 4`` whatever k, so the inner problems are equally hard.
      targets: ``(batch, k)`` binary targets (30% ones).
    """

    unaries: Array
    interactions: Array
    targets: Array


def pairwise_problem(seed: int, batch: int, num_labels: int) -> PairwiseProblem:
    """Random, well-posed pairwise problems (see :class:`PairwiseProblem`).

    Example:
      >>> from fenchel.bench.problems import pairwise_problem
      >>> p = pairwise_problem(0, batch=4, num_labels=3)
      >>> p.unaries.shape, p.interactions.shape, p.targets.shape
      ((4, 3), (3, 3), (4, 3))
    """
    k_u, k_v, k_y = jax.random.split(jax.random.key(seed), 3)
    unaries = 2.0 * jax.random.normal(k_u, (batch, num_labels))
    factor = jax.random.normal(k_v, (num_labels, num_labels)) / jnp.sqrt(num_labels)
    interactions = energies.negative_semidefinite(factor)
    targets = jax.random.bernoulli(k_y, 0.3, (batch, num_labels)).astype(jnp.float32)
    return PairwiseProblem(unaries, interactions, targets)


def fixed_iteration_solver(reg: regularizers.Regularizer, iterations: int) -> maximizers.Maximizer:
    """The solver run for exactly ``iterations`` steps (``tol=0``) for ``reg``:
    mirror ascent for entropic Ω, accelerated projected gradient otherwise.

    ``tol=0`` keeps the while loop going for all K steps (it stops earlier only
    if a step is exactly zero), so GFY, bare maximization, unrolling and implicit
    differentiation all run the same K iterations forward.
    """
    if reg.is_entropic:
        return maximizers.MirrorAscent(maxiter=iterations, tol=0.0)
    return maximizers.ProjectedGradient(maxiter=iterations, tol=0.0)


__all__ = ["REGULARIZERS", "PairwiseProblem", "pairwise_problem", "fixed_iteration_solver"]
