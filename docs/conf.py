"""Sphinx configuration of the fenchel documentation.

Build (from the repository root; the output folder is git-ignored)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Needs the ``[docs]`` extra (Sphinx, furo, myst-parser, and every application
extra, since the API reference imports every module).
"""

from __future__ import annotations

import inspect
import os
import re
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
    "sphinx.ext.napoleon",  # Google-style docstrings (Args:, Returns:, Example:)
    "sphinx.ext.mathjax",   # .. math:: in docstrings (MathJax loads in the browser)
    "myst_parser",          # the Markdown pages (multilabel.md, imitation.md, ...)
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/runs/**", "Thumbs.db", ".DS_Store"]

# Google style only; "Attributes:" as :ivar: fields, so that a NamedTuple's or a
# dataclass's attributes are not described twice (by napoleon and by autodoc).
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True

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

# Nothing slow or networked: no intersphinx (it downloads inventories), no
# viewcode, no notebook execution. The examples are shown, not run, by the
# build; tests/test_examples.py runs them.


# --------------------------------------------------------------------------
# Docstrings -> reStructuredText. fenchel's docstrings are written to read well
# as plain text (help(), an editor); a few habits of that style are not valid
# reStructuredText (or napoleon misreads them), and these hooks adapt them when
# the site is built, without touching the source:
#
# * absolute values |θ| (RST reads |...| as a substitution): the bars are escaped;
# * scikit-learn's fitted attributes classes_, model_ (RST reads name_ as a
#   hyperlink reference): the underscore is escaped;
# * a simple table whose text runs past a column's border (the table is
#   malformed for docutils): it is shown as preformatted text, as in the source;
# * a Google section header with a qualifier, "Attributes (after ``fit``):",
#   which napoleon does not recognise: it is read as "Attributes:";
# * an inline literal running over two lines at the start of a Returns section,
#   or a property's first sentence containing a colon, which napoleon would
#   split as "type: description": the lines are joined, the sentence restored.
#
# Spans in ``literals``, :roles:`...`, directives (.. math::), literal blocks and
# doctests are left alone.

_SPAN = re.compile(r"(``.+?``|:[\w:.+-]+:`[^`]+`|`[^`]+`_{0,2})")
_BARS = re.compile(r"(?<![\\|])\|(?=\S)([^|]*?\S)\|(?!\|)")
_TRAILING_UNDERSCORE = re.compile(r"(?<=[A-Za-z0-9])_(?=[\s.,;:)\]]|$)")
_TABLE_BORDER = re.compile(r"^(\s*)=+( +=+)+\s*$")
_ROLE = re.compile(r":[\w:.+-]+:(?=`)")
_SECTIONS = ("Args", "Arguments", "Attributes", "Example", "Examples", "Keyword Args",
             "Note", "Notes", "Raises", "References", "Returns", "Warning", "Yields")
_QUALIFIED_SECTION = re.compile(r"^(\s*)(%s) \(.*\):\s*$" % "|".join(_SECTIONS))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _escape_prose(line: str) -> str:
    parts = _SPAN.split(line)
    for i in range(0, len(parts), 2):  # even parts are outside the spans
        parts[i] = _TRAILING_UNDERSCORE.sub(r"\\_", _BARS.sub(r"\\|\1\\|", parts[i]))
    return "".join(parts)


def _valid_table(block: list[str]) -> bool:
    """Whether docutils parses this simple table without an error (roles blanked
    out, keeping the widths, since plain docutils does not know Sphinx's)."""
    from docutils import nodes
    from docutils.core import publish_doctree

    text = "\n".join(_ROLE.sub(lambda m: " " * len(m.group(0)), line) for line in block)
    doctree = publish_doctree(text, settings_overrides={
        "report_level": 5, "halt_level": 5, "warning_stream": False})
    return not any(m["level"] >= 2 for m in doctree.findall(nodes.system_message))


def _adapt_docstring(app, what, name, obj, options, lines):
    out: list[str] = []
    mode, base = None, 0  # None (prose), "doctest" (to a blank line), "indented" (below base)
    i = 0
    while i < len(lines):
        line, stripped = lines[i], lines[i].strip()
        if (mode == "doctest" and not stripped) or (
                mode == "indented" and stripped and _indent(line) <= base):
            mode = None
        if mode is not None:
            out.append(line)
        elif _TABLE_BORDER.match(line):
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
            block, pad = lines[i:end], " " * _indent(line)
            if _valid_table([b[len(pad):] for b in block]):
                out.extend(block)
            else:
                out.extend([pad + "::", ""] + [pad + "   " + b[len(pad):] for b in block])
            i = end
            continue
        elif _QUALIFIED_SECTION.match(line):
            match = _QUALIFIED_SECTION.match(line)
            out.append(f"{match.group(1)}{match.group(2)}:")
        elif stripped in ("Returns:", "Yields:") and i + 1 < len(lines):
            out.append(line)
            # ``a literal: spanning\n two lines``: napoleon would split it at its colon.
            first, i = lines[i + 1], i + 2
            while first.count("``") % 2 and i < len(lines) and lines[i].strip():
                first, i = f"{first} {lines[i].strip()}", i + 1
            out.append(_escape_prose(first))
            continue
        elif stripped.startswith(">>>"):
            mode = "doctest"
            out.append(line)
        elif stripped.startswith(".. "):
            mode, base = "indented", _indent(line)
            out.append(line)
        else:
            out.append(_escape_prose(line))
            if stripped.endswith("::"):
                mode, base = "indented", _indent(line)
        i += 1
    lines[:] = out


def _restore_property_sentence(app, what, name, obj, options, lines):
    """Napoleon reads a property's first line as ``type: description``; fenchel
    annotates its properties instead, so such a "type" is the docstring's first
    words: put them back in front."""
    if what not in ("property", "attribute"):
        return
    for j, line in enumerate(lines):
        if line.startswith(":type: "):
            sentence = line[len(":type: "):]
            del lines[j]
            first = next((k for k, text in enumerate(lines) if text.strip()), None)
            if first is not None:
                lines[first] = f"{sentence}: {lines[first]}"
            while lines and not lines[-1].strip():
                lines.pop()
            return


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


def setup(app):
    # Before napoleon (priority 500), on the docstrings as written.
    app.connect("autodoc-process-docstring", _adapt_docstring, priority=400)
    app.connect("autodoc-process-docstring", _restore_property_sentence, priority=600)
    app.connect("autodoc-skip-member", _skip_member)
