"""Run benchmark cases by name, at the size of a preset (full, smoke test, accelerator)."""

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

# preset -> {case: config}. ``default``: the sizes of docs/benchmarks.md (a few
# minutes on 2 CPU cores); ``quick``: tiny, one repetition (the smoke test; its
# figures mean nothing); ``device``: an accelerator (batch 4096 for pairwise, bilinear
# and solvers, k up to 1000; the trainer at batch 1024 on yeast and bibtex), sized to
# finish in a few minutes on one GPU, most of it compilation.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {name: full for name, (_, full, _) in CASES.items()},
    "quick": {name: small for name, (_, _, small) in CASES.items()},
    "device": {"pairwise": pairwise.DEVICE, "bilinear": bilinear.DEVICE,
               "solvers": solvers.DEVICE, "training": training.DEVICE},
}


def case_config(name: str, preset: str = "default",
                overrides: dict[str, Any] | None = None) -> Any:
    """The configuration case ``name`` runs with in ``preset``, with ``overrides``
    (``{field: value}``; fields the configuration lacks are ignored).

    Example:
      >>> from fenchel.bench.runner import case_config
      >>> case_config("pairwise", "device").batch
      4096
      >>> case_config("training", "quick", {"epochs": 2, "nope": 1}).epochs
      2
    """
    if name not in CASES:
        raise ValueError(f"unknown benchmark case {name!r}; expected one of {list(CASES)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {list(PRESETS)}")
    config = PRESETS[preset][name]
    fields = {f.name for f in dataclasses.fields(config)}
    changes = {k: v for k, v in (overrides or {}).items() if k in fields}
    return dataclasses.replace(config, **changes)


def run_cases(names: list[str] | None = None, *, quick: bool = False, preset: str | None = None,
              overrides: dict[str, dict[str, Any]] | None = None,
              log: Callable[[str], None] = print) -> list[CaseResult]:
    """Run the named cases (all by default) one after the other, in this process.

    Args:
      names: keys of :data:`CASES`, run in this order.
      quick: use each case's tiny smoke-test configuration (``preset="quick"``).
      preset: a key of :data:`PRESETS` (default: ``"quick"`` if ``quick`` else
        ``"default"``).
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
    if preset is None:
        preset = "quick" if quick else "default"
    elif quick and preset != "quick":
        raise ValueError(f"quick=True contradicts preset={preset!r}")
    names = list(CASES) if not names else names
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise ValueError(f"unknown benchmark case(s) {unknown}; expected some of {list(CASES)}")
    results = []
    for name in names:
        module = CASES[name][0]
        config = case_config(name, preset, (overrides or {}).get(name))
        start = time.perf_counter()
        result = module.run(config, log=log)
        result.summary["wall_s"] = time.perf_counter() - start
        result.summary = dict(result.summary)
        results.append(result)
    return results


__all__ = ["CASES", "PRESETS", "case_config", "run_cases"]
