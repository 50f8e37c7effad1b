"""Implicit BC's Langevin sampler as an inner maximizer (the ``--acting langevin`` of the
energy policies).

IBC's best particle result acts by Langevin MCMC on the energy (``ibc/agents/mcmc.py``,
``langevin_actions_given_obs`` called by ``ibc/agents/ibc_policy.py``, ``IbcPolicy``): start
``num_samples`` chains uniformly in the action box, run ``maxiter`` steps of

.. math:: y^+ = Π_{box}\\Big(y + \\operatorname{clip}\\big(η_t (½ ∇F(y) + σ ξ),
          ± δ (u − l)/2\\big)\\Big), \\qquad ξ \\sim N(0, I),

with the polynomially decaying step size

.. math:: η_t = (η_0 − η_{final}) (1 − t/(T − 1))^p + η_{final}, \\quad t = 0 … T − 1,

and return the chain whose final point scores highest (``IbcPolicy`` wraps the final samples
in a categorical of ``softmax(E)``; the greedy evaluation policy takes its mode). ``F`` is the
inner objective ``Φ(θ, y) − Ω(y)`` (for IBC's own energy, Ω = 0 on the box). The defaults are
IBC's: ``sampler_stepsize_init = 1e-1``, ``sampler_stepsize_final = 1e-5``,
``sampler_stepsize_power = 2.0``, ``use_polynomial_rate = True``, ``noise_scale = 1.0``,
``delta_action_clip = 0.1`` (scaled by half the box width, "as if the actions were in a
min-max range of -1 to 1"), ``grad_clip = None`` (``langevin_actions_given_obs`` and
``langevin_step``); ``num_iterations = 100`` (``langevin_actions_given_obs.num_iterations``
in ``ibc/configs/particle/mlp_ebm_langevin.gin``, the function's own default is 25) and
``num_action_samples = 512`` (``IbcPolicy.num_action_samples``, same file).

Unlike :class:`fenchel.maximizers.Langevin` (constant step, noise ``√(2ηT)`` with a
temperature annealed to 0), the noise here shrinks with the step, never relative to it: the
gradient term is ``½η∇F`` and the noise ``ησξ``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from fenchel import maximizers as fm
from fenchel.maximizers import check_int, check_real, require_bounded, resolve_init


def polynomial_step_sizes(step_size, final_step_size, power, maxiter: int) -> jax.Array:
    """IBC's ``PolynomialSchedule``: the (maxiter,) step sizes
    ``η_t = (η_0 − η_final)(1 − t/(T − 1))^p + η_final`` (just ``η_0`` when ``T = 1``).

    Example:
      >>> from fenchel.imitation.langevin import polynomial_step_sizes
      >>> [round(float(v), 4) for v in polynomial_step_sizes(0.1, 0.01, 2.0, 3)]
      [0.1, 0.0325, 0.01]
    """
    t = jnp.arange(maxiter) / max(maxiter - 1, 1)
    return (step_size - final_step_size) * (1.0 - t) ** power + final_step_size


@dataclasses.dataclass(frozen=True)
class IBCLangevin(fm.Maximizer):
    """Implicit BC's Langevin MCMC over a box; the best final chain (module docstring).

    Chain 0 starts at ``init`` (the convention of the other sampling solvers, so that a
    warm start is among the starting points), the others uniformly in the box as in IBC.
    Deterministic given ``key``; jit- and vmap-able. No convergence certificate:
    ``info.residual`` is the projected-gradient norm ``‖Π(y + η_T ∇F(y)) − y‖/η_T`` at
    the returned point and ``info.converged`` is ``residual <= tol``.

    Args:
      num_samples: chains.
      maxiter: Langevin steps T.
      step_size: η_0.
      final_step_size: η_final (the step size of the last step).
      power: exponent p of the decay.
      noise_scale: σ.
      max_move: δ, the largest move per coordinate and step, in half box widths.
      tol: tolerance of ``info.converged``.

    Example:
      >>> import jax.numpy as jnp
      >>> from fenchel import regularizers
      >>> from fenchel.imitation.langevin import IBCLangevin
      >>> energy = lambda theta, y: -50.0 * jnp.sum((y - theta) ** 2)
      >>> y, info = IBCLangevin(num_samples=16)(energy, regularizers.BoxIndicator(),
      ...                                       jnp.array([0.3, 0.7]), jnp.zeros(2))
      >>> bool(jnp.allclose(y, jnp.array([0.3, 0.7]), atol=0.01))
      True
    """

    num_samples: int = 512
    maxiter: int = 100
    step_size: float = 0.1
    final_step_size: float = 1e-5
    power: float = 2.0
    noise_scale: float = 1.0
    max_move: float = 0.1
    tol: float = 1e-3

    _leaf_fields: ClassVar[tuple[str, ...]] = (
        "step_size", "final_step_size", "power", "noise_scale", "max_move", "tol")

    def __post_init__(self):
        name = type(self).__name__
        check_int(name, "num_samples", self.num_samples, 1)
        check_int(name, "maxiter", self.maxiter, 1)
        check_real(name, "step_size", self.step_size)
        check_real(name, "final_step_size", self.final_step_size)
        check_real(name, "power", self.power, low_open=False)
        check_real(name, "noise_scale", self.noise_scale, low_open=False)
        check_real(name, "max_move", self.max_move)
        check_real(name, "tol", self.tol, low_open=False)

    def check(self, energy, reg):
        require_bounded(self, reg)

    def __call__(self, energy, reg, theta, init=None, key=None):
        key = jax.random.key(0) if key is None else key
        init = resolve_init(energy, reg, theta, init)
        grad_f = fm.interior_gradient(energy, reg, theta)
        key, sub = jax.random.split(key)
        chains = fm.initial_chains(reg, sub, init, self.num_samples)
        largest = self.max_move * 0.5 * jnp.asarray(reg.domain.width)
        steps = polynomial_step_sizes(self.step_size, self.final_step_size, self.power,
                                      self.maxiter).astype(init.dtype)

        def step(carry, eta):
            chains, key = carry
            key, sub = jax.random.split(key)
            noise = jax.random.normal(sub, chains.shape, chains.dtype)
            move = eta * (0.5 * grad_f(chains) + self.noise_scale * noise)
            return (reg.project(chains + jnp.clip(move, -largest, largest)), key), None

        (chains, _), _ = jax.lax.scan(step, (chains, key), steps)
        values = jax.vmap(lambda y: fm.objective(energy, reg, theta, y))(chains)
        y = chains[jnp.argmax(values)]
        eta = steps[-1]
        residual = jnp.linalg.norm(reg.project(y + eta * grad_f(y[None])[0]) - y) / eta
        return y, fm.MaximizerInfo(
            iterations=jnp.asarray(self.maxiter, jnp.int32), residual=residual,
            objective=jnp.max(values), converged=residual <= self.tol)


__all__ = ["IBCLangevin", "polynomial_step_sizes"]
