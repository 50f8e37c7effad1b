"""Multi-label benchmark data: MULAN ARFF reading, dataset registry, download and splits.

Example:
  Loading a dataset (skipped in the doctests: it reads the MULAN files from
  ``$FENCHEL_DATA``, downloading them on first use):

  >>> from fenchel.datasets import load_dataset
  >>> data = load_dataset("emotions", seed=0)  # doctest: +SKIP
  >>> data.train.x.shape, data.n_labels  # doctest: +SKIP
  ((313, 72), 6)
"""

from __future__ import annotations

from fenchel.datasets.arff import ArffData, read_arff, read_mulan_label_names
from fenchel.datasets.mulan import (
    CAL500_SPLIT_SEED,
    DATASETS,
    MULAN_URL,
    MulanSpec,
    MultilabelDataset,
    MultilabelSplit,
    default_data_dir,
    download_file,
    list_datasets,
    load_dataset,
    resolve_data_dir,
    validation_split,
    verify_file,
)

__all__ = [
    "ArffData",
    "CAL500_SPLIT_SEED",
    "DATASETS",
    "MULAN_URL",
    "MulanSpec",
    "MultilabelDataset",
    "MultilabelSplit",
    "default_data_dir",
    "download_file",
    "list_datasets",
    "load_dataset",
    "read_arff",
    "read_mulan_label_names",
    "resolve_data_dir",
    "validation_split",
    "verify_file",
]
