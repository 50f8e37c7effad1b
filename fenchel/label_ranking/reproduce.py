"""The label-ranking grid: every data set × method, repeated cross-validation, resumable.

``fenchel reproduce label-ranking`` declares its grid on the shared harness
(:mod:`fenchel.experiments`):

* a run is one repeat of ``folds``-fold cross-validation of one method on one data set
  with one seed: ``Run(dataset, method, seed, variant=repeat)``, stored in
  ``OUT/runs/<dataset>/<method>/seed<s>/repeat<r>.json`` (every fold's
  :func:`~fenchel.label_ranking.experiment.run_fold` result, and their summary);
  the folds of repeat ``r`` are those of
  :func:`~fenchel.label_ranking.protocol.cv_folds`, so a grid's runs are the folds
  ``fenchel label-ranking`` makes with the same seed;
* the large data sets (:data:`LARGE_DATASETS`) run ``large_repeats`` repeats (default
  1) instead of ``repeats`` (default 5); ``results.md`` says which;
* settings (the fold count, the budgets, each method's grid) are recorded in every run
  file and in ``OUT/settings.json``; a call with other settings is refused before
  anything runs;
* :meth:`LabelRankingGrid.aggregate` writes ``results.json``, ``results.md`` (Kendall τ
  × 100 and Spearman ρ × 100, the mean over all test examples of all folds ± the std over
  folds, per data set × method) and ``kendall_tau.png`` (a bar per data set and method).
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import time
from typing import Any, Iterator, Sequence

from fenchel import experiments
from fenchel.experiments import Experiment, Run, figure, markdown_table, write_results
from fenchel.infra._io import Refusal

DEFAULT_DATASETS = ("authorship", "calhousing", "cpu", "elevators", "fried", "glass",
                    "housing", "iris", "pendigits", "segment", "stock", "vehicle", "vowel",
                    "wine", "wisconsin")
"""The 15 data sets of Cheng, Hühn and Hüllermeier (2009) in ``../shared/datasets/label_ranking``."""

LARGE_DATASETS = ("calhousing", "cpu", "elevators", "fried", "pendigits")
"""Data sets with over 8,000 examples: they run ``large_repeats`` repeats."""

SETTING_FLAGS = {"n_folds": "--folds", "max_steps": "--max-steps",
                 "eval_every": "--eval-every", "patience": "--patience",
                 "batch_size": "--batch-size", "validation_fraction": "(fixed)",
                 "grids": "(the methods' grids)"}
"""The command-line flag of each setting, named when settings differ."""


class DatasetError(Refusal, ValueError):
    """A data set of the grid cannot be used (found before any run)."""


def grid_settings(methods: Sequence[str], n_folds: int = 10, **budgets: Any) -> dict[str, Any]:
    """What a run's result depends on besides its (dataset, method, seed, repeat): the
    fold count, the :class:`~fenchel.label_ranking.experiment.Settings` fields and each
    method's grid.

    Example:
      >>> from fenchel.label_ranking.reproduce import grid_settings
      >>> record = grid_settings(["knn"], n_folds=2, max_steps=20)
      >>> record["n_folds"], record["max_steps"], record["grids"]["knn"]["n_neighbors"]
      (2, 20, [5, 10, 20, 50])
    """
    from fenchel.label_ranking.experiment import Settings, get_method

    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2, got {n_folds!r}")
    grids = {name: {key: list(values) for key, values in get_method(name).grid.items()}
             for name in methods}
    return {"n_folds": n_folds, **dataclasses.asdict(Settings(**budgets)), "grids": grids}


@dataclasses.dataclass(frozen=True)
class LabelRankingGrid(Experiment):
    """The label-ranking grid as a :class:`fenchel.experiments.Experiment`: every
    ``Run(dataset, method, seed, variant=repeat)``, one repeat of cross-validation each.

    Attributes:
      datasets: data set names (or CSV paths).
      methods: names of :data:`~fenchel.label_ranking.experiment.METHODS`.
      seeds: the seeds (of the folds, inner splits and initializations).
      repeats: repeats of the data sets not in :data:`LARGE_DATASETS`.
      large_repeats: repeats of those in it.
      record: the settings (:func:`grid_settings`), stored in every run file.
      data_dir: folder of the named data sets (default ``$FENCHEL_LABEL_RANKING_DATA``).
    """

    datasets: tuple[str, ...] = DEFAULT_DATASETS
    methods: tuple[str, ...] = ("knn",)
    seeds: tuple[int, ...] = (0,)
    repeats: int = 5
    large_repeats: int = 1
    record: dict[str, Any] = dataclasses.field(default_factory=lambda: grid_settings(["knn"]))
    data_dir: str | None = None

    title = "label-ranking grid"
    setting_flags = SETTING_FLAGS
    required_key = "folds"
    run_glob = "runs/*/*/seed*/repeat*.json"
    outputs = ("results.json", "results.md", "kendall_tau.png")

    def n_repeats(self, dataset: str) -> int:
        """The repeats ``dataset`` (a name, or a CSV path: its file's stem) runs."""
        return self.large_repeats if _stem(dataset) in LARGE_DATASETS else self.repeats

    def runs(self) -> list[Run]:
        return [Run(dataset, method, seed, repeat) for dataset in self.datasets
                for method in self.methods for seed in self.seeds
                for repeat in range(self.n_repeats(dataset))]

    def path(self, run: Run) -> str:
        return f"runs/{_stem(run.task)}/{run.method}/seed{run.seed}/repeat{run.variant}.json"

    def settings(self) -> dict[str, Any]:
        return self.record

    def compare(self, source: str, stored: dict[str, Any]):
        # A method's grid matters only to its own runs, and runs of a method this call
        # does not run are compared with their own grid (a call may run a subset).
        recorded = stored.get("settings")
        recorded = dict(recorded) if isinstance(recorded, dict) else {}
        method = source.split("/")[2]
        grid = (recorded.get("grids") or {}).get(method)
        recorded["grids"] = {method: grid}
        return recorded, {**self.record,
                          "grids": {method: self.record["grids"].get(method, grid)}}

    def folder_record(self, stored: dict[str, Any]) -> dict[str, Any]:
        # Only the grids of the methods of both calls are compared.
        grids = stored.get("grids") or {}
        return {**stored, "grids": {name: grids.get(name, grid)
                                    for name, grid in self.record["grids"].items()}}

    def check_inputs(self, todo: Sequence[Run]) -> None:
        from fenchel.label_ranking.data import load_dataset

        for dataset in dict.fromkeys(run.task for run in todo):
            try:
                data = load_dataset(dataset, self.data_dir)
            except (ValueError, OSError) as error:
                raise DatasetError(f"cannot load data set {dataset!r}: {error}") from error
            if self.record["n_folds"] > data.n_examples:
                raise DatasetError(f"--folds must be at most the number of examples of "
                                   f"{dataset} ({data.n_examples}), got "
                                   f"{self.record['n_folds']}")

    def run(self, out, run: Run, previous) -> dict[str, Any]:
        from fenchel.label_ranking.data import load_dataset
        from fenchel.label_ranking.experiment import (Settings, get_method, run_fold,
                                                      summarize)
        from fenchel.label_ranking.protocol import cv_folds

        start = time.perf_counter()
        record = self.record
        settings = Settings(**{field.name: record[field.name]
                               for field in dataclasses.fields(Settings)})
        method = get_method(run.method)
        grid = {key: tuple(values) for key, values in record["grids"][run.method].items()}
        data = load_dataset(run.task, self.data_dir)
        folds = [fold for fold in cv_folds(data.n_examples, record["n_folds"],
                                           run.variant + 1, run.seed)
                 if fold.repeat == run.variant]
        results = [run_fold(data, method, fold, seed=run.seed, settings=settings, grid=grid)
                   for fold in folds]
        return {"dataset": data.name, "method": run.method, "seed": run.seed,
                "repeat": run.variant, **summarize(results), "folds": results,
                "settings": record, "seconds": time.perf_counter() - start}

    def aggregate(self, out, run_seconds: float, computed) -> dict[str, Any]:
        return aggregate(self, pathlib.Path(out), run_seconds)


def _stem(dataset: str) -> str:
    """The folder name of a data set (a CSV path's file stem)."""
    return pathlib.Path(dataset).stem if dataset.endswith(".csv") else dataset


def aggregate(grid: LabelRankingGrid, out: pathlib.Path,
              run_seconds: float | None = None) -> dict[str, Any]:
    """Collect ``grid``'s run files under ``out`` into ``results.json``, ``results.md``
    and ``kendall_tau.png``.

    Each (data set, method) pools the folds of all its runs on disk:
    ``kendall_tau`` and ``spearman`` are means over all their test examples, ``*_std``
    the standard deviations over folds
    (:func:`~fenchel.label_ranking.experiment.summarize`), in %.

    Returns:
      A dict with ``"datasets"`` (data set -> method -> ``kendall_tau``,
      ``kendall_tau_std``, ``spearman``, ``spearman_std``, ``n_folds``, ``repeats``,
      ``seeds``, ``seconds``), ``"repeats"`` (data set -> repeats), ``"fewer_repeats"``
      (the data sets run with fewer repeats), ``"settings"`` and ``"run_seconds"``.
    """
    from fenchel.label_ranking.experiment import summarize

    table: dict[str, dict[str, Any]] = {}
    for dataset in grid.datasets:
        for method in grid.methods:
            runs = [grid.read(out, run) for run in grid.runs()
                    if (run.task, run.method) == (dataset, method)]
            runs = [run for run in runs if run is not None]
            if not runs:
                continue
            folds = [fold for run in runs for fold in run["folds"]]
            entry = {key: 100 * value for key, value in summarize(folds).items()}
            entry.update(n_folds=len(folds), repeats=sorted({r["repeat"] for r in runs}),
                         seeds=sorted({r["seed"] for r in runs}),
                         seconds=sum(r["seconds"] for r in runs))
            table.setdefault(_stem(dataset), {})[method] = entry
    repeats = {_stem(d): grid.n_repeats(d) for d in grid.datasets}
    result = {"datasets": table, "methods": list(grid.methods), "seeds": list(grid.seeds),
              "repeats": repeats,
              "fewer_repeats": [d for d, r in repeats.items() if r < grid.repeats],
              "metrics_scale": "percent", "settings": grid.record,
              "run_seconds": run_seconds}
    reports: dict[str, Any] = {"results.md": _markdown(result)}
    if table:
        reports["kendall_tau.png"] = lambda path: _plot(result, path)
    write_results(out, result, reports)
    return result


def _cell(entry: dict[str, Any] | None, metric: str) -> str:
    if entry is None:
        return "—"
    return f"{entry[metric]:.2f} ± {entry[metric + '_std']:.2f}"


def _markdown(result: dict[str, Any]) -> str:
    """``results.md``: one table per metric, a row per data set, a column per method."""
    settings = result["settings"]
    lines = ["# Label ranking results", "",
             f"{settings['n_folds']}-fold cross-validation, seeds "
             + ", ".join(map(str, result["seeds"]))
             + "; each cell: the mean over all test examples of all folds ± the std over "
             "folds, × 100. Configurations chosen on an inner validation split of the "
             "training folds.", ""]
    if result["fewer_repeats"]:
        lines += ["Fewer repeats (†): " + ", ".join(
            f"{d} ({result['repeats'][d]})" for d in result["fewer_repeats"])
            + "; the others " + str(max(result["repeats"].values())) + ".", ""]
    if result["run_seconds"] is not None:
        lines += [f"Wall time of this invocation: {result['run_seconds']:.0f} s "
                  "(runs found on disk are not re-run).", ""]
    for metric, title in (("kendall_tau", "Kendall τ × 100"), ("spearman", "Spearman ρ × 100")):
        rows = [[dataset + (" †" if dataset in result["fewer_repeats"] else ""),
                 str(result["repeats"][dataset]),
                 *(_cell(result["datasets"].get(dataset, {}).get(m), metric)
                   for m in result["methods"])]
                for dataset in result["repeats"]]
        lines += [f"## {title}", "",
                  *markdown_table(["data set", "repeats", *result["methods"]], rows), ""]
    return "\n".join(lines)


def _plot(result: dict[str, Any], path: str) -> None:
    """Grouped bars: Kendall τ × 100 (± std over folds) per data set, one bar per method."""
    datasets, methods = list(result["datasets"]), result["methods"]
    width = 0.8 / len(methods)
    with figure(path, size=(max(4.0, 0.9 * len(datasets) * max(1, len(methods) / 3)), 3.6)
                ) as (fig, axes):
        ax = axes[0, 0]
        for i, method in enumerate(methods):
            cells = [result["datasets"][d].get(method) for d in datasets]
            xs = [j + (i - (len(methods) - 1) / 2) * width for j, c in enumerate(cells) if c]
            ax.bar(xs, [c["kendall_tau"] for c in cells if c], width,
                   yerr=[c["kendall_tau_std"] for c in cells if c], label=method)
        ax.set_xticks(range(len(datasets)), datasets, rotation=45, ha="right")
        ax.set_ylabel("Kendall τ × 100")
        ax.legend(fontsize=7)


def run_grid(out, datasets: Sequence[str] = DEFAULT_DATASETS,
             methods: Sequence[str] = ("knn",), n_seeds: int = 1, *, n_folds: int = 10,
             repeats: int = 5, large_repeats: int = 1, data_dir: str | None = None,
             jobs: int = 1, progress: bool = True, **budgets: Any) -> dict[str, Any]:
    """Run (or resume) the grid and aggregate it (:func:`fenchel.experiments.run_grid` of
    a :class:`LabelRankingGrid`).

    Args:
      out: output folder.
      datasets: data set names or CSV paths.
      methods: names of :data:`~fenchel.label_ranking.experiment.METHODS`.
      n_seeds: seeds 0..n_seeds-1.
      n_folds: folds per repeat.
      repeats, large_repeats: repeats of the data sets outside / inside
        :data:`LARGE_DATASETS`.
      data_dir: folder of the named data sets.
      jobs: worker processes.
      progress: a progress bar.
      **budgets: :class:`~fenchel.label_ranking.experiment.Settings` fields.

    Raises:
      SettingsMismatchError: ``out`` holds runs made with other settings.
      DatasetError: a data set with runs to do cannot be used (nothing runs).
      DatasetError: two data sets with one name (``iris`` and ``other/iris.csv``).
      ValueError: a count out of range or an unknown method (naming it).
    """
    for name, value in (("repeats", repeats), ("large_repeats", large_repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    datasets, methods = tuple(dict.fromkeys(datasets)), tuple(dict.fromkeys(methods))
    stems = [_stem(dataset) for dataset in datasets]
    if len(set(stems)) < len(stems):  # their runs would share files
        raise DatasetError(f"datasets must have distinct names (a CSV path is named by its "
                           f"file's stem), got {list(datasets)}")
    grid = LabelRankingGrid(datasets, methods,
                            experiments.seed_range(n_seeds), repeats, large_repeats,
                            grid_settings(methods, n_folds, **budgets), data_dir)
    return experiments.run_grid(grid, out, jobs=jobs, progress=progress)


def _run(args: argparse.Namespace) -> int:
    prefix = "fenchel reproduce label-ranking"

    def summary(result: dict[str, Any]) -> Iterator[str]:
        for dataset, entries in result["datasets"].items():
            for method, entry in entries.items():
                yield (f"{dataset:11s} {method:18s} kendall_tau={_cell(entry, 'kendall_tau')} "
                       f"spearman={_cell(entry, 'spearman')} folds={entry['n_folds']}")
        yield f"wrote {args.out}/results.md, results.json and kendall_tau.png"

    return experiments.run_command(prefix, args.out, lambda: run_grid(
        args.out, args.datasets, args.methods, args.seeds, n_folds=args.folds,
        repeats=args.repeats, large_repeats=args.large_repeats, data_dir=args.data_dir,
        jobs=args.jobs, progress=not args.quiet, max_steps=args.max_steps,
        eval_every=args.eval_every, patience=args.patience, batch_size=args.batch_size),
        summary)


def add_reproduce_parser(subparsers) -> argparse.ArgumentParser:
    """Adds ``fenchel reproduce label-ranking`` (the whole grid, resumable)."""
    from fenchel.infra._cli_types import positive_int
    from fenchel.label_ranking.cli import _folds, add_budget_arguments
    from fenchel.label_ranking.experiment import METHODS

    parser = experiments.add_reproduce_parser(
        subparsers, "label-ranking", "Run the label-ranking grid (data sets x methods x "
        "repeats).", "Each (data set, method, seed, repeat) cross-validation is saved in "
        "OUT/runs and skipped when present; results.md, results.json and kendall_tau.png "
        "are rewritten from all runs found.", _run, seeds=1)
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS),
                        metavar="NAME|FILE.csv",
                        help="data set names or CSV paths (default: the 15 data sets)")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS),
                        default=sorted(METHODS), metavar="METHOD",
                        help=f"methods, of {' '.join(sorted(METHODS))} (default: all)")
    parser.add_argument("--folds", type=_folds, default=10, help="folds per repeat "
                        "(default 10)")
    parser.add_argument("--repeats", type=positive_int, default=5,
                        help="repeats of the cross-validation (default 5)")
    parser.add_argument("--large-repeats", type=positive_int, default=1, metavar="N",
                        help="repeats of the large data sets, "
                             f"{' '.join(LARGE_DATASETS)} (default 1)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="folder of the named data sets (default "
                             "$FENCHEL_LABEL_RANKING_DATA, else the user cache)")
    add_budget_arguments(parser)
    return parser


__all__ = ["DEFAULT_DATASETS", "LARGE_DATASETS", "SETTING_FLAGS", "DatasetError",
           "grid_settings", "LabelRankingGrid", "aggregate", "run_grid",
           "add_reproduce_parser"]
