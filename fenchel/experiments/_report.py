"""The aggregate of a grid: statistics over seeds, markdown tables, figures, and the
all-or-nothing write of ``results.json`` with its reports."""

from __future__ import annotations

import contextlib
import os
import pathlib
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from fenchel.infra._io import Writer, json_text, write_all_or_nothing


def mean_std(values: Sequence[float | None]) -> dict[str, float] | None:
    """``{"mean", "std", "n"}`` of ``values`` (the standard deviation with ddof = 1, 0
    for one value), or None when there is none or one is None (a run written before the
    metric existed: never a mean over fewer seeds than the other metrics of its row).

    Example:
      >>> from fenchel.experiments import mean_std
      >>> mean_std([1.0, 3.0]), mean_std([1.0, None])
      ({'mean': 2.0, 'std': 1.4142135623730951, 'n': 2}, None)
    """
    if not len(values) or any(value is None for value in values):
        return None
    array = np.asarray(values, np.float64)
    return {"mean": float(array.mean()),
            "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0, "n": len(array)}


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """The lines of a markdown table.

    Example:
      >>> from fenchel.experiments import markdown_table
      >>> print("\\n".join(markdown_table(["method", "F1"], [["gfy", "61.5"]])))
      | method | F1 |
      |---|---|
      | gfy | 61.5 |
    """
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows)]


@contextlib.contextmanager
def figure(path: str | os.PathLike, rows: int = 1, columns: int = 1,
           size: tuple[float, float] = (4.2, 3.4), dpi: int = 110) -> Iterator[tuple[Any, Any]]:
    """A matplotlib figure of ``rows × columns`` panels, each ``size`` inches, saved to
    ``path`` (after ``tight_layout``) when the block ends without error, and closed in
    every case. Yields ``(figure, axes)``, ``axes`` of shape ``(rows, columns)``.

    Example:
      >>> import os, tempfile
      >>> from fenchel.experiments import figure
      >>> path = os.path.join(tempfile.mkdtemp(), "plot.png")
      >>> with figure(path) as (fig, axes):
      ...     _ = axes[0, 0].plot([1, 2], [3, 4])
      >>> os.path.getsize(path) > 0
      True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, columns, figsize=(size[0] * columns, size[1] * rows),
                             squeeze=False)
    try:
        yield fig, axes
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)


def write_results(out: str | os.PathLike, result: Any,
                  reports: Mapping[str, Writer]) -> None:
    """Write ``OUT/results.json`` (``result`` as JSON) and the ``reports`` made from it
    (file name -> text, bytes or ``writer(path)``, such as ``results.md`` and plots), all or
    nothing (:func:`fenchel.infra._io.write_all_or_nothing`): they always agree."""
    out = pathlib.Path(out)
    write_all_or_nothing({out / "results.json": json_text(result),
                          **{out / name: writer for name, writer in reports.items()}})


__all__ = ["mean_std", "markdown_table", "figure", "write_results"]
