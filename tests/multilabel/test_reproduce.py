"""``fenchel reproduce multilabel`` on a tiny grid: outputs, resuming skips done runs, other
settings are refused, Ctrl-C stops a parallel grid within seconds."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from fenchel import cli
from fenchel.multilabel import reproduce

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_tiny_grid_writes_results_and_resumes(data_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "grid"
    argv = ["reproduce", "multilabel", "--datasets", "emotions",
            "--methods", "unary-bce", "pairwise-gfy-entropy", "--seeds", "2",
            "--out", str(out), "--data-dir", str(data_dir), "--max-epochs", "2",
            "--hidden", "0", "--learning-rate", "0.01", "--weight-decay", "1e-4",
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

    # The settings are recorded: in every run, in the folder and in results.json.
    settings = json.loads((out / "settings.json").read_text())
    assert settings == seed1["settings"] == results["settings"]
    assert settings["learning_rate"] == [0.01] and settings["max_epochs"] == 2
    assert settings["reg_scale"] == [1.0, 2.0] and settings["refit"] is True
    capsys.readouterr()

    # Other settings are refused, naming old and new values; nothing is trained or written.
    def changed(*replacements):
        new = list(argv)
        for flag, value in replacements:
            new[new.index(flag) + 1] = value
        return new

    for new_argv, expected in [
        (changed(("--learning-rate", "0.003")), "learning_rate (--learning-rate): stored [0.01] (in runs/emotions/"),
        (changed(("--weight-decay", "0")), "weight_decay (--weight-decay): stored [0.0001]"),
        (changed(("--max-epochs", "3"), ("--batch-size", "16")),
         "max_epochs (--max-epochs): stored 2"),
        ([*argv, "--no-refit"], "refit (--no-refit): stored true"),
    ]:
        assert cli.main(new_argv) == 2
        err = capsys.readouterr().err
        assert expected in err and "fresh output folder (--out)" in err, err
        assert "Traceback" not in err
    assert cli.main(changed(("--learning-rate", "0.003"))) == 2
    assert "now [0.003]" in capsys.readouterr().err
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/*.json")}

    # Runs written before the settings record existed: the record is read from what they
    # show (their configuration, refit and the grid their search covered).
    (out / "settings.json").unlink()
    for path in out.glob("runs/*/*/*.json"):
        run = json.loads(path.read_text())
        del run["settings"]
        path.write_text(json.dumps(run))
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/*.json")}
    assert cli.main(argv) == 0  # same settings: resumes, nothing to train
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/*.json")}
    assert cli.main(changed(("--reg-scale", "4"))) == 2
    assert "reg_scale (--reg-scale): stored [1.0, 2.0]" in capsys.readouterr().err
    assert cli.main(changed(("--max-epochs", "5"))) == 2
    assert "max_epochs (--max-epochs): stored 2" in capsys.readouterr().err


def test_committed_results_resume_with_the_default_settings():
    """docs/results/multilabel predates the settings record: its runs show the default
    command's settings but for warm starts (made before they existed, so cold), so the
    main command with --no-warm-start resumes it, and other settings are refused."""
    out = REPO / "docs" / "results" / "multilabel"
    if not (out / "runs").is_dir():
        pytest.skip("no committed multilabel results")
    groups = [(d, m) for d in reproduce.DEFAULT_DATASETS for m in reproduce.DEFAULT_METHODS]
    reproduce.check_settings(out, reproduce.grid_settings(warm_start=False), groups)
    with pytest.raises(ValueError, match=r"max_epochs \(--max-epochs\): stored 100 .* now 2"):
        reproduce.check_settings(out, reproduce.grid_settings(max_epochs=2, warm_start=False),
                                 groups)
    with pytest.raises(ValueError, match=r"warm_start \(--warm-start/--no-warm-start\): "
                                         r"stored false .* now true"):
        reproduce.check_settings(out, reproduce.grid_settings(), groups)


@pytest.mark.parametrize("recorded", [None, False, True])
def test_warm_start_is_a_recorded_setting(tmp_path, recorded):
    """A folder whose records predate warm starts (``None``: no ``warm_start`` in them) was
    made cold; another warm-start setting than the recorded one is refused."""
    settings = reproduce.grid_settings()
    if recorded is None:
        del settings["warm_start"]
    else:
        settings["warm_start"] = recorded
    run = tmp_path / "runs" / "yeast" / "pairwise-gfy-entropy" / "seed0.json"
    run.parent.mkdir(parents=True)
    run.write_text(json.dumps({"config": {}, "settings": settings}))
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    made_warm = recorded is True
    reproduce.check_settings(tmp_path, reproduce.grid_settings(warm_start=made_warm))
    with pytest.raises(ValueError) as refused:
        reproduce.check_settings(tmp_path, reproduce.grid_settings(warm_start=not made_warm))
    assert (f"warm_start (--warm-start/--no-warm-start): stored {json.dumps(made_warm)} "
            f"(in runs/yeast/pairwise-gfy-entropy/seed0.json), now "
            f"{json.dumps(not made_warm)}") in str(refused.value)


def test_runs_written_before_a_metric_existed_aggregate_and_resume(tmp_path, monkeypatch,
                                                                      capsys):
    """Run files without ``example_f1_mulan`` (written before it existed): the folder
    resumes with nothing retrained (metrics are outputs, not settings), and the metric is
    None / "—" for every group one of whose runs lacks it, never a key error or a mean
    over fewer seeds; the other numbers are those the full files give."""
    committed = REPO / "docs" / "results" / "multilabel"
    if not (committed / "runs").is_dir():
        pytest.skip("no committed multilabel results")
    out = tmp_path / "grid"
    stripped = {"unary-bce": [0, 1, 2], "unary-hinge": [2], "pairwise-gfy-entropy": []}
    for method, seeds in stripped.items():
        for seed in range(3):
            run = json.loads((committed / f"runs/yeast/{method}/seed{seed}.json").read_text())
            assert "example_f1_mulan" in run["test"]
            if seed in seeds:
                for section in ("test", "test_tuned", "test_before_refit",
                                "test_tuned_before_refit", "validation"):
                    run[section].pop("example_f1_mulan", None)
            path = out / f"runs/yeast/{method}/seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(run))
    assert "example_f1_mulan" in reproduce.METRICS

    def fail(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(reproduce, "run_experiment", fail)
    before = {p: p.read_bytes() for p in out.glob("runs/*/*/*.json")}
    argv = ["reproduce", "multilabel", "--datasets", "yeast", "--methods", *stripped,
            "--seeds", "3", "--out", str(out), "--no-warm-start", "--quiet",
            "--data-dir", str(tmp_path / "no-data")]  # nothing to train: no data read
    assert cli.main(argv) == 0
    assert before == {p: p.read_bytes() for p in out.glob("runs/*/*/*.json")}
    printed = capsys.readouterr().out
    assert "unary-bce" in printed and "example_f1_mulan=—" in printed

    results = json.loads((out / "results.json").read_text())
    reference = json.loads((committed / "results.json").read_text())["datasets"]["yeast"]
    entries = results["datasets"]["yeast"]
    for method in stripped:
        for decoding in ("test", "test_tuned", "test_before_refit"):
            stats = entries[method][decoding]
            assert set(stats) == set(reproduce.METRICS)
            for metric in ("hamming_accuracy", "example_f1", "macro_f1"):
                assert stats[metric]["mean"] == pytest.approx(
                    reference[method][decoding][metric]["mean"])
            if stripped[method]:
                assert stats["example_f1_mulan"] is None
            else:
                assert stats["example_f1_mulan"]["n"] == 3
                if decoding != "test_before_refit":
                    assert stats["example_f1_mulan"]["mean"] == pytest.approx(
                        reference[method][decoding]["example_f1_mulan"]["mean"])
    assert "example_f1_mulan" in results["conventions"]

    markdown = (out / "results.md").read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| method"))
    assert "example F1 sklearn (round)" in header and "example F1 MULAN (tuned)" in header
    assert "ŷ > 0.5" in markdown and "validation" in markdown and "scores it 1" in markdown
    assert "written before the metric existed" in markdown
    rows = {line.split(" | ")[0][2:]: line for line in markdown.splitlines()
            if line.startswith("| ") and not line.startswith("| method")}
    # The committed runs predate the expected-F1 decoding (2 columns), the stripped
    # ones also the MULAN convention (2 more).
    assert "example F1 sklearn (expected F1)" in header
    assert rows["unary-bce"].count("—") == 4 and rows["unary-hinge"].count("—") == 4
    assert rows["pairwise-gfy-entropy"].count("—") == 2
    columns = header.count("|")
    assert all(row.count("|") == columns for row in rows.values())
    for png in ("test_hamming_accuracy.png", "test_tuned_example_f1.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A plot of the metric itself leaves out the groups without it.
    assert reproduce.plot(out, results, [("test", "example_f1_mulan")])


def test_metrics_are_not_settings():
    """Adding a metric changes no settings record: a folder's runs never disagree with a
    new call because of it."""
    settings = reproduce.grid_settings()
    assert not set(settings) & set(reproduce.METRICS)
    assert not any("f1" in name or "metric" in name for name in settings)


def test_a_missing_dataset_is_reported_before_anything_is_written(data_dir, tmp_path, capsys):
    out = tmp_path / "grid"
    code = cli.main(["reproduce", "multilabel", "--datasets", "emotions", "nope",
                     "--methods", "unary-bce", "--out", str(out), "--data-dir", str(data_dir),
                     "--quiet"])
    assert code == 1
    assert "cannot load dataset 'nope'" in capsys.readouterr().err
    assert not out.exists()


METHODS = ["unary-bce", "unary-gfy-squared", "unary-perceptron", "unary-hinge",
           "pairwise-gfy-entropy", "pairwise-gfy-squared", "pairwise-perceptron", "pairwise-hinge"]


def test_ctrl_c_stops_a_parallel_grid_within_seconds(data_dir, tmp_path):
    """Ctrl-C (SIGINT to the process group) during ``--jobs 2``: the command exits within
    seconds with code 130, no traceback, the finished runs complete and nothing half-written
    (before the fix the whole queue ran first, about 20 s here)."""
    out = tmp_path / "grid"
    argv = [sys.executable, "-m", "fenchel", "reproduce", "multilabel", "--datasets", "emotions",
            "--methods", *METHODS, "--seeds", "2", "--jobs", "2", "--out", str(out),
            "--data-dir", str(data_dir), "--max-epochs", "3", "--hidden", "0", "--learning-rate", "0.01",
            "--weight-decay", "1e-4", "--reg-scale", "1", "--batch-size", "32", "--quiet"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("runs/*/*/seed*.json")):  # the workers are training
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no run finished in 120 s"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        start = time.monotonic()
        _, stderr = process.communicate(timeout=60)
        elapsed = time.monotonic() - start
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr
    assert elapsed < 10, f"took {elapsed:.1f} s to stop"
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    runs = list(out.glob("runs/*/*/seed*.json"))
    assert 1 <= len(runs) < 2 * len(METHODS)
    for path in runs:
        assert json.loads(path.read_text())["settings"]["max_epochs"] == 3
    assert not [p for p in out.rglob("*") if p.name.startswith(".tmp-")]


def _check_recorded_setting(folder, name, flag, recorded, made, other):
    """A folder whose run file and settings.json hold ``recorded`` for ``name`` (absent:
    made before the setting existed, with ``made``) resumes with ``made`` and refuses
    ``other``, naming ``flag`` and both values."""
    settings = reproduce.grid_settings()
    if recorded == "absent":
        del settings[name]
    else:
        settings[name] = recorded
    run = folder / "runs" / "yeast" / "pairwise-gfy-entropy" / "seed0.json"
    run.parent.mkdir(parents=True)
    run.write_text(json.dumps({"config": {}, "settings": settings}))
    (folder / "settings.json").write_text(json.dumps(settings))
    reproduce.check_settings(folder, reproduce.grid_settings(**{name: made}))
    with pytest.raises(ValueError) as refused:
        reproduce.check_settings(folder, reproduce.grid_settings(**{name: other}))
    assert (f"{name} ({flag}): stored {json.dumps(made)} (in runs/yeast/pairwise-gfy-entropy/"
            f"seed0.json), now {json.dumps(other)}") in str(refused.value)


@pytest.mark.parametrize("recorded", ["absent", None, 16])
def test_rank_is_a_recorded_setting(tmp_path, recorded):
    """Records made before --rank were made at full rank (None)."""
    made = None if recorded == "absent" else recorded
    _check_recorded_setting(tmp_path, "rank", "--rank", recorded, made,
                            8 if made is None else None)


@pytest.mark.parametrize("recorded", ["absent", "hamming_accuracy", "example_f1_expected"])
def test_select_by_is_a_recorded_setting(tmp_path, recorded):
    """Records made before --select-by selected by validation Hamming accuracy."""
    made = "hamming_accuracy" if recorded == "absent" else recorded
    other = ({"hamming_accuracy", "example_f1_expected"} - {made}).pop()
    _check_recorded_setting(tmp_path, "select_by", "--select-by", recorded, made, other)
    with pytest.raises(ValueError, match="select_by must be one of"):
        reproduce.run_grid(tmp_path, ["yeast"], select_by="f1")


def test_committed_large_dataset_results_resume_with_their_documented_settings():
    """docs/results/multilabel_large (bibtex, delicious) was made by the command in
    docs/multilabel.md; those settings resume it, the default ones are refused."""
    out = REPO / "docs" / "results" / "multilabel_large"
    if not (out / "runs").is_dir():
        pytest.skip("no committed large-dataset results")
    grid = {"hidden": [512], "learning_rate": [1e-3], "weight_decay": [1.0, 3.0],
            "reg_scale": [1.0, 2.0], "dropout": [0.0, 0.5]}
    documented = reproduce.grid_settings(grid, True, "example_f1_expected", rank=64)
    methods = {path.name for path in out.glob("runs/*/*")}
    groups = [(d, reproduce.Method.from_name(m)) for d in ("bibtex", "delicious")
              for m in methods]
    reproduce.check_settings(out, documented, groups)
    with pytest.raises(ValueError, match=r"select_by \(--select-by\)"):
        reproduce.check_settings(out, {**documented, "select_by": "hamming_accuracy"}, groups)
