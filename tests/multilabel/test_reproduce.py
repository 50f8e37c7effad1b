"""``fenchel reproduce multilabel`` on a tiny grid: outputs, and resuming skips done runs."""

from __future__ import annotations

import json

from fenchel import cli
from fenchel.multilabel import reproduce


def test_tiny_grid_writes_results_and_resumes(data_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "grid"
    argv = ["reproduce", "multilabel", "--datasets", "emotions",
            "--methods", "unary-bce", "pairwise-gfy-entropy", "--seeds", "2",
            "--out", str(out), "--data-dir", str(data_dir), "--max-epochs", "2",
            "--hidden", "0", "--lr", "0.01", "--weight-decay", "1e-4",
            "--reg-scale", "1", "2", "--batch-size", "32", "--quiet"]
    assert cli.main(argv) == 0
    runs = sorted(p.relative_to(out).as_posix() for p in out.glob("runs/*/*/*.json"))
    assert runs == ["runs/emotions/pairwise-gfy-entropy/seed0.json",
                    "runs/emotions/pairwise-gfy-entropy/seed1.json",
                    "runs/emotions/unary-bce/seed0.json",
                    "runs/emotions/unary-bce/seed1.json"]
    seed0 = json.loads((out / "runs/emotions/pairwise-gfy-entropy/seed0.json").read_text())
    seed1 = json.loads((out / "runs/emotions/pairwise-gfy-entropy/seed1.json").read_text())
    assert len(seed0["search"]) == 2 and len(seed1["search"]) == 1  # λ ∈ {1, 2} on seed 0
    assert seed1["config"] == seed0["config"] and seed1["tuned_on_seed"] == 0
    bce = json.loads((out / "runs/emotions/unary-bce/seed0.json").read_text())
    assert len(bce["search"]) == 1  # bce ignores λ

    results = json.loads((out / "results.json").read_text())
    entry = results["datasets"]["emotions"]["pairwise-gfy-entropy"]
    assert entry["test"]["hamming_accuracy"]["n"] == 2
    assert 0 <= entry["test"]["hamming_accuracy"]["mean"] <= 100
    markdown = (out / "results.md").read_text()
    assert "## emotions" in markdown and "pairwise-gfy-entropy" in markdown and "±" in markdown
    for png in ("test_hamming_accuracy.png", "test_tuned_example_f1.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out

    # Second invocation: every run is on disk, nothing is trained again.
    def fail(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(reproduce, "run_experiment", fail)
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/*.json")}
    assert cli.main(argv) == 0
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/*.json")}
