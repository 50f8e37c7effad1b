"""Benchmarks of fenchel's losses and solvers (``fenchel bench``).

Cases (each a module with a config dataclass and ``run(config, log) -> CaseResult``):

* :mod:`fenchel.bench.pairwise` — loss + gradient of the pairwise energy: GFY
  vs unrolled vs implicit differentiation vs the bare maximization, over k and K;
* :mod:`fenchel.bench.bilinear` — bilinear GFY losses vs optax;
* :mod:`fenchel.bench.solvers` — maximizer throughput and accuracy vs scipy;
* :mod:`fenchel.bench.training` — training throughput on yeast (and bibtex).

Each case has a default, a ``QUICK`` (smoke test) and a ``DEVICE``
(accelerator) configuration, gathered by preset in
:data:`fenchel.bench.runner.PRESETS` (``fenchel bench --preset NAME``).

Example:
  >>> from fenchel.bench import run_cases, format_report
  >>> results = run_cases(["bilinear"], quick=True, log=lambda _: None)
  >>> print(format_report(results[0]))  # doctest: +ELLIPSIS
  ### bilinear: value + gradient of the mean bilinear loss, ...
  | reg            | k | impl  | median_us | vs_optax | max_abs_diff | reps |
  ...
"""

from __future__ import annotations

from fenchel.bench.results import CaseResult, format_report, format_table, write_json
from fenchel.bench.runner import CASES, PRESETS, run_cases
from fenchel.bench.timing import Measurement, device_memory_stats, measure, time_python

__all__ = ["CASES", "PRESETS", "CaseResult", "Measurement", "device_memory_stats",
           "format_report", "format_table", "measure", "run_cases", "time_python", "write_json"]
