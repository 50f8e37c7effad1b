"""The docstring examples of the core modules run and print what they show."""

from __future__ import annotations

import doctest
import importlib.util

import jax
import jax.numpy as jnp
import pytest

import fenchel
from fenchel import energies, losses, maximizers, regularizers

# Examples that need an optional extra run only where it is installed.
_NEEDS = {"fenchel.energies.nnx_energy": "flax"}


@pytest.mark.parametrize("module", [fenchel, regularizers, energies, maximizers, losses],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    globs = {"jnp": jnp, "jax": jax, "fenchel": fenchel}
    attempted = 0
    for test in finder.find(module, globs=dict(vars(module), **globs)):
        needed = _NEEDS.get(test.name)
        if needed and importlib.util.find_spec(needed) is None:
            continue
        result = runner.run(test)
        attempted += result.attempted
        assert result.failed == 0, test.name
    assert attempted > 0
