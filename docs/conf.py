"""Sphinx configuration of the fenchel documentation.

Build (from the repository root; the output folder is git-ignored)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Needs the ``[docs]`` extra (Sphinx, furo, myst-parser, sphinx-gallery, and every
application extra, since the API reference imports every module and the gallery
runs every example).
"""

from __future__ import annotations

import inspect
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)  # document the checkout, also when fenchel is not installed

import fenchel  # noqa: E402

project = "fenchel"
author = "The fenchel developers"
copyright = "The fenchel developers"  # noqa: A001 (Sphinx's name)
release = version = fenchel.__version__

extensions = [
    "sphinx.ext.autodoc",   # the API reference, from the docstrings
    "sphinx.ext.autosummary",  # a table per family, a page per object (docs/api/generated/)
    "sphinx.ext.napoleon",  # Google-style docstrings (Args:, Returns:, Example:)
    "sphinx.ext.mathjax",   # .. math:: in docstrings (MathJax loads in the browser)
    "myst_parser",          # the Markdown pages (multilabel.md, imitation.md, ...)
    "sphinx_gallery.gen_gallery",  # examples/*.py, executed, as docs/examples/ (git-ignored)
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/runs/**", "Thumbs.db", ".DS_Store"]

# Google style only; "Attributes:" as :ivar: fields, so that a NamedTuple's or a
# dataclass's attributes are not described twice (by napoleon and by autodoc).
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True

# The family pages list their objects; autosummary writes a page for each into
# docs/api/generated/ (git-ignored) from docs/_templates/autosummary/.
autosummary_generate = True
templates_path = ["_templates"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
# Document what fenchel writes: a method without a docstring does not borrow its
# base class's (gymnasium's Env.step, scikit-learn's fit...).
autodoc_inherit_docstrings = False
# The docstrings say what the types mean; the annotations are strings
# (``from __future__ import annotations``), not resolved against other projects.
nitpicky = False

# Markdown: "## Heading" anchors for [text](#heading) links, $...$ math.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

html_theme = "furo"
html_title = f"fenchel {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_copy_source = False

# Nothing networked: no intersphinx (it downloads inventories), no viewcode.

# The gallery: sphinx-gallery runs every script of examples/ in this process and
# writes a page per script (source, printed output, figures) into docs/examples/.
# FENCHEL_EXAMPLES_SMALL=1 makes the slow scripts run a smaller version of
# themselves, so that the gallery executes in about a minute on 2 cores
# (tests/test_examples.py runs them at full size). The data folder is found as
# tests/test_examples.py finds it; without the yeast files pairwise_yeast's page
# shows its source only (a script that fails would fail the -W build).
os.environ.setdefault("FENCHEL_EXAMPLES_SMALL", "1")
os.environ.setdefault("FENCHEL_DATA", os.path.join(ROOT, "..", "shared", "datasets", "multilabel"))
os.environ.setdefault("MPLBACKEND", "Agg")  # figures are drawn off-screen and scraped
_HAS_YEAST = os.path.isfile(os.path.join(os.environ["FENCHEL_DATA"], "yeast", "yeast-train.arff"))

sphinx_gallery_conf = {
    "examples_dirs": os.path.join(ROOT, "examples"),
    "gallery_dirs": "examples",  # docs/examples/: the old examples/*.html addresses stay
    # Which scripts run (all of them, not only sphinx-gallery's default plot_*.py).
    "filename_pattern": r"\.py$" if _HAS_YEAST else r"/(?!pairwise_yeast\.py$)\w+\.py$",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "show_memory": False,
    "capture_repr": (),  # print() is the output; no repr of a last expression
    "abort_on_example_error": True,  # a failing script stops the build, named
}


def _skip_member(app, what, name, obj, skip, options):
    """Document fenchel's own API: skip the "Alias for field number N" of
    NamedTuple fields (the class docstring's Attributes section documents them)
    and the methods that other libraries attach to fenchel's classes
    (scikit-learn's set_*_request)."""
    doc = getattr(obj, "__doc__", None) or ""
    if what == "class" and doc.startswith("Alias for field number"):
        return True
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and inspect.isroutine(obj) and module and not module.startswith("fenchel"):
        return True
    return None


def _drop_builtin_docstring(app, what, name, obj, options, lines):
    """A constant without a doc comment (``#:``) gets no docstring, rather than the
    one of its type (``dict()`` -> new empty dictionary...): its page shows its value."""
    if what in ("data", "attribute") and not inspect.isclass(obj) and not callable(obj):
        own = inspect.getdoc(type(obj)) or ""
        if own and "\n".join(lines).strip() == own.strip():
            lines[:] = []


# furo writes the whole site tree, every object page included, into the sidebar of
# every page, and rewrites it with BeautifulSoup: with ~450 object pages that is
# quadratic (340 of the build's 380 s on 2 cores). The sidebar is built instead with
# the current page's branch expanded only (Sphinx's ``collapse=True``): the same
# entries on the path to the page, the other families folded.
def _hide_toctree_from_furo(app, pagename, templatename, context, doctree):
    if "toctree" in context:
        context["_fenchel_toctree"] = context.pop("toctree")


def _collapsed_navigation(app, pagename, templatename, context, doctree):
    toctree = context.pop("_fenchel_toctree", None)
    if toctree is None:
        return
    from furo.navigation import get_navigation_tree
    context["toctree"] = toctree
    context["furo_navigation_tree"] = get_navigation_tree(
        toctree(collapse=True, titles_only=True, maxdepth=-1, includehidden=True))


def setup(app):
    app.connect("autodoc-process-docstring", _drop_builtin_docstring)
    app.connect("html-page-context", _hide_toctree_from_furo, priority=400)  # before furo's (500)
    app.connect("html-page-context", _collapsed_navigation, priority=600)
    app.connect("autodoc-skip-member", _skip_member)
