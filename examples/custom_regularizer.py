"""Your own regularizer, energy and solver, with no edit of fenchel
================================================================

A weighted squared box, Ω(y) = ½ Σ w_i y_i² on [0, 1]^k, needs nothing but a domain
and a value: the default solvers step on Φ − Ω and project onto the box. Its bilinear
maximizer is clip(θ / w, 0, 1), which the GFY loss and its gradient ŷ − y recover; the
pairwise energy works too, and ``fenchel.testing`` checks it with the properties the
project's own tests check on the built-ins. A solver written from the protocol
(projected gradient ascent with a fixed step) plugs in the same way.

Run: ``python examples/custom_regularizer.py`` (the core only, under a minute:
the ``fenchel.testing`` checks compile many small problems). With
``FENCHEL_EXAMPLES_SMALL=1`` (set by the documentation build, to keep it fast)
it skips those two checks and says so.
"""

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np

import fenchel as fy


@dataclasses.dataclass(frozen=True)
class WeightedSquaredBox(fy.regularizers.Regularizer):
    """Ω(y) = ½ Σ w_i y_i² on [0, 1]^k."""

    weights: tuple = (1.0, 2.0, 0.5, 4.0)
    domain = fy.domains.Box(0.0, 1.0)

    def value(self, y):
        return 0.5 * jnp.sum(jnp.asarray(self.weights) * jnp.square(y), axis=-1)


@dataclasses.dataclass(frozen=True)
class FixedStepAscent(fy.maximizers.Maximizer):
    """Projected gradient ascent on Φ − Ω with a fixed step: the maximizer protocol."""

    step: float = 0.1
    maxiter: int = 1000
    _leaf_fields = ("step",)
    local = True  # stops at the first stationary point

    def __call__(self, energy, reg, theta, init=None, key=None):
        energy = fy.energies.as_energy(energy)
        y = reg.project(fy.maximizers.resolve_init(energy, reg, theta, init))
        grad = jax.grad(lambda v: fy.maximizers.objective(energy, reg, theta, v))
        ascend = lambda _, v: reg.project(v + self.step * grad(v))
        y = jax.lax.fori_loop(0, self.maxiter, ascend, y)
        residual = jnp.linalg.norm(ascend(0, y) - y) / self.step
        return y, fy.maximizers.make_info(energy, reg, theta, y, self.maxiter, residual, 1e-4)


reg = WeightedSquaredBox()
theta = jnp.array([0.5, 1.0, 0.2, -1.0])
y = jnp.array([1.0, 0.0, 1.0, 0.0])

y_hat, info = fy.maximize(fy.energies.bilinear, reg, theta)
print("solver chosen:", fy.maximizers.default_solver(fy.energies.bilinear, reg))
print("y_hat:", np.round(np.asarray(y_hat), 4), "status:", fy.maximizers.Status.message(info.status))
print("closed form clip(theta / w, 0, 1):", np.clip(np.asarray(theta) / np.array(reg.weights), 0, 1))

loss, grad = jax.value_and_grad(fy.gfy_loss, argnums=2)(fy.energies.bilinear, reg, theta, y)
print(f"GFY loss {float(loss):.4f}; gradient == y_hat - y: "
      f"{bool(np.allclose(grad, y_hat - y, atol=1e-5))}")

u, V = theta, 0.3 * jnp.ones((4, 2))
pairwise_loss = fy.gfy_loss(fy.energies.low_rank_pairwise, reg, (u, V), y)
print(f"pairwise (U = -VV^T) GFY loss {float(pairwise_loss):.4f}")

SMALL = os.environ.get("FENCHEL_EXAMPLES_SMALL") == "1"
if SMALL:
    print("fenchel.testing.check_regularizer: skipped (FENCHEL_EXAMPLES_SMALL=1)")
else:
    fy.testing.check_regularizer(reg)
    print("fenchel.testing.check_regularizer: passed")

mine, _ = fy.maximize(fy.energies.low_rank_pairwise, reg, (u, V), solver=FixedStepAscent())
default, _ = fy.maximize(fy.energies.low_rank_pairwise, reg, (u, V))
print("own solver agrees with the default:", bool(np.allclose(mine, default, atol=1e-4)))
if SMALL:
    print("fenchel.testing.check_maximizer: skipped (FENCHEL_EXAMPLES_SMALL=1)")
else:
    fy.testing.check_maximizer(FixedStepAscent(), fy.energies.low_rank_pairwise, reg, (u, V))
    print("fenchel.testing.check_maximizer: passed")
