"""Tests for fenchel.datasets.mulan: registry, checksums, download, splits, standardization."""

from __future__ import annotations

import io
import os
import pathlib
import urllib.error
import urllib.request

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel.datasets import mulan
from fenchel.datasets.mulan import (DATASETS, MULAN_URL, list_datasets, load_dataset,
                                    resolve_data_dir, validation_split)


@pytest.fixture
def data_dir() -> pathlib.Path:
    root = os.environ.get("FENCHEL_DATA")
    if not root:
        pytest.skip("FENCHEL_DATA is not set: it must point to the MULAN copies "
                    "(shared/datasets/multilabel)")
    return pathlib.Path(root)


# From shared/datasets/multilabel/README.md: n_train, n_test, feature columns, labels, label
# cardinality of train+test. birds: 258 numeric + hasSegments {0,1} (1 column) + location
# (12 categories, one-hot) = 271 columns.
README_STATS = {
    "yeast": (1500, 917, 103, 14, 4.237),
    "scene": (1211, 1196, 294, 6, 1.074),
    "emotions": (391, 202, 72, 6, 1.869),
    "birds": (322, 323, 271, 19, 1.014),
}


@pytest.mark.parametrize("name", sorted(README_STATS))
def test_shapes_and_label_cardinality_match_readme(data_dir, name):
    n_train, n_test, n_features, n_labels, cardinality = README_STATS[name]
    data = load_dataset(name, data_dir, validation_fraction=0.0, standardize=False)
    assert data.train.x.shape == (n_train, n_features)
    assert data.test.x.shape == (n_test, n_features)
    assert data.train.y.shape == (n_train, n_labels) and data.validation.x.shape == (0, n_features)
    assert len(data.feature_names) == n_features and len(data.label_names) == n_labels
    y = np.concatenate([data.train.y, data.test.y])
    assert y.sum(axis=1).mean() == pytest.approx(cardinality, abs=1e-3)
    assert set(np.unique(y)) <= {0.0, 1.0}
    for split in (data.train, data.validation, data.test):
        assert split.x.dtype == np.float32 and split.y.dtype == np.float32
    assert data.metadata["checksums_verified"] and data.metadata["split"] == "official"


def test_registry_hashes_match_the_shared_sha256sums(data_dir):
    listed = {}
    for line in (data_dir / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split()
        listed[path.removeprefix("./")] = digest
    for spec in DATASETS.values():
        assert set(spec.sha256) == set(spec.files)
        for filename, digest in spec.sha256.items():
            assert listed[f"{spec.directory}/{filename}"] == digest


def test_list_datasets_names_the_registry_and_local_extras(tmp_path):
    assert list_datasets(tmp_path) == tuple(DATASETS)
    assert set(list_datasets(tmp_path)) == {"yeast", "scene", "emotions", "birds", "cal500",
                                            "bibtex", "delicious", "tmc2007-500", "corel5k"}
    _write_toy_dataset(tmp_path)
    assert list_datasets(tmp_path)[-1] == "toy"


def test_validation_split_is_seeded_disjoint_and_rows_are_the_training_rows(data_dir):
    reference = load_dataset("emotions", data_dir, validation_fraction=0.0, standardize=False)
    first = load_dataset("emotions", data_dir, seed=3, standardize=False)
    again = load_dataset("emotions", data_dir, seed=3, standardize=False)
    other = load_dataset("emotions", data_dir, seed=4, standardize=False)
    fit, val = first.metadata["train_indices"], first.metadata["validation_indices"]
    assert len(val) == round(0.2 * 391) and len(fit) + len(val) == 391
    assert np.intersect1d(fit, val).size == 0
    np.testing.assert_array_equal(np.union1d(fit, val), np.arange(391))
    np.testing.assert_array_equal(first.validation.x, again.validation.x)
    np.testing.assert_array_equal(first.train.y, again.train.y)
    assert not np.array_equal(other.metadata["validation_indices"], val)
    np.testing.assert_array_equal(first.train.x, reference.train.x[fit])
    np.testing.assert_array_equal(first.validation.y, reference.train.y[val])
    np.testing.assert_array_equal(first.test.x, reference.test.x)  # test is never touched


@settings(max_examples=examples(50), deadline=None)
@given(n=st.integers(2, 500), fraction=st.floats(0.0, 0.5), seed=st.integers(0, 2**32 - 1))
def test_validation_split_partitions(n, fraction, seed):
    fit, val = validation_split(n, fraction, seed)
    assert len(val) == round(fraction * n)
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, val])), np.arange(n))
    again_fit, again_val = validation_split(n, fraction, seed)
    np.testing.assert_array_equal(val, again_val)
    assert np.all(np.diff(fit) > 0) and np.all(np.diff(val) > 0)


def test_standardization_uses_only_the_fit_split(data_dir):
    raw = load_dataset("yeast", data_dir, seed=1, standardize=False)
    data = load_dataset("yeast", data_dir, seed=1)
    np.testing.assert_allclose(data.train.x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.train.x.std(axis=0), 1.0, atol=1e-4)
    np.testing.assert_allclose(data.feature_mean, raw.train.x.mean(axis=0), rtol=1e-5, atol=1e-6)
    for split, raw_split in ((data.validation, raw.validation), (data.test, raw.test)):
        np.testing.assert_allclose(split.x, (raw_split.x - data.feature_mean) / data.feature_scale,
                                   rtol=1e-5, atol=1e-5)
        assert np.abs(split.x.mean(axis=0)).max() > 1e-3  # other rows: not centred exactly
    np.testing.assert_array_equal(data.test.y, raw.test.y)


def test_constant_columns_are_only_centred(tmp_path):
    _write_toy_dataset(tmp_path)  # column "c" is 2 in every training row, 3 in the test rows
    data = load_dataset("toy", tmp_path, validation_fraction=0.0)
    assert data.feature_scale[3] == 1.0
    np.testing.assert_array_equal(data.train.x[:, 3], 0.0)
    np.testing.assert_allclose(data.test.x[:, 3], 1.0)


def test_cal500_split_is_fixed_and_independent_of_the_seed(data_dir):
    a = load_dataset("cal500", data_dir, seed=0, standardize=False)
    b = load_dataset("cal500", data_dir, seed=7, standardize=False)
    assert a.metadata["split"] == "seeded" and a.metadata["split_seed"] == 0
    assert (len(a.train.x), len(a.validation.x), len(a.test.x)) == (320, 80, 102)
    assert a.n_labels == 174 and a.n_features == 68
    np.testing.assert_array_equal(a.test.x, b.test.x)
    train_a = np.concatenate([a.train.x, a.validation.x])
    train_b = np.concatenate([b.train.x, b.validation.x])
    np.testing.assert_array_equal(np.sort(train_a, axis=0), np.sort(train_b, axis=0))
    assert not np.array_equal(a.validation.x, b.validation.x)


def test_sparse_dataset_loads(data_dir):
    data = load_dataset("bibtex", data_dir, validation_fraction=0.0, standardize=False)
    assert data.metadata["sparse"]
    assert data.train.x.shape == (4880, 1836) and data.test.y.shape == (2515, 159)
    assert set(np.unique(data.train.x)) == {0.0, 1.0}


@pytest.mark.slow
@pytest.mark.parametrize("name, n_train, n_test, n_features, n_labels", [
    ("tmc2007-500", 21519, 7077, 500, 22),
    ("delicious", 12920, 3185, 500, 983),
])
def test_large_sparse_datasets(data_dir, name, n_train, n_test, n_features, n_labels):
    data = load_dataset(name, data_dir, validation_fraction=0.0, standardize=False)
    assert data.train.x.shape == (n_train, n_features)
    assert data.test.y.shape == (n_test, n_labels)


def test_bad_arguments_are_reported(data_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        load_dataset("nope", tmp_path)
    with pytest.raises(ValueError, match="plain folder name"):
        load_dataset("../yeast", tmp_path)
    with pytest.raises(ValueError, match="validation_fraction"):
        load_dataset("emotions", data_dir, validation_fraction=1.0)
    with pytest.raises(TypeError, match="seed"):
        load_dataset("emotions", data_dir, seed=0.5)


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("FENCHEL_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("FENCHEL_DATA")
    assert resolve_data_dir() == tmp_path / "xdg" / "fenchel" / "multilabel"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "fenchel" / "multilabel"


def test_local_checksum_mismatch_is_reported(data_dir, tmp_path):
    folder = tmp_path / "emotions"
    folder.mkdir()
    for filename in DATASETS["emotions"].files:
        (folder / filename).write_bytes((data_dir / "emotions" / filename).read_bytes())
    test_file = folder / "emotions-test.arff"
    test_file.write_bytes(test_file.read_bytes().replace(b"0.1", b"0.2", 1))
    with pytest.raises(ValueError, match="emotions-test.arff: sha256 mismatch"):
        load_dataset("emotions", tmp_path)


class _FakeOpener:
    """Serves the shared MULAN copies for MULAN_URL addresses and records the requests."""

    def __init__(self, data_dir: pathlib.Path, corrupt: bool = False):
        self.data_dir, self.corrupt, self.urls = data_dir, corrupt, []

    def __call__(self, url, timeout=None):
        self.urls.append(url)
        if not url.startswith(MULAN_URL + "/"):
            raise urllib.error.URLError(f"unexpected url {url}")
        content = (self.data_dir / url.removeprefix(MULAN_URL + "/")).read_bytes()
        if self.corrupt:
            content = content[:-10]
        return io.BytesIO(content)


def test_download_verifies_and_saves_atomically(data_dir, tmp_path, monkeypatch):
    opener = _FakeOpener(data_dir)
    monkeypatch.setattr(urllib.request, "urlopen", opener)
    data = load_dataset("emotions", tmp_path / "cache")
    spec = DATASETS["emotions"]
    assert sorted(opener.urls) == sorted(f"{MULAN_URL}/emotions/{f}" for f in spec.files)
    saved = tmp_path / "cache" / "emotions"
    assert sorted(p.name for p in saved.iterdir()) == sorted(spec.files)  # no temporary files
    for filename in spec.files:
        assert (saved / filename).read_bytes() == (data_dir / "emotions" / filename).read_bytes()
    assert data.train.x.shape == (313, 72)
    load_dataset("emotions", tmp_path / "cache")  # present now: no second download
    assert len(opener.urls) == len(spec.files)


def test_download_checksum_mismatch_leaves_nothing_behind(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", _FakeOpener(data_dir, corrupt=True))
    with pytest.raises(ValueError, match="sha256"):
        load_dataset("yeast", tmp_path)
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file, no empty folder


def test_download_failure_and_offline_mode_are_reported(tmp_path, monkeypatch):
    def unreachable(url, timeout=None):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(OSError, match="could not download .*scene.xml"):
        load_dataset("scene", tmp_path)
    assert list(tmp_path.iterdir()) == []  # the scene/ folder made for the download is gone
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_dataset("scene", tmp_path / "other", download=False)
    assert list(tmp_path.iterdir()) == []


def test_failed_download_into_a_missing_data_dir_leaves_no_folders(tmp_path, monkeypatch):
    """A --data-dir that does not exist: the folders made for the download are removed when
    it fails, those that existed before are kept, and so are files already verified."""
    def unreachable(url, timeout=None):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(OSError, match="could not download"):
        load_dataset("emotions", tmp_path / "missing" / "deeper")
    assert list(tmp_path.iterdir()) == []


def test_partial_download_keeps_the_verified_files(data_dir, tmp_path, monkeypatch):
    opener = _FakeOpener(data_dir)

    def only_the_xml(url, timeout=None):
        if not url.endswith(".xml"):
            raise urllib.error.URLError("connection reset")
        return opener(url, timeout)

    monkeypatch.setattr(urllib.request, "urlopen", only_the_xml)
    with pytest.raises(OSError, match="could not download"):
        load_dataset("emotions", tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache" / "emotions").iterdir()] == ["emotions.xml"]


def _write_toy_dataset(root: pathlib.Path) -> None:
    folder = root / "toy"
    folder.mkdir(parents=True, exist_ok=True)
    header = ("@relation toy\n@attribute a numeric\n@attribute b {x,y}\n"
              "@attribute c numeric\n@attribute l1 {0,1}\n@attribute l2 {0,1}\n@data\n")
    (folder / "toy-train.arff").write_text(header + "".join(
        f"{i},{'xy'[i % 2]},2,{i % 2},{(i // 2) % 2}\n" for i in range(10)))
    (folder / "toy-test.arff").write_text(header + "1.5,y,3,1,1\n-1,x,3,0,0\n")
    (folder / "toy.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<labels xmlns="http://mulan.sourceforge.net/labels">\n'
        '<label name="l2"></label>\n<label name="l1"></label>\n</labels>\n')


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e40"])
def test_non_finite_feature_is_refused_naming_file_row_and_column(tmp_path, value):
    _write_toy_dataset(tmp_path)
    train = tmp_path / "toy" / "toy-train.arff"
    lines = train.read_text().splitlines(keepends=True)
    lines[10] = f"{value},y,2,0,1\n"  # data row 4: column "a"
    train.write_text("".join(lines))
    with pytest.raises(ValueError) as info:
        load_dataset("toy", tmp_path)
    message = str(info.value)
    assert str(train) in message and "line 11 (data row 4)" in message
    assert "column 'a'" in message and "expected a finite float32 feature value" in message


def test_unregistered_local_dataset_loads_without_checksums(tmp_path):
    _write_toy_dataset(tmp_path)
    data = load_dataset("toy", tmp_path, validation_fraction=0.2, standardize=False)
    assert not data.metadata["checksums_verified"]
    assert data.feature_names == ("a", "b=x", "b=y", "c") and data.label_names == ("l1", "l2")
    assert (len(data.train.x), len(data.validation.x), len(data.test.x)) == (8, 2, 2)
    np.testing.assert_array_equal(data.test.x, [[1.5, 0, 1, 3], [-1, 1, 0, 3]])
    np.testing.assert_array_equal(data.test.y, [[1, 1], [0, 0]])


def test_mismatched_train_and_test_headers_are_reported(tmp_path):
    _write_toy_dataset(tmp_path)
    test_file = tmp_path / "toy" / "toy-test.arff"
    test_file.write_text(test_file.read_text().replace("{x,y}", "{y,x}"))
    with pytest.raises(ValueError, match="header differs"):
        load_dataset("toy", tmp_path)


def test_file_verification_is_cached_until_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    mulan.verify_file(path, digest)
    calls = []
    monkeypatch.setattr(mulan, "_sha256_of", lambda p: calls.append(p) or digest)
    mulan.verify_file(path, digest)
    assert calls == []
    path.write_bytes(b"abd")
    os.utime(path, ns=(0, 1))
    monkeypatch.undo()
    with pytest.raises(ValueError, match="sha256 mismatch"):
        mulan.verify_file(path, digest)
