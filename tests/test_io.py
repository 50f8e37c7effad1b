"""Atomic writes: success replaces the file, failure leaves the old one and no debris."""

from __future__ import annotations

import os
import stat

import pytest

from fenchel._io import atomic_file, atomic_path, write_json_atomic


def test_success_replaces_the_file_readable_by_all(tmp_path):
    target = tmp_path / "new" / "result.bin"
    with atomic_file(target, "wb") as file:
        file.write(b"payload")
    assert target.read_bytes() == b"payload"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert os.listdir(target.parent) == ["result.bin"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "plot.png"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="writer died"):
        with atomic_path(target) as tmp:
            assert tmp.endswith(".png")  # writers that pick the format from the suffix
            with open(tmp, "w") as file:
                file.write("half")
            raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["plot.png"]


def test_json_round_trip_with_non_finite_values(tmp_path):
    target = tmp_path / "r.json"
    write_json_atomic(target, {"b": float("nan"), "a": 1})
    assert target.read_text() == '{\n "a": 1,\n "b": NaN\n}\n'
