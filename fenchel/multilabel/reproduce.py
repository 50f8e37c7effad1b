"""The multi-label experiment grid: every method on every dataset, several seeds.

Protocol (identical for every method, so comparisons are like for like):

* splits: ``load_dataset(name, seed=s)`` for seeds ``s = 0..N-1`` (the same
  splits for every method);
* tuning: on seed 0, every configuration of :data:`DEFAULT_GRID` is trained
  and the best by validation Hamming accuracy is kept (or, with
  ``select_by="example_f1_expected"``, by validation example F1 with the
  expected-F1 decoding; hyperparameters a method ignores, such as λ for
  perceptron and hinge, are dropped from its grid); seeds 1..N-1 reuse that
  configuration;
* refit: the chosen configuration is trained again on train + validation for
  the epoch count early stopping chose, and that model is tested;
* each (dataset, method, seed) result is written atomically to
  ``OUT/runs/<dataset>/<method>/seed<s>.json`` and skipped when present, so an
  interrupted run resumes (Ctrl-C stops within seconds, also with several
  jobs, keeping the finished runs);
* settings: each run file records the settings that made it
  (:func:`grid_settings`: the grid, the fixed training fields such as
  ``warm_start`` and ``rank``, and refit), and
  ``OUT/settings.json`` those of the folder; a call with other settings is
  refused (:class:`~fenchel.infra._settings.SettingsMismatchError`) before anything
  is trained, so results of different settings are never mixed. Run files
  written before this record existed are read for what they show: the fixed
  fields of their configuration, refit, and the grid their search covered; a
  training field added later (:data:`~fenchel.multilabel.train.ADDED_CONFIG_FIELDS`)
  counts, in a record without it, with the value it was made with;
* data: every dataset with runs to do is loaded before any training
  (:class:`DatasetError` otherwise);
* :func:`aggregate` writes ``results.json``, ``results.md`` (mean ± std over
  seeds) and bar plots, with three decodings (:data:`DECODED`: rounding at 0.5,
  the validation-tuned threshold, the expected-F1 decoding), stating the
  decoding rule of each column and the
  example-F1 convention (:data:`CONVENTIONS`). Metrics are outputs, not
  settings: a metric added after a run file was written (e.g.
  ``example_f1_mulan``) is not in its record, does not make a resume refuse
  or retrain anything, and shows as ``None`` (``—`` in ``results.md``) for
  the (dataset, method) groups whose runs do not all hold it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
from typing import Any, Iterable, Sequence

from fenchel import experiments
from fenchel.infra._io import write_all_or_nothing
from fenchel.infra._settings import normalized
from fenchel.experiments import (Experiment, Run, figure, markdown_table, mean_std,
                                 write_results)
from fenchel.multilabel.losses import Method
from fenchel.multilabel.metrics import METRICS
from fenchel.multilabel.metrics import check_select_by
from fenchel.multilabel.train import (ADDED_CONFIG_FIELDS, Config, check_splits, config_grid,
                                      method_record, run_experiment, with_added_fields)

DEFAULT_DATASETS = ("yeast", "scene", "emotions", "birds", "cal500")

# (energy, loss, reg): the losses on the pairwise energy, the unary baselines,
# and the non-concave global energy.
DEFAULT_METHODS = (
    Method("unary", "bce"),
    Method("unary", "gfy", "squared"),
    Method("unary", "perceptron"),
    Method("unary", "hinge"),
    Method("pairwise", "gfy", "entropy"),
    Method("pairwise", "gfy", "squared"),
    Method("pairwise", "perceptron"),
    Method("pairwise", "hinge"),
    Method("pairwise", "unrolled", "entropy"),
    Method("pairwise", "implicit", "entropy"),
    Method("pairwise", "gfy", "entropy", concave=False),
    Method("global", "gfy", "entropy"),
    Method("global", "unrolled", "entropy"),
)

# The learned log-partition ("min-min") loss of Sander et al. (ICML 2025), α = 1
# (maximum likelihood of the Gibbs model over {0, 1}^k, uniform prior q), predicting
# with the binary entropy (the model's mean-field marginals). Not in DEFAULT_METHODS,
# so that the committed results keep their method list:
# ``fenchel reproduce multilabel --methods default minmin`` runs both.
MINMIN_METHODS = (
    Method("unary", "minmin", "entropy"),
    Method("pairwise", "minmin", "entropy"),
)

METHOD_GROUPS = {"default": DEFAULT_METHODS, "minmin": MINMIN_METHODS}
"""Method lists that ``fenchel reproduce multilabel --methods`` accepts by name, beside
single method names."""

DEFAULT_GRID = {
    "hidden": (0, 512),
    "learning_rate": (3e-3, 1e-2),
    "weight_decay": (1e-4, 1e-2),
    "reg_scale": (1.0, 2.0, 4.0),
}


GRID_FIELDS = ("hidden", "learning_rate", "weight_decay", "reg_scale", "dropout", "depth")
"""The :class:`~fenchel.multilabel.train.Config` fields searched over (the CLI's grid;
``dropout`` and ``depth`` only when given, so that :data:`DEFAULT_GRID` and the records
made before them are unchanged)."""

SETTING_FLAGS = {"hidden": "--hidden", "learning_rate": "--learning-rate",
                 "weight_decay": "--weight-decay", "reg_scale": "--reg-scale",
                 "max_epochs": "--max-epochs", "patience": "--patience",
                 "batch_size": "--batch-size", "refit": "--no-refit",
                 "warm_start": "--warm-start/--no-warm-start", "rank": "--rank",
                 "dropout": "--dropout", "depth": "--depth",
                 "select_by": "--select-by"}
"""The command-line flag of each setting, named when settings differ."""


DECODED = ("test", "test_tuned", "test_expected_f1")
"""The test decodings of a run file (see :data:`CONVENTIONS`)."""

CONVENTIONS = {
    "test": "round: ŷ > 0.5",
    "test_tuned": ("tuned: ŷ > t, with t in {0.05, 0.10, ..., 0.95} maximizing example_f1 "
                   "(scikit-learn's convention) on the validation split with the search's "
                   "model; every tuned column, example_f1_mulan included, uses that t"),
    "test_expected_f1": ("expected F1: each example's top m labels by ŷ, m maximizing the "
                         "plug-in estimate 2·(sum of the top m ŷ)/(m + sum of ŷ) of its "
                         "expected F1 (fenchel.multilabel.metrics.decode_expected_f1); no "
                         "parameter, at least one label"),
    "example_f1": ("scikit-learn's convention (f1_score(average='samples', zero_division=0), "
                   "also DVN's): an example with no true and no predicted label scores 0"),
    "example_f1_mulan": ("MULAN's convention (also SPEN's and InfNet's): an example with no "
                         "true and no predicted label scores 1"),
    "micro_f1": "a label with no true and no predicted positive scores 0 (scikit-learn's)",
    "macro_f1": "a label with no true and no predicted positive scores 0 (scikit-learn's)",
    "missing": ("null: a run file of the group was written before the metric existed "
                "(its runs are not re-run for it)"),
}
"""How the decodings (``test``, ``test_tuned``) are made and which convention each
F1 follows; stored in ``results.json`` (``"conventions"``) and stated in ``results.md``."""


ADDED_SETTINGS = {"select_by": "hamming_accuracy"}
"""Settings of :func:`grid_settings` (beyond the Config fields) added after results were
first recorded, with the value those records were made with."""


def _with_added_settings(record: dict[str, Any]) -> dict[str, Any]:
    return {**ADDED_SETTINGS, **with_added_fields(record)}


class DatasetError(ValueError):
    """A dataset of the grid cannot be loaded (found before any training)."""


def method_grid(method: Method, grid: dict[str, Sequence[Any]], **fixed: Any) -> list[Config]:
    """The configurations ``method`` is tuned over: ``grid`` without the
    hyperparameters it ignores (λ for perceptron, hinge, bce and min-min), plus
    ``fixed``; a linear map (``hidden=0``) has no depth, so of its configurations that
    differ in ``depth`` only (copies of one network) the first is kept."""
    values = dict(grid)
    if not method.uses_scale:
        values.pop("reg_scale", None)
    configs, linear = [], set()
    for config in config_grid(**values):
        config = dataclasses.replace(config, **fixed)
        if config.hidden == 0:
            network = dataclasses.replace(config, depth=1)
            if network in linear:
                continue
            linear.add(network)
        configs.append(config)
    return configs


def run_path(out: pathlib.Path, dataset: str, method: Method, seed: int) -> pathlib.Path:
    """Where the result of one (dataset, method, seed) run is stored."""
    return out / "runs" / dataset / method.name / f"seed{seed}.json"


def grid_settings(grid: dict[str, Sequence[Any]] | None = None, refit: bool = True,
                  select_by: str = "hamming_accuracy", **fixed: Any) -> dict[str, Any]:
    """What a run's result depends on besides its (dataset, method, seed): every
    :class:`~fenchel.multilabel.train.Config` field (the ``grid`` values, in grid
    order, or the ``fixed`` value, or the default), ``refit`` and ``select_by`` (the
    validation score that picks the configuration,
    :data:`~fenchel.multilabel.metrics.SELECTION_METRICS`). Stored in each run
    file (``"settings"``) and in ``OUT/settings.json``.

    Example:
      >>> from fenchel.multilabel.reproduce import grid_settings
      >>> grid_settings(max_epochs=2)["max_epochs"], grid_settings()["hidden"]
      (2, [0, 512])
    """
    grid = DEFAULT_GRID if grid is None else grid
    record: dict[str, Any] = {}
    for name, default in dataclasses.asdict(Config()).items():
        if name in fixed:
            record[name] = fixed[name]
        elif name in grid:
            record[name] = list(grid[name])
        else:
            record[name] = default
    record["refit"] = bool(refit)
    record["select_by"] = select_by
    return normalized(record)


def _legacy_settings(run: dict[str, Any]) -> dict[str, Any]:
    """The settings a run file without a ``"settings"`` record shows: the fixed
    fields of its configuration, refit, and, for the seed that tuned, the values its
    search covered, in grid order (λ only for methods that use it). Grid fields added
    after such files were written (dropout, depth) count as the fixed value they had."""
    config = with_added_fields(run["config"])
    record = {name: config[name] for name in dataclasses.asdict(Config())
              if (name not in GRID_FIELDS or name in ADDED_CONFIG_FIELDS) and name in config}
    if "refit" in run:
        record["refit"] = bool(run["refit"])
    search = run.get("search") or []
    if run.get("tuned_on_seed", run.get("seed")) == run.get("seed") and search:
        try:
            fields = {key: value for key, value in run["method"].items() if key != "name"}
            uses_scale = Method(**fields).uses_scale
        except (KeyError, TypeError, ValueError):
            uses_scale = False
        for name in GRID_FIELDS:
            if name in ADDED_CONFIG_FIELDS:
                continue
            if (name != "reg_scale" or uses_scale) and all(name in row for row in search):
                record[name] = list(dict.fromkeys(row[name] for row in search))
    return record


@dataclasses.dataclass(frozen=True)
class MultilabelGrid(Experiment):
    """The multi-label grid as a :class:`fenchel.experiments.Experiment`: every
    ``Run(dataset, method, seed)`` of ``groups``; the seeds of a (dataset, method) run in
    one chain, the first tuning the configuration the later ones reuse.

    Attributes:
      groups: the (dataset, :class:`~fenchel.multilabel.losses.Method`) pairs.
      seeds: the seeds, the first one tuning.
      record: the settings (:func:`grid_settings`), stored in every run file.
      grid, fixed, data_dir, refit: as in :func:`run_grid`.
    """

    groups: tuple[tuple[str, Method], ...] = ()
    seeds: tuple[int, ...] = (0,)
    record: dict[str, Any] = dataclasses.field(default_factory=grid_settings)
    grid: dict[str, Sequence[Any]] = dataclasses.field(default_factory=lambda: DEFAULT_GRID)
    fixed: dict[str, Any] = dataclasses.field(default_factory=dict)
    data_dir: str | None = None
    refit: bool = True

    title = "multilabel grid"
    setting_flags = SETTING_FLAGS
    required_key = "config"
    run_glob = "runs/*/*/seed*.json"

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("results.json", "results.md",
                *(f"{decoding}_{metric}.png" for decoding, metric in PLOTS))

    def runs(self) -> list[Run]:
        return [Run(dataset, method.name, seed) for dataset, method in self.groups
                for seed in self.seeds]

    def path(self, run: Run) -> str:
        return f"runs/{run.task}/{run.method}/seed{run.seed}.json"

    def settings(self) -> dict[str, Any]:
        return self.record

    def compare(self, source: str, run: dict[str, Any]):
        stored, current = run.get("settings"), self.record
        if not isinstance(stored, dict):
            stored = _legacy_settings(run)
            current = {name: current.get(name) for name in stored}
        else:
            # A setting added after the record was written: it was made with the old value.
            stored = _with_added_settings(stored)
        _, dataset, name, _ = source.split("/")
        method = self._method(dataset, name)
        if method is not None and "method" in run:
            stored = {**stored, "method": run["method"]}
            current = {**current, "method": method_record(method)}
        return stored, current

    def _method(self, dataset: str, name: str) -> Method | None:
        return next((m for d, m in self.groups if (d, m.name) == (dataset, name)), None)

    def folder_record(self, stored: dict[str, Any]) -> dict[str, Any]:
        return _with_added_settings(stored)

    def check_inputs(self, todo: Sequence[Run]) -> None:
        _check_data(dict.fromkeys(run.task for run in todo), self.data_dir)

    def chains(self, todo: Sequence[Run]) -> list[tuple[Run, ...]]:
        left = {(run.task, run.method) for run in todo}
        return [tuple(Run(dataset, method.name, seed) for seed in self.seeds)
                for dataset, method in self.groups if (dataset, method.name) in left]

    def run(self, out, run: Run, previous: dict[str, Any] | None) -> dict[str, Any]:
        from fenchel.datasets import load_dataset  # imported in the worker

        method = self._method(run.task, run.method)
        chosen = None if previous is None else Config(**with_added_fields(previous["config"]))
        data = load_dataset(run.task, self.data_dir, seed=run.seed)
        configs = method_grid(method, self.grid, **self.fixed) if chosen is None else [chosen]
        result = run_experiment(data, method, configs, seed=run.seed, refit=self.refit,
                                select_by=self.record["select_by"])
        result["tuned_on_seed"] = self.seeds[0] if chosen is not None else run.seed
        result["settings"] = self.record
        return result

    def aggregate(self, out, run_seconds: float, computed) -> dict[str, Any]:
        datasets = list(dict.fromkeys(dataset for dataset, _ in self.groups))
        methods = list({method.name: method for _, method in self.groups}.values())
        return aggregate(out, datasets, methods, self.seeds, run_seconds=run_seconds,
                         settings=self.record)


def check_settings(out: str | os.PathLike, settings: dict[str, Any],
                   groups: Iterable[tuple[str, Method]] = ()) -> None:
    """Refuse to add runs to ``out`` made with other settings than the stored ones.

    Args:
      out: the output folder.
      settings: this call's :func:`grid_settings`.
      groups: this call's (dataset, method) pairs: their stored runs must also have
        been made with the same method fields (solver budget and so on).

    Raises:
      SettingsMismatchError: naming each differing setting, its stored and new value.
    """
    experiments.check_settings(MultilabelGrid(tuple(groups), record=settings), out)


def _check_data(datasets: Iterable[str], data_dir: str | None) -> None:
    from fenchel.datasets import load_dataset

    for dataset in datasets:
        try:
            data = load_dataset(dataset, data_dir, seed=0)
        except (ValueError, OSError) as error:
            raise DatasetError(f"cannot load dataset {dataset!r}: {error}") from error
        check_splits(data)  # the split sizes are those of every seed


def run_grid(out: str | os.PathLike, datasets: Iterable[str] = DEFAULT_DATASETS,
             methods: Iterable[Method] = DEFAULT_METHODS, n_seeds: int = 3, *,
             grid: dict[str, Sequence[Any]] | None = None, data_dir: str | None = None,
             jobs: int = 1, progress: bool = True, refit: bool = True,
             select_by: str = "hamming_accuracy", **fixed: Any) -> dict[str, Any]:
    """Run (or resume) the grid and aggregate it (:func:`fenchel.experiments.run_grid` of
    a :class:`MultilabelGrid`).

    Args:
      out: output folder (``runs/``, ``results.md``, ``results.json``, plots).
      datasets: dataset names.
      methods: :class:`~fenchel.multilabel.losses.Method` s.
      n_seeds: seeds 0..n_seeds-1.
      grid: hyperparameter values (default :data:`DEFAULT_GRID`).
      data_dir: data folder (default ``$FENCHEL_DATA``).
      jobs: worker processes (one (dataset, method) group each).
      progress: progress bar.
      refit: retrain each chosen configuration on train + validation
        (:func:`~fenchel.multilabel.train.run_experiment`).
      select_by: the validation score that picks each method's configuration on
        the first seed (:data:`~fenchel.multilabel.metrics.SELECTION_METRICS`).
      **fixed: Config fields fixed for every run (e.g. ``max_epochs=2``).

    Returns:
      The aggregate (also written to ``results.json``).

    Raises:
      SettingsMismatchError: ``out`` holds runs made with other settings (nothing
        is trained or written).
      DatasetError: a dataset with runs to do cannot be loaded (nothing is trained or
        written).
      fenchel.multilabel.train.SplitError: a split of such a dataset is empty (nothing
        is trained or written).
      OutputLockedError, NotWritableError, KeyboardInterrupt: as
        :func:`fenchel.experiments.run_grid` (another run holds ``out``; a file cannot be
        written, found before training; Ctrl-C, the finished runs kept).
    """
    seeds = experiments.seed_range(n_seeds)
    check_select_by(select_by)  # before anything is checked or written
    grid = DEFAULT_GRID if grid is None else grid
    datasets, methods = list(datasets), list(methods)
    experiment = MultilabelGrid(
        tuple((dataset, method) for dataset in datasets for method in methods),
        seeds, grid_settings(grid, refit, select_by, **fixed), dict(grid),
        dict(fixed), data_dir, refit)
    return experiments.run_grid(experiment, out, jobs=jobs, progress=progress)


def _metric_stat(runs: list[dict[str, Any]], decoding: str,
                 metric: str) -> dict[str, float] | None:
    """Mean ± std in % of ``run[decoding][metric]`` over ``runs``, or None when a run
    does not hold it (written before the metric existed): never a mean over fewer seeds
    than the other metrics of the row."""
    values = [(run.get(decoding) or {}).get(metric) for run in runs]
    return mean_std([None if value is None else 100 * value for value in values])


def aggregate(out: str | os.PathLike, datasets: Sequence[str], methods: Sequence[Method],
              seeds: Sequence[int], run_seconds: float | None = None,
              settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Collect the run files into ``results.json``, ``results.md`` and plots.

    Returns:
      The summary, a dict
      ``{"datasets": {dataset: {method: {"test": {metric: {mean, std, n}},
      "test_tuned": ..., "config", "inference_ms_per_example", "train_seconds"}}},
      "run_seconds", "seeds", "conventions"}`` (:data:`CONVENTIONS`), plus
      ``"settings"`` (:func:`grid_settings`) when given. A metric of
      :data:`~fenchel.multilabel.metrics.METRICS` that a group's run files do not
      all hold (written before it existed) is ``None``.
    """
    out = pathlib.Path(out)
    table: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        for method in methods:
            runs = [json.loads(run_path(out, dataset, method, s).read_text())
                    for s in seeds if run_path(out, dataset, method, s).exists()]
            if not runs:
                continue
            entry = {decoding: {metric: _metric_stat(runs, decoding, metric)
                                for metric in METRICS}
                     for decoding in DECODED}
            if all("test_before_refit" in r for r in runs):
                entry["test_before_refit"] = {
                    metric: _metric_stat(runs, "test_before_refit", metric)
                    for metric in METRICS}
            entry["inference_ms_per_example"] = mean_std(
                [r["test"]["inference_ms_per_example"] for r in runs])
            entry["train_seconds"] = mean_std([r["train_seconds"] for r in runs])
            entry["search_seconds_seed0"] = runs[0]["search_seconds"]
            entry["config"] = runs[0]["config"]
            entry["threshold"] = [r["threshold"] for r in runs]
            entry["seeds"] = [r["seed"] for r in runs]
            table.setdefault(dataset, {})[method.name] = entry
    result = {"datasets": table, "seeds": list(seeds), "run_seconds": run_seconds,
              "metrics_scale": "percent", "conventions": dict(CONVENTIONS)}
    if settings is not None:
        result["settings"] = settings
    reports = {"results.md": _markdown(result)}
    if result["datasets"]:
        reports.update({f"{decoding}_{metric}.png":
                        functools.partial(_plot_metric, result, decoding, metric)
                        for decoding, metric in PLOTS})
    write_results(out, result, reports)
    return result


def _cell(stat: dict[str, float] | None) -> str:
    return "—" if stat is None else f"{stat['mean']:.2f} ± {stat['std']:.2f}"


def _markdown(result: dict[str, Any]) -> str:
    """``results.md``."""
    lines = ["# Multi-label results", ""]
    if result.get("run_seconds") is not None:
        lines += [f"Wall time of this invocation: {result['run_seconds']:.0f} s "
                  "(runs found on disk are not re-run).", ""]
    lines += ["Test split, mean ± std (ddof = 1) over seeds "
              + ", ".join(map(str, result["seeds"])) + "; metrics in %.", "",
              "* Decoding (threshold rule): `round`: ŷ > 0.5; `tuned`: ŷ > t, with t in "
              "{0.05, 0.10, …, 0.95} maximizing example F1 (sklearn) on the validation "
              "split with the search's model. Both tuned example-F1 columns use that one t. "
              "`expected F1`: each example's top m labels by ŷ, m maximizing the plug-in "
              "estimate 2·(sum of the top m ŷ)/(m + sum of ŷ) of its expected F1 (no "
              "parameter).",
              "* Example F1, two conventions for an example with no true and no predicted "
              "label: `sklearn` (scikit-learn's `f1_score(average=\"samples\")`, "
              "`zero_division=0`; DVN) scores it 0, `MULAN` (MULAN, SPEN, InfNet) scores "
              "it 1. Micro and macro F1 score an empty-vs-empty label 0."]
    if any(stat is None for methods in result["datasets"].values()
           for entry in methods.values() for decoding in DECODED
           for stat in entry[decoding].values()):
        lines.append("* —: a run file of that row was written before the metric existed.")
    lines.append("")
    short = {"hamming_accuracy": "Hamming acc.", "example_f1": "example F1 sklearn",
             "example_f1_mulan": "example F1 MULAN", "micro_f1": "micro F1",
             "macro_f1": "macro F1", "subset_accuracy": "subset acc."}
    tuned = ("example_f1", "example_f1_mulan", "hamming_accuracy")
    expected = ("example_f1", "example_f1_mulan")
    header = ["method", *(f"{short.get(m, m)} (round)" for m in METRICS),
              *(f"{short[m]} (tuned)" for m in tuned),
              *(f"{short[m]} (expected F1)" for m in expected), "ms / example", "config"]
    for dataset, methods in result["datasets"].items():
        rows = []
        for name, entry in methods.items():
            config = entry["config"]
            cfg = (f"h={config['hidden']} lr={config['learning_rate']:g} "
                   f"wd={config['weight_decay']:g} λ={config['reg_scale']:g}")
            cells = [_cell(entry["test"].get(m)) for m in METRICS]
            cells += [_cell(entry["test_tuned"].get(m)) for m in tuned]
            cells += [_cell(entry["test_expected_f1"].get(m)) for m in expected]
            cells += [f"{entry['inference_ms_per_example']['mean']:.3f}", cfg]
            rows.append([name, *cells])
        lines += [f"## {dataset}", "", *markdown_table(header, rows), ""]
    return "\n".join(lines)


_PLOT_NAMES = {"example_f1": "example F1, sklearn conv.",
               "example_f1_mulan": "example F1, MULAN conv."}


PLOTS = (("test", "hamming_accuracy"), ("test_tuned", "example_f1"))
"""The ``(decoding, metric)`` bar plots :func:`aggregate` writes (``<decoding>_<metric>.png``)."""


def plot(out: str | os.PathLike, result: dict[str, Any],
         metrics: Sequence[tuple[str, str]] = PLOTS) -> list[str]:
    """Bar plots (mean ± std) of every method per dataset: one PNG per metric.

    A method whose runs do not hold ``metric`` (``None`` in ``result``) is left out
    of that plot. The PNGs are written all or nothing
    (:func:`fenchel.infra._io.write_all_or_nothing`).

    Returns:
      The paths written (``OUT/<decoding>_<metric>.png``).
    """
    out = pathlib.Path(out)
    if not result["datasets"]:
        return []
    files = {out / f"{decoding}_{metric}.png": functools.partial(_plot_metric, result,
                                                                  decoding, metric)
             for decoding, metric in metrics}
    write_all_or_nothing(files)
    return [str(path) for path in files]


def _plot_metric(result: dict[str, Any], decoding: str, metric: str, path: str) -> None:
    """Draw the bar plot of ``result[...][decoding][metric]`` and save it to ``path``."""
    datasets = list(result["datasets"])
    with figure(path, 1, len(datasets), size=(4.2, 4.5)) as (fig, axes):
        for ax, dataset in zip(axes[0], datasets):
            entries = result["datasets"][dataset]
            names = [n for n in entries if entries[n][decoding].get(metric) is not None]
            ax.set_title(dataset)
            if not names:
                ax.set_axis_off()
                continue
            means = [entries[n][decoding][metric]["mean"] for n in names]
            stds = [entries[n][decoding][metric]["std"] for n in names]
            colors = ["tab:blue" if n.startswith("unary") else
                      "tab:red" if n.startswith("pairwise_nc") else
                      "tab:orange" if n.startswith("pairwise") else "tab:green" for n in names]
            ax.barh(range(len(names)), means, xerr=stds, color=colors)
            ax.set_yticks(range(len(names)), names, fontsize=7)
            ax.invert_yaxis()
            low = min(m - s for m, s in zip(means, stds))
            ax.set_xlim(max(0.0, low - 2.0), min(100.0, max(means) + max(stds) + 1.0))
            name = _PLOT_NAMES.get(metric, metric.replace("_", " "))
            ax.set_xlabel(f"{name} % ({'round' if decoding == 'test' else 'tuned'})")


__all__ = ["DEFAULT_DATASETS", "DEFAULT_METHODS", "MINMIN_METHODS", "METHOD_GROUPS",
           "MultilabelGrid",
           "DEFAULT_GRID", "GRID_FIELDS", "SETTING_FLAGS", "ADDED_SETTINGS", "DECODED",
           "CONVENTIONS", "DatasetError",
           "method_grid", "grid_settings", "check_settings", "run_grid", "run_path",
           "aggregate", "PLOTS", "plot"]
