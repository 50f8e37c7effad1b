"""The documentation site builds with Sphinx, warnings as errors.

The build (``python -m sphinx -W --keep-going -b html docs docs/_build/html``)
needs the ``[docs]`` extra: Sphinx, furo, myst-parser, and every application
extra, since the API reference imports every module. Where one is missing (the
core-only CI step) the build test is skipped, saying which.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

import fenchel

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Import name -> what installs it.
_NEEDED = {
    "sphinx": "sphinx ([docs] extra)",
    "furo": "furo ([docs] extra)",
    "myst_parser": "myst-parser ([docs] extra)",
    "flax": "flax ([nnx], [multilabel] or [imitation] extra)",
    "orbax": "orbax-checkpoint ([multilabel] or [imitation] extra)",
    "sklearn": "scikit-learn ([multilabel] extra)",
    "arff": "liac-arff ([multilabel] extra)",
    "gymnasium": "gymnasium ([imitation] extra)",
    "mujoco": "mujoco ([imitation] extra)",
    "matplotlib": "matplotlib ([multilabel] or [imitation] extra)",
}

# Public modules without a section of their own: the command lines (documented by
# their --help) and the two modules whose whole API fenchel.datasets re-exports.
_NOT_ON_THEIR_OWN = {"fenchel.datasets.arff", "fenchel.datasets.mulan"}


def _missing() -> list[str]:
    return [what for name, what in _NEEDED.items() if importlib.util.find_spec(name) is None]


def test_every_public_module_has_an_api_section():
    documented = set()
    for page in (DOCS / "api").glob("*.rst"):
        documented |= set(re.findall(r"^\.\. automodule:: (\S+)", page.read_text(), re.M))
    package = pathlib.Path(fenchel.__file__).parent  # from the files: no extra needed
    modules = {".".join(("fenchel",) + path.relative_to(package).with_suffix("").parts)
               .removesuffix(".__init__") for path in package.rglob("*.py")}
    public = {name for name in modules
              if not any(part.startswith("_") for part in name.split("."))}
    expected = {name for name in public
                if name.rsplit(".", 1)[-1] != "cli" and name not in _NOT_ON_THEIR_OWN}
    assert expected - documented == set(), "add these modules to a page of docs/api/"
    assert documented - public == set(), "docs/api/ names modules that do not exist"


@pytest.mark.slow
def test_site_builds_without_warnings(tmp_path):
    missing = _missing()
    if missing:
        pytest.skip("the documentation build needs " + ", ".join(missing)
                    + ': pip install -e ".[docs]"')
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"sphinx failed:\n{proc.stderr[-6000:]}"
    assert "WARNING" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr[-6000:]
    # The reference, the gallery and the Markdown guides are all there.
    losses = (out / "api" / "losses.html").read_text(encoding="utf-8")
    assert "fenchel.losses.gfy_loss" in losses
    for page in ["index", "multilabel", "imitation", "benchmarks", "scaling", "reliability",
                 "examples/index", "examples/classic_fy_losses", "api/imitation"]:
        assert (out / f"{page}.html").is_file(), page
    gallery = (out / "examples" / "classic_fy_losses.html").read_text(encoding="utf-8")
    assert "make_gfy_loss" in gallery  # the script's source is on its page
