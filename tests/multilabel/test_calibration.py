"""``fenchel reproduce calibration``: the known ground truths (their Bayes predictor by
enumeration or in closed form against Monte Carlo), the exact excess risks, the GFY
excess-risk identity the experiment rests on, a tiny grid that writes its files, resumes
without retraining and refuses other settings, and the command's help."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fenchel import cli
from fenchel import energies as fy_energies
from fenchel import losses as fy_losses
from fenchel.multilabel import calibration


@pytest.mark.parametrize("name", ["logistic", "ising"])
def test_exact_moments_match_monte_carlo(name):
    truth = calibration.TRUTHS[name]
    x = truth.test_inputs(3, seed=7)
    m, cov = truth.conditional(x)
    draws = 20000
    y = truth.sample_labels(np.repeat(x, draws, axis=0), seed=11).reshape(3, draws, truth.k)
    assert set(np.unique(y)) <= {0.0, 1.0}
    # 4 standard errors of a Bernoulli mean (at most 0.5 / sqrt(draws)) is 0.014.
    np.testing.assert_allclose(y.mean(axis=1), m, atol=0.015)
    centred = y - y.mean(axis=1, keepdims=True)
    empirical = np.einsum("ndi,ndj->nij", centred, centred) / draws
    np.testing.assert_allclose(empirical, cov, atol=0.015)
    # The labels are correlated (the coupling, the interactions), not independent.
    off = ~np.eye(truth.k, dtype=bool)
    assert np.abs(cov[:, off]).max() > 0.05


def test_logistic_marginals_are_the_linear_concave_prediction():
    truth = calibration.TRUTHS["logistic"]
    weights, bias, interactions = truth.parameters()
    assert not interactions.any()
    x = truth.test_inputs(5, seed=1)
    m, _ = truth.conditional(x)
    theta = (jnp.asarray(x @ weights.T + bias, jnp.float32), jnp.zeros((truth.k, truth.k)))
    y_hat = jax.jit(calibration.METHODS["gfy-entropy"].predict)(theta)
    np.testing.assert_allclose(np.asarray(y_hat), m, atol=1e-5)


def test_ising_truth_is_concave_and_enumerated():
    truth = calibration.TRUTHS["ising"]
    _, _, interactions = truth.parameters()
    assert np.linalg.eigvalsh(interactions).max() <= 1e-12
    assert np.abs(interactions).max() > 0.5
    m, cov = truth.conditional(truth.test_inputs(4, seed=2))
    np.testing.assert_allclose(np.diagonal(cov, axis1=1, axis2=2), m * (1 - m), atol=1e-12)


@pytest.mark.parametrize("name", ["logistic", "ising"])
def test_bayes_predictor_has_the_least_risk(name):
    truth = calibration.TRUTHS[name]
    x = truth.test_inputs(400, seed=3)
    m, _ = truth.conditional(x)
    bayes = calibration.bayes_risks(m)
    assert calibration.task_risks(m, m) == pytest.approx(bayes)
    assert calibration.excess_risks(m, m) == {"squared": 0.0, "hamming": 0.0}
    rng = np.random.default_rng(0)
    weights, bias, _ = truth.parameters()
    others = [np.clip(m + rng.normal(0, 0.1, m.shape), 0, 1),
              1 / (1 + np.exp(-(x @ (weights + rng.normal(0, 0.3, weights.shape)).T + bias))),
              np.full_like(m, 0.5), 1.0 - m]
    for prediction in others:
        risks = calibration.task_risks(prediction, m)
        excess = calibration.excess_risks(prediction, m)
        for loss in calibration.TASK_LOSSES:
            assert excess[loss] >= 0
            assert risks[loss] >= bayes[loss]
            assert risks[loss] - bayes[loss] == pytest.approx(excess[loss])
    # The exact risks are the expected losses on labels drawn from the truth.
    prediction = others[1]
    draws = 200
    y = truth.sample_labels(np.repeat(x, draws, axis=0), seed=5)
    repeated = np.repeat(prediction, draws, axis=0)
    sampled = {"squared": np.mean((repeated - y) ** 2),
               "hamming": np.mean((repeated > 0.5) != y)}
    exact = calibration.task_risks(prediction, m)
    for loss in calibration.TASK_LOSSES:
        assert sampled[loss] == pytest.approx(exact[loss], abs=0.005)


@pytest.mark.parametrize("method", ["gfy-entropy", "gfy-squared"])
def test_excess_gfy_risk_identity_and_bound(method):
    """E_y L(θ; y) − [E Ω(y) − Ω(m)] = L(θ; m) + ½<−U, Cov> ≥ μ/2 ‖ŷ − m‖², by
    enumerating the Ising distribution at one input."""
    truth = calibration.TRUTHS["ising"]
    spec = calibration.METHODS[method]
    reg = spec.regularizer()
    x = truth.test_inputs(1, seed=4)
    m, cov = truth.conditional(x)
    weights, bias, _ = truth.parameters()
    probs, states = truth._gibbs(x @ weights.T + bias, truth.parameters()[2])
    rng = np.random.default_rng(1)
    factor = rng.normal(0, 0.5, (truth.k, truth.k))
    u = jnp.asarray(rng.normal(0, 1, truth.k), jnp.float32)
    interactions = fy_energies.negative_semidefinite(jnp.asarray(factor, jnp.float32))
    states32 = jnp.asarray(states, jnp.float32)

    @jax.jit
    def evaluate(u, interactions, m, cov):
        losses = fy_losses.gfy_loss(fy_energies.pairwise, reg, (u, interactions), states32,
                                    solver=spec.solver())
        excess = spec.population_objective((u[None], interactions), m, cov)
        return losses, reg.value(states32), reg.value(m[0]), excess, spec.predict((u, interactions))

    losses, omega, omega_m, excess, y_hat = evaluate(
        u, interactions, jnp.asarray(m, jnp.float32), jnp.asarray(cov[0], jnp.float32))
    jensen = probs[0] @ np.asarray(omega, np.float64) - float(omega_m)
    expected_loss = float(probs[0] @ np.asarray(losses, np.float64))
    excess, y_hat = float(excess), np.asarray(y_hat)
    assert expected_loss - jensen == pytest.approx(excess, rel=1e-3, abs=1e-4)
    assert reg.strong_convexity / 2 * np.sum((y_hat - m[0]) ** 2) <= excess + 1e-5
    assert excess > 0


def test_oracle_recovers_the_well_specified_truth():
    settings = calibration.Settings(steps=300, test_size=500, oracle_size=1000)
    result = calibration.run_one(calibration.TRUTHS["logistic"],
                                 calibration.METHODS["gfy-entropy"], None, 0, settings)
    assert result["excess"]["squared"] < 1e-5
    assert result["interaction_norm"] < 1e-3  # the GFY minimizer has U = 0 under noise
    assert result["bound"]["squared_distance"] <= result["bound"]["two_over_mu_surrogate"] + 1e-6


def test_training_samples_are_nested():
    truth = calibration.TRUTHS["ising"]
    x_small, y_small = truth.sample(50, seed=2)
    x_large, y_large = truth.sample(120, seed=2)
    np.testing.assert_array_equal(x_small, x_large[:50])
    np.testing.assert_array_equal(y_small, y_large[:50])
    assert not np.array_equal(truth.sample(50, seed=3)[0], x_small)


def test_fit_rate():
    fit = calibration.fit_rate([100, 1000, 10000], [2e-2, 2e-3, 2e-4])
    assert fit["slope"] == pytest.approx(-1.0) and fit["points"] == 3
    assert calibration.fit_rate([100, 1000], [1e-2, 0.0]) is None  # one usable point


def test_tiny_grid_writes_resumes_and_refuses(tmp_path, monkeypatch, capsys):
    out = tmp_path / "calibration"
    argv = ["reproduce", "calibration", "--truths", "logistic", "--methods", "gfy-entropy",
            "perceptron", "--sizes", "40", "80", "--seeds", "1", "--steps", "20",
            "--test-size", "200", "--out", str(out), "--quiet"]
    assert cli.main(argv) == 0
    runs = sorted(p.relative_to(out).as_posix() for p in out.glob("runs/*/*/*.json"))
    assert runs == ["runs/logistic/gfy-entropy/n40-seed0.json",
                    "runs/logistic/gfy-entropy/n80-seed0.json",
                    "runs/logistic/gfy-entropy/oracle.json",
                    "runs/logistic/perceptron/n40-seed0.json",
                    "runs/logistic/perceptron/n80-seed0.json"]  # no perceptron oracle
    run = json.loads((out / "runs/logistic/gfy-entropy/n40-seed0.json").read_text())
    assert run["settings"]["steps"] == 20 and run["settings"]["truth"]["name"] == "logistic"
    assert run["excess"]["squared"] >= 0 and run["surrogate_excess"] > 0
    results = json.loads((out / "results.json").read_text())
    entry = results["results"]["logistic"]["gfy-entropy"]
    assert set(entry["sizes"]) == {"40", "80"} and entry["oracle"] is not None
    assert "squared" in entry["rates"] and "slope" in entry["rates"]["squared"]
    assert results["results"]["logistic"]["perceptron"]["oracle"] is None
    markdown = (out / "results.md").read_text()
    assert "## logistic" in markdown and "gfy-entropy" in markdown and "n = ∞" in markdown
    assert (out / "calibration.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "settings.json").read_text())["steps"] == 20
    assert "wrote" in capsys.readouterr().out

    # Second invocation: every run is on disk, nothing is trained again.
    def fail(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(calibration, "run_one", fail)
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/*.json")}
    assert cli.main(argv) == 0
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/*.json")}

    # Other settings are refused before anything runs, naming the setting and its flag.
    changed = [arg if arg != "20" else "30" for arg in argv]
    assert cli.main(changed) == 2
    err = capsys.readouterr().err
    assert "steps (--steps): stored 20" in err and "now 30" in err
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/*.json")}


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reproduce", "calibration", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--sizes", "--seeds", "--out", "--jobs", "--quiet", "--truths", "--methods"):
        assert flag in text


def test_bad_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="truths must be among"):
        calibration.run_grid(tmp_path, truths=["gaussian"])
    with pytest.raises(ValueError, match="sizes must be positive"):
        calibration.run_grid(tmp_path, sizes=[0])
    assert not any(tmp_path.iterdir())
