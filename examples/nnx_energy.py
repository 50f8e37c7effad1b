"""A custom flax nnx energy, trained with the GFY loss
===================================================

Any flax ``nnx.Module`` whose ``__call__(x, y)`` returns a scalar is an energy:
:func:`fenchel.energies.nnx_energy` splits it into ``(energy, params)``, where
``energy((params, x), y)`` evaluates the network with ``params``. θ = (params,
x) is then an ordinary pytree: ``jax.grad`` of the GFY loss with respect to
``params`` trains the network, and optax updates them.

The network here is

    E_W(x, y) = <MLP_W(x), y> − ½ ‖C_W y‖²,

nonlinear in x and concave in y (the second term), so the inner problem
ŷ = argmax_{y ∈ [0,1]^k} E_W(x, y) − Ω(y), with Ω the squared norm on the box
(``SquaredBox``), is solved exactly by projected gradient ascent
(:class:`fenchel.maximizers.ProjectedGradient`). A neural energy's output
shape is unknown to fenchel, so the solver gets a starting point ``init``.

The task is synthetic: targets y = sigmoid(A x) in [0, 1]^3. The script trains
for a few hundred Adam steps and compares the held-out error of ŷ with that of
always predicting the mean target.

Run: ``python examples/nnx_energy.py`` (needs flax: the ``[nnx]`` extra).
It ends with ``held-out mean |y_hat - y|: ... (predicting the mean: ...)``.
With ``FENCHEL_EXAMPLES_SMALL=1`` (set by the documentation build, to keep it
fast) it trains 100 steps instead of 300.
"""

import os

import jax
import jax.numpy as jnp
import optax
from flax import nnx

import fenchel as fy

d, k = 4, 3


class Energy(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(d, 32, rngs=rngs)
        self.scores = nnx.Linear(32, k, rngs=rngs)
        self.curvature = nnx.Linear(k, k, use_bias=False, rngs=rngs)

    def __call__(self, x, y):
        scores = self.scores(jax.nn.relu(self.hidden(x)))
        return jnp.vdot(scores, y) - 0.5 * jnp.sum(self.curvature(y) ** 2)


energy, params = fy.energies.nnx_energy(Energy(nnx.Rngs(0)))
reg = fy.regularizers.SquaredBox()  # Ω(y) = ½‖y‖² on [0, 1]^k
solver = fy.maximizers.ProjectedGradient(maxiter=100)
init = jnp.full(k, 0.5)  # the centre of the box

# Synthetic data: y = sigmoid(A x).
key_a, key_x, key_test = jax.random.split(jax.random.key(0), 3)
A = 2.0 * jax.random.normal(key_a, (k, d))
x_train, x_test = jax.random.normal(key_x, (512, d)), jax.random.normal(key_test, (256, d))
y_train, y_test = jax.nn.sigmoid(x_train @ A.T), jax.nn.sigmoid(x_test @ A.T)


def loss_fn(params, x, y):
    one = lambda x, y: fy.gfy_loss(energy, reg, (params, x), y, solver=solver, init=init)
    return jnp.mean(jax.vmap(one)(x, y))


def predict(params, x):
    solve = lambda x: fy.maximize(energy, reg, (params, x), solver=solver, init=init)[0]
    return jax.vmap(solve)(x)


optimizer = optax.adam(1e-2)
state = optimizer.init(params)


@jax.jit
def step(params, state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, state = optimizer.update(grads, state, params)
    return optax.apply_updates(params, updates), state, loss


steps = 100 if os.environ.get("FENCHEL_EXAMPLES_SMALL") == "1" else 300
for it in range(steps + 1):
    rows = jax.random.randint(jax.random.key(it), (64,), 0, len(x_train))
    params, state, loss = step(params, state, x_train[rows], y_train[rows])
    if it % 100 == 0:
        print(f"step {it}: GFY loss {float(loss):.4f}")

error = float(jnp.mean(jnp.abs(jax.jit(predict)(params, x_test) - y_test)))
baseline = float(jnp.mean(jnp.abs(y_train.mean(0) - y_test)))
print(f"held-out mean |y_hat - y|: {error:.3f} (predicting the mean: {baseline:.3f})")
