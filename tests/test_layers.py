"""Imports point downward only: core <- infra <- experiments <- applications.

Read from the source files (no import, so no extra is needed): every ``import fenchel...``
and ``from fenchel... import`` of a module, at any depth (lazy imports count too).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import fenchel

PACKAGE = pathlib.Path(fenchel.__file__).parent

# Each layer may import its own modules and those of the layers before it.
APPLICATIONS = ("multilabel", "imitation", "label_ranking", "bench", "training", "datasets")
LAYERS = {"infra": ("infra",), "experiments": ("infra", "experiments"),
          **{app: ("infra", "experiments", *APPLICATIONS) for app in APPLICATIONS}}
NOT_CORE = set(LAYERS) | {"cli", "__main__"}


def _layer(path: pathlib.Path) -> str:
    top = path.relative_to(PACKAGE).parts[0]
    top = top.removesuffix(".py")
    return top if top in NOT_CORE else "core"


def _imported(path: pathlib.Path) -> set[str]:
    """The fenchel subpackages or modules (first part after ``fenchel.``) ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "fenchel" else \
                [f"fenchel.{alias.name}" for alias in node.names]
        found |= {name.split(".")[1] for name in names
                  if name.startswith("fenchel.")}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_downward(path):
    layer = _layer(path)
    if layer in ("cli", "__main__"):  # the dispatcher registers every application
        return
    allowed = LAYERS.get(layer, ())
    upward = {name for name in _imported(path)
              if name in NOT_CORE and name not in allowed}
    assert not upward, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(upward)}"


def test_the_layers_are_found():
    layers = {_layer(path) for path in MODULES}
    assert {"core", "infra", "experiments", "multilabel", "imitation", "label_ranking"} <= layers
    assert "infra" in _imported(PACKAGE / "experiments" / "_grid.py")


def test_importing_fenchel_leaves_the_xla_backend_unstarted():
    """A program must be able to call ``jax.distributed.initialize`` after importing
    fenchel and its applications: no array may be made at import time."""
    import subprocess
    import sys

    code = ("import fenchel, fenchel.training, fenchel.experiments\n"
            "import importlib.util\n"
            "for name in ('fenchel.multilabel', 'fenchel.label_ranking', 'fenchel.imitation'):\n"
            "    try:\n"
            "        __import__(name)\n"
            "    except ImportError:\n"
            "        pass  # an application whose extra is not installed\n"
            "from jax._src import xla_bridge\n"
            "print(xla_bridge.backends_are_initialized())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300).stdout
    assert out.strip() == "False"
