"""Fixtures for the label ranking tests: the data folder of the real benchmarks."""

from __future__ import annotations

import os
import pathlib

import pytest

# The repository's neighbour ../shared/datasets/label_ranking, where the project keeps
# its copy, when $FENCHEL_LABEL_RANKING_DATA is not set.
_SHARED = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / \
    "label_ranking"


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
    root = os.environ.get("FENCHEL_LABEL_RANKING_DATA")
    folder = pathlib.Path(root) if root else _SHARED
    if not (folder / "iris.csv").is_file():
        pytest.skip("no label ranking data: set FENCHEL_LABEL_RANKING_DATA to the folder "
                    "of shared/datasets/label_ranking")
    return folder
