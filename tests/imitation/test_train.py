"""Tests of tasks, experiments and the ``fenchel imitation train`` / ``train-expert`` CLI
(tiny budgets), including ``collect`` -> ``train --demos-file``."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from fenchel.cli import main
from fenchel.imitation import experts
from fenchel.imitation.demos import load_demonstrations
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
                 "--batch-size", "16", "--hidden-sizes", "16", "--eval-episodes", "3", "--quiet",
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
               "--steps", "4", "--batch-size", "8", "--hidden-sizes", "8", "--eval-episodes", "2",
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


# The smallest task and the tiniest budget: a few seconds, mostly compilation.
TINY_TRAIN = ["--policy", "mse", "--steps", "2", "--batch-size", "8", "--hidden-sizes", "8",
              "--eval-episodes", "2", "--quiet"]


@pytest.fixture
def demos_file(tmp_path, capsys):
    """``fenchel imitation collect`` of 4 particle-1d episodes."""
    path = tmp_path / "demos" / "particle-1d.npz"
    assert main(["imitation", "collect", "--env", "particle-1d", "--demos", "4", "--seed", "3",
                 "--out", str(path), "--quiet"]) == 0
    capsys.readouterr()
    return path


def test_collect_then_train_on_the_demos_file(demos_file, tmp_path, capsys):
    demos = load_demonstrations(demos_file)
    out = tmp_path / "all.json"
    assert main(["imitation", "train", "--env", "particle-1d", "--demos-file", str(demos_file),
                 *TINY_TRAIN, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"demos_file={demos_file}" in printed and "success_rate=" in printed
    result = json.loads(out.read_text())
    assert result["demos"] == 4 and result["transitions"] == demos.num_transitions
    assert result["demos_file"] == str(demos_file) and result["demos_seed"] == 3
    assert result["policy_config"]["hidden"] == [8] and result["eval_episodes"] == 2
    # --demos with a file: its first N episodes
    first = tmp_path / "first2.json"
    assert main(["imitation", "train", "--env", "particle-1d", "--demos-file", str(demos_file),
                 "--demos", "2", *TINY_TRAIN, "--json", str(first)]) == 0
    result = json.loads(first.read_text())
    assert result["demos"] == 2
    assert result["transitions"] == int(demos.episode_lengths[:2].sum())


@pytest.mark.parametrize("argv, message", [
    (["--env", "particle-2d"], "holds demonstrations of 'particle-1d', not of --env particle-2d"),
    (["--env", "particle-1d", "--demos", "5"], "--demos 5 asks for more episodes than"),
])
def test_a_demos_file_that_does_not_fit_is_refused(demos_file, argv, message, tmp_path,
                                                   capsys):
    out = tmp_path / "r.json"
    with pytest.raises(SystemExit) as exit_info:
        main(["imitation", "train", *argv, "--demos-file", str(demos_file), *TINY_TRAIN,
              "--json", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --demos-file: " in err and message in err and "Traceback" not in err
    assert not out.exists()


def test_a_demos_file_with_wrong_shapes_is_refused(demos_file, tmp_path, capsys):
    data = dict(np.load(demos_file))
    data["actions"] = np.zeros((data["actions"].shape[0], 3), np.float32)
    broken = tmp_path / "broken.npz"
    np.savez(broken, **data)
    with pytest.raises(SystemExit) as exit_info:
        main(["imitation", "train", "--env", "particle-1d", "--demos-file", str(broken),
              *TINY_TRAIN])
    assert exit_info.value.code == 2
    assert "has actions of shape" in capsys.readouterr().err


def test_train_expert_writes_to_the_working_directory_by_default(tmp_path, monkeypatch,
                                                                 capsys):
    """Never inside the installed package: ``experts/<gymnasium id>.npz`` under the working
    directory (SAC itself is replaced by a stub)."""
    calls = []

    def fake_train(env_id, out, seed, config, progress):
        calls.append((env_id, out, seed, config.timesteps, progress))
        expert = experts.MLPExpert([np.zeros((11, 3), np.float32)], [np.zeros(3, np.float32)],
                                   {"env_id": env_id, "seed": seed, "eval_return_mean": 1.0,
                                    "eval_return_std": 0.0, "eval_episodes": 1,
                                    "train_seconds": 0.0})
        experts.save_expert(out, expert)
        return expert

    monkeypatch.setattr(experts, "train_sac_expert", fake_train)
    monkeypatch.chdir(tmp_path)
    shipped = {name: os.path.getmtime(os.path.join(experts.EXPERT_DIR, name))
               for name in os.listdir(experts.EXPERT_DIR)}
    assert main(["imitation", "train-expert", "--env", "hopper", "--timesteps", "7",
                 "--quiet"]) == 0
    assert calls == [("Hopper-v5", os.path.join("experts", "hopper-v5.npz"), 0, 7, False)]
    assert (tmp_path / "experts" / "hopper-v5.npz").is_file()
    assert "wrote experts/hopper-v5.npz" in capsys.readouterr().out
    assert shipped == {name: os.path.getmtime(os.path.join(experts.EXPERT_DIR, name))
                       for name in os.listdir(experts.EXPERT_DIR)}
    # the deprecated --env-id spelling names the same task
    assert main(["imitation", "train-expert", "--env-id", "Walker2d-v5", "--out",
                 str(tmp_path / "w.npz"), "--quiet"]) == 0
    assert calls[-1][:2] == ("Walker2d-v5", str(tmp_path / "w.npz"))
    assert "--env-id is deprecated" in capsys.readouterr().err


class _LookupPolicy:
    """Answers each probe observation (row index in column 0) with a stored action."""

    def __init__(self, answers, spec):
        self.answers, self.spec = answers, spec

    def __call__(self, observations):
        return self.answers[observations[:, 0].astype(int)]


@pytest.mark.parametrize("shift, expected", [(0.0, 0.0), (0.04, 0.0), (0.06, 1.0)])
def test_off_target_rate_counts_actions_beyond_the_radius(shift, expected):
    # Box [0, 1]: radius 0.1 in the unit box is 0.05 in action units.
    from fenchel.imitation.policies import PolicySpec
    from fenchel.imitation.train import off_target_rate
    spec = PolicySpec(2, 2, 0.0, 1.0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(0.2, 0.8, size=(1500, 2))
    observations = np.stack([np.arange(1500), np.zeros(1500)], axis=1)
    answers = actions + np.array([shift, 0.0])
    assert off_target_rate(_LookupPolicy(answers, spec), observations, actions) == expected
    # Half of the states off target: the rate reads a fixed subset of 1000 of them.
    answers = actions.copy()
    answers[::2] += 0.15
    rate = off_target_rate(_LookupPolicy(answers, spec), observations, actions)
    assert 0.45 < rate < 0.55
