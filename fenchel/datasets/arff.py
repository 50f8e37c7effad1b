"""Reading MULAN multi-label ARFF files (dense and sparse) into numpy arrays.

MULAN stores a multi-label dataset as an ARFF file whose **last** ``n_labels`` attributes are
the labels (nominal ``{0,1}``), plus a ``<name>.xml`` file listing the label names. The number
of labels is not recorded in the ARFF file itself; it comes from the xml (or a registry).

Data rows are parsed with liac-arff; the header is also scanned here, because liac-arff keeps
escape sequences in quoted attribute names (``'Swainson\\'s Thrush'``) while MULAN's xml has
them unescaped, and because it cannot tell how many trailing sparse rows are empty (``{}``).

Feature encoding (one row of ``features`` per instance, ``float32``):

* numeric attributes give one column with their value;
* nominal attributes whose categories are exactly ``{0, 1}`` give one column with that value
  (the text datasets store their binary word features this way);
* other nominal attributes are one-hot encoded, one column per category **in header order**,
  named ``"<attribute>=<category>"``, so that files sharing a header encode alike.

In sparse rows an omitted value is 0 for numeric attributes and the first declared category
for nominal ones (the Weka convention).

Every feature value must be a finite float32 number: ``inf``, ``nan`` or a value beyond
float32's range (such as ``1e40``) raises ``ValueError`` naming the file, line, data row and
column, rather than turning a standardized column into NaN.
"""

from __future__ import annotations

import dataclasses
import os
import re
import xml.etree.ElementTree as ElementTree
from typing import Union

import arff as liac_arff
import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

_NUMERIC_TYPES = frozenset({"NUMERIC", "REAL", "INTEGER"})
_BINARY_CATEGORIES = frozenset({"0", "1"})
_MULAN_LABEL_TAG = "{http://mulan.sourceforge.net/labels}label"

# Attribute name: a quoted string (with backslash escapes) or a bare token.
_RE_ATTRIBUTE_NAME = re.compile(
    r"""@attribute\s+('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s{}%,]+)""", re.IGNORECASE)
_RE_ESCAPE = re.compile(r"\\(.)")

# Column kinds of the attribute encoding.
_VALUE = 0    # numeric or binary nominal: one column holding the value
_ONE_HOT = 1  # other nominal: one column per category


@dataclasses.dataclass(frozen=True)
class ArffData:
    """A parsed multi-label ARFF file.

    Attributes:
      features: (n, d) float32 feature matrix (nominal attributes encoded as described in the
        module docstring, so ``d`` may exceed the number of feature attributes).
      labels: (n, k) int8 0/1 label matrix, the last ``k`` attributes in ARFF order.
      feature_names: ``d`` column names (``"<attribute>=<category>"`` for one-hot columns).
      label_names: ``k`` label attribute names, unescaped.
      relation: the ``@relation`` name.
      attributes: the header as ``(name, type)`` pairs, type a string such as ``"NUMERIC"`` or a
        tuple of categories; two files encode features alike iff their ``attributes`` agree.
      sparse: whether the data section used sparse ``{index value, ...}`` rows.
    """

    features: np.ndarray
    labels: np.ndarray
    feature_names: tuple[str, ...]
    label_names: tuple[str, ...]
    relation: str
    attributes: tuple[tuple[str, str | tuple[str, ...]], ...]
    sparse: bool

    @property
    def n_instances(self) -> int:
        """Number ``n`` of rows."""
        return int(self.features.shape[0])


@dataclasses.dataclass(frozen=True)
class _HeaderScan:
    names: list[str]
    n_rows: int
    sparse: bool
    row_lines: tuple[int, ...] = ()  # file line (1-based) of each data row


def read_mulan_label_names(path: PathLike) -> tuple[str, ...]:
    """Reads the label names listed in a MULAN ``<name>.xml`` file, in xml order.

    The xml order may differ from the ARFF attribute order (it does for yeast); use the
    count (``len``) to find the label attributes and take their names from the ARFF.

    Args:
      path: the xml file (``<labels xmlns="http://mulan.sourceforge.net/labels">``).

    Returns:
      The ``k`` label names.

    Example:
      Run from the data folder (skipped in the doctests, which have no data):

      >>> from fenchel.datasets.arff import read_mulan_label_names
      >>> names = read_mulan_label_names("yeast/yeast.xml")  # doctest: +SKIP
      >>> len(names)  # doctest: +SKIP
      14
    """
    try:
        root = ElementTree.parse(os.fspath(path)).getroot()
    except (ElementTree.ParseError, UnicodeDecodeError) as error:
        raise ValueError(f"{os.fspath(path)}: not a valid MULAN label xml file: {error}") from error
    # Accept files without the namespace too: match on the local tag name.
    names = [element.get("name") for element in root.iter()
             if element.tag == _MULAN_LABEL_TAG or element.tag == "label"]
    if not names or any(name is None for name in names):
        raise ValueError(f"{os.fspath(path)}: expected <label name=...> elements in a MULAN "
                         f"label xml file, found {len(names)} (some without a name)")
    return tuple(names)


def _unquote_name(token: str) -> str:
    if token[:1] in ("'", '"'):
        return _RE_ESCAPE.sub(r"\1", token[1:-1])
    return token  # bare names are literal, backslashes included (delicious: TAG_m\'usica)


def _scan_header(text: str, path: str) -> _HeaderScan:
    """Attribute names (unescaped), number of data rows and sparsity, from a quick line scan."""
    names: list[str] = []
    row_lines: list[int] = []
    sparse: bool | None = None
    in_data = False
    for line_number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("%"):
            continue
        if not in_data:
            lowered = stripped.lower()
            if lowered.startswith("@attribute"):
                match = _RE_ATTRIBUTE_NAME.match(stripped)
                if match is None:
                    raise ValueError(f"{path}, line {line_number}: cannot read the attribute "
                                     f"name in {stripped[:80]!r}")
                names.append(_unquote_name(match.group(1)))
            elif lowered.startswith("@data"):
                in_data = True
            continue
        row_sparse = stripped.startswith("{")
        if sparse is None:
            sparse = row_sparse
        elif sparse != row_sparse:
            raise ValueError(f"{path}, line {line_number}: mixes dense and sparse data rows")
        if row_sparse and not stripped.endswith("}"):
            raise ValueError(f"{path}, line {line_number}: sparse row does not end with '}}' "
                             f"(truncated file?): {stripped[-40:]!r}")
        row_lines.append(line_number)
    if not in_data:
        raise ValueError(f"{path}: no @data section (truncated or not an ARFF file)")
    return _HeaderScan(names=names, n_rows=len(row_lines), sparse=bool(sparse),
                       row_lines=tuple(row_lines))


def _column_layout(attributes, names):
    """Per feature attribute: its kind and first output column, plus the output column names."""
    kinds, starts, column_names = [], [], []
    for (_, attribute_type), name in zip(attributes, names):
        starts.append(len(column_names))
        if isinstance(attribute_type, list) and set(attribute_type) != _BINARY_CATEGORIES:
            kinds.append(_ONE_HOT)
            column_names.extend(f"{name}={category}" for category in attribute_type)
        else:
            kinds.append(_VALUE)
            column_names.append(name)
    return np.asarray(kinds, dtype=np.int8), np.asarray(starts, dtype=np.int64), column_names


def _as_float(values: np.ndarray, path: str, what: str) -> np.ndarray:
    # liac-arff reads '?' and values cut off by truncation as None, which numpy turns into NaN
    # (a literal 'nan' is left to _check_features).
    try:
        result = values.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: non-numeric {what} values ({error})") from error
    if np.isnan(result).any() and np.frompyfunc(lambda v: v is None, 1, 1)(values).any():
        raise ValueError(f"{path}: missing ('?') {what} values are not supported; the file may "
                         f"be truncated")
    return result


def _check_features(values: np.ndarray, rows: np.ndarray, attributes: np.ndarray, path: str,
                    scan: _HeaderScan) -> None:
    """Raise ``ValueError`` at the first feature value (in file order) that is not a finite
    float32 number; ``rows`` and ``attributes`` give each value's data row and attribute."""
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~np.isfinite(values.astype(np.float32))
    if not bad.any():
        return
    first = int(np.flatnonzero(bad.ravel())[0])
    row = int(np.broadcast_to(rows, values.shape).ravel()[first])
    attribute = int(np.broadcast_to(attributes, values.shape).ravel()[first])
    value = float(values.ravel()[first])
    line = f"line {scan.row_lines[row]} " if row < len(scan.row_lines) else ""
    raise ValueError(f"{path}, {line}(data row {row + 1}), column {scan.names[attribute]!r}: "
                     f"expected a finite float32 feature value (|x| <= "
                     f"{np.finfo(np.float32).max:.4g}), got {value:g}; it would make the "
                     f"standardized column NaN")


def read_arff(path: PathLike, n_labels: int) -> ArffData:
    """Reads a MULAN ARFF file (dense or sparse) whose last ``n_labels`` attributes are labels.

    Args:
      path: the ``.arff`` file (utf-8 or ascii).
      n_labels: number ``k`` of label attributes at the end of the header (for MULAN data,
        ``len(read_mulan_label_names(xml))``). Labels must be nominal ``{0,1}`` or numeric 0/1.

    Returns:
      An :class:`ArffData` with (n, d) float32 features and (n, k) int8 labels.

    Raises:
      ValueError: naming the file (and line, where known) if it is not valid ARFF, is
        truncated, has missing values, a feature value that is not a finite float32 number
        (naming also the data row and column), or its label attributes are not binary.

    Example:
      Run from the data folder (skipped in the doctests, which have no data):

      >>> from fenchel.datasets.arff import read_arff
      >>> data = read_arff("yeast/yeast-train.arff", n_labels=14)  # doctest: +SKIP
      >>> data.features.shape, data.labels.shape  # doctest: +SKIP
      ((1500, 103), (1500, 14))
    """
    path_str = os.fspath(path)
    if not isinstance(n_labels, (int, np.integer)) or isinstance(n_labels, bool) or n_labels < 1:
        raise ValueError(f"n_labels must be a positive integer, got {n_labels!r}")
    try:
        with open(path_str, encoding="utf-8") as file:
            text = file.read()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path_str}: not a text ARFF file ({error})") from error
    scan = _scan_header(text, path_str)
    try:
        parsed = liac_arff.loads(text, return_type=liac_arff.COO if scan.sparse else liac_arff.DENSE)
    except liac_arff.ArffException as error:
        raise ValueError(f"{path_str}: malformed ARFF: {error}") from error

    attributes = parsed["attributes"]
    if len(scan.names) != len(attributes):
        raise ValueError(f"{path_str}: found {len(scan.names)} @attribute lines but the ARFF "
                         f"parser read {len(attributes)} attributes")
    n_features_attributes = len(attributes) - int(n_labels)
    if n_features_attributes < 1:
        raise ValueError(f"{path_str}: n_labels={n_labels} leaves no feature attributes "
                         f"(the file has {len(attributes)} attributes)")
    for name, attribute_type in attributes:
        if not isinstance(attribute_type, list) and attribute_type.upper() not in _NUMERIC_TYPES:
            raise ValueError(f"{path_str}: attribute {name!r} has unsupported type "
                             f"{attribute_type!r} (expected numeric or nominal)")
    for name, attribute_type in attributes[n_features_attributes:]:
        if isinstance(attribute_type, list) and set(attribute_type) != _BINARY_CATEGORIES:
            raise ValueError(f"{path_str}: label attribute {name!r} must be binary {{0,1}}, got "
                             f"categories {attribute_type}; is n_labels={n_labels} right?")

    kinds, starts, feature_names = _column_layout(attributes[:n_features_attributes],
                                                  scan.names[:n_features_attributes])
    categories = [{category: index for index, category in enumerate(attribute_type)}
                  if kinds[j] == _ONE_HOT else None
                  for j, (_, attribute_type) in enumerate(attributes[:n_features_attributes])]
    n = scan.n_rows
    # Output columns for every attribute: features first, then labels (offset by d).
    d = len(feature_names)
    table = np.zeros((n, d + int(n_labels)), dtype=np.float32)

    if scan.sparse:
        values, rows, cols = parsed["data"]
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        values = np.asarray(values, dtype=object)
        if rows.size and rows.max() >= n:
            raise ValueError(f"{path_str}: sparse rows do not match the {n} data lines")
        one_hot_attributes = np.flatnonzero(kinds == _ONE_HOT)
        # Omitted nominal values are the first category.
        table[:, starts[one_hot_attributes]] = 1.0
        is_feature = cols < n_features_attributes
        is_one_hot = np.zeros(cols.shape, dtype=bool)
        is_one_hot[is_feature] = kinds[cols[is_feature]] == _ONE_HOT
        value_entries = ~is_one_hot
        out_cols = np.where(is_feature, starts[np.minimum(cols, n_features_attributes - 1)],
                            d + cols - n_features_attributes)
        entries = _as_float(values[value_entries], path_str, "feature or label")
        features = is_feature[value_entries]
        _check_features(entries[features], rows[value_entries][features],
                        cols[value_entries][features], path_str, scan)
        table[rows[value_entries], out_cols[value_entries]] = entries
        for row, col, value in zip(rows[is_one_hot], cols[is_one_hot], values[is_one_hot]):
            table[row, starts[col]] = 0.0
            table[row, starts[col] + categories[col][value]] = 1.0
    else:
        if len(parsed["data"]) != n:
            raise ValueError(f"{path_str}: the ARFF parser read {len(parsed['data'])} rows but "
                             f"the @data section has {n} lines")
        values = np.asarray(parsed["data"], dtype=object).reshape(n, len(attributes))
        value_attributes = np.flatnonzero(kinds == _VALUE)
        features = _as_float(values[:, value_attributes], path_str, "feature")
        _check_features(features, np.arange(n)[:, None], value_attributes[None, :], path_str,
                        scan)
        table[:, starts[value_attributes]] = features
        table[:, d:] = _as_float(values[:, n_features_attributes:], path_str, "label")
        for j in np.flatnonzero(kinds == _ONE_HOT):
            try:
                codes = np.fromiter((categories[j][v] for v in values[:, j]), np.int64, n)
            except KeyError as error:
                raise ValueError(f"{path_str}: missing ('?') value of nominal attribute "
                                 f"{scan.names[j]!r} is not supported") from error
            table[np.arange(n), starts[j] + codes] = 1.0

    labels = table[:, d:]
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError(f"{path_str}: label values must be 0 or 1; is n_labels={n_labels} right?")
    return ArffData(
        features=np.ascontiguousarray(table[:, :d], dtype=np.float32),
        labels=labels.astype(np.int8),
        feature_names=tuple(feature_names),
        label_names=tuple(scan.names[n_features_attributes:]),
        relation=str(parsed.get("relation", "")),
        attributes=tuple((name, tuple(t) if isinstance(t, list) else t.upper())
                         for name, (_, t) in zip(scan.names, attributes)),
        sparse=scan.sparse,
    )
