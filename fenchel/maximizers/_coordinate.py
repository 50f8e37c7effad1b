"""Exact block-coordinate ascent for energies with a constant Hessian in y."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from fenchel import energies as _energies
from fenchel.maximizers._base import (Maximizer, check_bool, check_int, check_real, loop,
                                      make_info, resolve_init)


@dataclasses.dataclass(frozen=True)
class CoordinateAscent(Maximizer):
    """Exact block-coordinate ascent for the pairwise energies.

    With ``S = ½(U + Uᵀ)`` and ``s_i = u_i + Σ_{j≠i} S_ij y_j``, each coordinate
    solves ``max_{y_i} s_i y_i + ½ S_ii y_i² − Ω(y_i)`` in closed form, by the
    regularizer's :meth:`~fenchel.regularizers.Regularizer.coordinate_maximizer`
    (the energy's :meth:`~fenchel.energies.Energy.coordinate_oracle` gives s and S):

    * SquaredBox (λ) and BoxIndicator (λ = 0): ``y_i = clip(s_i / (λ − S_ii))``
      when ``λ > S_ii``, else the better end of the box;
    * BinaryEntropy (λ): ``y_i = σ(s_i/λ)`` when ``S_ii = 0``; otherwise the
      root of ``s_i + S_ii σ(z) = λ z`` by bisection on the logit ``z``.

    One iteration is a sequential sweep over the ``k`` coordinates (``O(k²)``).
    For :func:`~fenchel.energies.low_rank_pairwise` (``S = −VVᵀ``, ``V: (k, r)``)
    the sweep keeps ``w = Vᵀy`` up to date instead of the field ``u + Sy``:
    ``s_i = u_i − V_i·w + ‖V_i‖² y_i`` and ``S_ii = −‖V_i‖²``, ``O(r)`` per
    coordinate, ``O(kr)`` per sweep.

    Attributes:
      maxiter: maximum number of sweeps.
      tol: stop when a sweep moves y by at most ``tol`` (‖·‖₂).
      unroll: run exactly ``maxiter`` sweeps in a differentiable loop.
    """

    maxiter: int = 200
    tol: float = 1e-5
    unroll: bool = False

    _leaf_fields: ClassVar[tuple[str, ...]] = ('tol',)

    def __post_init__(self):
        name = type(self).__name__
        check_int(name, "maxiter", self.maxiter, 1)
        check_real(name, "tol", self.tol, low_open=False)
        check_bool(name, "unroll", self.unroll)

    local: ClassVar[bool] = True

    def check(self, energy, reg):
        energy = _energies.as_energy(energy)
        if type(energy).coordinate_oracle is _energies.Energy.coordinate_oracle:
            raise TypeError(
                "CoordinateAscent needs an energy with a coordinate oracle (a constant Hessian "
                "in y, such as fenchel.energies.pairwise or low_rank_pairwise); got "
                f"{energy.__name__!r}")
        if not (reg.has_coordinate_maximizer and reg.domain.bounded):
            raise TypeError(
                "CoordinateAscent needs a separable regularizer with a coordinate maximizer "
                "(BinaryEntropy, SquaredBox, BoxIndicator); got "
                f"{type(reg).__name__}")

    def __call__(self, energy, reg, theta, init=None, key=None):
        energy = _energies.as_energy(energy)
        oracle = energy.coordinate_oracle(theta)
        if oracle is None:
            raise TypeError(f"energy {energy.__name__!r} has no coordinate oracle for this theta")
        diag, start, field, move = oracle
        y0 = reg.project(resolve_init(energy, reg, theta, init))
        k = y0.shape[0]

        def sweep(y):
            def update(i, carry):
                y, kept = carry  # what gives the field, kept up to date
                s = field(kept, i) - diag[i] * y[i]
                yi = reg.coordinate_maximizer(s, diag[i]).astype(y.dtype)
                return y.at[i].set(yi), move(kept, i, yi - y[i])

            y_new, _ = jax.lax.fori_loop(0, k, update, (y, start(y)))
            return y_new

        def body(state):
            y, it, _ = state
            y_new = sweep(y)
            return y_new, it + 1, jnp.linalg.norm(y_new - y)

        def cond(state):
            return (state[1] < self.maxiter) & (state[2] > self.tol)

        state = (y0, jnp.asarray(0), jnp.asarray(jnp.inf, y0.dtype))
        y, it, residual = loop(cond, body, state, self.maxiter, self.unroll)
        return y, make_info(energy, reg, theta, y, it, residual, self.tol)


