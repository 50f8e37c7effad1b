"""Label ranking benchmark data: the CSV reader, name resolution and checksum checks.

The 15 benchmarks of Cheng, Hühn and Hüllermeier (ICML 2009) come as plain CSV files
(``../shared/datasets/label_ranking/README.md``):

* line 1: ``n_samples,n_features,n_labels``;
* each further line: the ``n_features`` feature values, then ``n_labels`` integers, the
  rank of each label in that example's ranking (1 = ranked first).

A name such as ``iris`` resolves to ``<data_dir>/iris.csv``, ``data_dir`` being the
argument, else ``$FENCHEL_LABEL_RANKING_DATA``, else ``$XDG_CACHE_HOME/fenchel/label_ranking``;
a path to a CSV file of that format works too. When the file's folder holds a
``SHA256SUMS`` listing the file, its sha256 is checked (as the multi-label loader checks
its downloads). A malformed file is refused with a ``ValueError`` naming the file and
the line: wrong counts, a row whose ranks are not a permutation of ``1..k``, a feature
that is not a finite number.

Example:
  Skipped in the doctests: it reads the files from ``$FENCHEL_LABEL_RANKING_DATA``.

  >>> from fenchel.label_ranking.data import load_dataset
  >>> data = load_dataset("iris")  # doctest: +SKIP
  >>> data.x.shape, data.ranks.shape  # doctest: +SKIP
  ((150, 4), (150, 3))
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
from typing import Any, Mapping

import numpy as np

from fenchel.datasets.mulan import verify_file

DATA_ENV_VAR = "FENCHEL_LABEL_RANKING_DATA"
CHECKSUMS_FILE = "SHA256SUMS"

PathLike = str | os.PathLike


@dataclasses.dataclass(frozen=True)
class LabelRankingData:
    """A label ranking data set, as read from its CSV file.

    Attributes:
      name: the file's stem (``iris`` for ``iris.csv``).
      x: (n, d) float64 features, finite.
      ranks: (n, k) int32, ``ranks[i, j]`` the position (1 = first) of label ``j`` in
        example ``i``'s ranking; every row is a permutation of ``1..k``.
      metadata: ``path``, ``sha256_verified`` (whether a ``SHA256SUMS`` entry was checked).
    """

    name: str
    x: np.ndarray
    ranks: np.ndarray
    metadata: Mapping[str, Any]

    @property
    def n_examples(self) -> int:
        """Number ``n`` of examples."""
        return int(self.x.shape[0])

    @property
    def n_features(self) -> int:
        """Number ``d`` of features."""
        return int(self.x.shape[1])

    @property
    def n_labels(self) -> int:
        """Number ``k`` of labels."""
        return int(self.ranks.shape[1])


def default_data_dir() -> pathlib.Path:
    """The user cache folder, ``$XDG_CACHE_HOME/fenchel/label_ranking``.

    Example:
      >>> from fenchel.label_ranking.data import default_data_dir
      >>> default_data_dir().name
      'label_ranking'
    """
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(cache) / "fenchel" / "label_ranking"


def resolve_data_dir(data_dir: PathLike | None = None) -> pathlib.Path:
    """The data folder: ``data_dir`` if given, else ``$FENCHEL_LABEL_RANKING_DATA``, else
    :func:`default_data_dir`.

    Example:
      >>> from fenchel.label_ranking.data import resolve_data_dir
      >>> str(resolve_data_dir("/data/lr"))
      '/data/lr'
    """
    if data_dir is not None:
        return pathlib.Path(os.fspath(data_dir)).expanduser()
    from_env = os.environ.get(DATA_ENV_VAR)
    if from_env:
        return pathlib.Path(from_env).expanduser()
    return default_data_dir()


def list_datasets(data_dir: PathLike | None = None) -> tuple[str, ...]:
    """The names :func:`load_dataset` finds in the data folder (its ``*.csv`` stems), sorted.

    Example:
      >>> from fenchel.label_ranking.data import list_datasets
      >>> list_datasets("/no/such/folder")
      ()
    """
    root = resolve_data_dir(data_dir)
    if not root.is_dir():
        return ()
    return tuple(sorted(path.stem for path in root.glob("*.csv") if path.is_file()))


def _error(path: pathlib.Path, line: int, message: str) -> ValueError:
    return ValueError(f"{path}, line {line}: {message}")


def _header(path: pathlib.Path, text: str) -> tuple[int, int, int]:
    fields = text.strip().split(",")
    expected = "n_samples,n_features,n_labels: three integers, n_samples >= 1, " \
               "n_features >= 1, n_labels >= 2"
    try:
        n, d, k = (int(field) for field in fields)
    except ValueError:
        raise _error(path, 1, f"expected {expected}, got {text.strip()[:80]!r}") from None
    if n < 1 or d < 1 or k < 2:
        raise _error(path, 1, f"expected {expected}, got {text.strip()[:80]!r}")
    return n, d, k


def _row(path: pathlib.Path, line: int, text: str, d: int, k: int) -> tuple[list[float], list[int]]:
    fields = text.strip().split(",")
    if len(fields) != d + k:
        raise _error(path, line, f"expected {d + k} comma-separated values ({d} features, "
                                 f"{k} ranks), got {len(fields)}")
    features = []
    for column, field in enumerate(fields[:d]):
        try:
            value = float(field)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise _error(path, line, f"feature {column + 1} must be a finite number, "
                                     f"got {field.strip()!r}")
        features.append(value)
    try:
        ranks = [int(field) for field in fields[d:]]
    except ValueError:
        ranks = None
    if ranks is None or sorted(ranks) != list(range(1, k + 1)):
        shown = ",".join(field.strip() for field in fields[d:])
        raise _error(path, line, f"the last {k} values must be a permutation of 1..{k} "
                                 f"(the rank of each label), got {shown!r}")
    return features, ranks


def read_csv(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Reads one label ranking CSV file, checking every line.

    Args:
      path: the file.

    Returns:
      ``(x, ranks)``: (n, d) float64 finite features, (n, k) int32 ranks (each row a
      permutation of ``1..k``).

    Raises:
      ValueError: naming the file and line, when the header is not three counts, the
        number of rows or of values in a row is not what it announces, a feature is not
        a finite number, or a row's ranks are not a permutation of ``1..k``.
      OSError: the file cannot be read.

    Example:
      >>> import pathlib, tempfile
      >>> from fenchel.label_ranking.data import read_csv
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.csv"
      >>> _ = path.write_text("2,1,3\\n0.5,3,1,2\\n-1,1,2,3\\n")
      >>> x, ranks = read_csv(path)
      >>> x.shape, ranks.tolist()
      ((2, 1), [[3, 1, 2], [1, 2, 3]])
    """
    path = pathlib.Path(os.fspath(path))
    with open(path, encoding="utf-8") as file:
        lines = file.read().splitlines()
    if not lines or not lines[0].strip():
        raise _error(path, 1, "expected the header n_samples,n_features,n_labels, "
                              "got an empty line")
    n, d, k = _header(path, lines[0])
    # Trailing blank lines are tolerated; a blank line between rows is a wrong count.
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    rows = lines[1:]
    if len(rows) != n:
        line = 1 + min(len(rows), n) + (1 if len(rows) > n else 0)
        raise _error(path, line, f"the header announces {n} rows, the file has {len(rows)}")
    x = np.empty((n, d), np.float64)
    ranks = np.empty((n, k), np.int32)
    for i, text in enumerate(rows):
        if not text.strip():
            raise _error(path, i + 2, f"empty line, expected a row of {d + k} values")
        x[i], ranks[i] = _row(path, i + 2, text, d, k)
    return x, ranks


def read_checksums(folder: PathLike) -> dict[str, str]:
    """``file name -> sha256`` from ``folder/SHA256SUMS`` (``sha256sum`` format), or an
    empty dict when there is none."""
    path = pathlib.Path(os.fspath(folder)) / CHECKSUMS_FILE
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _folder_source(data_dir: PathLike | None) -> str:
    if data_dir is not None:
        return "data_dir"
    return f"${DATA_ENV_VAR}" if os.environ.get(DATA_ENV_VAR) else "the default cache"


def _is_path(name: str) -> bool:
    return name.endswith(".csv") or "/" in name or os.sep in name


def dataset_path(name: PathLike, data_dir: PathLike | None = None) -> pathlib.Path:
    """The CSV file of ``name``: a path to a ``.csv`` file as given, else
    ``<data folder>/<name>.csv`` (see :func:`resolve_data_dir`).

    Raises:
      TypeError: ``name`` is not a string or path.
      FileNotFoundError: naming the file looked for and the folder's data sets.

    Example:
      >>> import pathlib, tempfile
      >>> from fenchel.label_ranking.data import dataset_path
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> _ = (folder / "tiny.csv").write_text("1,1,2\\n0.5,2,1\\n")
      >>> dataset_path("tiny", folder).name, dataset_path(folder / "tiny.csv").name
      ('tiny.csv', 'tiny.csv')
    """
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"name must be a data set name or a path to a CSV file, "
                        f"got {type(name).__name__}")
    text = os.fspath(name)
    if isinstance(name, os.PathLike) or _is_path(text):
        path = pathlib.Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"label ranking file {path} not found")
        return path
    if not text or text.startswith("."):
        raise ValueError(f"name must be a data set name such as 'iris' or a path to a CSV "
                         f"file, got {text!r}")
    root = resolve_data_dir(data_dir)
    path = root / f"{text}.csv"
    if not path.is_file():
        found = list_datasets(root)
        raise FileNotFoundError(
            f"unknown label ranking data set {text!r}: no file {path} (data folder from "
            f"{_folder_source(data_dir)}; it holds "
            f"{', '.join(found) if found else 'no CSV file'})")
    return path


def load_dataset(name: PathLike, data_dir: PathLike | None = None) -> LabelRankingData:
    """Loads a label ranking data set by name or path, checking its sha256 when listed.

    Args:
      name: a name from :func:`list_datasets` (``iris``), or a path to a CSV file of the
        format in the module docstring.
      data_dir: data folder for names; see :func:`resolve_data_dir`.

    Returns:
      A :class:`LabelRankingData` (features not standardized: the protocol standardizes
      with each training fold's statistics).

    Raises:
      ValueError: a malformed file (naming the file and line) or a checksum mismatch.
      FileNotFoundError: no such data set or file.

    Example:
      Skipped in the doctests: it reads ``$FENCHEL_LABEL_RANKING_DATA``.

      >>> from fenchel.label_ranking.data import load_dataset
      >>> load_dataset("wine").n_labels  # doctest: +SKIP
      3
    """
    path = dataset_path(name, data_dir)
    expected = read_checksums(path.parent).get(path.name)
    if expected is not None:
        verify_file(path, expected)
    x, ranks = read_csv(path)
    x.flags.writeable = False
    ranks.flags.writeable = False
    name = path.stem
    return LabelRankingData(name=name, x=x, ranks=ranks,
                            metadata={"path": str(path), "sha256_verified": expected is not None})


__all__ = ["DATA_ENV_VAR", "LabelRankingData", "default_data_dir", "resolve_data_dir",
           "list_datasets", "read_csv", "read_checksums", "dataset_path", "load_dataset"]
