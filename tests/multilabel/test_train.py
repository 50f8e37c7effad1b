"""Multi-label training loop: resumable checkpoints give the uninterrupted run; warm
starts across epochs give the cold-start losses in fewer iterations, and write each
example's solution at its own row."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel.multilabel.losses import Method, batch_loss_and_solutions
from fenchel.multilabel.models import EnergyNetwork, energy_spec
from fenchel.multilabel.train import (Config, MultilabelSplitLike, _train_epoch, fit, search,
                                      with_added_fields)

METHOD = Method("pairwise", "gfy", "entropy")
CONFIG = Config(learning_rate=1e-2, max_epochs=4, patience=4, batch_size=32)


def _leaves(trained) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(trained.model))]


def test_stop_and_resume_matches_an_uninterrupted_run(emotions_slice, tmp_path):
    train, validation = emotions_slice
    whole = fit(METHOD, CONFIG, train, validation, seed=3)
    first = fit(METHOD, CONFIG, train, validation, seed=3, checkpoint_dir=tmp_path,
                max_epochs_this_run=1)
    assert (first.finished, first.epochs, first.resumed_from) == (False, 1, None)
    second = fit(METHOD, CONFIG, train, validation, seed=3, checkpoint_dir=tmp_path,
                 max_epochs_this_run=2)
    assert (second.finished, second.epochs, second.resumed_from) == (False, 3, 1)
    third = fit(METHOD, CONFIG, train, validation, seed=3, checkpoint_dir=tmp_path)
    assert (third.finished, third.epochs, third.resumed_from) == (True, 4, 3)
    assert third.history == whole.history
    assert third.best_epoch == whole.best_epoch
    for got, want in zip(_leaves(third), _leaves(whole), strict=True):
        np.testing.assert_array_equal(got, want)
    # A finished run restores without training.
    again = fit(METHOD, CONFIG, train, validation, seed=3, checkpoint_dir=tmp_path)
    assert again.history == whole.history and again.resumed_from == 4


def test_a_checkpoint_of_another_run_is_refused(emotions_slice, tmp_path):
    train, validation = emotions_slice
    fit(METHOD, CONFIG, train, validation, seed=0, checkpoint_dir=tmp_path,
        max_epochs_this_run=1)
    with pytest.raises(ValueError, match="checkpoint .* was written with seed=0"):
        fit(METHOD, CONFIG, train, validation, seed=1, checkpoint_dir=tmp_path)


def test_search_resumes_configuration_by_configuration(emotions_slice, tmp_path):
    train, validation = emotions_slice
    configs = [CONFIG, Config(learning_rate=3e-3, max_epochs=4, patience=4, batch_size=32)]
    best, table = search(METHOD, configs, train, validation, checkpoint_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config_000", "config_001"]
    best_again, table_again = search(METHOD, configs, train, validation,
                                     checkpoint_dir=tmp_path)
    assert [row["validation_hamming_accuracy"] for row in table_again] == [
        row["validation_hamming_accuracy"] for row in table]
    assert best_again.history == best.history


@pytest.mark.parametrize("value", [0, -1, 1.5])
def test_bad_epoch_budget_is_rejected(emotions_slice, value):
    train, validation = emotions_slice
    with pytest.raises(ValueError, match="max_epochs_this_run"):
        fit(METHOD, CONFIG, train, validation, max_epochs_this_run=value)


def test_without_validation_it_trains_the_whole_budget_and_keeps_the_last(emotions_slice):
    train, _ = emotions_slice
    config = Config(learning_rate=1e-2, max_epochs=3, patience=1, batch_size=32)
    trained = fit(METHOD, config, train, None, seed=0)
    assert trained.epochs == 3 and trained.best_epoch == 3 and trained.finished
    assert np.isnan(trained.best_validation)
    assert all(np.isnan(score) for _, score in trained.history)


def test_refit_retrains_the_chosen_configuration_on_train_and_validation(emotions):
    from fenchel.multilabel.train import run_experiment

    config = Config(learning_rate=1e-2, max_epochs=3, patience=3, batch_size=64)
    result = run_experiment(emotions, METHOD, [config], seed=0)
    assert result["refit"] and result["refit_epochs"] == result["best_epoch"]
    assert result["config"]["max_epochs"] == 3  # the searched configuration, not the refit's
    assert set(result["test_before_refit"]) == set(result["test"])
    plain = run_experiment(emotions, METHOD, [config], seed=0, refit=False)
    assert not plain["refit"] and "refit_epochs" not in plain
    assert plain["test"]["hamming_accuracy"] == result["test_before_refit"]["hamming_accuracy"]


# Warm starts --------------------------------------------------------------------------

# A concave inner problem solved to a tight tolerance: where it starts cannot matter.
TIGHT = Method("pairwise", "gfy", "entropy", maxiter=500, tol=1e-6)
WARM = Config(learning_rate=1e-2, batch_size=8, max_epochs=4, warm_start=True)


def _synthetic(n=48, d=5, k=4, seed=0) -> MultilabelSplitLike:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, :k] + 0.5 * rng.normal(size=(n, k)) > 0).astype(np.float32)
    return MultilabelSplitLike(x, y)


@pytest.mark.parametrize("method", [TIGHT, dataclasses.replace(TIGHT, reg="squared")],
                         ids=lambda m: m.name)
def test_warm_starts_give_the_cold_losses_in_fewer_iterations(method):
    train = _synthetic()
    cold = fit(method, dataclasses.replace(WARM, warm_start=False), train, None, seed=1)
    warm = fit(method, WARM, train, None, seed=1)
    np.testing.assert_allclose([loss for loss, _ in warm.history],
                               [loss for loss, _ in cold.history], rtol=1e-5, atol=1e-6)
    for got, want in zip(_leaves(warm), _leaves(cold), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # Epoch 1 starts every solve at the centre either way; later epochs start nearer ŷ
    # (at tol 1e-6 the iterations fall by ~10%: they grow like log(distance / tol)).
    assert warm.inner_iterations[0] == cold.inner_iterations[0] > 1
    assert all(w < c for w, c in zip(warm.inner_iterations[1:], cold.inner_iterations[1:]))
    assert len(warm.inner_iterations) == len(warm.inner_iterations_max) == 4
    assert all(m >= w for m, w in zip(warm.inner_iterations_max, warm.inner_iterations))


_FROZEN = optax.set_to_zero()  # a static argument: one object, one compilation


@functools.cache
def _frozen_problem():
    """12 examples, a pairwise network, and every example's solution from a cold start."""
    train = _synthetic(n=12)
    model = EnergyNetwork(5, 4, "pairwise", rngs=nnx.Rngs(0))
    solve = jax.jit(lambda x, y: batch_loss_and_solutions(TIGHT, energy_spec(model, x), y)[1])
    cold = solve(jnp.asarray(train.x), jnp.asarray(train.y))
    return train, nnx.split(model), np.asarray(cold.y_hat)


@settings(max_examples=examples(15), deadline=None)
@given(order=st.permutations(range(12)))
def test_the_store_is_written_at_each_examples_row(order):
    """One epoch over the first 8 rows of a permutation, parameters frozen: row i of the
    store holds example i's solution, the 4 rows left out keep their start."""
    train, (graphdef, params), cold = _frozen_problem()
    order = np.asarray(order)
    visited = order[:8]
    _, _, store, _, (mean_iterations, max_iterations) = _train_epoch(
        TIGHT, graphdef, _FROZEN, params, _FROZEN.init(params), jnp.full((12, 4), 0.5),
        jnp.asarray(train.x[visited].reshape(2, 4, 5)),
        jnp.asarray(train.y[visited].reshape(2, 4, 4)),
        jnp.asarray(visited.reshape(2, 4), jnp.int32), jax.random.key(0), jnp.float32(1.0))
    store = np.asarray(store)
    np.testing.assert_allclose(store[visited], cold[visited], atol=1e-5)
    np.testing.assert_array_equal(store[order[8:]], 0.5)
    assert 1 <= float(mean_iterations) <= float(max_iterations)


@pytest.mark.parametrize("method", [Method("unary", "bce"), Method("unary", "gfy", "squared"),
                                    Method("pairwise", "unrolled", "entropy", unroll_steps=3)],
                         ids=lambda m: m.name)
def test_methods_that_cannot_warm_start_are_unchanged(method, monkeypatch):
    assert not method.warm_startable
    train = _synthetic(n=16)
    config = Config(learning_rate=1e-2, batch_size=8, max_epochs=2)
    stores = []
    real = _train_epoch

    def spy(*args):
        stores.append(args[5])  # the store argument: None, so no gather nor scatter
        return real(*args)

    monkeypatch.setattr("fenchel.multilabel.train._train_epoch", spy)
    warm = fit(method, config, train, None)
    cold = fit(method, dataclasses.replace(config, warm_start=False), train, None)
    assert stores == [None] * 4
    assert warm.history == cold.history
    for got, want in zip(_leaves(warm), _leaves(cold), strict=True):
        np.testing.assert_array_equal(got, want)
    expected = 3.0 if method.loss == "unrolled" else 0.0  # K unrolled steps; closed form
    assert warm.inner_iterations == [expected, expected]


def test_a_warm_run_resumes_with_its_store(tmp_path):
    """The store is checkpointed: stop and resume gives the uninterrupted run's iterations
    (a resumed run restarting cold would need more)."""
    train, validation = _synthetic(), _synthetic(n=16, seed=1)
    method = Method("pairwise", "gfy", "squared")
    config = dataclasses.replace(WARM, max_epochs=3, patience=3)
    whole = fit(method, config, train, validation, seed=2)
    fit(method, config, train, validation, seed=2, checkpoint_dir=tmp_path,
        max_epochs_this_run=1)
    resumed = fit(method, config, train, validation, seed=2, checkpoint_dir=tmp_path)
    assert resumed.resumed_from == 1 and resumed.history == whole.history
    assert resumed.inner_iterations == whole.inner_iterations
    assert resumed.inner_iterations_max == whole.inner_iterations_max
    for got, want in zip(_leaves(resumed), _leaves(whole), strict=True):
        np.testing.assert_array_equal(got, want)
    # A checkpoint of a cold run is not resumed warm.
    with pytest.raises(ValueError, match="was written with config="):
        fit(method, dataclasses.replace(config, warm_start=False), train, validation, seed=2,
            checkpoint_dir=tmp_path)


def test_records_without_warm_start_were_made_cold():
    assert with_added_fields({"hidden": 0}) == {"hidden": 0, "warm_start": False,
                                                 "rank": None, "dropout": 0.0, "depth": 1}
    assert with_added_fields({"warm_start": True})["warm_start"] is True
    with pytest.raises(ValueError, match="warm_start must be a bool"):
        Config(warm_start=1)


def test_records_without_rank_were_made_full_rank():
    assert with_added_fields({"hidden": 0})["rank"] is None
    assert with_added_fields({"rank": 8})["rank"] == 8
    for bad in (0, -1, 2.0, True, "8"):
        with pytest.raises(ValueError, match="rank must be a positive integer or None"):
            Config(rank=bad)


@pytest.mark.parametrize("rank, energy", [(2, "low_rank_pairwise"), (None, "pairwise"),
                                          (6, "pairwise")])
def test_config_rank_sets_the_model_energy(emotions_slice, rank, energy):
    """Config.rank reaches the model: r < k (emotions: k = 6) trains the low-rank energy
    with V: (k, r); r ≥ k (or None) the dense one."""
    from fenchel import energies

    train, _ = emotions_slice
    trained = fit(METHOD, dataclasses.replace(CONFIG, max_epochs=1, rank=rank), train, None)
    spec = energy_spec(trained.model, jnp.asarray(train.x[:2], jnp.float32))
    assert spec.energy is getattr(energies, energy)
    k = train.y.shape[1]
    assert trained.model.interaction_weights[...].shape == (k, k if rank is None else rank)
    assert np.isfinite(trained.history[0][0])


@pytest.mark.parametrize("name", ["pairwise-gfy-entropy", "pairwise-hinge",
                                  "pairwise-unrolled-entropy"])
def test_a_low_rank_epoch_never_forms_the_k_by_k_interaction(name):
    """rank < k: the compiled epoch (solves, loss, gradient, AdamW) holds no (k, k) array;
    the dense model's does (U, and VVᵀ)."""
    from fenchel import maximizers as fy_max
    from fenchel.multilabel.train import _ADAMW

    k, d, n, b = 37, 5, 16, 8
    method = Method.from_name(name)
    texts = {}
    for rank in (3, None):
        model = EnergyNetwork(d, k, "pairwise", rank=rank, rngs=nnx.Rngs(0))
        graphdef, params = nnx.split(model)
        store = (fy_max.default_init(method.regularizer(), (n, k))
                 if method.warm_startable else None)
        rows = jnp.arange(n, dtype=jnp.int32).reshape(2, b) if store is not None else None
        texts[rank] = _train_epoch.lower(
            method, graphdef, _ADAMW, params, _ADAMW.init(params), store,
            jnp.zeros((2, b, d)), jnp.zeros((2, b, k)), rows, jax.random.key(0),
            jnp.float32(1.0)).as_text()
    assert f"{k}x{k}" not in texts[3]
    assert f"{k}x{k}" in texts[None]


def test_search_can_select_by_validation_f1_of_the_expected_f1_decoding(emotions_slice):
    from fenchel.multilabel import metrics

    train, validation = emotions_slice
    configs = [dataclasses.replace(CONFIG, max_epochs=2, learning_rate=rate)
               for rate in (1e-4, 3e-2)]
    best, table = search(Method("unary", "bce"), configs, train, validation,
                         select_by="example_f1_expected")
    scores = [row["validation_example_f1_expected"] for row in table]
    assert best.config == configs[int(np.argmax(scores))]
    y_val = best.predict_relaxed(validation.x)
    assert max(scores) == metrics.example_f1(validation.y, metrics.decode_expected_f1(y_val))
    with pytest.raises(ValueError, match="select_by must be one of"):
        search(Method("unary", "bce"), configs, train, validation, select_by="f1")


def test_search_skips_a_diverged_configuration_and_fails_only_if_all_diverge(
        emotions_slice, monkeypatch):
    from fenchel.multilabel import train as ml_train

    train, validation = emotions_slice
    configs = [dataclasses.replace(CONFIG, max_epochs=1, learning_rate=rate)
               for rate in (1e-2, 1e-3)]
    real_fit = ml_train.fit

    def fit(method, config, *args, **kwargs):
        if config.learning_rate == 1e-2:
            raise FloatingPointError("training loss became nan at epoch 1")
        return real_fit(method, config, *args, **kwargs)

    monkeypatch.setattr(ml_train, "fit", fit)
    best, table = search(Method("unary", "bce"), configs, train, validation)
    assert best.config == configs[1]
    assert table[0]["validation_hamming_accuracy"] is None and "nan" in table[0]["diverged"]
    assert table[1]["validation_hamming_accuracy"] == best.best_validation
    with pytest.raises(FloatingPointError, match="every configuration"):
        search(Method("unary", "bce"), configs[:1], train, validation)
