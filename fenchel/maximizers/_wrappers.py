"""Wrappers: the best of several starts, and solvers run in turn."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from fenchel.maximizers._base import (Maximizer, check_int, is_maximizer, random_init,
                                      resolve_init)
from fenchel.maximizers._first_order import ProjectedGradient


@dataclasses.dataclass(frozen=True)
class Restarts(Maximizer):
    """Run ``solver`` from ``init`` and from ``num_restarts`` random points of
    ``dom Ω``; keep the solution with the highest objective.

    For non-concave energies, where a single run finds a local maximum.
    """

    solver: Maximizer = dataclasses.field(default_factory=ProjectedGradient)
    num_restarts: int = 8

    _leaf_fields: ClassVar[tuple[str, ...]] = ('solver',)

    def __post_init__(self):
        if not is_maximizer(self.solver):
            raise TypeError("Restarts.solver must be a maximizer (a fenchel.maximizers."
                            f"Maximizer), got {type(self.solver).__name__}")
        check_int("Restarts", "num_restarts", self.num_restarts, 0)

    def check(self, energy, reg):
        self.solver.check(energy, reg)

    def __call__(self, energy, reg, theta, init=None, key=None):
        key = jax.random.key(0) if key is None else key
        init = resolve_init(energy, reg, theta, init)
        init_key, run_key = jax.random.split(key)
        inits = random_init(reg, init_key, (self.num_restarts,) + init.shape, init.dtype)
        inits = jnp.concatenate([init[None], inits])
        keys = jax.random.split(run_key, self.num_restarts + 1)
        ys, infos = jax.vmap(lambda y0, k: self.solver(energy, reg, theta, y0, k))(inits, keys)
        best = jnp.argmax(infos.objective)
        return ys[best], jax.tree.map(lambda leaf: leaf[best], infos)

    def fixed_point_map(self, energy, reg, theta, y):
        return self.solver.fixed_point_map(energy, reg, theta, y)


@dataclasses.dataclass(frozen=True)
class Sequential(Maximizer):
    """Run solvers in turn, each warm-started at the previous one's solution
    (e.g. ``Sequential((DerivativeFree(), ProjectedGradient()))``: sample, then
    refine by gradient). ``info`` is the last solver's, with iterations summed.
    """

    solvers: tuple[Maximizer, ...] = ()

    _leaf_fields: ClassVar[tuple[str, ...]] = ('solvers',)

    def __post_init__(self):
        if not isinstance(self.solvers, (tuple, list)) or not self.solvers:
            raise ValueError("Sequential needs at least one solver: solvers must be a "
                             f"non-empty tuple of solvers, got {self.solvers!r}")
        for solver in self.solvers:
            if not is_maximizer(solver):
                raise TypeError("Sequential.solvers must hold maximizers (fenchel.maximizers."
                                f"Maximizer instances), got {type(solver).__name__}")
        object.__setattr__(self, "solvers", tuple(self.solvers))

    def check(self, energy, reg):
        for solver in self.solvers:
            solver.check(energy, reg)

    def __call__(self, energy, reg, theta, init=None, key=None):
        key = jax.random.key(0) if key is None else key
        y, total = init, 0
        for solver, sub in zip(self.solvers, jax.random.split(key, len(self.solvers))):
            y, info = solver(energy, reg, theta, y, sub)
            total = total + info.iterations
        return y, info._replace(iterations=total)

    def fixed_point_map(self, energy, reg, theta, y):
        return self.solvers[-1].fixed_point_map(energy, reg, theta, y)


