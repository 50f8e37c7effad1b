"""Tests of tasks, experiments and the ``fenchel imitation train`` CLI (tiny budgets)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fenchel.cli import main
from fenchel.imitation.policies import PolicyConfig
from fenchel.imitation.train import (
    TrainConfig,
    evaluate_oracle,
    make_task,
    run_experiment,
)

TINY = PolicyConfig(hidden=(16,), train_samples=8, train_rounds=1, train_refine=3,
                    act_samples=16, act_rounds=1, act_refine=3, negatives=8, pairwise_sweeps=5)


@pytest.mark.parametrize("name, sizes, box", [
    ("particle-2d-multimodal", (10, 2), (0.0, 1.0)),
    ("particle-8d", (34, 8), (0.0, 1.0)),
    ("pointmaze-medium", (6, 2), (-1.0, 1.0)),
])
def test_task_spec_matches_the_environment(name, sizes, box):
    spec = make_task(name).spec
    assert (spec.observation_dim, spec.action_dim) == sizes
    assert (spec.action_low, spec.action_high) == box


def test_task_demonstrations_fit_the_spec():
    task = make_task("particle-3d-multimodal")
    observations, actions, metadata = task.demonstrations(5, 0)
    assert observations.shape[1] == task.spec.observation_dim
    assert actions.shape == (observations.shape[0], task.spec.action_dim)
    assert np.all(actions >= task.spec.action_low) and np.all(actions <= task.spec.action_high)
    assert metadata["success_rate"] == 1.0


def test_unknown_task_is_rejected():
    with pytest.raises(ValueError):
        make_task("cartpole")


@pytest.mark.parametrize("bad", [dict(steps=0), dict(learning_rate=0.0),
                                 dict(weight_decay=-1.0)])
def test_train_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_oracle_succeeds_on_the_multimodal_task():
    result = evaluate_oracle("particle-2d-multimodal", eval_episodes=50, seed=0)
    assert result["success_rate"] == 1.0


def test_run_experiment_reports_every_field():
    result = run_experiment("particle-2d-multimodal", "mse", 3, seed=1, config=TINY,
                            train_config=TrainConfig(steps=2, batch_size=16), eval_episodes=4)
    assert {"success_rate", "latency_ms", "train_seconds", "transitions", "final_loss"} <= set(result)
    assert 0.0 <= result["success_rate"] <= 1.0 and result["latency_ms"] > 0
    assert result["eval_episodes"] == 4 and result["demos"] == 3
    json.dumps(result)  # JSON-serializable


def test_run_experiment_rejects_bad_demos():
    with pytest.raises(ValueError, match="n_demos"):
        run_experiment("particle-2d", "mse", 0)


def test_train_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "run.json"
    code = main(["imitation", "train", "--env", "particle-2d-multimodal", "--policy",
                 "gfy-pairwise", "--demos", "3", "--seed", "0", "--steps", "2",
                 "--batch-size", "16", "--hidden", "16", "--eval-episodes", "3", "--quiet",
                 "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["policy"] == "gfy-pairwise" and result["eval_episodes"] == 3
    assert result["policy_config"]["hidden"] == [16]
    assert "success_rate=" in capsys.readouterr().out


def test_train_cli_rejects_unknown_policy():
    with pytest.raises(SystemExit):
        main(["imitation", "train", "--env", "particle-2d", "--policy", "dqn", "--demos", "1"])


def test_training_over_a_mesh_matches_the_single_device_path():
    import jax

    from fenchel.imitation.train import train_policy
    from fenchel.training import make_mesh

    task = make_task("particle-2d-multimodal")
    observations, actions, _ = task.demonstrations(2, 0)
    config = TrainConfig(steps=3, batch_size=16)
    plain, plain_history = train_policy("mse", observations, actions, task.spec, TINY, config)
    meshed, mesh_history = train_policy("mse", observations, actions, task.spec, TINY, config,
                                        mesh=make_mesh(1))
    np.testing.assert_allclose(mesh_history["loss"], plain_history["loss"], rtol=1e-6)
    for a, b in zip(jax.tree.leaves(meshed.params), jax.tree.leaves(plain.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_train_cli_rejects_more_devices_than_exist(capsys):
    code = main(["imitation", "train", "--env", "particle-2d", "--policy", "mse", "--demos", "1",
                 "--devices", "64", "--quiet"])
    assert code == 2
    assert "device" in capsys.readouterr().err


def test_train_cli_checkpoints_and_resumes(tmp_path, capsys):
    command = ["imitation", "train", "--env", "particle-2d", "--policy", "mse", "--demos", "1",
               "--steps", "4", "--batch-size", "8", "--hidden", "8", "--eval-episodes", "2",
               "--quiet", "--checkpoint-dir", str(tmp_path / "ckpt"), "--json",
               str(tmp_path / "first.json")]
    assert main(command) == 0
    assert (tmp_path / "ckpt" / "4").is_dir()
    # A rerun finds the finished checkpoint: no step is trained again, same policy.
    assert main(command[:-1] + [str(tmp_path / "second.json")]) == 0
    first = json.loads((tmp_path / "first.json").read_text())
    second = json.loads((tmp_path / "second.json").read_text())
    assert second["final_loss"] == first["final_loss"]
    assert second["success_rate"] == first["success_rate"]
