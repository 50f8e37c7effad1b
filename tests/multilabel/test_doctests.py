"""The docstring examples of fenchel.multilabel run and print what they show."""

from __future__ import annotations

import doctest

import pytest

from fenchel.multilabel import cli, estimator, losses, metrics, models, reproduce, train


@pytest.mark.parametrize("module", [metrics, models, losses, train, estimator, reproduce, cli],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    assert result.failed == 0
