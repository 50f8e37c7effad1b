"""The experiment harness every ``fenchel reproduce ...`` command runs on.

An application declares its grid as an :class:`Experiment`: its runs (:class:`Run`: a
method on a task with a seed, and an optional fourth coordinate), where each one's file
goes, the function that makes one, and the aggregate. :func:`run_grid` does the rest,
the same way for every application:

* one JSON file per run, written atomically as soon as it is made
  (:func:`fenchel.infra._io.write_json_atomic`), so a crash never leaves half a result;
* resume: a run whose file is there (:meth:`Experiment.done`) is not run again;
* the settings record: each run file records the settings that made it, and
  ``OUT/settings.json`` those of the folder; a call with other settings is refused
  before anything runs (:class:`fenchel.infra._settings.SettingsMismatchError`, naming each
  setting, its stored and new value, and its flag);
* one run at a time per output folder (:func:`fenchel.infra._io.output_lock`), and every file
  checked writable before any work;
* ``jobs`` worker processes (:func:`fenchel.infra._pool.run_parallel`); Ctrl-C stops within
  seconds also with several, keeping the finished runs;
* chains: runs that depend on the one before (later seeds reusing what the first tuned)
  run in order in one process (:meth:`Experiment.chains`);
* the aggregate: statistics over seeds (:func:`mean_std`), markdown tables
  (:func:`markdown_table`), figures (:func:`figure`), and ``results.json`` written with
  its reports all or nothing (:func:`write_results`);
* the command line: ``fenchel reproduce NAME`` with ``--seeds`` (:func:`seed_range`),
  ``--out``, ``--jobs`` and ``--quiet`` (:func:`add_reproduce_parser`), refusals and
  Ctrl-C reported in one line with exit codes 2 and 130 (:func:`run_resumable`), a
  summary printed when the grid is done (:func:`run_command`).

The applications' grids are examples to copy from:
:class:`fenchel.multilabel.reproduce.MultilabelGrid` (chains: later seeds reuse the
configuration the first one tuned; legacy run files),
:class:`fenchel.multilabel.calibration.CalibrationGrid` (a fourth coordinate, the
training-set size; the longest runs first) and
:class:`fenchel.imitation.reproduce.ImitationGrid` (oracle runs; a run not done until its
GIF is drawn).

Example: a grid of coin flips, its mean over seeds in ``results.json`` and a table:

  >>> import dataclasses, os, random, tempfile
  >>> from fenchel import experiments
  >>> @dataclasses.dataclass(frozen=True)
  ... class Coins(experiments.Experiment):
  ...     flips: int = 10
  ...     title = "coins"
  ...     def settings(self):
  ...         return {"flips": self.flips}
  ...     def runs(self):
  ...         return [experiments.Run("coin", method, seed)
  ...                 for method in ("fair", "biased") for seed in range(3)]
  ...     def path(self, run):
  ...         return f"runs/{run.method}/seed{run.seed}.json"
  ...     def run(self, out, run, previous):
  ...         p = 0.5 if run.method == "fair" else 0.9
  ...         rng = random.Random(run.seed)
  ...         heads = sum(rng.random() < p for _ in range(self.flips))
  ...         return {"heads": heads / self.flips, "settings": self.settings()}
  ...     def aggregate(self, out, run_seconds, computed):
  ...         result = {method: experiments.mean_std(
  ...             [self.read(out, run)["heads"] for run in self.runs() if run.method == method])
  ...             for method in ("fair", "biased")}
  ...         rows = [[m, f"{s['mean']:.2f}"] for m, s in result.items()]
  ...         experiments.write_results(out, result, {"results.md": "\\n".join(
  ...             experiments.markdown_table(["method", "heads"], rows)) + "\\n"})
  ...         return result
  >>> out = tempfile.mkdtemp()
  >>> result = experiments.run_grid(Coins(), out, progress=False)
  >>> sorted(os.listdir(out))
  ['results.json', 'results.md', 'runs', 'settings.json']
  >>> result["fair"]["n"]
  3
  >>> experiments.run_grid(Coins(flips=20), out, progress=False)
  Traceback (most recent call last):
  ...
  fenchel.infra._settings.SettingsMismatchError: ... holds results made with other settings; ...
"""

from fenchel.experiments._cli import add_reproduce_parser, run_command, run_resumable
from fenchel.experiments._grid import Experiment, Run, check_settings, run_grid, seed_range
from fenchel.experiments._report import figure, markdown_table, mean_std, write_results

__all__ = ["Run", "Experiment", "run_grid", "check_settings", "seed_range", "mean_std", "markdown_table",
           "figure", "write_results", "add_reproduce_parser", "run_resumable", "run_command"]
