"""Benchmark results: rows of figures, a plain-text table, and JSON output."""

from __future__ import annotations

import dataclasses
import math
import os
import platform
from typing import Any

import jax

from fenchel.infra._io import write_json_atomic


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
    """Where the figures were taken: host, JAX backend, accelerator kind and count.

    Works on every backend: ``backend`` is ``jax.default_backend()`` (``cpu``,
    ``gpu``, ``tpu``), ``device_kind`` the first device's kind (e.g. ``cpu``,
    ``NVIDIA H200``), ``device_count`` / ``local_device_count`` JAX's counts, and
    ``device_memory`` the first local device's allocator limits where the backend
    reports them (``None`` on CPU). The load average (POSIX only) says how busy
    the host's CPU was; on an accelerator it matters for dispatch and for the
    host-side parts (data copies, scipy references).

    Example:
      >>> from fenchel.bench.results import environment
      >>> env = environment()
      >>> env["device_count"] >= 1 and env["backend"] in ("cpu", "gpu", "tpu")
      True
    """
    from fenchel.bench.timing import device_memory_stats

    devices = jax.devices()
    stats = device_memory_stats()
    try:
        import jaxlib
        jaxlib_version = getattr(jaxlib, "__version__", None)
    except ImportError:  # pragma: no cover - jax always ships with jaxlib
        jaxlib_version = None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "jaxlib": jaxlib_version,
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind if devices else None,
        "device_count": jax.device_count(),
        "local_device_count": jax.local_device_count(),
        "process_count": jax.process_count(),
        "devices": [str(device) for device in devices],
        "device_memory": None if stats is None else {
            key: stats[key] for key in ("bytes_limit", "bytes_reservable_limit", "bytes_in_use")
            if key in stats},
        "jax_platforms": os.environ.get("JAX_PLATFORMS") or None,
        # None = XLA's default: on recent NVIDIA GPUs float32 matmuls may then use TF32.
        "default_matmul_precision": jax.config.jax_default_matmul_precision,
        "x64": bool(jax.config.jax_enable_x64),
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
