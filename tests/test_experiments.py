"""The experiment harness (fenchel.experiments): resume, chains, settings refusal, reports."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fenchel import experiments
from fenchel.infra._io import NotWritableError
from fenchel.infra._settings import SettingsMismatchError

TASKS, METHODS = ("a", "b"), ("m1", "m2", "m3")


@dataclasses.dataclass(frozen=True)
class Toy(experiments.Experiment):
    """A grid whose run result is a function of its coordinates, its settings and, in a
    chain, the run before it; it logs what it ran and what aggregate was told."""

    seeds: tuple[int, ...] = (0, 1)
    scale: int = 1
    chained: bool = False
    log: list = dataclasses.field(default_factory=list, compare=False)

    title = "toy"
    setting_flags = {"scale": "--scale"}
    outputs = ("results.json", "results.md")

    def settings(self):
        return {"scale": self.scale}

    def runs(self):
        return [experiments.Run(t, m, s) for t in TASKS for m in METHODS for s in self.seeds]

    def path(self, run):
        return f"runs/{run.task}/{run.method}/seed{run.seed}.json"

    def chains(self, todo):
        if not self.chained:
            return super().chains(todo)
        left = {(run.task, run.method) for run in todo}
        return [tuple(experiments.Run(t, m, s) for s in self.seeds)
                for t in TASKS for m in METHODS if (t, m) in left]

    def run(self, out, run, previous):
        self.log.append(("run", run, previous))
        value = self.scale * (10 * TASKS.index(run.task) + METHODS.index(run.method)) + run.seed
        return {"value": value + (previous["value"] if previous else 0),
                "settings": self.settings()}

    def aggregate(self, out, run_seconds, computed):
        self.log.append(("aggregate", list(computed)))
        result = {run.method: experiments.mean_std(
            [self.read(out, r)["value"] for r in self.runs() if r.method == run.method])
            for run in self.runs()}
        experiments.write_results(out, result, {"results.md": "table\n"})
        return result


def _files(out: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


run_subsets = st.sets(st.sampled_from([experiments.Run(t, m, s) for t in TASKS
                                       for m in METHODS for s in (0, 1)]))


@settings(max_examples=25, deadline=None)
@given(stored=run_subsets, chained=st.booleans())
def test_a_grid_runs_exactly_what_is_missing_and_then_resumes(stored, chained):
    """Whatever subset of runs is already on disk, the grid runs the others (a chain
    from its first missing run on, each run seeing the one before), writes one file per
    run, and the same call then runs nothing and writes the same aggregate."""
    out = pathlib.Path(tempfile.mkdtemp())
    reference = Toy(chained=chained)
    experiments.run_grid(reference, out / "full", progress=False)
    for run in stored:  # a partial folder: some runs done by an earlier call
        source = out / "full" / reference.path(run)
        target = out / "part" / reference.path(run)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    toy = Toy(chained=chained)
    result = experiments.run_grid(toy, out / "part", progress=False)
    ran = [entry[1] for entry in toy.log if entry[0] == "run"]
    missing = [run for run in toy.runs() if run not in stored]
    assert sorted(ran, key=toy.runs().index) == missing
    assert len(ran) == len(set(ran))
    assert toy.log[-1] == ("aggregate", missing)
    assert _files(out / "part") == _files(out / "full")  # same runs, same aggregate
    for kind, run, previous in (entry for entry in toy.log if entry[0] == "run"):
        if chained and run.seed == 1:
            assert previous == toy.read(out / "part", dataclasses.replace(run, seed=0))
        else:
            assert previous is None
    again = Toy(chained=chained)
    assert experiments.run_grid(again, out / "part", progress=False) == result
    assert [entry[0] for entry in again.log] == ["aggregate"]


@settings(max_examples=10, deadline=None)
@given(scale=st.integers(2, 5), stored=run_subsets.filter(bool))
def test_other_settings_are_refused_before_anything_is_written(scale, stored):
    out = pathlib.Path(tempfile.mkdtemp())
    experiments.run_grid(Toy(), out, progress=False)
    for run in Toy().runs():
        if run not in stored:
            os.unlink(out / Toy().path(run))
    before = _files(out)
    toy = Toy(scale=scale)
    with pytest.raises(SettingsMismatchError) as info:
        experiments.run_grid(toy, out, progress=False)
    assert "scale (--scale): stored 1 (in runs/" in str(info.value)
    assert f"now {scale}" in str(info.value)
    assert toy.log == [] and _files(out) == before


def test_the_settings_record_is_written_once_and_kept(tmp_path):
    experiments.run_grid(Toy(), tmp_path, progress=False)
    record = tmp_path / "settings.json"
    assert json.loads(record.read_text()) == {"scale": 1}
    inode = record.stat().st_ino
    experiments.run_grid(Toy(), tmp_path, progress=False)
    assert record.stat().st_ino == inode  # a resumed folder's record is not rewritten


def test_an_unreadable_run_file_is_run_again(tmp_path):
    experiments.run_grid(Toy(), tmp_path, progress=False)
    (tmp_path / "runs/a/m1/seed0.json").write_text('{"value": ')  # cut short
    toy = Toy()
    experiments.run_grid(toy, tmp_path, progress=False)
    assert [entry[1] for entry in toy.log if entry[0] == "run"] == [
        experiments.Run("a", "m1", 0)]


def test_unwritable_outputs_and_bad_jobs_are_refused_before_any_run(tmp_path):
    (tmp_path / "results.md").mkdir()
    toy = Toy()
    with pytest.raises(NotWritableError, match="results.md: it is an existing folder"):
        experiments.run_grid(toy, tmp_path, progress=False)
    assert toy.log == [] and not (tmp_path / "runs").exists()
    (tmp_path / "results.md").rmdir()
    with pytest.raises(ValueError, match="jobs must be a positive integer, got 0"):
        experiments.run_grid(toy, tmp_path, jobs=0)
    assert toy.log == [] and not (tmp_path / "runs").exists()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=8))
def test_mean_std_is_numpys_and_refuses_a_missing_value(values):
    stat = experiments.mean_std(values)
    assert stat["n"] == len(values)
    assert stat["mean"] == pytest.approx(np.mean(values), abs=1e-6)
    assert stat["std"] == (pytest.approx(np.std(values, ddof=1), abs=1e-6)
                           if len(values) > 1 else 0.0)
    assert experiments.mean_std(values + [None]) is None
    assert experiments.mean_std([]) is None


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text("ab 1.", min_size=1), min_size=1, max_size=5).flatmap(
    lambda header: st.tuples(st.just(header), st.lists(
        st.lists(st.text("xy 2", min_size=1), min_size=len(header), max_size=len(header)),
        max_size=4))))
def test_markdown_tables_have_one_cell_per_column(table):
    header, rows = table
    lines = experiments.markdown_table(header, rows)
    assert len(lines) == len(rows) + 2
    assert all(line.count("|") == len(header) + 1 for line in lines)
    assert lines[1] == "|---" * len(header) + "|"
    assert [cell.strip() for cell in lines[0].split("|")[1:-1]] == [h.strip() for h in header]
