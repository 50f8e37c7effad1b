"""Fixtures for the multi-label tests: small slices of the real MULAN data."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

from fenchel.datasets import load_dataset
from fenchel.multilabel.train import MultilabelSplitLike


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
    root = os.environ.get("FENCHEL_DATA")
    if not root:
        pytest.skip("FENCHEL_DATA is not set: it must point to the MULAN copies "
                    "(shared/datasets/multilabel)")
    return pathlib.Path(root)


@pytest.fixture(scope="session")
def emotions(data_dir):
    """The emotions dataset (seed 0 split)."""
    return load_dataset("emotions", data_dir, seed=0)


@pytest.fixture(scope="session")
def emotions_slice(emotions):
    """``(train, validation)``: the first 96 / 48 rows of emotions' splits."""
    train = MultilabelSplitLike(emotions.train.x[:96], emotions.train.y[:96])
    validation = MultilabelSplitLike(emotions.validation.x[:48], emotions.validation.y[:48])
    return train, validation


def _arff_slice(source: pathlib.Path, target: pathlib.Path, start: int, stop: int) -> None:
    """Copy the header of ``source`` and its data rows ``start:stop`` to ``target``."""
    header, rows, in_data = [], [], False
    with open(source) as file:
        for line in file:
            if in_data:
                if line.strip() and not line.startswith("%"):
                    rows.append(line)
                    if len(rows) >= stop:
                        break
            else:
                header.append(line)
                in_data = line.strip().lower() == "@data"
    target.write_text("".join(header) + "".join(rows[start:stop]))


@pytest.fixture(scope="session")
def sparse_data_dir(data_dir, tmp_path_factory) -> pathlib.Path:
    """A data folder holding ``tinybib``: 60 + 30 real rows of the sparse bibtex ARFF
    (an unregistered dataset, loaded without checksums), and ``broken``: a
    truncated, malformed copy of emotions."""
    root = tmp_path_factory.mktemp("mulan")
    tiny = root / "tinybib"
    tiny.mkdir()
    source = data_dir / "bibtex"
    _arff_slice(source / "bibtex-train.arff", tiny / "tinybib-train.arff", 0, 60)
    _arff_slice(source / "bibtex-test.arff", tiny / "tinybib-test.arff", 0, 30)
    shutil.copy(source / "bibtex.xml", tiny / "tinybib.xml")

    broken = root / "broken"
    broken.mkdir()
    text = (data_dir / "emotions" / "emotions-train.arff").read_text()
    cut = text.index("@data") + 200
    (broken / "broken-train.arff").write_text(text[:cut] + ",,garbage,{\n")
    shutil.copy(data_dir / "emotions" / "emotions-test.arff", broken / "broken-test.arff")
    shutil.copy(data_dir / "emotions" / "emotions.xml", broken / "broken.xml")
    return root
