"""``nnx_energy``: a flax nnx network as an energy (flax is the optional ``[nnx]`` extra)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fenchel import energies as E

nnx = pytest.importorskip("flax.nnx")



class _TinyNet(nnx.Module):
    def __init__(self, rngs):
        self.features = nnx.Linear(2, 3, rngs=rngs)

    def __call__(self, x, y):
        return jnp.vdot(jnp.tanh(self.features(x)), y) - 0.5 * jnp.sum(y ** 2)


def test_nnx_energy_matches_the_module():
    model = _TinyNet(nnx.Rngs(0))
    energy, params = E.nnx_energy(model)
    x, y = jnp.array([0.5, -1.0]), jnp.array([0.2, 0.7, 1.0])
    np.testing.assert_allclose(energy((params, x), y), model(x, y), rtol=1e-6)
    # θ = (params, x) is a pytree that jit and grad go through.
    grads = jax.jit(jax.grad(energy))((params, x), y)
    assert jax.tree.structure(grads[0]) == jax.tree.structure(params)
    # Changing the parameters changes the energy, without touching the module.
    shifted = jax.tree.map(lambda p: p + 1.0, params)
    assert float(energy((shifted, x), y)) != pytest.approx(float(model(x, y)))
    np.testing.assert_allclose(energy((params, x), y), model(x, y), rtol=1e-6)


def test_nnx_energy_rejects_non_scalar_outputs():
    class Wide(nnx.Module):
        def __init__(self, rngs):
            self.lin = nnx.Linear(2, 2, rngs=rngs)

        def __call__(self, x, y):
            return self.lin(x) * y  # two values: not an energy

    energy, params = E.nnx_energy(Wide(nnx.Rngs(0)))
    with pytest.raises(TypeError):
        energy((params, jnp.ones(2)), jnp.ones(2))
