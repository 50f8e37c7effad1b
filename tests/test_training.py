"""Tests of fenchel.training: data parallel equivalence, resume, multi-host, early stopping."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel.training import epoch_permutation, make_mesh, to_host, train

# The worker script doubles as a module of shared settings; pytest's importlib
# mode does not put this folder on sys.path, so do it here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import training_worker  # noqa: E402

WORKER = os.path.join(os.path.dirname(__file__), "training_worker.py")


def _leaves(path) -> list[np.ndarray]:
    with np.load(path) as npz:
        return [npz[f"leaf{i}"] for i in range(len(npz.files) - 1)]


def _losses(path) -> np.ndarray:
    with np.load(path) as npz:
        return npz["loss"]


def _train(**kwargs):
    loss_fn, params, data = training_worker.problem()
    defaults = dict(batch_size=16, key=jax.random.key(1), progress=False)
    return train(loss_fn, params, training_worker.optimizer(), data, **{**defaults, **kwargs})


def _assert_trees_equal(a, b) -> None:
    for x, y in zip(jax.tree.leaves(to_host(a)), jax.tree.leaves(to_host(b)), strict=True):
        np.testing.assert_array_equal(x, y)


def test_four_simulated_devices_match_one_device_and_resume_across_counts(
        tmp_path, subprocess_env):
    subprocess.run(
        [sys.executable, WORKER, "devices", "--counts", "4", "1", "--out", str(tmp_path)],
        env=subprocess_env(XLA_FLAGS="--xla_force_host_platform_device_count=4"),
        check=True, timeout=300,
    )
    np.testing.assert_allclose(
        _losses(tmp_path / "devices4.npz"), _losses(tmp_path / "devices1.npz"), rtol=1e-5, atol=1e-6
    )
    for four, one in zip(_leaves(tmp_path / "devices4.npz"), _leaves(tmp_path / "devices1.npz"),
                         strict=True):
        np.testing.assert_allclose(four, one, rtol=1e-5, atol=1e-6)
    # Something was learned (the comparison is not between two untouched inits).
    losses = _losses(tmp_path / "devices1.npz")
    assert losses.shape == (training_worker.NUM_STEPS,) and losses[-1] < losses[0]
    # A run stopped on 1 device and resumed on 4 ends where the 4-device run ends.
    for resumed, four in zip(_leaves(tmp_path / "resumed.npz"), _leaves(tmp_path / "devices4.npz"),
                             strict=True):
        np.testing.assert_allclose(resumed, four, rtol=1e-5, atol=1e-6)
    errors = (tmp_path / "errors.txt").read_text()
    assert "num_devices=5 requested but only 4" in errors
    assert "batch_size=6 must be divisible by the number of devices in the mesh (4)" in errors


def test_two_processes_agree_with_single_process(tmp_path, run_together, free_port,
                                                 subprocess_env):
    command = [sys.executable, WORKER, "distributed", "--port", str(free_port),
               "--num-processes", "2", "--checkpoint-dir", str(tmp_path / "ckpt"),
               "--out", str(tmp_path)]
    run_together([command + ["--process-id", str(i)] for i in range(2)], subprocess_env(),
                 timeout=240)

    single = training_worker.run(mesh=None)
    for i in range(2):
        result = tmp_path / f"process{i}.npz"
        np.testing.assert_allclose(_losses(result), single["loss"], rtol=1e-5, atol=1e-6)
        for leaf, expected in zip(_leaves(result), [single[f"leaf{j}"] for j in range(len(single) - 1)],
                                  strict=True):
            np.testing.assert_allclose(leaf, expected, rtol=1e-5, atol=1e-6)
    # The jointly written checkpoint is complete: a single process resumes from it and is done.
    resumed = _train(num_steps=training_worker.NUM_STEPS, checkpoint_dir=tmp_path / "ckpt")
    assert resumed.resumed_from == training_worker.NUM_STEPS and resumed.finished
    np.testing.assert_allclose(jax.tree.leaves(to_host(resumed.params))[0], single["leaf0"],
                               rtol=1e-5, atol=1e-6)


def test_resume_after_stop_matches_uninterrupted_run(tmp_path):
    validation = training_worker.problem(seed=5)[2]

    validation_loss = jax.jit(training_worker.problem()[0])

    def eval_fn(params):
        return {"mse": validation_loss(params, validation, jax.random.key(0)), "constant": 1.0}

    kwargs = dict(num_epochs=3, eval_fn=eval_fn, eval_every=3, monitor="mse", mode="min",
                  patience=10)
    full = _train(**kwargs)

    first = _train(checkpoint_dir=tmp_path, checkpoint_every=2, max_steps_this_run=5, **kwargs)
    assert first.steps == 5 and not first.finished and first.resumed_from is None
    second = _train(checkpoint_dir=tmp_path, checkpoint_every=2, **kwargs)
    assert second.resumed_from == 5 and second.finished and second.steps == full.steps == 12

    _assert_trees_equal(second.params, full.params)
    _assert_trees_equal(second.best_params, full.best_params)
    _assert_trees_equal(second.opt_state, full.opt_state)
    assert second.history == full.history
    assert (second.best_step, second.best_metric) == (full.best_step, full.best_metric)
    assert len([p for p in os.listdir(tmp_path) if p.isdigit()]) <= 2  # max_to_keep
    # The nnx.State structure survives the checkpoint round trip.
    assert jax.tree.structure(second.params) == jax.tree.structure(full.params)


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    _train(num_steps=2, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="batch_size=16.*batch_size=8"):
        _train(num_steps=2, checkpoint_dir=tmp_path, batch_size=8)


def test_early_stopping_keeps_best_params():
    scores = iter([1.0, 3.0, 2.0, 2.5, 0.0, 9.0])
    result = _train(num_steps=60, eval_fn=lambda params: next(scores), eval_every=2, patience=2)
    assert result.stopped_early and result.finished
    assert result.steps == 8 and result.best_step == 4 and result.best_metric == 3.0
    assert result.history["eval_step"] == [2, 4, 6, 8]
    assert result.history["metric"] == [1.0, 3.0, 2.0, 2.5]
    # best_params are exactly the parameters after best_step steps.
    _assert_trees_equal(result.best_params, _train(num_steps=4).params)


def test_nnx_params_are_not_modified_and_training_learns():
    loss_fn, params, data = training_worker.problem(nnx_init=True)
    before = to_host(params)
    result = train(loss_fn, params, training_worker.optimizer(), data, batch_size=16,
                   num_epochs=10, key=jax.random.key(0), progress=False)
    _assert_trees_equal(params, before)
    assert type(result.params) is type(params)
    full = {k: jnp.asarray(v) for k, v in data.items()}
    assert loss_fn(result.params, full, jax.random.key(0)) < 0.5 * loss_fn(params, full, jax.random.key(0))
    assert result.steps == 10 * (64 // 16) and len(result.history["loss"]) == result.steps


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(train_data={"x": np.zeros((8, 2)), "y": np.zeros(7)}), "share their leading"),
        (dict(batch_size=100), "batch_size=100 exceeds the number of training examples 64"),
        (dict(batch_size=0), "batch_size must be a positive integer"),
        (dict(num_steps=None), "give num_epochs or num_steps"),
        (dict(patience=3), "patience needs eval_fn"),
        (dict(mode="best"), "mode must be 'max' or 'min'"),
        (dict(eval_fn=lambda p: {"a": 1.0, "b": 2.0}), "pass monitor="),
    ],
)
def test_bad_input_raises_clear_error(kwargs, message):
    loss_fn, params, data = training_worker.problem()
    arguments = dict(train_data=data, batch_size=16, num_steps=2)
    arguments.update(kwargs)
    train_data = arguments.pop("train_data")
    with pytest.raises(ValueError, match=message):
        train(loss_fn, params, training_worker.optimizer(), train_data, key=jax.random.key(0),
              progress=False, **arguments)


def test_make_mesh_rejects_more_devices_than_available():
    with pytest.raises(ValueError, match=f"num_devices={jax.device_count() + 1} requested"):
        make_mesh(jax.device_count() + 1)


@settings(max_examples=examples(30), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), epoch=st.integers(0, 1000), n=st.integers(1, 200))
def test_epoch_permutation_is_a_deterministic_permutation(seed, epoch, n):
    order = epoch_permutation([seed], epoch, n)
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    np.testing.assert_array_equal(order, epoch_permutation([seed], epoch, n))
