"""Loss + gradient on the permutahedron and the Birkhoff polytope, batch 256,
k ∈ {5, 10, 50}: the GFY loss (Danskin: ŷ under no derivative, gradient ŷ − y)
against the same solver differentiated by reverse-mode autodiff through its
computation (``unrolled``): for PAV through the pooled block means (its loop has no
derivative), for the Birkhoff solvers through a fixed number of iterations, as many
as the converged solve used at most on the batch. One process, time ratios printed.

Run: ``python benchmarks/ranking_maximizers.py`` (add ``--quick`` for k ∈ {5, 10}).
"""
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import fenchel as fy
from fenchel import _doubly_stochastic

E, R = fy.energies, fy.regularizers
BATCH = 256


def timed(fn, *args, repeats=5):
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def objective_loss(reg, y_hat_fn):
    """The FY loss with ŷ(θ) differentiated through (no Danskin)."""
    def loss(theta, y):
        y_hat = y_hat_fn(theta)
        return jnp.mean(jnp.sum(theta * (y_hat - y), -1) - reg.value(y_hat) + reg.value(y))
    return loss


def cases(k, key):
    theta_key, y_key = jax.random.split(key)
    perm_theta = 2.0 * jax.random.normal(theta_key, (BATCH, k))
    birk_theta = 2.0 * jax.random.normal(theta_key, (BATCH, k * k))
    for reg in (R.SquaredPermutahedron(), R.EntropicPermutahedron()):
        y = reg.domain.sample(y_key, (BATCH, k))
        yield reg, perm_theta, y, reg.linear_maximizer, None
    for reg in (R.SquaredBirkhoff(), R.EntropicBirkhoff()):
        y = reg.domain.sample(y_key, (BATCH, k * k))
        _, info = reg.linear_maximizer_with_info(birk_theta)
        steps = int(np.max(np.asarray(info.iterations)))
        kind = reg._kind

        def unrolled(theta, kind=kind, steps=steps, k=k, scale=reg.scale):
            one = lambda t: _doubly_stochastic.solve_unrolled(t.reshape(k, k) / scale, kind,
                                                               steps).reshape(-1)
            return jax.vmap(one)(theta)
        yield reg, birk_theta, y, unrolled, steps


def main():
    ks = (5, 10) if "--quick" in sys.argv else (5, 10, 50)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print("| regularizer | k | iterations | GFY loss+grad (ms) | unrolled loss+grad (ms) | "
          "unrolled / GFY | max |grad difference| |")
    print("|---|---|---|---|---|---|---|")
    for k in ks:
        for reg, theta, y, y_hat_fn, steps in cases(k, jax.random.key(k)):
            gfy = jax.jit(jax.value_and_grad(
                lambda t, y_: jnp.mean(fy.gfy_loss(E.bilinear, reg, t, y_))))
            unrolled = jax.jit(jax.value_and_grad(objective_loss(reg, y_hat_fn)))
            t_gfy, t_unrolled = timed(gfy, theta, y), timed(unrolled, theta, y)
            difference = float(jnp.max(jnp.abs(gfy(theta, y)[1] - unrolled(theta, y)[1])))
            print(f"| {type(reg).__name__} | {k} | {steps or 'exact (PAV)'} | "
                  f"{1e3 * t_gfy:.2f} | {1e3 * t_unrolled:.2f} | {t_unrolled / t_gfy:.2f} | "
                  f"{difference:.1e} |", flush=True)


if __name__ == "__main__":
    main()
