"""Tests of the GFY-family options of the imitation policies: ``gfy-softmax`` (the GFY loss over
a candidate set at temperature τ), ``gfy``'s ``train_solver``, the zero-loss diagnostic."""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fenchel import maximizers as fm
from fenchel.cli import main
from fenchel.imitation import policies
from fenchel.imitation.policies import (
    ZERO_LOSS_ATOL,
    PolicyConfig,
    PolicySpec,
    make_learner,
)
from fenchel.imitation.reproduce import GRID_POLICIES, ReproduceConfig
from fenchel.imitation.train import DIAGNOSTIC_EVERY, TrainConfig, train_policy

TINY = PolicyConfig(hidden=(16,), train_samples=8, train_rounds=1, train_refine=3,
                    act_samples=16, act_rounds=1, act_refine=3, negatives=8, pairwise_sweeps=5)
SPEC = PolicySpec(6, 2, 0.0, 1.0)
COMMITTED_RUN = (pathlib.Path(__file__).parents[2] / "docs" / "results" / "imitation" / "runs"
                 / "particle-2d-multimodal__gfy__n200__s0.json")


def _batch(n: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.normal(size=(n, SPEC.observation_dim)), jnp.float32),
            jnp.asarray(rng.uniform(-1, 1, size=(n, SPEC.action_dim)), jnp.float32))


@pytest.mark.parametrize("search", ["sample", "reuse"])
def test_gfy_softmax_trains_and_its_loss_decreases(search):
    # Expert a = 0.5 + 0.3 s_0: the energy must learn to peak at one action per observation.
    rng = np.random.default_rng(1)
    observations = rng.uniform(-1, 1, size=(128, SPEC.observation_dim)).astype(np.float32)
    actions = np.clip(0.5 + 0.3 * observations[:, :2], 0, 1).astype(np.float32)
    config = dataclasses.replace(TINY, gfy_temperature=0.1, hard_negatives=2,
                                 hard_negative_search=search)
    steps = 60
    policy, history = train_policy("gfy-softmax", observations, actions, SPEC, config,
                                   TrainConfig(steps=steps, batch_size=32, learning_rate=1e-2))
    losses = history["loss"]
    assert len(losses) == steps and all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10])
    # The diagnostic is read every DIAGNOSTIC_EVERY steps and after the last.
    assert history["diagnostic_step"] == [DIAGNOSTIC_EVERY, steps]
    assert all(0.0 <= f <= 1.0 for f in history["zero_loss_fraction"])
    action = policy(observations[:4])
    assert action.shape == (4, 2) and np.all((action >= 0) & (action <= 1))


@pytest.mark.parametrize("hard_negatives, negatives", [(0, 2), (2, 8)])
def test_at_zero_temperature_the_loss_is_the_hard_max_gfy_of_the_best_candidate(
        hard_negatives, negatives):
    config = dataclasses.replace(TINY, gfy_temperature=0.0, hard_negatives=hard_negatives,
                                 negatives=negatives, hard_negative_search="sample")
    learner = make_learner("gfy-softmax", SPEC, config)
    params, batch, key = learner.init(3), _batch(), jax.random.key(7)
    # The candidates the loss draws: one key per example, as in the learner.
    energy, _ = policies._energy_functions(SPEC, config)
    reg = policies._unit_box(config.reg_scale)
    draw = policies._gfy_candidates(energy, reg, config, SPEC.action_dim)
    keys = jax.random.split(key, batch[0].shape[0])
    candidates = jax.jit(jax.vmap(lambda s, y, kk: draw(params, s, y, kk)))(*batch, keys)
    assert candidates.shape == (batch[0].shape[0], negatives + hard_negatives, 2)

    def hard_max_gfy(s, y, c):
        # GFY loss with ŷ = the best candidate: max(F(ŷ), F(y)) − F(y).
        objective = jax.vmap(lambda x: fm.objective(energy, reg, (params, s), x))(c)
        best = c[jnp.argmax(objective)]
        return jnp.maximum(fm.objective_gap(energy, reg, (params, s), best, y), 0.0)

    expected = jax.jit(jax.vmap(hard_max_gfy))(*batch, candidates)
    np.testing.assert_allclose(jax.jit(learner.loss)(params, batch, key), jnp.mean(expected),
                               rtol=1e-5, atol=1e-6)
    zero = float(learner.diagnostics(params, batch, key)["zero_loss_fraction"])
    assert zero == pytest.approx(float(jnp.mean(expected <= ZERO_LOSS_ATOL)))
    if hard_negatives == 0:  # with only two uniform candidates z* often beats both
        assert 0.0 < zero < 1.0
    # τ > 0 over the same candidates: L_0 ≤ L_τ ≤ L_0 + τ log |C|.
    tau = 0.5
    soft = make_learner("gfy-softmax", SPEC, dataclasses.replace(config, gfy_temperature=tau))
    value = float(jax.jit(soft.loss)(params, batch, key))
    bound = tau * math.log(negatives + hard_negatives + 1)
    assert float(jnp.mean(expected)) - 1e-6 <= value <= float(jnp.mean(expected)) + bound + 1e-6


def _sample_search_loss(config, params, batch, key):
    """``gfy-softmax``'s loss as written before ``hard_negative_search`` (2026-12-07): its
    candidates from :func:`fenchel.candidates.sample_candidates` and one search from z*."""
    from fenchel import candidates as fc

    energy, _ = policies._energy_functions(SPEC, config)
    reg = policies._unit_box(config.reg_scale)
    search = policies._search(config)

    def one(s, y, kk):
        theta = (params, s)
        sample_key, warm_key = jax.random.split(kk)
        points = fc.sample_candidates(energy, reg, theta, sample_key,
                                      num_random=config.negatives,
                                      num_hard=max(config.hard_negatives - 1, 0),
                                      solver=search, shape=(SPEC.action_dim,))
        if config.hard_negatives:
            warm = search(energy, reg, jax.lax.stop_gradient(theta), y, warm_key)[0]
            points = jnp.concatenate([points, jax.lax.stop_gradient(warm)[None]])
        return fc.candidate_set_loss(energy, theta, y, points,
                                     temperature=config.gfy_temperature, reg=reg)

    keys = jax.random.split(key, batch[0].shape[0])
    return jnp.mean(jax.vmap(one)(*batch, keys))


@pytest.mark.parametrize("hard_negatives", [0, 2])
def test_sample_search_is_the_old_loss_bit_for_bit(hard_negatives):
    # hard_negative_search="sample" keeps the loss, and its gradient, of the results made
    # before the option, to the bit.
    config = dataclasses.replace(TINY, hard_negatives=hard_negatives,
                                 hard_negative_search="sample")
    learner = make_learner("gfy-softmax", SPEC, config)
    params, batch, key = learner.init(5), _batch(), jax.random.key(11)
    got = jax.jit(jax.value_and_grad(learner.loss))(params, batch, key)
    expected = jax.jit(jax.value_and_grad(
        lambda p, b, k: _sample_search_loss(config, p, b, k)))(params, batch, key)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _reused(config, params, batch, key):
    """``(candidates (b, M + K, k), gaps (b, M + K))`` that ``gfy-softmax``'s loss draws
    with ``hard_negative_search="reuse"``: one key per example, as in the learner."""
    energy, _ = policies._energy_functions(SPEC, config)
    reg = policies._unit_box(config.reg_scale)
    draw = policies._reused_candidates(energy, reg, config, SPEC.action_dim)
    keys = jax.random.split(key, batch[0].shape[0])
    return jax.jit(jax.vmap(lambda s, y, kk: draw(params, s, y, kk)))(*batch, keys), energy, reg


@pytest.mark.parametrize("tau", [0.0, 0.5])
@pytest.mark.parametrize("hard_negatives, refine", [(0, 3), (1, 0), (3, 0), (3, 4)])
def test_reuse_search_is_the_candidate_set_loss_over_its_candidates(tau, hard_negatives,
                                                                    refine):
    config = dataclasses.replace(TINY, gfy_temperature=tau, hard_negatives=hard_negatives,
                                 hard_negative_search="reuse", hard_negative_refine=refine)
    learner = make_learner("gfy-softmax", SPEC, config)
    params, batch, key = learner.init(3), _batch(), jax.random.key(7)
    (candidates, gaps), energy, reg = _reused(config, params, batch, key)
    m = config.negatives
    assert candidates.shape == (batch[0].shape[0], m + hard_negatives, 2)
    # The gaps are F(c) − F(z*), and the loss is candidate_set_loss over these candidates.
    from fenchel import candidates as fc

    def one(s, y, c):
        return fc.candidate_set_loss(energy, (params, s), y, c, temperature=tau, reg=reg)

    expected = jax.jit(jax.vmap(one))(*batch, candidates)
    np.testing.assert_allclose(jax.jit(learner.loss)(params, batch, key), jnp.mean(expected),
                               rtol=1e-5, atol=1e-6)
    direct = jax.vmap(lambda s, y, c: jax.vmap(
        lambda x: fm.objective_gap(energy, reg, (params, s), x, y))(c))(*batch, candidates)
    np.testing.assert_allclose(gaps, direct, rtol=1e-5, atol=1e-5)
    if hard_negatives and refine == 0:
        # No refinement: the hard negatives are their starting points, the best K − 1 uniform
        # candidates by F (their own gaps, reused) and, last, z*.
        uniform_gaps = np.asarray(gaps[:, :m])
        best = np.argsort(-uniform_gaps, axis=1)[:, :hard_negatives - 1]
        np.testing.assert_array_equal(candidates[:, m:-1],
                                      np.take_along_axis(np.asarray(candidates[:, :m]),
                                                         best[..., None], axis=1))
        np.testing.assert_array_equal(candidates[:, -1], batch[1])
        assert np.all(np.asarray(gaps[:, -1]) == 0.0)
    if hard_negatives and refine:
        # Refined: every run climbs from its start (projected gradient ascent on F).
        start = dataclasses.replace(config, hard_negative_refine=0)
        (starts, start_gaps), _, _ = _reused(start, params, batch, key)
        np.testing.assert_array_equal(starts[:, :m], candidates[:, :m])
        assert np.all(np.asarray(gaps[:, m:]) >= np.asarray(start_gaps[:, m:]) - 1e-5)
        assert np.any(np.asarray(gaps[:, m:]) > np.asarray(start_gaps[:, m:]) + 1e-3)
    zero = learner.diagnostics(params, batch, key)["zero_loss_fraction"]
    hard = jax.vmap(lambda g: jnp.max(jnp.concatenate([jnp.zeros(1), g])))(gaps)
    assert float(zero) == pytest.approx(float(jnp.mean(hard <= ZERO_LOSS_ATOL)))


def test_reuse_search_refuses_more_runs_than_uniform_starts():
    PolicyConfig(negatives=4, hard_negatives=5, hard_negative_search="reuse")
    with pytest.raises(ValueError, match="hard_negatives <= negatives \\+ 1"):
        PolicyConfig(negatives=4, hard_negatives=6, hard_negative_search="reuse")
    PolicyConfig(negatives=4, hard_negatives=6, hard_negative_search="sample")
    with pytest.raises(ValueError, match="hard_negative_search"):
        PolicyConfig(hard_negative_search="fresh")
    with pytest.raises(ValueError, match="hard_negative_refine"):
        PolicyConfig(hard_negative_refine=-1)


@pytest.mark.parametrize("tau", [-0.1, float("nan"), float("inf"), "0.1", True])
def test_config_refuses_a_bad_temperature(tau):
    with pytest.raises(ValueError, match="gfy_temperature"):
        PolicyConfig(gfy_temperature=tau)


@pytest.mark.parametrize("bad, name", [(dict(train_solver="exact"), "train_solver"),
                                       (dict(hard_negatives=-1), "hard_negatives")])
def test_config_refuses_bad_gfy_options(bad, name):
    with pytest.raises(ValueError, match=name):
        PolicyConfig(**bad)


LEGACY = PolicyConfig(hard_negative_search="sample")
"""The settings of the committed results (made before ``hard_negative_search``)."""


def test_new_fields_keep_the_committed_settings():
    # The settings the committed results were made with keep their record (and fingerprint):
    # the new fields are recorded only away from the behaviour before them.
    stored = json.loads(COMMITTED_RUN.read_text())["policy_config"]
    assert LEGACY.to_dict() == stored
    assert PolicyConfig.from_dict(stored) == LEGACY
    changed = PolicyConfig(gfy_temperature=0.1, train_solver="acting", hard_negatives=3)
    data = changed.to_dict()
    assert (data["gfy_temperature"], data["train_solver"], data["hard_negatives"]) == (
        0.1, "acting", 3)
    assert PolicyConfig(**{**data, "hidden": tuple(data["hidden"])}) == changed
    assert PolicyConfig.from_dict(json.loads(json.dumps(data))) == changed
    assert ReproduceConfig().policies == GRID_POLICIES
    with pytest.raises(ValueError, match="unknown PolicyConfig fields"):
        PolicyConfig.from_dict({**stored, "hard_negative_serch": "reuse"})


@pytest.mark.parametrize("search, refine", [("sample", 3), ("reuse", 3), ("reuse", 5),
                                            ("sample", 5)])
def test_the_hard_negative_search_is_recorded_unless_it_is_the_old_one(search, refine):
    config = PolicyConfig(hard_negative_search=search, hard_negative_refine=refine)
    data = config.to_dict()
    assert data.get("hard_negative_search", "sample") == search
    assert ("hard_negative_search" in data) == (search != "sample")
    assert data.get("hard_negative_refine", 3) == refine
    assert PolicyConfig.from_dict(json.loads(json.dumps(data))) == config


def test_gfy_with_the_acting_solver_trains_and_reports_the_diagnostic():
    rng = np.random.default_rng(2)
    observations = rng.normal(size=(32, SPEC.observation_dim)).astype(np.float32)
    actions = rng.uniform(0, 1, size=(32, 2)).astype(np.float32)
    config = dataclasses.replace(TINY, train_solver="acting")
    _, history = train_policy("gfy", observations, actions, SPEC, config,
                              TrainConfig(steps=3, batch_size=16))
    assert all(math.isfinite(v) for v in history["loss"])
    assert history["diagnostic_step"] == [3] and 0 <= history["zero_loss_fraction"][0] <= 1
    # Policies outside the GFY family have no such diagnostic (nor history entry).
    assert make_learner("ibc", SPEC, TINY).diagnostics is None
    assert make_learner("mse", SPEC, TINY).diagnostics is None


def test_the_default_gfy_training_solver_is_unchanged():
    # train_solver="train": the train_* search warm-started at z*, as before the option.
    learner = make_learner("gfy", SPEC, TINY)
    search = policies._search(TINY)
    assert search == policies._sample_then_refine(8, 1, 3)
    params, batch, key = learner.init(0), _batch(), jax.random.key(1)
    energy, _ = policies._energy_functions(SPEC, TINY)
    reg = policies._unit_box(TINY.reg_scale)
    keys = jax.random.split(key, batch[0].shape[0])

    def one(s, y, kk):
        y_hat = search(energy, reg, (params, s), y, kk)[0]
        return jnp.maximum(fm.objective_gap(energy, reg, (params, s), y_hat, y), 0.0)

    np.testing.assert_allclose(jax.jit(learner.loss)(params, batch, key),
                               jnp.mean(jax.jit(jax.vmap(one))(*batch, keys)), rtol=1e-5,
                               atol=1e-7)


def test_train_cli_accepts_gfy_softmax(tmp_path, capsys):
    out = tmp_path / "run.json"
    code = main(["imitation", "train", "--env", "particle-2d-multimodal", "--policy",
                 "gfy-softmax", "--demos", "2", "--seed", "0", "--steps", "2",
                 "--batch-size", "16", "--hidden-sizes", "8", "--act-samples", "8",
                 "--gfy-temperature", "0.1", "--hard-negatives", "1", "--train-solver", "acting",
                 "--eval-episodes", "2", "--quiet", "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["policy"] == "gfy-softmax"
    config = result["policy_config"]
    assert (config["gfy_temperature"], config["hard_negatives"], config["train_solver"]) == (
        0.1, 1, "acting")
    assert 0.0 <= result["zero_loss_fraction"] <= 1.0
    assert "zero_loss_fraction=" in capsys.readouterr().out


def test_train_cli_sets_the_hard_negative_search(tmp_path):
    out = tmp_path / "run.json"
    code = main(["imitation", "train", "--env", "particle-2d-multimodal", "--policy",
                 "gfy-softmax", "--demos", "2", "--seed", "0", "--steps", "2",
                 "--batch-size", "16", "--hidden-sizes", "8", "--act-samples", "8",
                 "--hard-negative-search", "reuse", "--hard-negative-refine", "2",
                 "--eval-episodes", "2", "--quiet", "--json", str(out)])
    assert code == 0
    config = json.loads(out.read_text())["policy_config"]
    assert (config["hard_negative_search"], config["hard_negative_refine"]) == ("reuse", 2)


@pytest.mark.parametrize("argv", [["--gfy-temperature", "-1"], ["--train-solver", "exact"],
                                  ["--hard-negative-search", "fresh"],
                                  ["--hard-negative-refine", "-1"]])
def test_train_cli_refuses_bad_gfy_options(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["imitation", "train", "--env", "particle-2d", "--policy", "gfy-softmax",
              "--demos", "1", *argv])
    assert exit_info.value.code == 2
    assert argv[0] in capsys.readouterr().err
