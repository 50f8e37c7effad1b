"""Sampling solvers: derivative-free resampling and annealed Langevin ascent. They
certify nothing (status ``NO_CERTIFICATE``) and work for non-concave energies."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from fenchel import regularizers as _regs
from fenchel.maximizers._base import (Maximizer, check_int, check_real, make_info, objective,
                                      random_init, require_bounded, resolve_init)

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class DerivativeFree(Maximizer):
    """Derivative-free iterative resampling over a box (implicit BC's inference).

    Draw ``num_samples`` points uniformly in the box; then ``iterations`` times,
    resample them with probabilities ``softmax(F(y)/temperature)``, perturb with
    Gaussian noise of standard deviation ``noise_scale·(upper − lower)``
    (multiplied by ``shrink`` each round) and clip; return the best point seen.
    No convergence certificate: ``info.residual`` is the final noise scale,
    ``info.converged`` is always true and ``info.status`` is ``NO_CERTIFICATE``. Works for non-concave (neural) energies.

    Reference: Florence et al. Implicit Behavioral Cloning. CoRL 2021.
    """

    num_samples: int = 1024
    iterations: int = 3
    noise_scale: float = 0.33
    shrink: float = 0.5
    temperature: float = 1.0

    _leaf_fields: ClassVar[tuple[str, ...]] = ('noise_scale', 'shrink', 'temperature')

    def __post_init__(self):
        name = type(self).__name__
        check_int(name, "num_samples", self.num_samples, 1)
        check_int(name, "iterations", self.iterations, 0)
        check_real(name, "noise_scale", self.noise_scale, low_open=False)
        check_real(name, "shrink", self.shrink, high=1.0)
        check_real(name, "temperature", self.temperature)

    def check(self, energy, reg):
        require_bounded(self, reg)

    def __call__(self, energy, reg, theta, init=None, key=None):
        key = jax.random.key(0) if key is None else key
        init = resolve_init(energy, reg, theta, init)
        evaluate = jax.vmap(lambda y: objective(energy, reg, theta, y))
        key, sub = jax.random.split(key)
        samples = random_init(reg, sub, (self.num_samples,) + init.shape, init.dtype)
        samples = samples.at[0].set(reg.project(init))
        width = reg.domain.width

        def keep_best(best, samples, values):
            i = jnp.argmax(values)
            return jax.tree.map(lambda old, new: jnp.where(values[i] > best[1], new, old),
                                best, (samples[i], values[i]))

        def round_(carry, noise):
            samples, values, best, key = carry
            key, pick, perturb = jax.random.split(key, 3)
            idx = jax.random.categorical(pick, values / self.temperature, shape=(self.num_samples,))
            moved = samples[idx] + noise * jax.random.normal(perturb, samples.shape, samples.dtype)
            moved = reg.project(moved)
            values = evaluate(moved)
            return (moved, values, keep_best(best, moved, values), key), None

        noises = self.noise_scale * width * self.shrink ** jnp.arange(self.iterations)
        values = evaluate(samples)
        # The best point of every round is kept: resampling may drop it (and the warm start).
        first = (samples[jnp.argmax(values)], jnp.max(values))
        (_, _, (y, _), _), _ = jax.lax.scan(
            round_, (samples, values, first, key), noises.astype(init.dtype))
        final_noise = noises[-1] if self.iterations else 0.0
        return y, make_info(energy, reg, theta, y, self.iterations, final_noise, jnp.inf,
                            certified=False)


def interior_gradient(energy: Any, reg: _regs.Regularizer, theta: Any):
    """``ys: (n, k) -> (n, k)``: the gradient of ``Φ(θ, ·) − Ω`` at the nearest point of
    ``dom Ω`` (inside it for an entropic Ω, whose gradient is infinite on the boundary).
    Not taken through the clip, whose zero derivative would freeze chains on the
    boundary. Shared by the Langevin samplers."""
    eps = 1e-6 if reg.is_entropic else 0.0
    grad_one = jax.grad(lambda y: objective(energy, reg, theta, y))
    return jax.vmap(lambda y: grad_one(reg.domain.interior(y, eps)))


def initial_chains(reg: _regs.Regularizer, key: Array, init: Array, num_chains: int) -> Array:
    """``(num_chains, k)`` uniform draws on ``dom Ω``, chain 0 at ``init`` (projected)."""
    chains = random_init(reg, key, (num_chains,) + init.shape, init.dtype)
    return chains.at[0].set(reg.project(init))


@dataclasses.dataclass(frozen=True)
class Langevin(Maximizer):
    """Annealed projected Langevin ascent over a box, best of several chains.

    .. math:: y^+ = Π_{box}\\big(y + η ∇_y F(y) + \\sqrt{2 η T_t}\\, ξ\\big),
              \\quad ξ \\sim N(0, I)

    with the temperature ``T_t`` decreasing linearly from ``temperature`` to 0,
    so the chains end with plain projected gradient steps. Gradients of entropic
    Ω are taken in the interior. No convergence certificate: ``info.residual``
    is the last step's gradient mapping, and ``converged = residual <= tol``.
    """

    num_chains: int = 32
    maxiter: int = 200
    step_size: float = 1e-2
    temperature: float = 1e-2
    tol: float = 1e-3

    _leaf_fields: ClassVar[tuple[str, ...]] = ('step_size', 'temperature', 'tol')

    def __post_init__(self):
        name = type(self).__name__
        check_int(name, "num_chains", self.num_chains, 1)
        check_int(name, "maxiter", self.maxiter, 1)
        check_real(name, "step_size", self.step_size)
        check_real(name, "temperature", self.temperature, low_open=False)
        check_real(name, "tol", self.tol, low_open=False)

    def check(self, energy, reg):
        require_bounded(self, reg)

    def __call__(self, energy, reg, theta, init=None, key=None):
        key = jax.random.key(0) if key is None else key
        init = resolve_init(energy, reg, theta, init)
        grad_f = interior_gradient(energy, reg, theta)
        key, sub = jax.random.split(key)
        chains = initial_chains(reg, sub, init, self.num_chains)
        temps = self.temperature * (1 - jnp.arange(self.maxiter) / max(self.maxiter - 1, 1))

        def step(carry, temp):
            chains, key = carry
            key, sub = jax.random.split(key)
            noise = jax.random.normal(sub, chains.shape, chains.dtype)
            moved = reg.project(chains + self.step_size * grad_f(chains)
                                + jnp.sqrt(2 * self.step_size * temp) * noise)
            return (moved, key), jnp.linalg.norm(moved - chains, axis=-1) / self.step_size

        (chains, _), residuals = jax.lax.scan(step, (chains, key), temps.astype(init.dtype))
        values = jax.vmap(lambda y: objective(energy, reg, theta, y))(chains)
        best = jnp.argmax(values)
        y = chains[best]
        return y, make_info(energy, reg, theta, y, self.maxiter, residuals[-1, best], self.tol,
                            certified=False)


