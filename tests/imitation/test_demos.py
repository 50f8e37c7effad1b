"""Tests of demonstration collection, the .npz format and the ``fenchel imitation collect`` CLI."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from fenchel.cli import main
from fenchel.imitation.demos import (
    Demonstrations,
    collect_demonstrations,
    load_demonstrations,
    save_demonstrations,
)
from fenchel.imitation.particle import ParticleConfig, split_observation


def _assert_equal(a: Demonstrations, b: Demonstrations) -> None:
    for field in dataclasses.fields(Demonstrations):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if field.name == "metadata":
            assert x == y
        else:
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)


def test_same_seed_gives_identical_demonstrations():
    a = collect_demonstrations("particle-3d-multimodal", 20, seed=5)
    _assert_equal(a, collect_demonstrations("particle-3d-multimodal", 20, seed=5))
    other = collect_demonstrations("particle-3d-multimodal", 20, seed=6)
    assert not np.array_equal(a.observations[:10], other.observations[:10])


@pytest.mark.parametrize("name", ["particle-2d", "particle-5d-multimodal"])
def test_demonstrations_are_consistent_episodes(name):
    demos = collect_demonstrations(name, 30, seed=0)
    config = demos.config
    assert demos.num_episodes == 30
    assert demos.observations.shape == (demos.num_transitions, config.observation_dim)
    assert demos.actions.shape == (demos.num_transitions, config.action_dim)
    assert demos.observations.dtype == demos.actions.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(demos.episode_index), demos.episode_lengths)
    np.testing.assert_array_equal(demos.episode_index[demos.episode_starts], np.arange(30))
    assert demos.episode_lengths.sum() == demos.num_transitions
    parts = split_observation(demos.observations, config.dim)
    # Episodes start at rest with nothing visited, and every expert action is one of the goals.
    starts = demos.episode_starts
    assert np.all(parts["velocity"][starts] == 0) and not parts["visited"][starts].any()
    gap = np.abs(parts["goals"] - demos.actions[:, None, :]).max(axis=-1).min(axis=-1)
    assert np.all(gap == 0)
    assert demos.metadata["env"] == name and demos.metadata["seed"] == 0
    assert demos.metadata["success_rate"] == demos.episode_success.mean() >= 0.98


def test_multimodal_demonstrations_go_both_ways_from_the_start():
    demos = collect_demonstrations("particle-2d-multimodal", 100, seed=0)
    parts = split_observation(demos.observations[demos.episode_starts], 2)
    first_action = demos.actions[demos.episode_starts]
    to_goal1 = np.all(first_action == parts["goals"][:, 0], axis=1)
    assert 0.3 < to_goal1.mean() < 0.7
    ordered = collect_demonstrations("particle-2d", 100, seed=0)
    parts = split_observation(ordered.observations[ordered.episode_starts], 2)
    assert np.all(ordered.actions[ordered.episode_starts] == parts["goals"][:, 0])


def test_config_metadata_records_custom_configs():
    config = ParticleConfig(dim=2, max_steps=30)
    demos = collect_demonstrations(config, 5, seed=0)
    assert demos.metadata["env"] is None and demos.config == config


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="n_episodes must be a positive int"):
        collect_demonstrations("particle-2d", 0)
    with pytest.raises(ValueError, match="unknown environment name 'cartpole'"):
        collect_demonstrations("cartpole", 3)
    with pytest.raises(TypeError, match="env must be"):
        collect_demonstrations(2, 3)


def test_save_load_round_trip(tmp_path):
    demos = collect_demonstrations("particle-4d-multimodal", 10, seed=2)
    path = tmp_path / "demos.npz"
    save_demonstrations(path, demos)
    _assert_equal(demos, load_demonstrations(path))
    assert os.listdir(tmp_path) == ["demos.npz"]  # no temporary file left behind
    save_demonstrations(path, collect_demonstrations("particle-1d", 3, seed=0))  # overwrite
    assert load_demonstrations(path).config.dim == 1


def test_loading_a_foreign_npz_is_a_clear_error(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a demonstrations file"):
        load_demonstrations(path)


def test_collect_cli_writes_the_dataset(tmp_path, capsys):
    out = tmp_path / "sub" / "particle.npz"
    code = main(["imitation", "collect", "--env", "particle-2d-multimodal", "--demos", "12",
                 "--seed", "4", "--out", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "particle-2d-multimodal" in captured.out and str(out) in captured.out
    assert "12/12" in captured.err  # the progress bar, on stderr
    _assert_equal(load_demonstrations(out), collect_demonstrations("particle-2d-multimodal", 12, 4))


def test_collect_cli_quiet_and_the_deprecated_episodes_flag(tmp_path, capsys):
    out = tmp_path / "particle.npz"
    assert main(["imitation", "collect", "--env", "particle-1d", "--episodes", "3",
                 "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err == ("fenchel imitation collect: warning: --episodes is deprecated and will be "
                   "removed in the next release; use --demos\n")  # and no progress bar
    assert load_demonstrations(out).num_episodes == 3


def test_progress_does_not_change_the_demonstrations(capsys):
    _assert_equal(collect_demonstrations("particle-2d", 5, seed=1, progress=True),
                  collect_demonstrations("particle-2d", 5, seed=1))
    assert "5/5" in capsys.readouterr().err


def test_collect_cli_rejects_unknown_env(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["imitation", "collect", "--env", "particle-99d", "--demos", "1",
              "--out", str(tmp_path / "x.npz")])
    assert "valid names" in capsys.readouterr().err
    assert not os.listdir(tmp_path)
