"""The grid of an experiment: its runs, one file each, resumed, recorded and run in workers."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import time
from typing import Any, Hashable, Mapping, Sequence

from fenchel.infra._io import check_writable, output_lock, read_json_record, write_json_atomic
from fenchel.infra._pool import run_parallel
from fenchel.infra._settings import (SETTINGS_FILE, check_records, normalized, read_settings_file,
                               write_settings_file)

Record = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Run:
    """One cell of a grid: a method on a task with a seed.

    Attributes:
      task: the task (a dataset, a ground truth, an environment).
      method: the method's name.
      seed: the seed.
      variant: a fourth coordinate where the grid has one (a training-set size, a
        number of demonstrations), else None.

    Example:
      >>> from fenchel.experiments import Run
      >>> Run("yeast", "pairwise-gfy-entropy", 0)
      Run(task='yeast', method='pairwise-gfy-entropy', seed=0, variant=None)
    """

    task: str
    method: str
    seed: int
    variant: Hashable = None


class Experiment:
    """What an application declares to :func:`run_grid`: its runs, where each is stored,
    the function that makes one, and the aggregate of all. Subclass it (a picklable
    module-level class, e.g. a frozen dataclass: ``jobs > 1`` sends it to worker
    processes) and define the four methods marked *required*; the others have defaults
    that suit a grid of independent runs.

    Attributes:
      title: the progress bar's label.
      setting_flags: setting name -> command-line flag, named when settings differ.
      required_key: a key every finished run file holds (a file without it, or one that
        cannot be read, is run again).
      run_glob: the run files of the folder (relative to it) whose settings are checked.
      outputs: the files :meth:`aggregate` writes (checked writable before any work).
    """

    title: str = "grid"
    setting_flags: Mapping[str, str] = {}
    required_key: str = "settings"
    run_glob: str = "runs/**/*.json"
    outputs: tuple[str, ...] = ("results.json", "results.md")

    # -- required

    def runs(self) -> Sequence[Run]:
        """*Required.* Every run of the grid, in the order they are checked and run."""
        raise NotImplementedError

    def path(self, run: Run) -> str:
        """*Required.* The file of ``run``, relative to the output folder."""
        raise NotImplementedError

    def run(self, out: pathlib.Path, run: Run, previous: Record | None) -> Record | None:
        """*Required.* Make ``run``'s result (written atomically to :meth:`path` by the
        harness; None writes nothing). ``previous`` is the result of the run before it
        in its chain (:meth:`chains`), stored or just made, or None for the first."""
        raise NotImplementedError

    def aggregate(self, out: pathlib.Path, run_seconds: float,
                  computed: Sequence[Run]) -> Record:
        """*Required.* Write ``results.json`` and the reports from the runs on disk
        (e.g. with :func:`fenchel.experiments.write_results`) and return the aggregate;
        ``run_seconds`` is the wall time of this call, ``computed`` the runs it made."""
        raise NotImplementedError

    # -- defaults

    def settings(self) -> Record:
        """What a run's result depends on besides its coordinates: stored in
        ``OUT/settings.json`` (and, by :meth:`run`, in each run file)."""
        return {}

    def compare(self, source: str, stored: Record) -> tuple[Mapping, Mapping] | None:
        """``(recorded settings, current settings)`` of the run file ``source`` (relative
        path) holding ``stored``, or None to skip it. Default: its ``"settings"`` against
        :meth:`settings`."""
        recorded = stored.get("settings")
        return (recorded if isinstance(recorded, dict) else {}), self.settings()

    def folder_record(self, stored: Record) -> Record:
        """The folder's stored ``settings.json`` as of now (e.g. with settings added
        since, at the value it was made with). Default: unchanged."""
        return stored

    def read(self, out: pathlib.Path, run: Run) -> Record | None:
        """The stored result of ``run`` if it is finished and current, else None."""
        return read_json_record(out / self.path(run), self.required_key)

    def done(self, out: pathlib.Path, run: Run) -> bool:
        """Whether ``run`` has nothing left to do (default: :meth:`read` finds it)."""
        return self.read(out, run) is not None

    def check_inputs(self, todo: Sequence[Run]) -> None:
        """Raise before anything is written if an input of the runs ``todo`` cannot be
        used (e.g. a dataset that does not load). Default: nothing to check."""

    def chains(self, todo: Sequence[Run]) -> list[tuple[Run, ...]]:
        """The runs ``todo`` as units of work: the runs of a unit are run in order by one
        process, each seeing the result of the one before (e.g. later seeds reusing the
        configuration the first one tuned). Default: one run per unit, in order."""
        return [(run,) for run in todo]


def seed_range(n_seeds: int) -> tuple[int, ...]:
    """The seeds ``range(n_seeds)`` of a grid (``--seeds N``).

    Raises:
      ValueError: ``n_seeds`` is not an integer >= 1.

    Example:
      >>> from fenchel.experiments import seed_range
      >>> seed_range(3)
      (0, 1, 2)
    """
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    return tuple(range(n_seeds))


def _records(experiment: Experiment, out: pathlib.Path) -> list[tuple[str, Mapping, Mapping]]:
    """``(source, stored, current)`` of every run file of ``out`` (and of its
    ``settings.json`` when there are runs), for :func:`fenchel.infra._settings.check_records`."""
    records = []
    for path in sorted(out.glob(experiment.run_glob)):
        if path.name.startswith("."):  # a temporary file of an atomic write
            continue
        stored = read_json_record(path, experiment.required_key)
        source = path.relative_to(out).as_posix()
        pair = None if stored is None else experiment.compare(source, stored)
        if pair is not None:
            records.append((source, *pair))
    folder = read_settings_file(out)
    if records and folder is not None:
        records.append((SETTINGS_FILE, experiment.folder_record(folder), experiment.settings()))
    return records


def check_settings(experiment: Experiment, out: str | os.PathLike) -> None:
    """Refuse to add runs to ``out`` made with other settings than the stored ones.

    Raises:
      fenchel.infra._settings.SettingsMismatchError: naming each differing setting, its
        stored and its new value (and the command-line flag, :attr:`Experiment.setting_flags`).
    """
    out = pathlib.Path(out)
    check_records(out, _records(experiment, out), experiment.setting_flags)


def _execute(experiment: Experiment, out: str, chain: tuple[Run, ...]) -> int:
    """Run one unit of work (a module-level function, for the workers)."""
    folder = pathlib.Path(out)
    previous = None
    for run in chain:
        if experiment.done(folder, run):
            previous = experiment.read(folder, run)
            continue
        result = experiment.run(folder, run, previous)
        if result is not None:
            write_json_atomic(folder / experiment.path(run), result)
            previous = result
    return len(chain)


def run_grid(experiment: Experiment, out: str | os.PathLike, *, jobs: int = 1,
             progress: bool = True) -> Record:
    """Run (or resume) every run of ``experiment`` and aggregate them.

    In order: lock ``out`` (:func:`fenchel.infra._io.output_lock`); refuse stored runs made
    with other settings (:func:`check_settings`); find the runs not done; check their
    inputs and that every file to write can be written; record the settings
    (``OUT/settings.json``, when it differs); run the units of work (:meth:`Experiment.chains`),
    in this process or in ``jobs`` worker processes (:func:`fenchel.infra._pool.run_parallel`),
    each result written atomically as it is made; then :meth:`Experiment.aggregate`.

    Args:
      experiment: the grid (:class:`Experiment`).
      out: the output folder.
      jobs: worker processes (one unit of work each at a time).
      progress: a progress bar (runs done out of all).

    Returns:
      The aggregate.

    Raises:
      fenchel.infra._settings.SettingsMismatchError: ``out`` holds runs made with other
        settings (nothing runs, nothing is written).
      fenchel.infra._io.OutputLockedError: another run writes to ``out``.
      fenchel.infra._io.NotWritableError: a file cannot be written there (found before any
        work), or the aggregates could not be replaced (all are then as they were).
      KeyboardInterrupt: on Ctrl-C, within seconds also with ``jobs > 1``; the finished
        runs are kept and the same call resumes.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    with output_lock(out):
        return _run_grid(experiment, pathlib.Path(out), jobs, progress)


def _run_grid(experiment: Experiment, out: pathlib.Path, jobs: int, progress: bool) -> Record:
    from tqdm.auto import tqdm

    start = time.perf_counter()
    check_settings(experiment, out)
    runs = list(experiment.runs())
    todo = [run for run in runs if not experiment.done(out, run)]
    experiment.check_inputs(todo)
    chains = experiment.chains(todo)
    check_writable([*(out / experiment.path(run) for chain in chains for run in chain),
                    out / SETTINGS_FILE, *(out / name for name in experiment.outputs)])
    settings = normalized(experiment.settings())
    if read_settings_file(out) != settings:  # a resumed folder's record is kept as it is
        write_settings_file(out, settings)
    arguments = [(experiment, str(out), chain) for chain in chains]
    with tqdm(total=len(runs), initial=len(runs) - sum(map(len, chains)),
              desc=experiment.title, unit="run", disable=not progress) as bar:
        if jobs == 1 or len(arguments) < 2:
            for args in arguments:
                bar.update(_execute(*args))
        else:
            run_parallel(_execute, arguments, jobs, on_result=bar.update)
    return experiment.aggregate(out, time.perf_counter() - start, todo)


__all__ = ["Run", "Experiment", "seed_range", "check_settings", "run_grid"]
