"""Tests of ``fenchel reproduce imitation`` on a tiny grid: outputs, resume, other settings
refused."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

from fenchel.infra._settings import SettingsMismatchError
from fenchel.cli import main
from fenchel.imitation.policies import PolicyConfig
from fenchel.imitation.reproduce import ReproduceConfig, aggregate, results_markdown, run_grid
from fenchel.imitation.train import TrainConfig

TINY = PolicyConfig(hidden=(16,), train_samples=8, train_rounds=1, train_refine=3,
                    act_samples=16, act_rounds=1, act_refine=3, negatives=8, pairwise_sweeps=5)


def _tiny_grid(**changes) -> ReproduceConfig:
    fields = dict(envs=("particle-2d-multimodal",), policies=("mse",),
                  demos=(("particle-2d-multimodal", (2,)),), seeds=2, eval_episodes=3,
                  policy_config=TINY, train_config=TrainConfig(steps=2, batch_size=16))
    return ReproduceConfig(**(fields | changes))


def test_tiny_grid_writes_results_and_resumes(tmp_path):
    out = str(tmp_path / "imitation")
    config = _tiny_grid()
    first = run_grid(config, out, progress=False)
    assert first["runs_computed_this_call"] == 2
    for name in ("results.md", "results.json", "success_vs_demos.png",
                 "rollouts_oracle.gif", "rollouts_mse.gif"):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    assert not [f for f in os.listdir(out) if f.startswith(".tmp-")]
    results = json.loads(open(os.path.join(out, "results.json")).read())
    assert len(results["summary"]) == 1 and len(results["runs"]) == 2
    assert results["oracle"]["particle-2d-multimodal"]["success_mean"] == 1.0
    assert all(row["seeds"] == 2 for row in results["summary"])
    markdown = open(os.path.join(out, "results.md")).read()
    assert "particle-2d-multimodal" in markdown and "| mse |" in markdown

    again = run_grid(config, out, progress=False)  # everything is on disk: nothing to redo
    assert again["runs_computed_this_call"] == 0
    assert again["summary"] == first["summary"]

    # A corrupt run file is recomputed, and only that one.
    path = os.path.join(out, "runs", "particle-2d-multimodal__mse__n2__s1.json")
    with open(path, "w") as file:
        file.write("{not json")
    assert run_grid(config, out, progress=False)["runs_computed_this_call"] == 1
    json.loads(open(path).read())

    # The settings are recorded in the folder (and in each run file).
    assert json.load(open(os.path.join(out, "settings.json"))) == json.loads(
        json.dumps(config.settings()))

    # A different setting is refused, naming it, before anything runs: the stored runs (and
    # the GIFs drawn with them) are neither overwritten nor mixed with new ones.
    before = {name: os.stat(os.path.join(out, "runs", name)).st_mtime_ns
              for name in os.listdir(os.path.join(out, "runs"))}
    with pytest.raises(SettingsMismatchError,
                       match=r"eval_episodes \(--eval-episodes\): stored 3 .*, now 4"):
        run_grid(dataclasses.replace(config, eval_episodes=4), out, progress=False)
    steps = dataclasses.replace(config, train_config=TrainConfig(steps=3, batch_size=16))
    with pytest.raises(SettingsMismatchError, match=r"train_config.steps \(--steps\): stored 2"):
        run_grid(steps, out, progress=False)
    assert before == {name: os.stat(os.path.join(out, "runs", name)).st_mtime_ns
                      for name in os.listdir(os.path.join(out, "runs"))}


def test_grid_rejects_unknown_policy():
    with pytest.raises(ValueError, match="policies"):
        _tiny_grid(policies=("mse", "dqn"))


def test_reproduce_cli(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["reproduce", "imitation", "--out", str(out), "--envs", "particle-2d-multimodal",
                 "--policies", "mse", "--demos", "2", "--seeds", "1", "--eval-episodes", "2",
                 "--steps", "2", "--batch-size", "16", "--hidden-sizes", "16", "--quiet"])
    assert code == 0
    assert (out / "results.md").exists() and (out / "rollouts_mse.gif").exists()
    assert "success=" in capsys.readouterr().out
    code = main(["reproduce", "imitation", "--out", str(out), "--envs", "particle-2d-multimodal",
                 "--policies", "mse", "--demos", "2", "--seeds", "1", "--eval-episodes", "2",
                 "--steps", "2", "--batch-size", "16", "--hidden-sizes", "32", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "policy_config.hidden (--hidden-sizes): stored [16] (in runs/" in err and "now [32]" in err
    assert "fresh output folder (--out)" in err


def test_locomotion_scores_are_returns_relative_to_the_expert():
    config = _tiny_grid(envs=("hopper",), demos=(("hopper", (2,)),), gifs=False)
    run = lambda seed, ret: {"env": "hopper", "policy": "mse", "demos": 2, "seed": seed,
                             "success_rate": 0.5, "mean_return": ret, "latency_ms": 1.0,
                             "train_seconds": 1.0, "eval_seconds": 1.0, "transitions": 10}
    oracles = [{"env": "hopper", "seed": 0, "success_rate": 1.0, "mean_return": 1000.0},
               {"env": "hopper", "seed": 1, "success_rate": 1.0, "mean_return": 2000.0}]
    results = aggregate(config, [run(0, 500.0), run(1, 1500.0)], oracles)
    (row,) = results["summary"]
    # Per seed: 500 / 1000 and 1500 / 2000.
    assert row["metric"] == "mean_return"
    assert row["score_mean"] == pytest.approx(0.625)
    assert row["score_std"] == pytest.approx(np.std([0.5, 0.75], ddof=1))
    assert row["return_mean"] == 1000.0 and row["success_mean"] == 0.5
    oracle = results["oracle"]["hopper"]
    assert oracle["score_mean"] == 1.0 and oracle["return_mean"] == 1500.0
    markdown = results_markdown(dict(results, machine={}))
    assert "Expert (SAC) return: 1500.0" in markdown and "| mse | 0.625 ± 0.177 |" in markdown


def test_committed_results_resume_with_their_settings():
    """The committed docs/results/imitation runs match the command's settings with
    ``--hard-negative-search sample`` (it resumes them); other settings would have
    overwritten them, and are now refused."""
    from fenchel.imitation.reproduce import check_settings

    out = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "results", "imitation")
    if not os.path.isdir(os.path.join(out, "runs")):
        pytest.skip("no committed imitation results")
    # Made before hard_negative_search, whose default changed since (to "reuse"): they
    # resume with --hard-negative-search sample, and the new default is refused.
    legacy = ReproduceConfig(policy_config=PolicyConfig(hard_negative_search="sample"))
    check_settings(legacy, out)
    with pytest.raises(SettingsMismatchError, match=r"--hard-negative-search"):
        check_settings(ReproduceConfig(), out)
    longer = dataclasses.replace(legacy, train_config=TrainConfig(steps=6000))
    with pytest.raises(SettingsMismatchError, match=r"stored 1500 .*, now 6000"):
        check_settings(longer, out)


def test_committed_results_are_not_mixed_with_another_hard_negative_search():
    # The committed runs predate hard_negative_search (they searched with "sample"): they
    # resume with it, and "reuse" is refused, naming the flag, so old and new never mix.
    from fenchel.imitation.reproduce import check_settings

    out = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "results",
                       "imitation_ibc_protocol_steps3000")
    if not os.path.isdir(os.path.join(out, "runs")):
        pytest.skip("no committed imitation results")
    old = ReproduceConfig(envs=("particle-ibc-2d",), policies=("mse", "ibc", "gfy-softmax"),
                          policy_config=PolicyConfig(hidden=(256, 256),
                                                     hard_negative_search="sample"),
                          train_config=TrainConfig(steps=3000))
    check_settings(old, out)
    new = dataclasses.replace(old, policy_config=dataclasses.replace(
        old.policy_config, hard_negative_search="reuse"))
    with pytest.raises(SettingsMismatchError,
                       match=r"policy_config.hard_negative_search \(--hard-negative-search\): "
                             r"stored \(not recorded\) .*, now \"reuse\""):
        check_settings(new, out)


def test_demos_per_task_on_the_command_line(tmp_path, capsys):
    # "N" sets every task's counts, "TASK=N" one task's; runs are named by their count.
    out = tmp_path / "out"
    code = main(["reproduce", "imitation", "--out", str(out), "--envs", "particle-2d-multimodal",
                 "particle-1d", "--policies", "mse", "--demos", "2", "particle-1d=3",
                 "particle-1d=4", "--seeds", "1", "--eval-episodes", "2", "--steps", "2",
                 "--batch-size", "16", "--hidden-sizes", "16", "--quiet"])
    assert code == 0
    runs = sorted(os.listdir(out / "runs"))
    assert "particle-2d-multimodal__mse__n2__s0.json" in runs
    assert {"particle-1d__mse__n3__s0.json", "particle-1d__mse__n4__s0.json"} <= set(runs)
    assert not any(name.startswith("particle-1d__mse__n2") for name in runs)
    settings = json.loads((out / "results.json").read_text())
    assert settings["config"]["demos"] == {"particle-2d-multimodal": [2], "particle-1d": [3, 4]}


@pytest.mark.parametrize("item, message", [("particle-9z=3", "unknown environment name"),
                                           ("=3", "expected TASK=N"),
                                           ("particle-1d=0", "integer >= 1"),
                                           ("three", "integer >= 1")])
def test_demos_items_are_checked(item, message, capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "imitation", "--demos", item])
    err = capsys.readouterr().err
    assert "--demos" in err and message in err
