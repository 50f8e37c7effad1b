"""The documentation site builds with Sphinx, warnings as errors.

The build (``python -m sphinx -W --keep-going -b html docs docs/_build/html``)
needs the ``[docs]`` extra: Sphinx, furo, myst-parser, and every application
extra, since the API reference imports every module. Where one is missing (the
core-only CI step) the build test is skipped, saying which.
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import inspect
import os
import pathlib
import re
import subprocess
import sys
import types

import numpy as np
import pytest

import fenchel

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Import name -> what installs it.
_NEEDED = {
    "sphinx": "sphinx ([docs] extra)",
    "furo": "furo ([docs] extra)",
    "myst_parser": "myst-parser ([docs] extra)",
    "sphinx_gallery": "sphinx-gallery ([docs] extra)",
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


def _skip_without_extras(what: str) -> None:
    missing = _missing()
    if missing:
        pytest.skip(f"{what} needs " + ", ".join(missing) + ': pip install -e ".[docs]"')


def _public_modules() -> set[str]:
    package = pathlib.Path(fenchel.__file__).parent  # from the files: no extra needed
    modules = {".".join(("fenchel",) + path.relative_to(package).with_suffix("").parts)
               .removesuffix(".__init__") for path in package.rglob("*.py")}
    return {name for name in modules if not any(part.startswith("_") for part in name.split("."))}


def _public_objects(module) -> dict[str, object]:
    """A module's public names: its ``__all__``, else the functions and classes it
    defines; submodules are left out (each has its own section)."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, obj in vars(module).items() if not name.startswith("_")
                 and (inspect.isclass(obj) or inspect.isfunction(obj))
                 and obj.__module__ == module.__name__]
    return {name: getattr(module, name) for name in names
            if not isinstance(getattr(module, name), types.ModuleType)}


def _autosummary_entries() -> set[tuple[str, str]]:
    """``(module, name)`` of every entry of an ``autosummary`` table in docs/api/
    (under the last ``.. currentmodule::``, or written in full)."""
    entries = set()
    for page in sorted((DOCS / "api").glob("*.rst")):
        module, in_table = None, False
        for line in page.read_text().splitlines():
            if line.startswith(".. currentmodule:: "):
                module = line.split("::", 1)[1].strip()
            elif line.startswith(".. autosummary::"):
                in_table = True
            elif in_table and line and not line.startswith(" "):
                in_table = False
            elif in_table and line.strip() and not line.strip().startswith(":"):
                entry = line.strip().lstrip("~")
                full = entry if entry.startswith("fenchel.") else f"{module}.{entry}"
                entries.add(tuple(full.rsplit(".", 1)))
    return entries


def test_every_public_module_has_an_api_section():
    documented = set()
    for page in (DOCS / "api").glob("*.rst"):
        documented |= set(re.findall(r"^\.\. automodule:: (\S+)", page.read_text(), re.M))
    public = _public_modules()
    expected = {name for name in public
                if name.rsplit(".", 1)[-1] != "cli" and name not in _NOT_ON_THEIR_OWN}
    assert expected - documented == set(), "add these modules to a page of docs/api/"
    assert documented - public == set(), "docs/api/ names modules that do not exist"


def test_every_public_object_is_in_a_family_table():
    """Each public object of each documented module is an entry of an autosummary
    table (so it has a page), under its own module or under one that re-exports it."""
    _skip_without_extras("importing every module")
    entries = _autosummary_entries()
    documented = set()
    for module_name, name in entries:
        module = importlib.import_module(module_name)
        assert hasattr(module, name), f"docs/api/ lists {module_name}.{name}, which does not exist"
        documented.add((name, id(getattr(module, name))))
    missing = []
    for module_name in sorted(_public_modules()):
        if module_name.rsplit(".", 1)[-1] == "cli" or module_name in _NOT_ON_THEIR_OWN:
            continue
        for name, obj in _public_objects(importlib.import_module(module_name)).items():
            if (name, id(obj)) not in documented:
                missing.append(f"{module_name}.{name}")
    assert missing == [], "add these to an autosummary table of docs/api/"


def test_the_landing_page_code_runs():
    """The "ten lines" of docs/index.rst run and do what their comment says."""
    text = (DOCS / "index.rst").read_text()
    lines = text.split(".. code-block:: python\n\n", 1)[1].splitlines()
    end = next(i for i, line in enumerate(lines) if line and not line.startswith("   "))
    code = "\n".join(line[3:] for line in lines[:end])
    assert "fy.gfy_loss" in code
    namespace: dict = {}
    exec(compile(code, "docs/index.rst", "exec"), namespace)
    y_hat, grads, y = namespace["y_hat"], namespace["grads"], namespace["y"]
    assert np.allclose(grads[0], y_hat - y, atol=1e-5)


# A reST role that reached the HTML unrendered (a docstring napoleon or docutils
# could not parse shows its :class:`...` as text).
_RAW_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|doc|ref|math|term|"
                       r"const|any|numref|envvar|option|kbd|file|samp|abbr):`")


# A line each example prints, whatever its size (docs/conf.py sets FENCHEL_EXAMPLES_SMALL).
_PRINTS = {
    "classic_fy_losses": "all match optax",
    "pairwise_yeast": "test Hamming accuracy:",
    "nnx_energy": "held-out mean |y_hat - y|:",
    "inner_solvers": "restarts found the grid's maximum",
    "custom_regularizer": "gradient == y_hat - y: True",
    "imitation_particle": "gfy policy success rate:",
}


def _check_gallery_output(out: pathlib.Path) -> None:
    """Each gallery page shows what its script printed and, for a script that
    plots, its figure; pairwise_yeast runs only where the yeast files are (as in
    docs/conf.py), else its page shows the source alone."""
    scripts = {path.stem: path.read_text() for path in (ROOT / "examples").glob("*.py")}
    assert set(scripts) == set(_PRINTS), "say in _PRINTS what the new example prints"
    data = pathlib.Path(os.environ.get("FENCHEL_DATA")
                        or ROOT.parent / "shared" / "datasets" / "multilabel")
    for name, source in scripts.items():
        page = (out / "examples" / f"{name}.html").read_text(encoding="utf-8")
        blocks = re.findall(r'class="sphx-glr-script-out.*?<pre>(.*?)</pre>', page, re.S)
        printed = html.unescape(re.sub(r"<[^>]+>", "", "".join(blocks)))
        if name == "pairwise_yeast" and not (data / "yeast" / "yeast-train.arff").is_file():
            assert printed == "", "pairwise_yeast ran without its data"
            continue
        assert _PRINTS[name] in printed, f"examples/{name}.html lacks its output:\n{printed}"
        if "matplotlib" in source:
            images = re.findall(rf'<img src="../(_images/sphx_glr_{name}_\d+\.png)"', page)
            assert images and all((out / image).is_file() for image in images), name


@pytest.mark.slow
def test_site_builds_without_warnings(tmp_path):
    _skip_without_extras("the documentation build")
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
    _check_gallery_output(out)
    # The guides, and the API by family: a page per object, from the tables.
    for page in ["concepts", "choosing_a_solver", "faq", "extending", "results/index",
                 "api/generated/fenchel.losses.gfy_loss",
                 "api/generated/fenchel.maximizers.ProjectedGradient",
                 "api/generated/fenchel.domains.Box"]:
        assert (out / f"{page}.html").is_file(), page
    families = [path.stem for path in (DOCS / "api").glob("*.rst") if path.stem != "index"]
    assert len(families) >= 12, families
    # Outside code blocks: the examples' pages show their scripts, roles and all.
    raw = {str(path.relative_to(out)): _RAW_ROLE.findall(
               re.sub(r"<pre.*?</pre>", "", path.read_text(encoding="utf-8"), flags=re.S))
           for path in out.rglob("*.html")}
    assert {page: roles for page, roles in raw.items() if roles} == {}
