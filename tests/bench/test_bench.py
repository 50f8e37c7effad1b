"""Tests of fenchel.bench: measurement, result files, the CLI, and a smoke run of every case."""

from __future__ import annotations

import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fenchel.bench import CASES, CaseResult, format_table, measure, run_cases, write_json
from fenchel.bench import pairwise, solvers, timing
from fenchel.bench.problems import pairwise_problem
from fenchel.bench.results import environment
from fenchel.bench.runner import PRESETS, case_config
from fenchel.cli import build_parser, main

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEVICE_CHECK = ROOT / "benchmarks" / "device_check.sh"


def test_measure_reports_positive_times_and_the_output():
    m = measure(lambda x: 2.0 * x, jnp.arange(3.0), reps=3)
    assert m.reps == 3 and m.number >= 1
    assert 0 < m.min_s <= m.median_s
    np.testing.assert_allclose(m.output, [0.0, 2.0, 4.0])


def test_measure_rejects_zero_reps():
    with pytest.raises(ValueError, match="reps"):
        measure(lambda x: x, jnp.ones(1), reps=0)


def test_pairwise_problem_is_concave_in_y():
    problem = pairwise_problem(0, batch=2, num_labels=5)
    eigenvalues = np.linalg.eigvalsh(np.asarray(problem.interactions))
    assert np.all(eigenvalues <= 1e-5)
    assert set(np.unique(np.asarray(problem.targets))) <= {0.0, 1.0}


def test_table_has_one_line_per_row_and_aligned_columns():
    result = CaseResult("demo", "Demo", ["name", "value"],
                        [{"name": "a", "value": 1.5}, {"name": "bb", "value": None}])
    lines = format_table(result).splitlines()
    assert len(lines) == 4
    assert len({len(line) for line in lines}) == 1
    assert "| -" in lines[3]


def test_write_json_replaces_non_finite_numbers(tmp_path):
    out = tmp_path / "sub" / "r.json"
    result = CaseResult("demo", "Demo", ["x"], [{"x": math.inf}], summary={"y": math.nan})
    write_json(out, [result], {"command": "test"})
    payload = json.loads(out.read_text())
    assert payload["cases"]["demo"]["rows"] == [{"x": None}]
    assert payload["cases"]["demo"]["summary"] == {"y": None}
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


def test_pairwise_summary_ratios():
    rows = [{"reg": "R", "k": 174, "K": K, "method": method, "median_ms": ms,
             "vs_maximize": ms / base, "temp_MiB": mem, "loss": loss, "mean_iterations": iters}
            for K, base in ((10, 1.0), (100, 10.0))
            for method, ms, mem, loss, iters in (
                ("maximize", base, 1.0, None, K), ("gfy", 1.2 * base, 1.0, 2.0, None),
                ("gfy_default", 8.0, 1.0, 2.0, 37.5), ("gfy_fixed", 1.0 * base, 1.0, 1.0, None),
                ("unrolled", 4 * base, K / 10, 0.5, None), ("implicit", 2 * base, 3.0, 0.5, None))]
    summary = pairwise.summarize(rows)
    assert summary["gfy_vs_maximize_max"] == pytest.approx(1.2)
    assert summary["unrolled_vs_gfy_min_at_K100"] == pytest.approx(4 / 1.2)
    assert summary["unrolled_vs_gfy_fixed_min_at_K100"] == pytest.approx(4.0)
    assert summary["unrolled_vs_gfy_default_min_at_K100"] == pytest.approx(40 / 8.0)
    assert summary["unrolled_vs_gfy_default_max_at_K100"] == pytest.approx(40 / 8.0)
    assert summary["gfy_default_iterations_max"] == pytest.approx(37.5)
    # GFY losses are compared with each other, task losses with each other.
    assert summary["gfy_loss_rel_spread_max_at_K100"] == pytest.approx(0.5)
    assert summary["task_loss_rel_spread_max_at_K100"] == pytest.approx(0.0)
    assert summary["implicit_vs_gfy_min_at_k174"] == pytest.approx(2 / 1.2)
    assert summary["gfy_temp_growth_max"] == pytest.approx(1.0)
    assert summary["unrolled_temp_growth_max"] == pytest.approx(10.0)


def test_pairwise_gfy_default_uses_no_solver_and_its_iterations_are_measured():
    from fenchel import regularizers

    reg = regularizers.SquaredBox()
    p = pairwise_problem(0, batch=3, num_labels=4)
    args = (p.unaries, p.interactions, p.targets)
    value, (grad_u, grad_U) = jax.jit(pairwise.batch_objective("gfy_default", reg, None))(*args)
    assert grad_u.shape == (3, 4) and grad_U.shape == (4, 4)
    # The default solver, run to convergence, matches a tight explicit solve.
    from fenchel import energies, losses, maximizers
    tight = maximizers.ProjectedGradient(maxiter=5000, tol=1e-7)
    expected = jnp.mean(jax.vmap(lambda u, y: losses.gfy_loss(
        energies.pairwise, reg, (u, p.interactions), y, solver=tight))(p.unaries, p.targets))
    np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-5)
    iterations = float(jax.jit(pairwise.default_solver_iterations(reg))(*args))
    assert 1 <= iterations <= maximizers.default_solver(energies.pairwise, reg).maxiter


class _FakeAllocator:
    """A device whose ``memory_stats`` behaves like a GPU allocator's (peak never reset)."""

    def __init__(self):
        self.in_use, self.peak = 100, 5000

    def memory_stats(self):
        return {"bytes_in_use": self.in_use, "peak_bytes_in_use": self.peak, "bytes_limit": 10**6}

    def call_needing(self, extra):
        def call():
            self.peak = max(self.peak, self.in_use + extra)
            return jnp.zeros(1)
        return call


def test_device_peak_is_exact_only_when_the_call_raises_the_high_water_mark():
    device = _FakeAllocator()
    assert timing.device_peak(device.call_needing(8000), device) == (8000, 8000)
    # An earlier, larger peak hides this call's: only an upper bound is known.
    assert timing.device_peak(device.call_needing(10), device) == (None, 8000)


def test_device_memory_is_none_without_allocator_statistics():
    class NoStats:
        def memory_stats(self):
            return None

    assert timing.device_memory_stats(NoStats()) is None
    assert timing.device_peak(lambda: 1 / 0, NoStats()) == (None, None)  # call not run
    if jax.default_backend() == "cpu":
        m = measure(lambda x: 2.0 * x, jnp.arange(3.0), reps=1)
        assert m.device_peak_bytes is None and m.device_peak_upper_bytes is None


def test_measure_many_probes_device_memory_smallest_first(monkeypatch):
    device = _FakeAllocator()
    real = timing.device_memory_stats
    monkeypatch.setattr(timing, "device_memory_stats", lambda d=None: real(device))
    probed = []
    real_peak = timing.device_peak

    def peak(call, d=None):
        def needing():  # stand-in for the allocator: each probe needs more than the last
            output = call()
            probed.append(output.shape)
            return device.call_needing(10_000 * len(probed))()
        return real_peak(needing, d)

    monkeypatch.setattr(timing, "device_peak", peak)
    measured = timing.measure_many(  # "big" has XLA temporaries (a sort), "small" none
        {"big": (lambda x: jnp.sort(jnp.outer(x, x).ravel())[::7], (jnp.ones(64),)),
         "small": (lambda x: 2.0 * x, (jnp.ones(2),))}, reps=1)
    assert probed == [(2,), (586,)]  # one probe each, the smaller first
    assert measured["small"].device_peak_bytes == 10_000
    assert measured["big"].device_peak_bytes == 20_000 == measured["big"].device_peak_upper_bytes


def test_environment_records_backend_device_kind_and_count():
    env = environment()
    assert env["backend"] == jax.default_backend()
    assert env["device_count"] == jax.device_count() >= 1
    assert env["device_kind"] == jax.devices()[0].device_kind
    assert len(env["devices"]) == env["device_count"]


def test_device_preset_sizes():
    assert set(PRESETS) >= {"default", "quick", "device"}
    for name in ("pairwise", "bilinear"):
        config = case_config(name, "device")
        assert config.batch >= 4096 and max(config.num_labels) == 1000, name
    pw = case_config("pairwise", "device")
    assert 100 in pw.iterations and 174 in pw.num_labels  # the goals' K and k
    tr = case_config("training", "device")
    assert tr.batch >= 1024 and tr.dataset == "yeast" and "bibtex" in tr.optional_datasets
    assert case_config("training", "quick").dataset == "synthetic"
    with pytest.raises(ValueError, match="preset"):
        run_cases(["bilinear"], quick=True, preset="device")


def test_quick_contradicting_another_preset_is_an_error(capsys):
    assert main(["bench", "--quick", "--preset", "device", "--quiet"]) == 2
    assert "--quick is --preset quick" in capsys.readouterr().err


def test_lbfgsb_reference_solves_a_separable_problem():
    # max_y <u, y> − ½‖y‖² on [0, 1]^k is solved by clip(u, 0, 1).
    u = np.array([[-1.0, 0.25, 3.0]])
    phi = lambda i: (lambda y: (u[i] @ y, u[i]))
    y = solvers.lbfgsb_batch(phi, "SquaredBox", 1, 3)
    np.testing.assert_allclose(y, [[0.0, 0.25, 1.0]], atol=1e-6)


def test_unknown_case_is_rejected():
    with pytest.raises(ValueError, match="unknown benchmark case"):
        run_cases(["nope"], quick=True)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--cases", "pairwise,nope"])


@pytest.mark.slow  # about a minute of CPU, mostly XLA compilation of ~40 small functions
def test_quick_run_of_every_case_writes_tables_and_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--quiet", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    payload = json.loads(out.read_text())
    assert set(payload["cases"]) == set(CASES)
    assert payload["meta"]["command"] == f"fenchel bench --quick --json {out}"
    for name, case in payload["cases"].items():
        assert f"### {name}:" in printed
        assert case["rows"], name
        for row in case["rows"]:
            assert set(case["columns"]) <= set(row), name
    rows = payload["cases"]["pairwise"]["rows"]
    assert {r["method"] for r in rows} == set(pairwise.METHODS)
    assert all(r["median_ms"] > 0 for r in rows)
    assert all(r["loss"] >= 0 for r in rows if r["method"] != "maximize")
    # Every solver reaches the (unique) optimum of the tiny concave problem closely,
    # except the sampling-based DerivativeFree whose accuracy is only that of its noise.
    for row in payload["cases"]["solvers"]["rows"]:
        if row["energy"] == "pairwise" and row["solver"] != "DerivativeFree":
            assert row["mean_gap"] < 1e-3, row
    assert payload["cases"]["bilinear"]["summary"]["max_abs_diff"] < 1e-4


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                    reason="benchmarks/device_check.sh needs bash and timeout")
def test_device_check_script_writes_the_json_in_quick_mode(tmp_path):
    out = tmp_path / "device"
    env = dict(os.environ, ALLOW_CPU="1", QUICK="1", CASES="bilinear", PYTHON=sys.executable,
               TIMEOUT_S="300")
    proc = subprocess.run(["bash", str(DEVICE_CHECK), str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    payload = json.loads((out / "bench.json").read_text())
    assert list(payload["cases"]) == ["bilinear"]
    assert payload["meta"]["preset"] == "quick" and payload["meta"]["interrupted"] is None
    assert payload["meta"]["environment"]["device_count"] >= 1
    assert "### bilinear:" in (out / "bench.log").read_text()
    assert "jax backend:" in (out / "devices.txt").read_text()


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                    reason="benchmarks/device_check.sh needs bash and timeout")
def test_device_check_script_refuses_a_cpu_without_allow_cpu(tmp_path):
    if jax.default_backend() != "cpu":
        pytest.skip("an accelerator is present")
    env = {k: v for k, v in os.environ.items() if k != "ALLOW_CPU"}
    env.update(PYTHON=sys.executable, JAX_PLATFORMS="cpu")
    proc = subprocess.run(["bash", str(DEVICE_CHECK), str(tmp_path / "x")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "JAX sees no accelerator" in proc.stderr
    assert not (tmp_path / "x" / "bench.json").exists()
