"""Classic Fenchel-Young losses are GFY losses with the bilinear energy
====================================================================

With Φ(θ, y) = <θ, y> the generalized Fenchel-Young loss
L(θ; y) = Ω^Φ(θ) + Ω(y) − Φ(θ, y) is the classic Fenchel-Young loss of Ω, and
each choice of the regularizer Ω gives a familiar loss:

=================  =======================================  =================
Ω                  classic loss (the optax function)         targets y
=================  =======================================  =================
BinaryEntropy      sigmoid binary cross-entropy, summed      0/1 labels
ShannonSimplex     softmax cross-entropy                     one-hot class
SquaredSimplex     sparsemax loss                            one-hot class
Squared            ½‖θ − y‖² (``optax.l2_loss``, summed)      real vectors
=================  =======================================  =================

This script builds each loss with :func:`fenchel.make_gfy_loss`, evaluates it
and its gradient on a random batch, and checks both against optax. The
gradient is ŷ − y by Danskin's theorem (sigmoid, softmax, sparsemax or the
identity of θ, minus y): nothing is differentiated through a solver.

Run: ``python examples/classic_fy_losses.py`` (the core install is enough).
It prints one line per loss and ends with ``all match optax``.
"""

import jax
import jax.numpy as jnp
import optax

import fenchel as fy

batch, k = 8, 5
key_theta, key_y, key_class = jax.random.split(jax.random.key(0), 3)
theta = 3.0 * jax.random.normal(key_theta, (batch, k))  # scores of a network
labels = jax.random.bernoulli(key_y, 0.4, (batch, k)).astype(jnp.float32)  # multilabel 0/1
classes = jax.random.randint(key_class, (batch,), 0, k)
one_hot = jax.nn.one_hot(classes, k)  # one class per example
real = jax.random.normal(key_y, (batch, k))  # regression targets

cases = [
    # (Ω, targets, the optax loss of one batch: (batch, k), (batch, k) -> (batch,))
    (fy.regularizers.BinaryEntropy(), labels,
     lambda s, y: optax.sigmoid_binary_cross_entropy(s, y).sum(-1)),
    (fy.regularizers.ShannonSimplex(), one_hot, optax.softmax_cross_entropy),
    (fy.regularizers.SquaredSimplex(), one_hot,
     lambda s, y: optax.losses.multiclass_sparsemax_loss(s, jnp.argmax(y, -1))),
    (fy.regularizers.Squared(), real, lambda s, y: optax.l2_loss(s, y).sum(-1)),
]

worst = 0.0
for reg, y, optax_loss in cases:
    loss = fy.make_gfy_loss(fy.energies.bilinear, reg)  # loss(theta, y) for one example
    gfy_mean = jax.jit(lambda s, y: jnp.mean(jax.vmap(loss)(s, y)))
    ref_mean = jax.jit(lambda s, y: jnp.mean(optax_loss(s, y)))
    value, grad = jax.value_and_grad(gfy_mean)(theta, y)
    ref_value, ref_grad = jax.value_and_grad(ref_mean)(theta, y)
    diff = max(abs(float(value - ref_value)), float(jnp.max(jnp.abs(grad - ref_grad))))
    worst = max(worst, diff)
    print(f"{type(reg).__name__:15s} gfy {float(value):.6f}  optax {float(ref_value):.6f}  "
          f"max |difference| (value, gradient) {diff:.1e}")

if worst > 1e-5:
    raise SystemExit(f"mismatch with optax: {worst:.3g}")
print("all match optax")
