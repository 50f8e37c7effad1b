"""Tests of fenchel.bench: measurement, result files, the CLI, and a smoke run of every case."""

from __future__ import annotations

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

from fenchel.bench import CASES, CaseResult, format_table, measure, run_cases, write_json
from fenchel.bench import pairwise, solvers
from fenchel.bench.problems import pairwise_problem
from fenchel.cli import build_parser, main


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
             "vs_maximize": ms / base, "temp_MiB": mem}
            for K, base in ((10, 1.0), (100, 10.0))
            for method, ms, mem in (("maximize", base, 1.0), ("gfy", 1.2 * base, 1.0),
                                    ("unrolled", 4 * base, K / 10), ("implicit", 2 * base, 3.0))]
    summary = pairwise.summarize(rows)
    assert summary["gfy_vs_maximize_max"] == pytest.approx(1.2)
    assert summary["unrolled_vs_gfy_min_at_K100"] == pytest.approx(4 / 1.2)
    assert summary["implicit_vs_gfy_min_at_k174"] == pytest.approx(2 / 1.2)
    assert summary["gfy_temp_growth_max"] == pytest.approx(1.0)
    assert summary["unrolled_temp_growth_max"] == pytest.approx(10.0)


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
