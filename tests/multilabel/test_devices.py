"""Data-parallel multi-label training: 4 simulated devices match one device; resume after stop."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx

from fenchel import cli
from fenchel.multilabel.losses import Method
from fenchel.multilabel.train import Config, fit

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "devices_worker.py")


def _load(path) -> dict[str, np.ndarray]:
    with np.load(path) as npz:
        return {name: npz[name] for name in npz.files}


def test_four_simulated_devices_match_one_device(data_dir, tmp_path, subprocess_env):
    subprocess.run(
        [sys.executable, WORKER, "--data-dir", str(data_dir), "--out", str(tmp_path)],
        env=subprocess_env(XLA_FLAGS="--xla_force_host_platform_device_count=4"),
        check=True, timeout=300,
    )
    four, one = _load(tmp_path / "devices4.npz"), _load(tmp_path / "devices1.npz")
    losses_four, losses_one = four["history"][:, 0], one["history"][:, 0]
    assert losses_one.shape == (3,) and losses_one[-1] < losses_one[0]  # it learned
    np.testing.assert_allclose(losses_four, losses_one, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(four["history"][:, 1], one["history"][:, 1])
    assert four["best_epoch"] == one["best_epoch"]
    leaves = sorted(name for name in one if name.startswith("leaf"))
    assert leaves and sorted(name for name in four if name.startswith("leaf")) == leaves
    for name in leaves:
        np.testing.assert_allclose(four[name], one[name], rtol=1e-5, atol=1e-6)
    # The returned model is back on one device.
    assert four["model_devices"] == 1
    # Stopped after epoch 2 and resumed from the orbax checkpoint: the same run.
    resumed = _load(tmp_path / "devices4_resumed.npz")
    np.testing.assert_array_equal(resumed["history"], four["history"])
    assert resumed["best_epoch"] == four["best_epoch"]
    for name in leaves:
        np.testing.assert_array_equal(resumed[name], four[name])
    errors = (tmp_path / "errors.txt").read_text()
    assert "batch size" in errors and "30" in errors and "4 devices" in errors


def test_two_processes_train_together_like_one(data_dir, emotions_slice, tmp_path, run_together,
                                               free_port, subprocess_env):
    command = [sys.executable, WORKER, "--data-dir", str(data_dir), "--out", str(tmp_path),
               "--port", str(free_port)]
    run_together([command + ["--process-id", str(i)] for i in range(2)], subprocess_env(),
                 timeout=300)
    # The same run on one device of one process.
    spec = importlib.util.spec_from_file_location("devices_worker", WORKER)
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    train, validation = emotions_slice
    single = fit(Method("pairwise", "gfy", "entropy"), Config(**worker.CONFIG), train,
                 validation, seed=0)
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(single.model))]
    history = np.asarray(single.history)
    for i in range(2):
        both = _load(tmp_path / f"process{i}.npz")
        np.testing.assert_allclose(both["history"][:, 0], history[:, 0], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(both["history"][:, 1], history[:, 1])
        assert both["best_epoch"] == single.best_epoch
        for j, leaf in enumerate(leaves):
            np.testing.assert_allclose(both[f"leaf{j}"], leaf, rtol=1e-5, atol=1e-6)
    # They checkpointed together: every epoch's state is on disk.
    assert (tmp_path / "checkpoint" / "3").is_dir()


@pytest.mark.parametrize("value, expected", [("all", 0), ("ALL", 0), ("0", 0), ("3", 3)])
def test_device_count_parsing(value, expected):
    from fenchel.training import parse_device_count as _device_count

    assert _device_count(value) == expected


@pytest.mark.parametrize("value", ["-1", "two"])
def test_bad_device_count_exits_with_usage(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["multilabel", "--dataset", "emotions", "--devices", value])
    assert exit_info.value.code == 2
    assert "--devices" in capsys.readouterr().err


def test_more_devices_than_available_fails_cleanly(data_dir, capsys):
    code = cli.main(["multilabel", "--dataset", "emotions", "--data-dir", str(data_dir),
                     "--devices", "64", "--quiet"])
    assert code == 2
    assert "num_devices=64" in capsys.readouterr().err


def test_all_devices_runs_the_sharded_path(data_dir, tmp_path, capsys):
    """``--devices all`` (here: the one CPU device) trains through the mesh code path."""
    out = tmp_path / "emotions.json"
    code = cli.main(["multilabel", "--dataset", "emotions", "--energy", "unary", "--loss", "bce",
                     "--data-dir", str(data_dir), "--json", str(out), "--devices", "all",
                     "--max-epochs", "1", "--hidden", "0", "--learning-rate", "0.01",
                     "--weight-decay", "1e-4", "--reg-scale", "1", "--batch-size", "32",
                     "--quiet"])
    assert code == 0
    assert "hamming_accuracy=" in capsys.readouterr().out
    assert out.exists()
