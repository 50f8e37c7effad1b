"""Benchmark results: rows of figures, a plain-text table, and JSON output."""

from __future__ import annotations

import dataclasses
import math
import os
import platform
from typing import Any

import jax

from fenchel._io import write_json_atomic


@dataclasses.dataclass
class CaseResult:
    """The rows one benchmark case produced.

    Attributes:
      name: the case's name (``pairwise``, ``bilinear``, ...).
      title: one line saying what was measured.
      columns: the row keys shown in the table, in order.
      rows: one dict per configuration; every row may hold more keys than
        ``columns`` (all of them go to JSON).
      notes: caveats met while running (reduced repetitions, skipped sizes).
      summary: headline figures (goal ratios), also printed under the table.
    """

    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)


def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 1e5 or magnitude < 1e-3:
            return f"{value:.2e}"
        if magnitude >= 100:
            return f"{value:.0f}"
        return f"{value:.3g}"
    return str(value)


def format_table(result: CaseResult) -> str:
    """A GitHub-flavoured Markdown table of ``result`` (also readable as text).

    Example:
      >>> from fenchel.bench.results import CaseResult, format_table
      >>> r = CaseResult("demo", "Demo", ["method", "median_ms"],
      ...                [{"method": "a", "median_ms": 1.5}])
      >>> print(format_table(r).splitlines()[2])
      | a      | 1.5       |
    """
    cells = [[_format(row.get(column)) for column in result.columns] for row in result.rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(result.columns)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"
    out = [line(result.columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(values) for values in cells]
    return "\n".join(out)


def format_report(result: CaseResult) -> str:
    """Title, table, summary and notes of one case, as Markdown."""
    parts = [f"### {result.name}: {result.title}", "", format_table(result)]
    if result.summary:
        parts += [""] + [f"- {key}: {_format(value)}" for key, value in result.summary.items()]
    if result.notes:
        parts += [""] + [f"- note: {note}" for note in result.notes]
    return "\n".join(parts) + "\n"


def environment() -> dict[str, Any]:
    """Where the figures were taken: platform, CPU count, JAX backend and devices."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(device) for device in jax.devices()],
        # Other processes share the CPU: the load says how quiet the machine was.
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no inf/nan
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return _jsonable(value.item())
    return value


def write_json(path: str | os.PathLike, results: list[CaseResult], meta: dict[str, Any]) -> None:
    """Write ``results`` and ``meta`` to ``path`` as JSON, atomically.

    The file is ``{"meta": {...}, "cases": {name: {"title", "rows", "summary",
    "notes"}}}``.
    """
    payload = {"meta": meta, "cases": {r.name: {"title": r.title, "columns": r.columns,
                                                "rows": r.rows, "summary": r.summary,
                                                "notes": r.notes} for r in results}}
    write_json_atomic(path, _jsonable(payload), indent=2, sort_keys=False)


__all__ = ["CaseResult", "format_table", "format_report", "environment", "write_json"]
