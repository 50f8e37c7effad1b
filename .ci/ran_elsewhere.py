"""pytest plugin of .ci/run (not a test module): run each test once across CI's two venvs.

In the core-only venv, ``FENCHEL_CI_RECORD=FILE`` writes the node ids of the tests that
ran there (those skipped for lack of an extra are left out). In the full venv,
``FENCHEL_CI_DESELECT=FILE`` deselects those ids, so the README's command runs every
other test: the skipped ones included. Loaded with ``-p ran_elsewhere`` and .ci/ on
PYTHONPATH; it does nothing without the variables.
"""

from __future__ import annotations

import os

_ran: set[str] = set()


def pytest_runtest_logreport(report):
    # Under pytest-xdist the controller receives every worker's reports.
    if report.when == "call" and (not report.skipped or hasattr(report, "wasxfail")):
        _ran.add(report.nodeid)


def pytest_sessionfinish(session):
    path = os.environ.get("FENCHEL_CI_RECORD")
    if path and not hasattr(session.config, "workerinput"):  # the controller only
        with open(path, "w") as file:
            file.writelines(f"{nodeid}\n" for nodeid in sorted(_ran))


def pytest_collection_modifyitems(config, items):
    path = os.environ.get("FENCHEL_CI_DESELECT")
    if not path:
        return
    with open(path) as file:
        done = {line.rstrip("\n") for line in file if line.strip()}
    keep = [item for item in items if item.nodeid not in done]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid in done])
        items[:] = keep
