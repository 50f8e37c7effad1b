"""A pairwise energy network on yeast, in a few lines of JAX and optax
===================================================================

The network maps features x to unaries u = W x + b; a label-interaction matrix
U = −V Vᵀ (negative semi-definite, so the energy is concave in y) is shared by
all examples. The energy is fenchel's ``pairwise``,

    Φ((u, U), y) = <u, y> + ½ yᵀ U y,

the regularizer Ω the binary entropy on [0, 1]^k, and the training loss the
generalized Fenchel-Young loss (:func:`fenchel.make_gfy_loss`): its gradient
is ∇_θ Φ(θ, ŷ) − ∇_θ Φ(θ, y) (Danskin), so the inner solver is never
differentiated. Prediction solves ŷ = argmax_y Φ(θ, y) − Ω(y) with
:func:`fenchel.maximize` and thresholds it at 0.5.

Data: the MULAN yeast files, read by :func:`fenchel.datasets.load_dataset`
from ``$FENCHEL_DATA`` (no download: ``download=False``). Few epochs of Adam;
the full experiment (several energies and losses, tuned) is ``fenchel
multilabel``, see docs/multilabel.md.

Run: ``FENCHEL_DATA=/path/to/multilabel python examples/pairwise_yeast.py``
(needs the ``[multilabel]`` extra for the ARFF reader). It prints the loss of
each epoch, ends with ``test Hamming accuracy: ...`` and plots the loss of each
step. With ``FENCHEL_EXAMPLES_SMALL=1`` (set by the documentation build, to keep
it fast) it trains 2 epochs instead of 5.
"""

import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import optax

import fenchel as fy
from fenchel.datasets import load_dataset

data = load_dataset("yeast", seed=0, download=False)  # standardized float32 splits
x, y, d, k = data.train.x, data.train.y, data.n_features, data.n_labels
energy, reg = fy.energies.pairwise, fy.regularizers.BinaryEntropy()
solver = fy.maximizers.CoordinateAscent()  # exact block-coordinate ascent for pairwise
loss_one = fy.make_gfy_loss(energy, reg, solver)


def theta(params, x):  # ((n, k) unaries, (k, k) interactions)
    return x @ params["W"] + params["b"], fy.energies.negative_semidefinite(params["V"])


def loss_fn(params, x, y):
    u, U = theta(params, x)
    return jnp.mean(jax.vmap(loss_one, in_axes=((0, None), 0))((u, U), y))


keys = jax.random.split(jax.random.key(0), 2)
params = {"W": 0.01 * jax.random.normal(keys[0], (d, k)), "b": jnp.zeros(k),
          "V": 0.01 * jax.random.normal(keys[1], (k, 4))}
optimizer = optax.adam(1e-2)
state = optimizer.init(params)


@jax.jit
def step(params, state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, state = optimizer.update(grads, state, params)
    return optax.apply_updates(params, updates), state, loss


batch, epochs = 64, 2 if os.environ.get("FENCHEL_EXAMPLES_SMALL") == "1" else 5
steps = []  # the loss of each step, for the figure
for epoch in range(epochs):
    order = jax.random.permutation(jax.random.key(epoch), len(x))
    losses = []
    for start in range(0, len(x) - batch + 1, batch):
        rows = order[start:start + batch]
        params, state, loss = step(params, state, x[rows], y[rows])
        losses.append(float(loss))
    steps += losses
    print(f"epoch {epoch}: mean GFY loss {sum(losses) / len(losses):.4f}")

y_hat, info = fy.maximize(energy, reg, theta(params, data.test.x), solver=solver)  # a batch
accuracy = float(jnp.mean((y_hat > 0.5) == (data.test.y > 0.5)))
print(f"solver converged on {float(jnp.mean(info.converged)):.0%} of the test examples")
print(f"test Hamming accuracy: {accuracy:.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(steps, lw=1)
ax.set(xlabel=f"Adam step (batches of {batch})", ylabel="mean GFY loss of the batch",
       title="Training a pairwise energy network on yeast")
fig.tight_layout()
plt.show()
