"""``fenchel reproduce label-ranking``: a tiny grid (iris + wine, knn + regression, 2 folds,
2 repeats, 20 steps) runs, writes its files, agrees with ``fenchel label-ranking``,
resumes without recomputing, and refuses other settings and unusable data sets (exit 2)."""

from __future__ import annotations

import json
import pathlib

import pytest

from fenchel import cli
from fenchel.label_ranking.data import load_dataset
from fenchel.label_ranking.experiment import cross_validate
from fenchel.label_ranking.reproduce import (LARGE_DATASETS, LabelRankingGrid,
                                             grid_settings)

PREFIX = "fenchel reproduce label-ranking: error: "
BUDGET = ["--folds", "2", "--repeats", "2", "--max-steps", "20", "--eval-every", "10",
          "--patience", "2", "--quiet"]


def _argv(out, data_dir, datasets=("iris", "wine"), methods=("knn", "regression"),
          budget=BUDGET):
    return ["reproduce", "label-ranking", "--datasets", *datasets, "--methods", *methods,
            "--data-dir", str(data_dir), "--out", str(out), *budget]


def _snapshot(out: pathlib.Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(out)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(out.glob("runs/**/*.json"))}


@pytest.fixture(scope="module")
def grid_out(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("grid")
    assert cli.main(_argv(out, data_dir)) == 0
    return out


def test_the_grid_writes_one_file_per_run_and_its_reports(grid_out):
    runs = sorted(str(p.relative_to(grid_out)) for p in grid_out.glob("runs/**/*.json"))
    assert runs == [f"runs/{d}/{m}/seed0/repeat{r}.json" for d in ("iris", "wine")
                    for m in ("knn", "regression") for r in (0, 1)]
    for name in ("results.json", "results.md", "kendall_tau.png", "settings.json"):
        assert (grid_out / name).stat().st_size > 0
    result = json.loads((grid_out / "results.json").read_text())
    for dataset, n in (("iris", 150), ("wine", 178)):
        for method in ("knn", "regression"):
            entry = result["datasets"][dataset][method]
            assert entry["n_folds"] == 4 and entry["repeats"] == [0, 1]
            assert -100 <= entry["kendall_tau"] <= 100 and entry["kendall_tau_std"] >= 0
            folds = [f for r in (0, 1) for f in json.loads(
                (grid_out / f"runs/{dataset}/{method}/seed0/repeat{r}.json").read_text())["folds"]]
            assert sum(f["n_test"] for f in folds) == 2 * n  # every example once a repeat
    markdown = (grid_out / "results.md").read_text()
    assert "| data set | repeats | knn | regression |" in markdown
    assert f"{result['datasets']['iris']['knn']['kendall_tau']:.2f} ± " in markdown
    assert result["fewer_repeats"] == [] and "Fewer repeats" not in markdown


def test_the_grid_agrees_with_cross_validate(grid_out, data_dir):
    # The same folds, inner splits and grid as `fenchel label-ranking --repeats 2`.
    data = load_dataset("wine", data_dir)
    direct = cross_validate(data, "knn", n_folds=2, n_repeats=2, seed=0)
    entry = json.loads((grid_out / "results.json").read_text())["datasets"]["wine"]["knn"]
    assert entry["kendall_tau"] == pytest.approx(100 * direct["kendall_tau"])
    assert entry["kendall_tau_std"] == pytest.approx(100 * direct["kendall_tau_std"])
    assert entry["spearman"] == pytest.approx(100 * direct["spearman"])


def test_resume_recomputes_nothing(grid_out, data_dir, capsys):
    before = _snapshot(grid_out)
    assert cli.main(_argv(grid_out, data_dir)) == 0
    assert _snapshot(grid_out) == before
    # A subset of the grid (one method) resumes too, and is reported alone.
    assert cli.main(_argv(grid_out, data_dir, ("iris",), ("knn",))) == 0
    assert _snapshot(grid_out) == before
    assert list(json.loads((grid_out / "results.json").read_text())["datasets"]) == ["iris"]
    assert cli.main(_argv(grid_out, data_dir)) == 0  # and the whole grid again
    assert "wine" in capsys.readouterr().out


@pytest.mark.parametrize("flag,value", [("--max-steps", "30"), ("--folds", "3")])
def test_other_settings_are_refused(grid_out, data_dir, capsys, flag, value):
    before = _snapshot(grid_out)
    budget = list(BUDGET)
    budget[budget.index(flag) + 1] = value
    capsys.readouterr()
    assert cli.main(_argv(grid_out, data_dir, budget=budget)) == 2
    err = capsys.readouterr().err
    assert err.startswith(PREFIX) and "holds results made with other settings" in err
    assert f"({flag})" in err
    assert _snapshot(grid_out) == before


def test_an_unusable_data_set_is_refused_before_any_run(data_dir, tmp_path, capsys):
    assert cli.main(_argv(tmp_path, data_dir, ("iris", "nope"), ("knn",))) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(PREFIX + "cannot load data set 'nope'") and "\n" not in err
    assert not list(tmp_path.glob("runs/**/*.json"))


@pytest.mark.parametrize("repeats,large", [(5, 1), (2, 3), (1, 1)])
def test_large_data_sets_run_their_own_repeats(repeats, large):
    datasets = ("iris", *LARGE_DATASETS)
    grid = LabelRankingGrid(datasets, ("knn", "regression"), (0, 1), repeats, large,
                            grid_settings(["knn", "regression"]))
    runs = grid.runs()
    assert len(runs) == len(set(runs)) == 2 * 2 * (repeats + len(LARGE_DATASETS) * large)
    for run in runs:
        assert run.variant < (large if run.task in LARGE_DATASETS else repeats)
    assert len({grid.path(run) for run in runs}) == len(runs)


def test_the_table_says_which_data_sets_ran_fewer_repeats(data_dir, tmp_path, capsys):
    # iris under the name of a large data set: it runs --large-repeats repeats.
    csv = tmp_path / "cpu.csv"
    csv.write_bytes((data_dir / "iris.csv").read_bytes())
    out = tmp_path / "out"
    argv = _argv(out, data_dir, ("wine", str(csv)), ("knn",))
    assert cli.main([*argv, "--large-repeats", "1"]) == 0
    result = json.loads((out / "results.json").read_text())
    assert result["repeats"] == {"wine": 2, "cpu": 1} and result["fewer_repeats"] == ["cpu"]
    assert result["datasets"]["cpu"]["knn"]["n_folds"] == 2
    markdown = (out / "results.md").read_text()
    assert "Fewer repeats (†): cpu (1); the others 2." in markdown
    assert "| cpu † | 1 |" in markdown and "| wine | 2 |" in markdown


def test_two_data_sets_with_one_name_are_refused(data_dir, tmp_path, capsys):
    argv = _argv(tmp_path, data_dir, ("iris", str(data_dir / "iris.csv")), ("knn",))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(PREFIX + "datasets must have distinct names") and "\n" not in err
    assert not list(tmp_path.glob("runs/**/*.json"))


def test_grid_settings_refuse_bad_values():
    with pytest.raises(ValueError, match="n_folds must be an integer >= 2, got 1"):
        grid_settings(["knn"], n_folds=1)
    with pytest.raises(ValueError, match="method must be one of"):
        grid_settings(["svm"])
    with pytest.raises(ValueError, match="max_steps must be an integer >= 1"):
        grid_settings(["knn"], max_steps=0)
