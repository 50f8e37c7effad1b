"""The distribution: the wheel holds what a user needs (typing marker, licence, expert
weights), one version everywhere, and a core that asks only for jax, optax and numpy."""

from __future__ import annotations

import email
import os
import subprocess
import sys
import zipfile

import pytest

import fenchel

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), _REPO],
                   check=True, capture_output=True, text=True, timeout=600)
    (path,) = out.glob("fenchel-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_holds_the_typing_marker_licence_and_expert_weights(wheel):
    names = wheel.namelist()
    assert "fenchel/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    for env in ("hopper-v5", "halfcheetah-v5", "walker2d-v5"):
        assert f"fenchel/imitation/expert_weights/{env}.npz" in names
    licence = next(n for n in names if n.endswith("licenses/LICENSE"))
    assert b"Apache License" in wheel.read(licence)


def test_metadata_has_one_version_an_spdx_licence_and_a_small_core(wheel):
    meta_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    meta = email.message_from_bytes(wheel.read(meta_name))
    assert meta["Version"] == fenchel.__version__
    assert meta["License-Expression"] == "Apache-2.0"
    assert any(c.startswith("Typing :: Typed") for c in meta.get_all("Classifier"))
    core = sorted(r.split(">")[0].split("=")[0].split("<")[0].strip()
                  for r in meta.get_all("Requires-Dist") if "extra ==" not in r)
    assert core == ["jax", "numpy", "optax"]
    for requirement in meta.get_all("Requires-Dist"):
        spec = requirement.split(";")[0]
        assert "==" not in spec and ">=" in spec or spec.startswith("fenchel["), requirement
