"""Tests for fenchel.datasets.arff: dense/sparse MULAN ARFF parsing and clear errors."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from fenchel_test_budget import examples  # registered by tests/conftest.py

from fenchel.datasets.arff import read_arff, read_mulan_label_names


def _data_dir() -> pathlib.Path:
    root = os.environ.get("FENCHEL_DATA")
    if not root:
        pytest.skip("FENCHEL_DATA is not set: it must point to the MULAN copies "
                    "(shared/datasets/multilabel)")
    return pathlib.Path(root)


HEADER = """% a comment
@relation toy
@attribute 'it\\'s numeric' numeric
@attribute colour {red,green,blue}
@attribute flag {0,1}
@attribute back\\slash real
@attribute 'label one' {0,1}
@attribute label2 {0,1}

@data
"""


def _write(tmp_path: pathlib.Path, text: str, name: str = "toy.arff") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_dense_encoding_names_and_labels(tmp_path):
    path = _write(tmp_path, HEADER + "1.5,green,1,-2,0,1\n% inline comment\n0,red,0,3e2,1,1\n")
    data = read_arff(path, n_labels=2)
    assert data.feature_names == ("it's numeric", "colour=red", "colour=green", "colour=blue",
                                  "flag", "back\\slash")
    assert data.label_names == ("label one", "label2")
    np.testing.assert_array_equal(data.features, [[1.5, 0, 1, 0, 1, -2], [0, 1, 0, 0, 0, 300]])
    np.testing.assert_array_equal(data.labels, [[0, 1], [1, 1]])
    assert data.features.dtype == np.float32 and data.labels.dtype == np.int8
    assert not data.sparse and data.relation == "toy"


def test_sparse_rows_implicit_values_and_trailing_empty_rows(tmp_path):
    rows = "{0 1.5,1 green,4 1}\n{}\n{1 blue,5 1}\n{}\n{}\n"
    data = read_arff(_write(tmp_path, HEADER + rows), n_labels=2)
    assert data.sparse and data.n_instances == 5
    # Omitted nominal values are the first category ("red").
    np.testing.assert_array_equal(data.features[:, 1:4], [[0, 1, 0], [1, 0, 0], [0, 0, 1],
                                                          [1, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(data.features[:, 0], [1.5, 0, 0, 0, 0])
    np.testing.assert_array_equal(data.labels, [[1, 0], [0, 0], [0, 1], [0, 0], [0, 0]])


@settings(max_examples=examples(25), deadline=None)
@given(matrix=st.lists(st.lists(st.sampled_from([0.0, 0.0, 1.0, -2.5, 0.125]), min_size=4,
                                max_size=4), min_size=1, max_size=6),
       labels=st.lists(st.lists(st.integers(0, 1), min_size=2, max_size=2), min_size=6,
                       max_size=6))
def test_sparse_and_dense_forms_parse_alike(tmp_path_factory, matrix, labels):
    header = "@relation r\n" + "".join(f"@attribute f{j} numeric\n" for j in range(4))
    header += "@attribute a {0,1}\n@attribute b {0,1}\n@data\n"
    rows = [values + lab for values, lab in zip(matrix, labels)]
    dense = "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows)
    sparse = "".join("{" + ",".join(f"{j} {v:g}" for j, v in enumerate(row) if v != 0) + "}\n"
                     for row in rows)
    folder = tmp_path_factory.mktemp("forms")
    from_dense = read_arff(_write(folder, header + dense, "d.arff"), n_labels=2)
    from_sparse = read_arff(_write(folder, header + sparse, "s.arff"), n_labels=2)
    np.testing.assert_array_equal(from_dense.features, from_sparse.features)
    np.testing.assert_array_equal(from_dense.labels, from_sparse.labels)
    np.testing.assert_array_equal(from_dense.features, np.asarray(matrix, np.float32))


@pytest.mark.parametrize("text, message", [
    (HEADER + "1.5,green,1,-2,0,1\n0,red,0,", "line 12"),  # truncated dense row
    (HEADER + "1.5,green,1,-2,0,1\n0,red,0,1,1,", "missing"),  # truncated after a comma
    (HEADER + "{0 1.5,1 green,4 1}\n{0 2, 5", "line 12"),  # truncated sparse row
    (HEADER.split("@data")[0], "no @data"),  # truncated header
    (HEADER + "1.5,purple,1,-2,0,1\n", "purple"),  # undeclared category
    (HEADER + "abc,green,1,-2,0,1\n", "line 11"),  # not a number
    (HEADER + "1.5,green,1,-2,0,1\n{0 1}\n", "mixes dense and sparse"),
    ("\x00\x01garbage that is not ARFF\n@data\n1,2\n", "malformed ARFF"),
    ("@relation r\n@attribute s string\n@attribute y {0,1}\n@attribute z {0,1}\n@data\n"
     "'x',1,0\n", "unsupported"),
])
def test_bad_files_raise_value_error_naming_file(tmp_path, text, message):
    path = _write(tmp_path, text, "bad.arff")
    with pytest.raises(ValueError, match=message) as info:
        read_arff(path, n_labels=2)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("rows, where", [
    ("1.5,green,1,-2,0,1\n0,red,0,inf,1,1\n", "line 12 (data row 2), column 'back\\\\slash'"),
    ("1e40,green,1,-2,0,1\n", "line 11 (data row 1), column \"it's numeric\""),
    ("1.5,green,1,-2,0,1\n% comment\n-1e39,red,0,3,1,1\n", "line 13 (data row 2), column \"it's"),
    ("1.5,green,1,nan,0,1\n", "line 11 (data row 1), column 'back"),
    ("{0 1.5,4 1}\n{}\n{1 blue,5 1}\n{3 4e38,5 1}\n", "line 14 (data row 4), column 'back"),
    ("{0 1.5,4 1}\n{0 -inf}\n", "line 12 (data row 2), column \"it's"),
])
def test_non_finite_or_float32_overflowing_features_are_refused(tmp_path, rows, where):
    """inf, nan or a value beyond float32 (1e40) would load as inf and poison the standardized
    column: refused, naming the file, the line, the data row and the column."""
    path = _write(tmp_path, HEADER + rows, "inf.arff")
    with pytest.raises(ValueError, match="expected a finite float32 feature value") as info:
        read_arff(path, n_labels=2)
    assert str(path) in str(info.value) and where in str(info.value)


def test_largest_float32_features_still_load(tmp_path):
    path = _write(tmp_path, HEADER + "3.4e38,green,1,-3.4e38,0,1\n")
    np.testing.assert_allclose(read_arff(path, n_labels=2).features[0, [0, 5]],
                               [3.4e38, -3.4e38], rtol=1e-6)


def test_truncated_real_file_is_reported(tmp_path):
    text = (_data_dir() / "yeast" / "yeast-test.arff").read_text()
    cut = text[: len(text) // 2]
    cut = cut[: cut.rindex(",") + 3]  # end inside a row, a few characters into a value
    path = _write(tmp_path, cut, "yeast-test.arff")
    with pytest.raises(ValueError, match="line") as info:
        read_arff(path, n_labels=14)
    assert str(path) in str(info.value)


def test_wrong_label_count_is_reported(tmp_path):
    path = _write(tmp_path, HEADER + "1.5,green,1,-2,0,1\n")
    with pytest.raises(ValueError, match="n_labels"):
        read_arff(path, n_labels=3)  # "back\slash" (value -2) would be a label
    with pytest.raises(ValueError, match="n_labels"):
        read_arff(path, n_labels=5)  # "colour" (3 categories) would be a label
    with pytest.raises(ValueError, match="n_labels"):
        read_arff(path, n_labels=6)
    with pytest.raises(ValueError, match="n_labels"):
        read_arff(path, n_labels=0)


def test_non_utf8_file_is_reported(tmp_path):
    path = tmp_path / "latin.arff"
    path.write_bytes(b"@relation r\n@attribute \xe9 numeric\n@attribute y {0,1}\n@data\n1,0\n")
    with pytest.raises(ValueError, match="latin.arff"):
        read_arff(path, n_labels=1)


def test_bad_xml_is_reported(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text("<labels><label name='a'></labels")
    with pytest.raises(ValueError, match="bad.xml"):
        read_mulan_label_names(path)


def _manual_sparse_rows(path: pathlib.Path) -> list[dict[int, float]]:
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1
    rows = []
    for line in lines[start:]:
        body = line.strip()[1:-1]
        pairs = [item.split() for item in body.split(",") if item.strip()]
        rows.append({int(index): float(value) for index, value in pairs})
    return rows


def test_real_sparse_file_matches_manual_parse():
    folder = _data_dir() / "corel5k"
    n_labels = len(read_mulan_label_names(folder / "Corel5k.xml"))
    path = folder / "Corel5k-test-sparse.arff"
    data = read_arff(path, n_labels)
    manual = _manual_sparse_rows(path)
    assert data.sparse and data.features.shape == (500, 499) and n_labels == 374
    table = np.concatenate([data.features, data.labels], axis=1)
    assert np.count_nonzero(table) == sum(len(row) for row in manual)
    for i in (0, 1, 250, 499):
        expected = np.zeros(table.shape[1])
        for index, value in manual[i].items():
            expected[index] = value
        np.testing.assert_array_equal(table[i], expected)


def test_label_names_with_quotes_and_backslashes_match_the_xml():
    root = _data_dir()
    birds_xml = read_mulan_label_names(root / "birds" / "birds.xml")
    birds = read_arff(root / "birds" / "birds-train.arff", len(birds_xml))
    assert birds.label_names == birds_xml
    assert "Swainson's Thrush" in birds.label_names
    delicious_xml = read_mulan_label_names(root / "delicious" / "delicious.xml")
    delicious = read_arff(root / "delicious" / "delicious-test.arff", len(delicious_xml))
    assert set(delicious.label_names) == set(delicious_xml)
    assert {"TAG_m\\'usica", "TAG_dise\\~no"} <= set(delicious.label_names)


def test_yeast_xml_order_differs_but_labels_follow_arff_order():
    root = _data_dir() / "yeast"
    xml_names = read_mulan_label_names(root / "yeast.xml")
    data = read_arff(root / "yeast-test.arff", len(xml_names))
    assert data.label_names == tuple(f"Class{i}" for i in range(1, 15))
    assert xml_names != data.label_names and set(xml_names) == set(data.label_names)
