"""The label ranking CSV loader: the real files, names and paths, checksums, and every
kind of malformed file refused with the file and the line."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fenchel.label_ranking import data as lr_data
from fenchel.label_ranking.data import dataset_path, list_datasets, load_dataset, read_csv


def test_iris_loads_with_its_checksum(data_dir):
    data = load_dataset("iris", data_dir)
    assert (data.n_examples, data.n_features, data.n_labels) == (150, 4, 3)
    assert data.metadata["sha256_verified"]
    assert np.all(np.sort(data.ranks, axis=1) == [1, 2, 3])
    assert "iris" in list_datasets(data_dir)


def test_name_resolves_under_the_environment_variable(data_dir, monkeypatch):
    monkeypatch.setenv(lr_data.DATA_ENV_VAR, str(data_dir))
    assert load_dataset("wine").n_labels == 3


def test_a_path_works_and_a_copy_outside_the_folder_is_not_checked(data_dir, tmp_path):
    copy = tmp_path / "my-iris.csv"
    shutil.copy(data_dir / "iris.csv", copy)
    data = load_dataset(str(copy))
    assert data.name == "my-iris" and not data.metadata["sha256_verified"]


def test_checksum_mismatch_is_refused(data_dir, tmp_path):
    shutil.copy(data_dir / "iris.csv", tmp_path / "iris.csv")
    shutil.copy(data_dir / "SHA256SUMS", tmp_path / "SHA256SUMS")
    with open(tmp_path / "iris.csv", "a") as file:
        file.write("\n")  # a blank line: still a valid file, another digest
    with pytest.raises(ValueError, match="iris.csv: sha256 mismatch"):
        load_dataset("iris", tmp_path)


def test_unknown_name_lists_the_folder(tmp_path):
    (tmp_path / "a.csv").write_text("1,1,2\n0,1,2\n")
    with pytest.raises(FileNotFoundError, match=r"unknown label ranking data set 'b'.*holds a"):
        load_dataset("b", tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        dataset_path(str(tmp_path / "missing.csv"))
    with pytest.raises(TypeError, match="name must be"):
        dataset_path(3)


def _write(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


MALFORMED = [
    ("", 1, "header"),
    ("3,1\n", 1, "three integers"),
    ("2,1,1\n0,1\n0,1\n", 1, "n_labels >= 2"),
    ("a,1,2\n", 1, "three integers"),
    ("2,1,2\n0.5,1,2\n", 2, "announces 2 rows, the file has 1"),
    ("1,1,2\n0.5,1,2\n0.1,2,1\n", 3, "announces 1 rows, the file has 2"),
    ("2,1,2\n0.5,1,2\n0.5,1\n", 3, "expected 3 comma-separated values"),
    ("2,1,2\n0.5,1,2,7\n0.5,1,2\n", 2, "got 4"),
    ("1,2,2\nnan,0,1,2\n", 2, "feature 1 must be a finite number, got 'nan'"),
    ("1,2,2\n0,inf,1,2\n", 2, "feature 2 must be a finite number, got 'inf'"),
    ("1,2,2\n0,x,1,2\n", 2, "feature 2 must be a finite number, got 'x'"),
    ("2,1,3\n0,1,2,3\n0,1,1,3\n", 3, "permutation of 1..3"),
    ("1,1,3\n0,0,1,2\n", 2, "permutation of 1..3"),
    ("1,1,3\n0,1,2,4\n", 2, "got '1,2,4'"),
    ("1,1,2\n0,1.5,2\n", 2, "permutation of 1..2"),
    ("3,1,2\n0,1,2\n\n0,2,1\n", 3, "empty line, expected a row of 3 values"),
    ("2,1,2\n0,1,2\n\n0,2,1\n", 4, "announces 2 rows, the file has 3"),
]


@pytest.mark.parametrize("text,line,message", MALFORMED)
def test_malformed_files_name_the_file_and_line(tmp_path, text, line, message):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as error:
        read_csv(path)
    assert str(error.value).startswith(f"{path}, line {line}: ")
    assert message in str(error.value)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6), st.integers(1, 3), st.integers(1, 5), st.data())
def test_round_trip_and_one_corrupted_rank(tmp_path_factory, k, d, n, draw):
    """Any well-formed file reads back exactly; swapping one rank for a duplicate is
    refused at that row's line."""
    rng = np.random.default_rng(draw.draw(st.integers(0, 2**31)))
    x = np.round(rng.normal(size=(n, d)), 5)
    ranks = np.argsort(rng.random((n, k)), axis=1) + 1
    rows = [",".join([*(f"{v:.5f}" for v in x[i]), *map(str, ranks[i])]) for i in range(n)]
    path = tmp_path_factory.mktemp("csv") / "ok.csv"
    path.write_text(f"{n},{d},{k}\n" + "\n".join(rows) + "\n")
    x_read, ranks_read = read_csv(path)
    np.testing.assert_allclose(x_read, x, atol=1e-12)
    np.testing.assert_array_equal(ranks_read, ranks)

    row = draw.draw(st.integers(0, n - 1))
    bad = ranks.copy()
    bad[row, 0] = bad[row, 1]
    rows[row] = ",".join([*(f"{v:.5f}" for v in x[row]), *map(str, bad[row])])
    path.write_text(f"{n},{d},{k}\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=f"line {row + 2}: the last {k} values must be a "
                                         f"permutation"):
        read_csv(path)
