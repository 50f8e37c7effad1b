"""Every docstring example of fenchel runs and prints what it shows, self-contained.

Each example gets empty globals: it must import what it uses, so a reader can
paste it into a shell. The same examples run with
``pytest --doctest-modules fenchel`` (which gives them the module's globals).
"""

from __future__ import annotations

import doctest
import importlib
import pathlib

import pytest

import fenchel

_PACKAGE = pathlib.Path(fenchel.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = ("fenchel",) + path.relative_to(_PACKAGE).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


# Every module of the package, from its files (importing a package to list its
# modules would fail without its extra); __main__ would run the command line.
MODULES = sorted(_module_name(path) for path in _PACKAGE.rglob("*.py")
                 if path.name != "__main__.py")

# Top-level imports of the optional extras: a module that fails on one of these is skipped.
_OPTIONAL = {"flax", "orbax", "sklearn", "scipy", "arff", "tqdm", "matplotlib", "gymnasium",
             "gymnasium_robotics", "mujoco", "PIL", "sbx", "stable_baselines3", "torch"}


class _Runner(doctest.DocTestRunner):
    """Notes an example that failed because an optional extra is not installed."""

    missing: str | None = None

    def report_unexpected_exception(self, out, test, example, exc_info):
        error = exc_info[1]
        if isinstance(error, ImportError) and (error.name or "").split(".")[0] in _OPTIONAL:
            self.missing = error.name
        super().report_unexpected_exception(out, test, example, exc_info)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        if (error.name or "").split(".")[0] not in _OPTIONAL:
            raise
        pytest.skip(f"{name} needs {error.name} (an optional extra)")
    runner, skipped = _Runner(optionflags=doctest.ELLIPSIS), []
    for test in doctest.DocTestFinder().find(module, name, globs={}):
        runner.missing = None
        result = runner.run(test)
        if runner.missing:  # e.g. nnx_energy's example (flax) in a core-only install
            skipped.append(f"{test.name} needs {runner.missing}")
            continue
        assert result.failed == 0, test.name
    if skipped:
        pytest.skip("; ".join(skipped) + " (optional extras); the other examples passed")


_DOCS = _PACKAGE.parent / "docs"
GUIDES = sorted(path.name for path in _DOCS.glob("*.md") if ">>>" in path.read_text())


def test_the_guides_with_examples_are_found():
    assert {"extending.md", "concepts.md", "choosing_a_solver.md"} <= set(GUIDES)


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_examples(guide):
    """The ``>>>`` snippets of docs/*.md (e.g. docs/extending.md) run as doctests, each
    code block of a page sharing that page's globals, starting empty."""
    path = _DOCS / guide
    test = doctest.DocTestParser().get_doctest(path.read_text(), {}, guide, str(path), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test)
    assert result.failed == 0, f"{guide}: {result.failed} of {result.attempted} examples failed"
