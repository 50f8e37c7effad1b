"""The docstring examples of the core modules run and print what they show."""

from __future__ import annotations

import doctest

import jax
import jax.numpy as jnp
import pytest

import fenchel
from fenchel import energies, losses, maximizers, regularizers


@pytest.mark.parametrize("module", [fenchel, regularizers, energies, maximizers, losses],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, extraglobs={"jnp": jnp, "jax": jax, "fenchel": fenchel},
                             optionflags=doctest.ELLIPSIS, report=True)
    assert result.attempted > 0
    assert result.failed == 0
