"""Hypothesis budgets: ``from fenchel_test_budget import examples`` (registered by
tests/conftest.py, which also registers and loads the profiles).

A test that needs its own number of examples writes ``settings(max_examples=examples(n))``
instead of ``max_examples=n``: an explicit ``max_examples`` overrides any profile, while
``examples(n)`` scales with the loaded one. It returns ``n`` under the ``ci`` profile
(``max_examples = 100``, the default) and ``10 n`` under ``nightly`` (1000), so that
``HYPOTHESIS_PROFILE=nightly`` deepens every test, those with their own budget included.
"""

from __future__ import annotations

from hypothesis import settings

#: The ``max_examples`` of the ``ci`` profile, the reference of every ``examples(n)``.
CI_MAX_EXAMPLES = 100


def examples(n: int) -> int:
    """``n`` examples under the ``ci`` profile, scaled by the loaded profile's
    ``max_examples`` (``nightly``: 10 n); never fewer than one."""
    return max(1, round(n * settings.default.max_examples / CI_MAX_EXAMPLES))
