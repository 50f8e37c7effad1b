"""Multi-label training loop: resumable checkpoints give the uninterrupted run."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from fenchel.multilabel.losses import Method
from fenchel.multilabel.train import Config, fit, search

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
