"""The multi-label experiment grid: every method on every dataset, several seeds.

Protocol (identical for every method, so comparisons are like for like):

* splits: ``load_dataset(name, seed=s)`` for seeds ``s = 0..N-1`` (the same
  splits for every method);
* tuning: on seed 0, every configuration of :data:`DEFAULT_GRID` is trained
  and the best by validation Hamming accuracy is kept (hyperparameters a
  method ignores, such as λ for perceptron and hinge, are dropped from its
  grid); seeds 1..N-1 reuse that configuration;
* refit: the chosen configuration is trained again on train + validation for
  the epoch count early stopping chose, and that model is tested;
* each (dataset, method, seed) result is written atomically to
  ``OUT/runs/<dataset>/<method>/seed<s>.json`` and skipped when present, so an
  interrupted run resumes;
* :func:`aggregate` writes ``results.json``, ``results.md`` (mean ± std over
  seeds) and bar plots.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import pathlib
import time
from typing import Any, Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm

from fenchel._io import atomic_path, write_json_atomic, write_text_atomic
from fenchel.multilabel.losses import Method
from fenchel.multilabel.metrics import METRICS
from fenchel.multilabel.train import Config, config_grid, run_experiment

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

DEFAULT_GRID = {
    "hidden": (0, 512),
    "learning_rate": (3e-3, 1e-2),
    "weight_decay": (1e-4, 1e-2),
    "reg_scale": (1.0, 2.0, 4.0),
}


def method_grid(method: Method, grid: dict[str, Sequence[Any]], **fixed: Any) -> list[Config]:
    """The configurations ``method`` is tuned over: ``grid`` without the
    hyperparameters it ignores (λ for perceptron, hinge and bce), plus ``fixed``."""
    values = dict(grid)
    if not method.uses_scale:
        values.pop("reg_scale", None)
    configs = config_grid(**values)
    return [dataclasses.replace(c, **fixed) for c in configs]


def run_path(out: pathlib.Path, dataset: str, method: Method, seed: int) -> pathlib.Path:
    """Where the result of one (dataset, method, seed) run is stored."""
    return out / "runs" / dataset / method.name / f"seed{seed}.json"


def _run_group(out: str, dataset: str, method: Method, seeds: Sequence[int],
               grid: dict[str, Sequence[Any]], fixed: dict[str, Any],
               data_dir: str | None, refit: bool = True) -> list[str]:
    """Every seed of one (dataset, method); seed 0 tunes, later seeds reuse."""
    from fenchel.datasets import load_dataset  # imported in the worker

    out_path = pathlib.Path(out)
    done = []
    chosen: Config | None = None
    for seed in seeds:
        path = run_path(out_path, dataset, method, seed)
        if path.exists():
            if chosen is None:
                chosen = Config(**json.loads(path.read_text())["config"])
            continue
        data = load_dataset(dataset, data_dir, seed=seed)
        configs = method_grid(method, grid, **fixed) if chosen is None else [chosen]
        result = run_experiment(data, method, configs, seed=seed, refit=refit)
        result["tuned_on_seed"] = seeds[0] if chosen is not None else seed
        chosen = Config(**result["config"])
        write_json_atomic(path, result)
        done.append(str(path))
    return done


def run_grid(out: str | os.PathLike, datasets: Iterable[str] = DEFAULT_DATASETS,
             methods: Iterable[Method] = DEFAULT_METHODS, n_seeds: int = 3, *,
             grid: dict[str, Sequence[Any]] | None = None, data_dir: str | None = None,
             jobs: int = 1, progress: bool = True, refit: bool = True,
             **fixed: Any) -> dict[str, Any]:
    """Run (or resume) the grid and aggregate it.

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
      **fixed: Config fields fixed for every run (e.g. ``max_epochs=2``).

    Returns:
      The aggregate (also written to ``results.json``).
    """
    if not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    out = pathlib.Path(out)
    grid = DEFAULT_GRID if grid is None else grid
    datasets, methods = list(datasets), list(methods)
    seeds = list(range(n_seeds))
    groups = [(d, m) for d in datasets for m in methods]
    start = time.perf_counter()
    bar = tqdm(total=len(groups), desc="multilabel grid", disable=not progress)
    args = lambda d, m: (str(out), d, m, seeds, dict(grid), dict(fixed), data_dir, refit)
    if jobs == 1:
        for d, m in groups:
            bar.set_postfix_str(f"{d} {m.name}")
            _run_group(*args(d, m))
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")  # JAX is not fork-safe
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
            futures = [pool.submit(_run_group, *args(d, m)) for d, m in groups]
            for future in concurrent.futures.as_completed(futures):
                future.result()
                bar.update()
    bar.close()
    elapsed = time.perf_counter() - start
    return aggregate(out, datasets, methods, seeds, run_seconds=elapsed)


def _mean_std(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, np.float64)
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0,
            "n": int(len(array))}


def aggregate(out: str | os.PathLike, datasets: Sequence[str], methods: Sequence[Method],
              seeds: Sequence[int], run_seconds: float | None = None) -> dict[str, Any]:
    """Collect the run files into ``results.json``, ``results.md`` and plots.

    Returns:
      ``{"datasets": {dataset: {method: {"test": {metric: {mean, std, n}},
      "test_tuned": ..., "config", "inference_ms_per_example", "train_seconds"}}},
      "run_seconds", "seeds"}``.
    """
    out = pathlib.Path(out)
    table: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        for method in methods:
            runs = [json.loads(run_path(out, dataset, method, s).read_text())
                    for s in seeds if run_path(out, dataset, method, s).exists()]
            if not runs:
                continue
            entry = {decoding: {metric: _mean_std([100 * r[decoding][metric] for r in runs])
                                for metric in METRICS}
                     for decoding in ("test", "test_tuned")}
            for decoding in ("test", "test_tuned"):
                if all("example_f1_mulan" in r[decoding] for r in runs):
                    entry[decoding]["example_f1_mulan"] = _mean_std(
                        [100 * r[decoding]["example_f1_mulan"] for r in runs])
            if all("test_before_refit" in r for r in runs):
                entry["test_before_refit"] = {
                    metric: _mean_std([100 * r["test_before_refit"][metric] for r in runs])
                    for metric in METRICS}
            entry["inference_ms_per_example"] = _mean_std(
                [r["test"]["inference_ms_per_example"] for r in runs])
            entry["train_seconds"] = _mean_std([r["train_seconds"] for r in runs])
            entry["search_seconds_seed0"] = runs[0]["search_seconds"]
            entry["config"] = runs[0]["config"]
            entry["threshold"] = [r["threshold"] for r in runs]
            entry["seeds"] = [r["seed"] for r in runs]
            table.setdefault(dataset, {})[method.name] = entry
    result = {"datasets": table, "seeds": list(seeds), "run_seconds": run_seconds,
              "metrics_scale": "percent"}
    write_json_atomic(out / "results.json", result)
    _write_markdown(out / "results.md", result)
    plot(out, result)
    return result


def _cell(stat: dict[str, float]) -> str:
    return f"{stat['mean']:.2f} ± {stat['std']:.2f}"


def _write_markdown(path: pathlib.Path, result: dict[str, Any]) -> None:
    lines = ["# Multi-label results", ""]
    if result.get("run_seconds") is not None:
        lines += [f"Wall time of this invocation: {result['run_seconds']:.0f} s "
                  "(runs found on disk are not re-run).", ""]
    lines += ["Test split, mean ± std over seeds " + ", ".join(map(str, result["seeds"]))
              + "; metrics in %. `round`: ŷ rounded at 0.5; `tuned`: threshold "
              "maximizing validation example-F1. F1 of an empty-vs-empty example or "
              "label counts 0 (scikit-learn's convention).", ""]
    short = {"hamming_accuracy": "Hamming acc.", "example_f1": "example F1",
             "micro_f1": "micro F1", "macro_f1": "macro F1", "subset_accuracy": "subset acc."}
    for dataset, methods in result["datasets"].items():
        lines += [f"## {dataset}", "",
                  "| method | " + " | ".join(f"{short[m]} (round)" for m in METRICS)
                  + " | example F1 (tuned) | Hamming acc. (tuned) | ms / example | config |",
                  "|---" * (len(METRICS) + 5) + "|"]
        for name, entry in methods.items():
            config = entry["config"]
            cfg = (f"h={config['hidden']} lr={config['learning_rate']:g} "
                   f"wd={config['weight_decay']:g} λ={config['reg_scale']:g}")
            cells = [_cell(entry["test"][m]) for m in METRICS]
            cells += [_cell(entry["test_tuned"]["example_f1"]),
                      _cell(entry["test_tuned"]["hamming_accuracy"]),
                      f"{entry['inference_ms_per_example']['mean']:.3f}", cfg]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    write_text_atomic(path, "\n".join(lines))


def plot(out: str | os.PathLike, result: dict[str, Any],
         metrics: Sequence[tuple[str, str]] = (("test", "hamming_accuracy"),
                                               ("test_tuned", "example_f1"))) -> list[str]:
    """Bar plots (mean ± std) of every method per dataset: one PNG per metric.

    Returns:
      The paths written (``OUT/<decoding>_<metric>.png``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = pathlib.Path(out)
    written = []
    datasets = list(result["datasets"])
    if not datasets:
        return written
    for decoding, metric in metrics:
        fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 4.5),
                                 squeeze=False)
        for ax, dataset in zip(axes[0], datasets):
            entries = result["datasets"][dataset]
            names = list(entries)
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
            ax.set_title(dataset)
            ax.set_xlabel(f"{metric.replace('_', ' ')} % ({'round' if decoding == 'test' else 'tuned'})")
        fig.tight_layout()
        path = out / f"{decoding}_{metric}.png"
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=110)
        finally:
            plt.close(fig)
        written.append(str(path))
    return written


__all__ = ["DEFAULT_DATASETS", "DEFAULT_METHODS", "DEFAULT_GRID", "method_grid", "run_grid",
           "run_path", "aggregate", "plot"]
