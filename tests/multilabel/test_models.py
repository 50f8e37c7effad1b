"""Energy networks: θ shapes, concavity, the temperature rescaling, bad arguments."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings, strategies as st

from fenchel import energies
from fenchel.multilabel.models import EnergyNetwork, FeatureMap, energy_spec


@pytest.mark.parametrize("hidden", [0, 8])
@pytest.mark.parametrize("energy", ["unary", "pairwise", "global"])
def test_theta_shapes_and_batched_energy(energy, hidden):
    n, d, k = 5, 7, 4
    net = EnergyNetwork(d, k, energy, hidden=hidden, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (n, d))
    spec = energy_spec(net, x)
    assert spec.n_labels == k
    if energy == "unary":
        assert spec.energy is energies.bilinear and spec.theta.shape == (n, k)
    elif energy == "pairwise":
        assert spec.energy is energies.pairwise
        assert spec.theta[0].shape == (n, k) and spec.theta[1].shape == (k, k)
    else:
        (first, second), unaries = spec.theta
        assert unaries.shape == (n, k) and first.shape[1] == k and second.shape == first.shape[:1]
    y = jnp.ones((n, k)) * 0.5
    values = jax.vmap(spec.energy, in_axes=(spec.axes, 0))(spec.theta, y)
    assert values.shape == (n,) and bool(jnp.all(jnp.isfinite(values)))
    # The unaries come from the feature map, example by example.
    np.testing.assert_allclose(net.unaries(x)[2], net.unaries(x[2]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k, rank, scale", [(1, 1, 0.1), (4, 2, 1.0), (6, 6, 3.0),
                                             (5, 8, 10.0)])
def test_concave_interactions_are_negative_semidefinite(k, rank, scale):
    net = EnergyNetwork(3, k, "pairwise", concave=True, rank=rank, rngs=nnx.Rngs(k))
    net.interaction_weights[...] = jnp.asarray(
        scale * np.random.default_rng(rank).standard_normal((k, rank)), jnp.float32)
    interactions = np.asarray(net.interactions(), np.float64)
    np.testing.assert_allclose(interactions, interactions.T, atol=1e-5 * scale ** 2)
    assert np.linalg.eigvalsh(interactions).max() <= 1e-5 * scale ** 2 * k


def test_free_interactions_are_symmetric_and_can_be_indefinite():
    net = EnergyNetwork(3, 4, "pairwise", concave=False, rngs=nnx.Rngs(0))
    net.interaction_weights[...] = jnp.asarray(np.diag([1.0, -1.0, 0.5, 0.0]))
    interactions = np.asarray(net.interactions())
    np.testing.assert_allclose(interactions, interactions.T)
    eigenvalues = np.linalg.eigvalsh(interactions)
    assert eigenvalues.max() > 0 > eigenvalues.min()


@pytest.mark.parametrize("energy", ["unary", "pairwise", "global"])
def test_scaled_spec_scales_the_energy(energy):
    net = EnergyNetwork(4, 3, energy, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (2, 4))
    y = jax.random.uniform(jax.random.key(1), (2, 3))
    spec = energy_spec(net, x)
    scaled = spec.scaled(0.25)
    assert scaled.energy is spec.energy
    value = jax.vmap(spec.energy, in_axes=(spec.axes, 0))
    np.testing.assert_allclose(value(scaled.theta, y), 0.25 * value(spec.theta, y),
                               rtol=1e-5, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="energy"):
        EnergyNetwork(3, 2, "cubic", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="hidden"):
        FeatureMap(3, 2, hidden=-1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="n_labels"):
        FeatureMap(3, 0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="interaction"):
        EnergyNetwork(3, 2, "unary", rngs=nnx.Rngs(0)).interactions()


def test_low_rank_model_uses_the_low_rank_energy_and_is_the_dense_one():
    """rank < k: θ = (u, V) with the low-rank energy (U never formed), the same energy
    as the dense pairwise one with U = −VVᵀ; rank ≥ k: the dense one, as before."""
    n, d, k = 5, 7, 6
    x = jax.random.normal(jax.random.key(1), (n, d))
    y = jax.random.uniform(jax.random.key(2), (n, k))
    net = EnergyNetwork(d, k, "pairwise", rank=2, rngs=nnx.Rngs(0))
    assert net.low_rank
    spec = energy_spec(net, x)
    assert spec.energy is energies.low_rank_pairwise
    assert spec.theta[0].shape == (n, k) and spec.theta[1].shape == (k, 2)
    value = jax.vmap(spec.energy, in_axes=(spec.axes, 0))
    dense = jax.vmap(energies.pairwise, in_axes=((0, None), 0))
    np.testing.assert_allclose(value(spec.theta, y), dense((spec.theta[0], net.interactions()), y),
                               rtol=1e-5, atol=1e-6)
    for rank in (None, k, k + 2):
        full = EnergyNetwork(d, k, "pairwise", rank=rank, rngs=nnx.Rngs(0))
        assert not full.low_rank and energy_spec(full, x).energy is energies.pairwise
    free = EnergyNetwork(d, k, "pairwise", concave=False, rank=2, rngs=nnx.Rngs(0))
    assert not free.low_rank and energy_spec(free, x).energy is energies.pairwise


@pytest.mark.parametrize("factor", [1e-3, 0.25, 1.0, 7.0, 1e2])
def test_scaled_low_rank_spec_scales_the_energy_exactly(factor):
    """Φ is linear in u and quadratic in V: scaled(c) multiplies u by c and V by √c, which
    is c·Φ exactly (for c > 0), and keeps the low-rank energy."""
    net = EnergyNetwork(4, 6, "pairwise", rank=3, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (3, 4))
    y = jax.random.uniform(jax.random.key(1), (3, 6))
    spec = energy_spec(net, x)
    scaled = spec.scaled(factor)
    assert scaled.energy is energies.low_rank_pairwise
    np.testing.assert_allclose(scaled.theta[0], factor * spec.theta[0], rtol=1e-6)
    np.testing.assert_allclose(scaled.theta[1], np.sqrt(factor) * spec.theta[1], rtol=1e-6)
    value = jax.vmap(spec.energy, in_axes=(spec.axes, 0))
    np.testing.assert_allclose(value(scaled.theta, y), factor * value(spec.theta, y),
                               rtol=1e-5, atol=1e-6 * factor)


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(["unary", "pairwise", "low-rank", "global"]),
       seed=st.integers(0, 2**16), factor=st.floats(0.01, 50.0))
def test_every_energy_shifts_reads_and_scales_its_unaries_through_its_protocol(kind, seed,
                                                                              factor):
    """Without a dispatch on which energy it is: ``add_linear`` (the energy protocol)
    adds δ to the unaries (Φ + <δ, y>), its transpose reads them back, and the spec's
    ``scale`` (set where the spec is built) multiplies Φ by the factor."""
    from fenchel.multilabel.losses import _shift_unaries, _unaries

    n, d, k = 3, 4, 5
    energy = "pairwise" if kind == "low-rank" else kind
    net = EnergyNetwork(d, k, energy, rank=2 if kind == "low-rank" else None,
                        rngs=nnx.Rngs(seed % 7))
    keys = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(keys[0], (n, d))
    y = jax.random.uniform(keys[1], (n, k))
    delta = jax.random.normal(keys[2], (n, k))
    spec = energy_spec(net, x)
    value = jax.vmap(spec.energy, in_axes=(spec.axes, 0))
    shifted = jax.vmap(lambda theta, dl: _shift_unaries(spec.energy, theta, dl),
                       in_axes=(spec.axes, 0), out_axes=spec.axes)(spec.theta, delta)
    np.testing.assert_allclose(value(shifted, y),
                               value(spec.theta, y) + jnp.sum(delta * y, axis=-1),
                               rtol=1e-5, atol=1e-5)
    unaries = jax.vmap(lambda theta, yy: _unaries(spec.energy, theta, yy),
                       in_axes=(spec.axes, 0))(spec.theta, y)
    # Φ(θ, y) − <u, y> is free of the unaries: it is the same after the shift.
    np.testing.assert_allclose(
        value(spec.theta, y) - jnp.sum(unaries * y, axis=-1),
        value(shifted, y) - jnp.sum((unaries + delta) * y, axis=-1), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(
        jax.vmap(lambda theta, yy: _unaries(spec.energy, theta, yy),
                 in_axes=(spec.axes, 0))(shifted, y), unaries + delta)
    scaled = spec.scaled(factor)
    assert scaled.energy is spec.energy
    np.testing.assert_allclose(value(scaled.theta, y), factor * value(spec.theta, y),
                               rtol=1e-4, atol=1e-5 * factor)
