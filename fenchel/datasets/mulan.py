"""MULAN multi-label benchmark datasets: registry, download with sha256 checks, splits.

Registered datasets (``list_datasets()``) are the MULAN files at tsoumakas/mulan (commit
``43f6389``), each pinned by sha256. A registered file missing from the data directory is
downloaded from ``MULAN_URL/<directory>/<file>`` into a temporary file, checked, and moved into
place atomically; a file already there is checked too (once per process, per inode, size and
mtime). Any checksum mismatch raises ``ValueError`` and leaves nothing behind.

Any other MULAN dataset laid out as ``<data_dir>/<name>/<name>-train.arff``,
``<name>-test.arff`` and ``<name>.xml`` loads too, **without** checksum verification or
download, with ``n_labels`` taken from the xml.

Data directory: the ``data_dir`` argument, else ``$FENCHEL_DATA``, else
``$XDG_CACHE_HOME/fenchel/multilabel`` (``~/.cache/fenchel/multilabel``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pathlib
import types
import urllib.error
import urllib.request
from typing import Any, Mapping, NamedTuple

import numpy as np

from fenchel.infra._io import atomic_file
from fenchel.datasets.arff import ArffData, PathLike, read_arff, read_mulan_label_names

MULAN_URL = "https://raw.githubusercontent.com/tsoumakas/mulan/master/data/multi-label"
DATA_ENV_VAR = "FENCHEL_DATA"
CAL500_SPLIT_SEED = 0
"""Seed of cal500's fixed train/test permutation; independent of ``load_dataset``'s ``seed``."""

_DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class MulanSpec:
    """Where a MULAN dataset's files live and how to check them.

    Attributes:
      name: dataset name used by :func:`load_dataset`.
      directory: folder under the data directory (and under ``MULAN_URL``).
      train: training ARFF file name; the whole dataset when ``test`` is None.
      test: test ARFF file name, or None when there is no official split.
      xml: MULAN label xml file name.
      n_labels: number of labels (the last ``n_labels`` ARFF attributes).
      sha256: file name -> expected sha256 hex digest; empty for unregistered datasets.
      n_test: size of the seeded test split, used only when ``test`` is None.
    """

    name: str
    directory: str
    train: str
    test: str | None
    xml: str
    n_labels: int
    sha256: Mapping[str, str] = dataclasses.field(default_factory=dict)
    n_test: int | None = None

    @property
    def files(self) -> tuple[str, ...]:
        """The file names this dataset needs: xml, train and (if any) test."""
        return tuple(f for f in (self.xml, self.train, self.test) if f is not None)


def _spec(name, directory, train, test, xml, n_labels, sha256, n_test=None) -> MulanSpec:
    files = [f for f in (xml, train, test) if f is not None]
    return MulanSpec(name, directory, train, test, xml, n_labels,
                     types.MappingProxyType(dict(zip(files, sha256))), n_test)


# sha256 values copied from shared/datasets/multilabel/SHA256SUMS, in (xml, train, test) order.
DATASETS: Mapping[str, MulanSpec] = types.MappingProxyType({spec.name: spec for spec in (
    _spec("yeast", "yeast", "yeast-train.arff", "yeast-test.arff", "yeast.xml", 14, (
        "c3056cc26444b5158b1588d1b73bec9c45429e10f0957ad085903423cb81f247",
        "e759dc991ff54694a4ff9c4314f3be0d6fd2b1994a4b563f57e416394c6aebbd",
        "4aaac102bff9669a765bf0b378602e5cc8c3b181048282e2f003117b496d552a")),
    _spec("scene", "scene", "scene-train.arff", "scene-test.arff", "scene.xml", 6, (
        "55d8b247b949ad5c52e5a73d8c6775ec6e5469ce9682465b45b333b68ee4bcc5",
        "b53ba93bdf412de922e3960389bcee24744fa3e872ce610511fc1d750888b64d",
        "ea38d20296b3ff7e220f477a3b802a9bcb2d768881fe6ee163efbc97ea527a42")),
    _spec("emotions", "emotions", "emotions-train.arff", "emotions-test.arff", "emotions.xml",
          6, (
              "dbce8e6ccbbb2fcbfd9e9edbb230d7ed12692c6e13f59fdbc0161fa9b6cf2dc0",
              "bbe704106c79bb8fb99c1d1d2e9bde081d6a2daeb01f100862f11fd91a3c1f98",
              "f13d4b746b7b5c8eb484bd751d6ac463d4560dff998a93516a5c1fe35daf6c8f")),
    _spec("birds", "birds", "birds-train.arff", "birds-test.arff", "birds.xml", 19, (
        "0f4ea547b2b3d538c8402662daf689e0d4520cc8b4f5ba113c2e7c01700f010f",
        "8f215db6ee163149901e753977f631ba8bea0e0e8e1abc42b234414822f8ae36",
        "51ba6326d65ccdd7c755b6461280eb6d2769c7f59d8e12fd4250f91e6ca28326")),
    _spec("cal500", "cal500", "cal500.arff", None, "cal500.xml", 174, (
        "877e128531268d7661faa3e44f7bb43cbcda829c0895e49879168775b192728c",
        "cfe6097ba5fd6e8584e54911ab9783dcab34e898446b7c9370c71d477eae56d3"), n_test=102),
    _spec("bibtex", "bibtex", "bibtex-train.arff", "bibtex-test.arff", "bibtex.xml", 159, (
        "08fe20013c1e75dcf1888c185f5187c95e76495b8518ce289b4d3afce38d1232",
        "8dcc9de6e0b2cebaec8c1f4fac78431adeeb73cfd3ab879b530a66d366e59174",
        "9b03329cde64d3f994bdf7fbbac3f3b10fe185c311cb9ae725475f59c7f3f922")),
    _spec("delicious", "delicious", "delicious-train.arff", "delicious-test.arff",
          "delicious.xml", 983, (
              "4e0c0f93c7d86a39b9fca4aaefaa00e9428f2c80277732dfbf03ca48e2c14da2",
              "030186cdb542ebdd32052fcdbb1ebe30115b3a22518c1b4b198c45eb827aebe1",
              "2dfb01723a819914b0ca83361177ed413ce3f2169851d9f228d4692915d63944")),
    _spec("tmc2007-500", "tmc2007", "tmc2007-500-train.arff", "tmc2007-500-test.arff",
          "tmc2007-500.xml", 22, (
              "cb6a67c8ae72fd9b47d89f77aa5b7f6cafb4ba9c20b1124c65a95a3f2caec38d",
              "edfe7b7615c6f80e54c92a214437610d1ae36560c5cc6c4253b51c434d258273",
              "b24f9c3f1eba77c9da0bbaff093ba41d331b7351be0167a8e1e3852c62e25e38")),
    _spec("corel5k", "corel5k", "Corel5k-train-sparse.arff", "Corel5k-test-sparse.arff",
          "Corel5k.xml", 374, (
              "54ef6a6ccb7ca9b77524052b34b306d5d501661a5609b9d1cc7085b2b597679d",
              "19eb253c447144bea74ffa86b4731a56022addae2ba7d0aab72ad07fdc02e9b3",
              "e8f8e9cd052c43ba7bdfdf99d242f461fc8c2a03163466d921e576887b51d8a7")),
)})


class MultilabelSplit(NamedTuple):
    """One split of a multi-label dataset (a pytree, so it passes through ``jax.jit``).

    Attributes:
      x: (n, d) float32 features.
      y: (n, k) float32 0/1 labels.
    """

    x: np.ndarray
    y: np.ndarray


@dataclasses.dataclass(frozen=True)
class MultilabelDataset:
    """Train / validation / test splits of a multi-label dataset.

    Attributes:
      name: dataset name.
      train: the fit split (official training rows minus ``validation``).
      validation: rows carved from the official training rows with the run seed.
      test: the official test rows (cal500: a fixed seeded split, see :func:`load_dataset`).
      feature_names: ``d`` feature column names.
      label_names: ``k`` label names in ARFF order.
      feature_mean: (d,) float32 mean subtracted from every split (zeros if not standardized).
      feature_scale: (d,) float32 divisor of every split (ones if not standardized).
      metadata: dict with ``name``, ``data_dir``, ``files``, ``checksums_verified``, ``split``
        (``"official"`` or ``"seeded"``), ``split_seed``, ``seed``, ``validation_fraction``,
        ``standardize``, ``n_train``, ``n_validation``, ``n_test``, ``sparse``, and
        ``train_indices`` / ``validation_indices`` (int64 arrays indexing the rows of the
        official training part, in file order).
    """

    name: str
    train: MultilabelSplit
    validation: MultilabelSplit
    test: MultilabelSplit
    feature_names: tuple[str, ...]
    label_names: tuple[str, ...]
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    metadata: Mapping[str, Any]

    @property
    def n_features(self) -> int:
        """Number ``d`` of feature columns."""
        return int(self.train.x.shape[1])

    @property
    def n_labels(self) -> int:
        """Number ``k`` of labels."""
        return int(self.train.y.shape[1])


def default_data_dir() -> pathlib.Path:
    """The user cache folder for MULAN files: ``$XDG_CACHE_HOME/fenchel/multilabel``.

    Returns:
      The path (not created), ``~/.cache/fenchel/multilabel`` when ``XDG_CACHE_HOME`` is unset.

    Example:
      >>> from fenchel.datasets.mulan import default_data_dir
      >>> default_data_dir().name
      'multilabel'
    """
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(cache) / "fenchel" / "multilabel"


def resolve_data_dir(data_dir: PathLike | None = None) -> pathlib.Path:
    """The data directory: ``data_dir`` if given, else ``$FENCHEL_DATA``, else the user cache.

    Args:
      data_dir: explicit folder, or None.

    Returns:
      The folder as a path (it need not exist yet).

    Example:
      >>> from fenchel.datasets.mulan import resolve_data_dir
      >>> str(resolve_data_dir("/data/mulan"))
      '/data/mulan'
    """
    if data_dir is not None:
        return pathlib.Path(os.fspath(data_dir)).expanduser()
    from_env = os.environ.get(DATA_ENV_VAR)
    if from_env:
        return pathlib.Path(from_env).expanduser()
    return default_data_dir()


def _local_spec(name: str, data_dir: pathlib.Path) -> MulanSpec | None:
    folder = data_dir / name
    files = (f"{name}.xml", f"{name}-train.arff", f"{name}-test.arff")
    if not all((folder / f).is_file() for f in files):
        return None
    n_labels = len(read_mulan_label_names(folder / files[0]))
    return MulanSpec(name, name, files[1], files[2], files[0], n_labels)


def list_datasets(data_dir: PathLike | None = None) -> tuple[str, ...]:
    """Names :func:`load_dataset` accepts: the registry plus unregistered datasets found.

    Args:
      data_dir: folder searched for extra ``<name>/<name>-{train,test}.arff`` + ``<name>.xml``
        datasets (resolved as in :func:`resolve_data_dir`).

    Returns:
      Registered names in registry order, then extra names sorted.

    Example:
      >>> from fenchel.datasets.mulan import list_datasets
      >>> list_datasets()[:3]
      ('yeast', 'scene', 'emotions')
    """
    root = resolve_data_dir(data_dir)
    extra = []
    if root.is_dir():
        extra = sorted(p.name for p in root.iterdir()
                       if p.is_dir() and p.name not in DATASETS and _local_spec(p.name, root))
    return tuple(DATASETS) + tuple(extra)


def _sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


# (path, inode, size, mtime) -> verified digest; a rewritten file gets checked again.
_VERIFIED: dict[tuple[str, int, int, int], str] = {}


def _file_key(path: pathlib.Path) -> tuple[str, int, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)


def verify_file(path: PathLike, sha256: str) -> None:
    """Checks a file's sha256 (cached per process while the file is unchanged).

    Args:
      path: the file.
      sha256: expected lowercase hex digest.

    Raises:
      ValueError: naming the file, expected and actual digest, if they differ.

    Example:
      Run from the data folder (skipped in the doctests, which have no data):

      >>> from fenchel.datasets.mulan import DATASETS, verify_file
      >>> verify_file("yeast/yeast.xml", DATASETS["yeast"].sha256["yeast.xml"])  # doctest: +SKIP
    """
    path = pathlib.Path(os.fspath(path))
    key = _file_key(path)
    if _VERIFIED.get(key) == sha256:
        return
    actual = _sha256_of(path)
    if actual != sha256:
        raise ValueError(f"{path}: sha256 mismatch, expected {sha256}, got {actual}; the file "
                         f"is corrupt or a different version: delete it to download it again")
    _VERIFIED[key] = sha256


def download_file(url: str, destination: PathLike, sha256: str) -> pathlib.Path:
    """Downloads ``url`` to ``destination`` atomically, keeping it only if its sha256 matches.

    The bytes go to a temporary file in the destination folder, which is moved into place with
    ``os.replace`` after the check; on any failure the temporary file is removed, and so are
    the folders this call created (a failed download leaves no empty folder behind).

    Args:
      url: source address (fetched with ``urllib.request.urlopen``).
      destination: final file path; its folder is created if needed.
      sha256: expected lowercase hex digest.

    Returns:
      ``destination`` as a path.

    Raises:
      ValueError: checksum mismatch (nothing is written).
      OSError: the download or the write failed.

    Example:
      Skipped in the doctests: it needs the network.

      >>> from fenchel.datasets.mulan import DATASETS, MULAN_URL, download_file
      >>> download_file(f"{MULAN_URL}/yeast/yeast.xml", "/tmp/yeast.xml",
      ...               DATASETS["yeast"].sha256["yeast.xml"])  # doctest: +SKIP
    """
    destination = pathlib.Path(os.fspath(destination))
    created = _missing_folders(destination.parent)
    digest = hashlib.sha256()
    try:
        with atomic_file(destination, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
                    while chunk := response.read(_CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                raise OSError(f"could not download {url} to {destination}: {error}") from error
            if digest.hexdigest() != sha256:
                raise ValueError(f"download of {url} has sha256 {digest.hexdigest()}, expected "
                                 f"{sha256}; nothing was saved to {destination}")
    except BaseException:
        _remove_empty(created)
        raise
    _VERIFIED[_file_key(destination)] = sha256
    return destination


def _missing_folders(folder: pathlib.Path) -> list[pathlib.Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    folder = pathlib.Path(os.path.abspath(folder))
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[pathlib.Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (another file arrived), or already gone
            return


def _ensure_files(spec: MulanSpec, data_dir: pathlib.Path, download: bool) -> dict[str, str]:
    folder = data_dir / spec.directory
    paths = {}
    for filename in spec.files:
        path = folder / filename
        expected = spec.sha256.get(filename)
        if path.is_file():
            if expected is not None:
                verify_file(path, expected)
        elif expected is None:
            raise FileNotFoundError(f"{path} not found (unregistered dataset {spec.name!r}; "
                                    f"only registered datasets are downloaded)")
        elif not download:
            raise FileNotFoundError(f"{path} not found and download=False")
        else:
            download_file(f"{MULAN_URL}/{spec.directory}/{filename}", path, expected)
        paths[filename] = str(path)
    return paths


@functools.lru_cache(maxsize=8)
def _read_cached(path: str, n_labels: int, key: tuple[str, int, int, int]) -> ArffData:
    del key  # part of the cache key only: a changed file is parsed again
    data = read_arff(path, n_labels)
    for array in (data.features, data.labels):
        array.flags.writeable = False  # shared between calls
    return data


def _read(path: str, n_labels: int) -> ArffData:
    return _read_cached(path, n_labels, _file_key(pathlib.Path(path)))


def validation_split(n: int, validation_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits ``range(n)`` into fit and validation indices with a seeded permutation.

    ``round(validation_fraction * n)`` indices, drawn by ``np.random.default_rng(seed)``, go
    to validation; both index arrays are returned sorted (file order).

    Args:
      n: number of rows to split.
      validation_fraction: in [0, 1).
      seed: integer seed.

    Returns:
      ``(fit_indices, validation_indices)``, int64 arrays partitioning ``range(n)``.

    Example:
      >>> from fenchel.datasets.mulan import validation_split
      >>> fit, val = validation_split(10, 0.2, seed=0)
      >>> len(fit), len(val)
      (8, 2)
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
    n_validation = int(round(validation_fraction * n))
    if n - n_validation < 1:
        raise ValueError(f"validation_fraction={validation_fraction} leaves no training rows "
                         f"out of {n}")
    permutation = np.random.default_rng(seed).permutation(n)
    return np.sort(permutation[n_validation:]), np.sort(permutation[:n_validation])


def _standardization(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0, dtype=np.float64)
    std = x.std(axis=0, dtype=np.float64)
    # Constant columns (std 0 up to rounding) are only centred, not blown up.
    scale = np.where(std > 1e-7 * (1.0 + np.abs(mean)), std, 1.0)
    return mean.astype(np.float32), scale.astype(np.float32)


def _check_finite(standardized: np.ndarray, raw: np.ndarray, name: str,
                  feature_names: tuple[str, ...]) -> None:
    """Standardization must keep every feature finite (read_arff already refuses
    non-finite values; this catches values so extreme that centring overflows)."""
    bad = ~np.isfinite(standardized)
    if bad.any():
        column = int(np.flatnonzero(bad.any(axis=0))[0])
        values = raw[:, column]
        raise ValueError(f"dataset {name!r}: standardizing column {feature_names[column]!r} "
                         f"gives non-finite values; expected feature magnitudes well within "
                         f"float32's range, got values in [{float(values.min()):g}, "
                         f"{float(values.max()):g}]")


def _spec_for(name: str, data_dir: pathlib.Path) -> MulanSpec:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if name.lower() in DATASETS:
        return DATASETS[name.lower()]
    if not name or name.startswith(".") or "/" in name or os.sep in name:
        raise ValueError(f"dataset name must be a plain folder name, got {name!r}")
    spec = _local_spec(name, data_dir)
    if spec is None:
        raise ValueError(f"unknown dataset {name!r}: expected one of {list(DATASETS)} or a "
                         f"folder {data_dir / name} holding {name}-train.arff, {name}-test.arff "
                         f"and {name}.xml")
    return spec


def load_dataset(name: str, data_dir: PathLike | None = None, *, seed: int = 0,
                 validation_fraction: float = 0.2, standardize: bool = True,
                 download: bool = True) -> MultilabelDataset:
    """Loads a MULAN dataset as float32 train / validation / test splits.

    Splits: the official MULAN train/test files. cal500 has none, so its 502 rows are split
    once by ``np.random.default_rng(CAL500_SPLIT_SEED).permutation(502)``: the first 400
    permuted rows are train and the last 102 test (each sorted into file order), the same in
    every run whatever ``seed``. Then ``round(validation_fraction * n_train)`` training rows are
    moved to validation by :func:`validation_split` with ``seed``.

    Standardization: with ``mu, sigma`` the per-column mean and standard deviation of the fit
    split (``train``) only, every split becomes ``x' = (x - mu) / sigma`` (``sigma := 1`` for
    constant columns).

    Args:
      name: a name from :func:`list_datasets` (registered names are case-insensitive).
      data_dir: data folder; see :func:`resolve_data_dir`.
      seed: seed of the validation split.
      validation_fraction: share of the training rows used for validation, in [0, 1).
      standardize: whether to standardize features with the fit split's statistics.
      download: whether missing files of registered datasets may be downloaded.

    Returns:
      A :class:`MultilabelDataset`; ``x`` is (n, d) float32 and ``y`` (n, k) float32 0/1.

    Raises:
      ValueError: unknown name, bad argument, checksum mismatch or malformed file.
      FileNotFoundError: a file is missing and cannot be downloaded.

    Example:
      Skipped in the doctests: it reads the MULAN files from ``$FENCHEL_DATA``,
      downloading them on first use.

      >>> from fenchel.datasets.mulan import load_dataset
      >>> data = load_dataset("yeast", seed=0)  # doctest: +SKIP
      >>> data.train.x.shape, data.validation.x.shape, data.test.y.shape  # doctest: +SKIP
      ((1200, 103), (300, 103), (917, 14))
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if not isinstance(validation_fraction, (int, float)) or not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
    root = resolve_data_dir(data_dir)
    spec = _spec_for(name, root)
    paths = _ensure_files(spec, root, download)

    xml_labels = read_mulan_label_names(paths[spec.xml])
    if len(xml_labels) != spec.n_labels:
        raise ValueError(f"{paths[spec.xml]} lists {len(xml_labels)} labels, the registry "
                         f"expects {spec.n_labels}")
    train = _read(paths[spec.train], spec.n_labels)
    if set(train.label_names) != set(xml_labels):
        raise ValueError(f"{paths[spec.train]}: the last {spec.n_labels} attributes are not the "
                         f"labels listed in {paths[spec.xml]}")
    if spec.test is not None:
        test = _read(paths[spec.test], spec.n_labels)
        if test.attributes != train.attributes:
            raise ValueError(f"{paths[spec.test]}: header differs from {paths[spec.train]}")
        train_x, train_y, test_x, test_y = train.features, train.labels, test.features, test.labels
        split, split_seed = "official", None
    else:
        if spec.n_test is None or not 0 < spec.n_test < train.n_instances:
            raise ValueError(f"dataset {spec.name!r} has no test file and no valid n_test")
        permutation = np.random.default_rng(CAL500_SPLIT_SEED).permutation(train.n_instances)
        n_train = train.n_instances - spec.n_test
        official_train = np.sort(permutation[:n_train])
        official_test = np.sort(permutation[n_train:])
        train_x, train_y = train.features[official_train], train.labels[official_train]
        test_x, test_y = train.features[official_test], train.labels[official_test]
        split, split_seed = "seeded", CAL500_SPLIT_SEED

    fit_indices, validation_indices = validation_split(len(train_x), validation_fraction, seed)
    fit_x = train_x[fit_indices]
    if standardize:
        mean, scale = _standardization(fit_x)
    else:
        mean = np.zeros(fit_x.shape[1], np.float32)
        scale = np.ones(fit_x.shape[1], np.float32)

    def make_split(x: np.ndarray, y: np.ndarray) -> MultilabelSplit:
        if standardize:
            with np.errstate(over="ignore", invalid="ignore"):
                standardized = (x - mean) / scale
            _check_finite(standardized, x, spec.name, train.feature_names)
            x = standardized
        return MultilabelSplit(np.array(x, dtype=np.float32), np.array(y, dtype=np.float32))

    metadata = {
        "name": spec.name,
        "data_dir": str(root),
        "files": paths,
        "checksums_verified": bool(spec.sha256),
        "split": split,
        "split_seed": split_seed,
        "seed": int(seed),
        "validation_fraction": float(validation_fraction),
        "standardize": bool(standardize),
        "n_train": len(fit_indices),
        "n_validation": len(validation_indices),
        "n_test": len(test_x),
        "sparse": train.sparse,
        "train_indices": fit_indices,
        "validation_indices": validation_indices,
    }
    return MultilabelDataset(
        name=spec.name,
        train=make_split(fit_x, train_y[fit_indices]),
        validation=make_split(train_x[validation_indices], train_y[validation_indices]),
        test=make_split(test_x, test_y),
        feature_names=train.feature_names,
        label_names=train.label_names,
        feature_mean=mean,
        feature_scale=scale,
        metadata=metadata,
    )
