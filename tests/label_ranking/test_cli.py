"""``fenchel label-ranking``: a tiny end-to-end run on iris, its JSON, and the one-line
refusals (exit code 2) of bad flags, unknown data sets and malformed files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fenchel import cli

TINY = ["--folds", "2", "--repeats", "2", "--max-steps", "40", "--eval-every", "20",
        "--hidden", "0", "--weight-decay", "0.0001", "--quiet"]


def test_iris_end_to_end(data_dir, tmp_path, capsys):
    out = tmp_path / "iris.json"
    code = cli.main(["label-ranking", "--dataset", "iris", "--data-dir", str(data_dir),
                     "--method", "regression", *TINY, "--seed", "3", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "dataset=iris method=regression folds=2 repeats=2 seed=3 kendall_tau=" in printed
    result = json.loads(out.read_text())
    folds = result["folds"]
    assert len(folds) == 4 and sum(f["n_test"] for f in folds) == 2 * 150
    taus = np.array([f["kendall_tau"] for f in folds])
    sizes = np.array([f["n_test"] for f in folds])
    assert result["kendall_tau"] == pytest.approx(np.sum(taus * sizes) / np.sum(sizes))
    assert result["kendall_tau_std"] == pytest.approx(np.std(taus))
    assert result["kendall_tau"] > 0.5  # 40 steps of a linear model already rank iris
    assert len(result["configs"]) == 4 and all(c["hidden"] == 0 for c in result["configs"])
    assert result["wall_seconds"] > 0 and all(f["seconds"] > 0 for f in folds)
    assert result["data"]["sha256_verified"] and result["seed"] == 3


def test_a_csv_path_and_the_knn_baseline(data_dir, capsys):
    code = cli.main(["label-ranking", "--dataset", str(data_dir / "wine.csv"), "--method",
                     "knn", "--neighbors", "5", "--folds", "3", "--repeats", "1", "--quiet"])
    assert code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("dataset=wine method=knn folds=3 repeats=1 seed=0 kendall_tau=")


@pytest.mark.parametrize("argv,message", [
    (["--dataset", "iris", "--folds", "1"], "argument --folds: expected an integer >= 2, got '1'"),
    (["--dataset", "iris", "--repeats", "0"], "argument --repeats: expected an integer >= 1"),
    (["--dataset", "iris", "--method", "svm"], "argument --method: invalid choice: 'svm'"),
    (["--dataset", "iris", "--seed", "-1"], "argument --seed: expected an integer seed"),
    (["--dataset", "iris", "--json", "{dir}"], "argument --json: expected a writable file"),
])
def test_bad_flags_exit_2(argv, message, tmp_path, capsys):
    argv = [a.replace("{dir}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["label-ranking", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _refusal(argv, capsys) -> str:
    assert cli.main(["label-ranking", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith("fenchel label-ranking: error: ")
    return err


def test_refusals_are_one_line(tmp_path, data_dir, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("2,1,3\n0.5,1,2,3\n0.1,1,2,2\n")
    assert f"{bad}, line 3: the last 3 values must be a permutation of 1..3" in _refusal(
        ["--dataset", str(bad)], capsys)
    assert "unknown label ranking data set 'nope'" in _refusal(
        ["--dataset", "nope", "--data-dir", str(data_dir)], capsys)
    assert "not found" in _refusal(["--dataset", str(tmp_path / "missing.csv")], capsys)
    assert "--folds must be at most the number of examples of iris (150), got 151" in _refusal(
        ["--dataset", "iris", "--data-dir", str(data_dir), "--folds", "151"], capsys)
    assert "--neighbors does not apply to method 'perm-squared'" in _refusal(
        ["--dataset", "iris", "--data-dir", str(data_dir), "--neighbors", "3"], capsys)
    assert "--hidden does not apply to method 'knn'" in _refusal(
        ["--dataset", "iris", "--data-dir", str(data_dir), "--method", "knn", "--hidden", "0"],
        capsys)
    assert list(tmp_path.iterdir()) == [bad]  # nothing written
