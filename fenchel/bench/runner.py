"""Run benchmark cases by name, at full or smoke-test size."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

from fenchel.bench import bilinear, pairwise, solvers, training
from fenchel.bench.results import CaseResult

# name -> (module with ``run(config, log)``, default config, quick config)
CASES: dict[str, tuple[Any, Any, Any]] = {
    "pairwise": (pairwise, pairwise.PairwiseConfig(
        # k = 1000 takes seconds per repetition at K = 100 on 2 CPU cores (minutes at
        # K = 500): only K = 10 and 100 are run there, once each after the warm-up.
        skip=((1000, 50, None), (1000, 500, None)), max_seconds=4.0), pairwise.QUICK),
    "bilinear": (bilinear, bilinear.BilinearConfig(), bilinear.QUICK),
    "solvers": (solvers, solvers.SolverConfig(), solvers.QUICK),
    "training": (training, training.TrainingConfig(), training.QUICK),
}


def run_cases(names: list[str] | None = None, *, quick: bool = False,
              overrides: dict[str, dict[str, Any]] | None = None,
              log: Callable[[str], None] = print) -> list[CaseResult]:
    """Run the named cases (all by default) one after the other, in this process.

    Args:
      names: keys of :data:`CASES`.
      quick: use each case's tiny smoke-test configuration.
      overrides: ``{case: {field: value}}`` replacing configuration fields.
      log: progress messages.

    Returns:
      One :class:`~fenchel.bench.results.CaseResult` per case, each with its
      wall time in ``summary["wall_s"]``.

    Example:
      >>> from fenchel.bench.runner import run_cases
      >>> [r.name for r in run_cases(["bilinear"], quick=True, log=lambda _: None)]
      ['bilinear']
    """
    names = list(CASES) if not names else names
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise ValueError(f"unknown benchmark case(s) {unknown}; expected some of {list(CASES)}")
    results = []
    for name in names:
        module, full, small = CASES[name]
        config = small if quick else full
        fields = {f.name for f in dataclasses.fields(config)}
        changes = {k: v for k, v in (overrides or {}).get(name, {}).items() if k in fields}
        config = dataclasses.replace(config, **changes)
        start = time.perf_counter()
        result = module.run(config, log=log)
        result.summary["wall_s"] = time.perf_counter() - start
        result.summary = dict(result.summary)
        results.append(result)
    return results


__all__ = ["CASES", "run_cases"]
