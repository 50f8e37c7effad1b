"""The min-min (learned log-partition) method: exact enumeration over {0, 1}^k, names,
the grid machinery, and training end to end."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from fenchel import cli, energies
from fenchel.log_partition import min_min_loss, uniform_binary_samples
from fenchel.multilabel import reproduce
from fenchel.multilabel.losses import Method, batch_loss, batch_loss_and_solutions
from fenchel.multilabel.models import EnergyNetwork, energy_spec
from fenchel.multilabel.train import Config, fit, method_record

K = 4
EVERYTHING = jnp.asarray(list(itertools.product([0.0, 1.0], repeat=K)))  # all of {0, 1}^k


def _unary_problem(seed=0):
    rng = np.random.default_rng(seed)
    u = jnp.asarray(2.0 * rng.standard_normal(K), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, K), jnp.float32)
    return u, y


def _expected_estimate(method, energy, theta, y, tau):
    """The expectation over y' ∼ q (uniform) of the estimate: with every configuration
    as a sample, the sample mean is E_q exactly (the estimate is affine in it)."""
    return method.min_min_estimate(energy, theta, y, tau, EVERYTHING)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unary_population_objective_is_bce_at_the_log_partition(seed):
    """Unary energy, q uniform, α = 1: E[estimate] = Σ BCE at τ = log E_q e^Φ, the
    τ-gradient of the expectation vanishes there, and any other τ gives more."""
    method = Method("unary", "minmin", "entropy")
    u, y = _unary_problem(seed)
    tau_star = jnp.log(jnp.mean(jnp.exp(EVERYTHING @ u)))
    bce = jnp.sum(jnp.logaddexp(0.0, u) - u * y)
    value, grad = jax.value_and_grad(
        lambda t: _expected_estimate(method, energies.bilinear, u, y, t))(tau_star)
    np.testing.assert_allclose(value, bce, rtol=1e-5)
    np.testing.assert_allclose(grad, 0.0, atol=1e-5)
    # log E_q e^Φ = Σ_i log((1 + e^{u_i}) / 2): the product form of the unary model.
    np.testing.assert_allclose(tau_star, jnp.sum(jnp.logaddexp(0.0, u) - math.log(2.0)),
                               rtol=1e-5, atol=1e-6)
    for shift in (-1.0, -0.1, 0.1, 1.0):
        assert _expected_estimate(method, energies.bilinear, u, y, tau_star + shift) > bce
    # The θ-gradient at τ* is the BCE's: sigmoid(u) − y.
    grad_u = jax.grad(lambda u_: _expected_estimate(method, energies.bilinear, u_, y,
                                                    tau_star))(u)
    np.testing.assert_allclose(grad_u, jax.nn.sigmoid(u) - y, atol=1e-5)


def test_pairwise_population_objective_is_the_exact_nll():
    """Any energy, α = 1: at τ = log E_q e^Φ the expected estimate is the negative
    log-likelihood log Σ_{y'} e^{Φ(y')} − Φ(y) over {0, 1}^k (computed here by enumeration)."""
    method = Method("pairwise", "minmin", "entropy")
    net = EnergyNetwork(3, K, "pairwise", log_partition=True, rngs=nnx.Rngs(0))
    spec = energy_spec(net, jax.random.normal(jax.random.key(1), (1, 3)))
    theta = (spec.theta[0][0], spec.theta[1])
    y = jnp.asarray([1.0, 0.0, 1.0, 1.0])
    scores = jax.vmap(lambda s: energies.pairwise(theta, s))(EVERYTHING)
    tau_star = jnp.log(jnp.mean(jnp.exp(scores)))
    nll = jax.nn.logsumexp(scores) - energies.pairwise(theta, y)
    value, grad = jax.value_and_grad(
        lambda t: _expected_estimate(method, energies.pairwise, theta, y, t))(tau_star)
    np.testing.assert_allclose(value, nll, rtol=1e-5)
    np.testing.assert_allclose(grad, 0.0, atol=1e-5)


def test_sparsemax_variant_is_stationary_where_the_model_sums_to_one():
    """α = 2: the expected estimate is minimal in τ where p(y') = q(y')[1 + Φ(y') − τ]_+
    sums to 1 (τ the normalizing threshold of the sparse model)."""
    method = Method("unary", "minmin", "entropy", alpha=2.0)
    u, y = _unary_problem(3)
    scores = EVERYTHING @ u
    low, high = float(jnp.min(scores)) - 1.0, float(jnp.max(scores)) + 1.0  # mass > 1, 0
    for _ in range(100):  # bisection on the (decreasing) total mass
        mid = 0.5 * (low + high)
        mass = float(jnp.mean(jnp.maximum(1.0 + scores - mid, 0.0)))
        low, high = (mid, high) if mass > 1.0 else (low, mid)
    tau_star = jnp.asarray(0.5 * (low + high), jnp.float32)
    grad = jax.grad(lambda t: _expected_estimate(method, energies.bilinear, u, y, t))(tau_star)
    np.testing.assert_allclose(grad, 0.0, atol=1e-4)
    value = _expected_estimate(method, energies.bilinear, u, y, tau_star)
    for shift in (-0.5, 0.5):
        assert _expected_estimate(method, energies.bilinear, u, y, tau_star + shift) > value


def test_the_training_loss_is_the_estimate_from_fresh_uniform_samples():
    """batch_loss draws, per example, ``samples`` points of uniform_binary_samples with the
    example's key and averages the estimates; its mean over keys is the expectation."""
    method = Method("unary", "minmin", "entropy", samples=8, proposal="uniform")
    net = EnergyNetwork(3, K, "unary", log_partition=True, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (5, 3))
    y = (jax.random.uniform(jax.random.key(2), (5, K)) > 0.5).astype(jnp.float32)
    spec = energy_spec(net, x)
    assert spec.log_partition.shape == (5,)
    key = jax.random.key(7)

    def by_hand(theta, tau, y_, k):
        samples, _ = uniform_binary_samples(k, 8, (K,))
        return min_min_loss(energies.bilinear, theta, tau, y_, samples, 0.0) + K * math.log(2.0)

    expected = jax.jit(jax.vmap(by_hand))(spec.theta, spec.log_partition, y,
                                          jax.random.split(key, 5))
    got, solved = jax.jit(lambda k: batch_loss_and_solutions(method, spec, y, k))(key)
    np.testing.assert_allclose(got, np.mean(expected), rtol=1e-5)
    assert solved.y_hat is None and np.all(solved.iterations == 0)
    # Unbiased: the mean over many keys approaches the enumerated expectation.
    many = jax.jit(jax.vmap(lambda k: batch_loss(method, spec, y, k)))(
        jax.random.split(jax.random.key(3), 4000))
    exact = jnp.mean(jax.jit(jax.vmap(lambda t, y_, tau: _expected_estimate(
        method, energies.bilinear, t, y_, tau)))(spec.theta, y, spec.log_partition))
    assert abs(float(jnp.mean(many)) - exact) < 4 * float(jnp.std(many)) / math.sqrt(4000) + 1e-4


def test_a_network_without_a_log_partition_head_is_refused():
    spec = energy_spec(EnergyNetwork(3, K, "unary", rngs=nnx.Rngs(0)), jnp.ones((2, 3)))
    assert spec.log_partition is None
    with pytest.raises(ValueError, match="log-partition head"):
        batch_loss(Method("unary", "minmin"), spec, jnp.ones((2, K)))


def test_the_log_partition_head_leaves_the_other_parameters_as_they_were():
    for hidden in (0, 8):
        plain = EnergyNetwork(5, K, "pairwise", hidden=hidden, rngs=nnx.Rngs(3))
        with_tau = EnergyNetwork(5, K, "pairwise", hidden=hidden, log_partition=True,
                                 rngs=nnx.Rngs(3))
        assert with_tau.log_partition_head.in_features == (hidden or 5)
        for a, b in zip(jax.tree.leaves(nnx.state(plain, nnx.Param)),
                        jax.tree.leaves(nnx.state(with_tau.features, nnx.Param))
                        + [with_tau.interaction_weights[...]], strict=True):
            np.testing.assert_array_equal(a, b)


NAMES = ["unary-minmin-entropy", "pairwise-minmin-entropy", "pairwise-minmin-box",
         "pairwise_nc-minmin-entropy", "global-minmin-squared", "pairwise-minmin2-entropy",
         "unary-minmin1.5-box"]


@pytest.mark.parametrize("name", NAMES)
def test_method_names_round_trip(name):
    method = Method.from_name(name)
    assert method.loss == "minmin" and method.name == name
    assert Method.from_name(method.name) == method
    assert method.learns_log_partition
    assert not method.uses_scale and not method.solves and not method.warm_startable
    record = method_record(method)
    assert record["name"] == name and record["alpha"] == method.alpha
    assert record["samples"] == 32
    assert Method.from_name(name, samples=4).samples == 4


def test_method_fields_are_checked():
    assert Method.from_name("pairwise-minmin2-entropy").alpha == 2.0
    assert Method("unary", "minmin", alpha=1).name == "unary-minmin-entropy"
    for bad in ("pairwise-minminx-entropy", "pairwise-minmin0.5-entropy"):
        with pytest.raises(ValueError, match="minmin|alpha"):
            Method.from_name(bad)
    with pytest.raises(ValueError, match="samples must be a positive integer"):
        Method("unary", "minmin", samples=0)
    with pytest.raises(ValueError, match="alpha is a field of the min-min loss"):
        Method("unary", "gfy", alpha=2.0)
    with pytest.raises(ValueError, match="samples is a field of the min-min loss"):
        Method("unary", "bce", samples=8)
    with pytest.raises(ValueError, match="reg='box'.*minmin"):
        Method("pairwise", "gfy", "box")
    # The other methods' records hold no min-min field: those made before it still match.
    assert "alpha" not in method_record(Method("pairwise", "gfy")) and \
        "samples" not in method_record(Method("unary", "bce"))


def test_prediction_uses_the_chosen_omega_at_unit_temperature():
    """entropy: sigmoid(u), the model's exact marginals for the unary energy; box: the mode."""
    from fenchel.multilabel.losses import predict_relaxed

    net = EnergyNetwork(3, K, "unary", log_partition=True, rngs=nnx.Rngs(0))
    spec = energy_spec(net, jax.random.normal(jax.random.key(1), (6, 3)))
    marginals = predict_relaxed(Method("unary", "minmin", "entropy"), spec, reg_scale=4.0)
    np.testing.assert_allclose(marginals, jax.nn.sigmoid(spec.theta), rtol=1e-5, atol=1e-6)
    mode = predict_relaxed(Method("unary", "minmin", "box"), spec)
    np.testing.assert_array_equal(mode, (spec.theta > 0).astype(mode.dtype))


@pytest.mark.parametrize("name", ["unary-minmin-entropy", "pairwise-minmin-entropy",
                                  "pairwise-minmin2-box"])
def test_each_minmin_method_trains(name, emotions_slice):
    train, validation = emotions_slice
    method = Method.from_name(name, samples=16)
    trained = fit(method, Config(learning_rate=3e-3, max_epochs=4, patience=4, batch_size=32),
                  train, validation, seed=0)
    losses = [loss for loss, _ in trained.history]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    assert trained.inner_iterations == [0.0] * 4
    y_hat = trained.predict_relaxed(validation.x)
    assert y_hat.shape == validation.y.shape
    assert np.all((y_hat >= -1e-6) & (y_hat <= 1 + 1e-6))


def test_the_grid_accepts_minmin_methods():
    assert {m.name for m in reproduce.MINMIN_METHODS} == {"unary-minmin-entropy",
                                                          "pairwise-minmin-entropy"}
    assert not set(reproduce.MINMIN_METHODS) & set(reproduce.DEFAULT_METHODS)
    configs = reproduce.method_grid(reproduce.MINMIN_METHODS[1], reproduce.DEFAULT_GRID)
    assert len(configs) == 8 and {c.reg_scale for c in configs} == {1.0}  # no λ searched


def test_reproduce_methods_accepts_method_lists():
    from fenchel.multilabel.cli import _parse_methods

    assert _parse_methods("minmin") == list(reproduce.MINMIN_METHODS)
    assert _parse_methods("default") == list(reproduce.DEFAULT_METHODS)
    assert [m.name for m in _parse_methods("pairwise-minmin2-entropy")] == [
        "pairwise-minmin2-entropy"]
    args = cli.build_parser().parse_args(["reproduce", "multilabel", "--out", "unused",
                                          "--methods", "minmin", "unary-minmin-entropy"])
    assert [m.name for entry in args.methods for m in entry] == [
        "unary-minmin-entropy", "pairwise-minmin-entropy", "unary-minmin-entropy"]


def test_reproduce_runs_and_resumes_a_minmin_method(data_dir, tmp_path, capsys):
    out = tmp_path / "grid"
    argv = ["reproduce", "multilabel", "--datasets", "emotions", "--methods",
            "pairwise-minmin-entropy",
            "--seeds", "1", "--out", str(out), "--data-dir", str(data_dir), "--max-epochs",
            "1", "--hidden", "0", "--learning-rate", "0.01", "--weight-decay", "1e-4",
            "--batch-size", "32", "--quiet"]
    assert cli.main(argv) == 0
    run = json.loads((out / "runs" / "emotions" / "pairwise-minmin-entropy" /
                      "seed0.json").read_text())
    assert run["method"]["alpha"] == 1.0 and run["method"]["samples"] == 32
    assert len(run["search"]) == 1  # no λ in its grid
    assert cli.main(argv) == 0  # resumes: nothing left to run
    assert "pairwise-minmin-entropy" in capsys.readouterr().out


def test_multilabel_command_trains_minmin(data_dir, tmp_path, capsys):
    out = tmp_path / "emotions.json"
    code = cli.main(["multilabel", "--dataset", "emotions", "--energy", "pairwise", "--loss",
                     "minmin", "--alpha", "2", "--samples", "8", "--data-dir", str(data_dir),
                     "--json", str(out), "--max-epochs", "1", "--hidden", "0",
                     "--learning-rate", "0.01", "--weight-decay", "1e-4",
                     "--batch-size", "32", "--quiet"])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["method"]["name"] == "pairwise-minmin2-entropy"
    assert result["method"]["samples"] == 8
    capsys.readouterr()
    assert cli.main(["multilabel", "--dataset", "emotions", "--loss", "gfy", "--alpha",
                     "2"]) == 2
    assert "--alpha belong to the min-min loss" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["multilabel", "--dataset", "yeast", "--alpha", "0.5"])
    assert dataclasses.replace(Method.from_name("unary-minmin-box")).reg == "box"


# --- importance sampling: the "unaries" proposal -------------------------------------------

def _proposal_log_ratio(u):
    """log r(y') − log q(y') of every y' in EVERYTHING under the unaries proposal."""
    from fenchel.multilabel.losses import unaries_proposal_log_probs

    log_on, log_off = unaries_proposal_log_probs(u)
    log_r = jnp.sum(jnp.where(EVERYTHING > 0.5, log_on, log_off), axis=-1)
    return log_r + K * math.log(2.0), log_r


def _one_sample_estimates(method, energy, theta, y, tau, log_ratio):
    """The M = 1 estimate with each y' of {0, 1}^k as the sample."""
    return jax.vmap(lambda s, lr: method.min_min_estimate(energy, theta, y, tau, s[None],
                                                          lr[None]))(EVERYTHING, log_ratio)


def _pairwise_problem(seed=0):
    net = EnergyNetwork(3, K, "pairwise", log_partition=True, rngs=nnx.Rngs(seed))
    spec = energy_spec(net, jax.random.normal(jax.random.key(seed + 1), (1, 3)))
    theta = (3.0 * spec.theta[0][0], spec.theta[1])  # confident unaries
    return theta, jnp.asarray([1.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("seed", [0, 1])
def test_unaries_proposal_is_unbiased_by_enumeration(seed):
    """E_{y'∼r}[estimate] = −log p(y) at τ = log E_q e^Φ, and E_r[∂_τ estimate] = 0 there,
    with r the unaries proposal (importance sampling), for the pairwise energy."""
    method = Method("pairwise", "minmin", "entropy", proposal="unaries")
    theta, y = _pairwise_problem(seed)
    scores = jax.vmap(lambda s: energies.pairwise(theta, s))(EVERYTHING)
    tau_star = jnp.log(jnp.mean(jnp.exp(scores)))
    nll = jax.nn.logsumexp(scores) - energies.pairwise(theta, y)
    log_ratio, log_r = _proposal_log_ratio(theta[0])
    np.testing.assert_allclose(jnp.sum(jnp.exp(log_r)), 1.0, rtol=1e-5)  # r sums to 1

    def expected(tau):
        return jnp.sum(jnp.exp(log_r) * _one_sample_estimates(
            method, energies.pairwise, theta, y, tau, log_ratio))

    value, grad = jax.value_and_grad(expected)(tau_star)
    np.testing.assert_allclose(value, nll, rtol=1e-5)
    np.testing.assert_allclose(grad, 0.0, atol=1e-5)
    for shift in (-0.5, 0.5):
        assert expected(tau_star + shift) > value


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unaries_proposal_has_lower_variance_than_uniform(seed):
    """Exact variance (enumeration) of the one-sample estimate at τ = log E_q e^Φ on a random
    unary energy: far below that of uniform draws (near 0: r is close to the model)."""
    u, y = _unary_problem(seed)
    tau_star = jnp.log(jnp.mean(jnp.exp(EVERYTHING @ u)))
    log_ratio, log_r = _proposal_log_ratio(u)
    uniform = _one_sample_estimates(Method("unary", "minmin", proposal="uniform"),
                                    energies.bilinear, u, y,
                                    tau_star, jnp.zeros(2 ** K))
    proposal = _one_sample_estimates(Method("unary", "minmin", proposal="unaries"),
                                     energies.bilinear, u, y, tau_star, log_ratio)
    r = jnp.exp(log_r)
    var_uniform = jnp.mean(uniform ** 2) - jnp.mean(uniform) ** 2
    var_proposal = jnp.sum(r * proposal ** 2) - jnp.sum(r * proposal) ** 2
    np.testing.assert_allclose(jnp.sum(r * proposal), jnp.mean(uniform), rtol=1e-5)
    assert var_proposal < 0.25 * var_uniform, (var_proposal, var_uniform)


def test_the_training_loss_draws_from_the_unaries_proposal():
    """batch_loss with proposal='unaries' is unbiased: the mean over keys approaches the
    expectation by enumeration, with a smaller spread than uniform draws."""
    net = EnergyNetwork(3, K, "unary", log_partition=True, rngs=nnx.Rngs(0))
    x = 3.0 * jax.random.normal(jax.random.key(1), (5, 3))
    y = (jax.random.uniform(jax.random.key(2), (5, K)) > 0.5).astype(jnp.float32)
    spec = energy_spec(net, x)
    exact = jnp.mean(jax.jit(jax.vmap(lambda t, y_, tau: _expected_estimate(
        Method("unary", "minmin"), energies.bilinear, t, y_, tau)))(
            spec.theta, y, spec.log_partition))
    spreads = {}
    for proposal in ("uniform", "unaries"):
        method = Method("unary", "minmin", "entropy", samples=4, proposal=proposal)
        many = jax.jit(jax.vmap(lambda k: batch_loss(method, spec, y, k)))(
            jax.random.split(jax.random.key(3), 4000))
        spreads[proposal] = float(jnp.std(many))
        assert abs(float(jnp.mean(many)) - exact) < 4 * spreads[proposal] / math.sqrt(4000) \
            + 1e-4
    assert spreads["unaries"] < spreads["uniform"]
    # The samples are drawn under stop_gradient of u: the gradient is that of the estimate.
    grads = jax.grad(lambda t: batch_loss(
        Method("unary", "minmin", samples=4, proposal="unaries"),
        spec._replace(theta=t), y, jax.random.key(0)))(spec.theta)
    assert np.all(np.isfinite(grads))


@pytest.mark.parametrize("name", ["pairwise-minmin_uniform-entropy",
                                  "unary-minmin2_uniform-box"])
def test_proposal_names_round_trip(name):
    """The default proposal (unaries) has no suffix; the uniform one is ``_uniform``."""
    method = Method.from_name(name)
    assert method.proposal == "uniform" and method.name == name
    assert Method.from_name(method.name) == method
    assert method_record(method)["proposal"] == "uniform"
    assert Method.from_name("pairwise-minmin-entropy").proposal == "unaries"
    assert method_record(Method("pairwise", "minmin"))["proposal"] == "unaries"


def test_proposal_is_checked():
    with pytest.raises(ValueError, match="proposal must be one of"):
        Method("unary", "minmin", proposal="gibbs")
    with pytest.raises(ValueError, match="proposal is a field of the min-min loss"):
        Method("unary", "gfy", proposal="uniform")
    for bad in ("pairwise-minmin_gibbs-entropy", "pairwise-minmin_unaries-entropy",
                "pairwise-minmin2_-entropy"):
        with pytest.raises(ValueError, match="proposal"):
            Method.from_name(bad)
    assert "proposal" not in method_record(Method("pairwise", "gfy"))
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["multilabel", "--dataset", "yeast", "--loss", "minmin",
                                       "--proposal", "gibbs"])
