"""benchmarks/solver_iteration_cost.py (quoted in docs/choosing_a_solver.md) runs and
prints a row per solver, at a tiny size (its figures mean nothing here)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "solver_iteration_cost.py"


@pytest.mark.slow
def test_prints_a_row_per_solver():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--k", "3", "--batch", "2", "--reps", "1",
         "--k-lo", "1", "--k-hi", "3"],
        capture_output=True, text=True, timeout=600, cwd=SCRIPT.parents[1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")][1:]  # past the header
    solvers = ["ClosedForm", "ProjectedGradient", "MirrorAscent", "CoordinateAscent (BinaryEntropy)",
               "CoordinateAscent (SquaredBox)", "Restarts", "Langevin", "DerivativeFree"]
    assert [any(row.startswith(f"| {s}") for row in rows) for s in solvers] == [True] * len(solvers)
    for row in rows[1:]:  # every iterative solver ran more iterations at K_hi than at K_lo
        lo, hi = (int(v) for v in row.rstrip(" |").rsplit("|", 1)[1].split(","))
        assert hi > lo, row
    assert all(len(row.split("|")) == 8 for row in rows), rows  # six columns each
