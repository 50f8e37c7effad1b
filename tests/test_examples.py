"""The scripts of examples/ run and print what their docstrings promise.

Each runs in a fresh interpreter (as a reader would run it) with ``FENCHEL_DATA``
set; a script whose extra is not installed, or whose data is missing, is skipped.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _data_dir() -> pathlib.Path:
    """``$FENCHEL_DATA``, else the shared copy beside the repository."""
    return pathlib.Path(os.environ.get("FENCHEL_DATA")
                        or ROOT.parent / "shared" / "datasets" / "multilabel")


def _check_accuracy(out: str) -> None:
    accuracy = float(re.search(r"test Hamming accuracy: ([0-9.]+)", out).group(1))
    assert accuracy > 0.75, accuracy  # predicting no label scores about 0.70 on yeast


def _check_nnx(out: str) -> None:
    error, baseline = map(float, re.search(
        r"held-out mean \|y_hat - y\|: ([0-9.]+) \(predicting the mean: ([0-9.]+)\)", out).groups())
    assert error < 0.5 * baseline, (error, baseline)


def _check_policy(out: str) -> None:
    rate = float(re.search(r"gfy policy success rate: ([0-9.]+)", out).group(1))
    assert 0.2 <= rate <= 1.0, rate


# script -> (modules it needs, whether it reads yeast, lines it must print, extra check)
CASES = {
    "classic_fy_losses": ((), False, ["BinaryEntropy", "ShannonSimplex", "SquaredSimplex",
                                      "Squared ", "all match optax"], None),
    "pairwise_yeast": (("arff",), True, ["epoch 4: mean GFY loss", "test Hamming accuracy:"],
                       _check_accuracy),
    "nnx_energy": (("flax",), False, ["step 300: GFY loss", "held-out mean |y_hat - y|"],
                   _check_nnx),
    "inner_solvers": ((), False, ["ClosedForm()", "converged True", "NotConvergedError:",
                                  "NonConcaveWarning", "restarts found the grid's maximum"], None),
    "custom_regularizer": ((), False, ["closed form clip(theta / w, 0, 1)",
                                       "gradient == y_hat - y: True",
                                       "check_regularizer: passed",
                                       "own solver agrees with the default: True",
                                       "check_maximizer: passed"], None),
    "imitation_particle": (("flax", "gymnasium"), False,
                           ["oracle success rate 1.00", "mse policy success rate:",
                            "gfy policy success rate:"], _check_policy),
}


def test_every_example_is_tested_documented_and_explained():
    """Each script is in CASES and has the docstring sphinx-gallery makes its page
    from (docs/conf.py): an reST title, then text saying how to run it."""
    scripts = {path.stem for path in EXAMPLES.glob("*.py")}
    assert scripts == set(CASES)
    assert (EXAMPLES / "GALLERY_HEADER.rst").is_file(), "the gallery's index page"
    for name in scripts:
        docstring = ast.get_docstring(ast.parse((EXAMPLES / f"{name}.py").read_text()))
        assert docstring and "Run:" in docstring, f"{name}.py: a docstring saying how to run it"
        title, underline = docstring.splitlines()[:2]
        assert underline == "=" * len(title), f"{name}.py: the docstring starts with an reST title"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs(name):
    needs, reads_yeast, expected, check = CASES[name]
    missing = [module for module in needs if importlib.util.find_spec(module) is None]
    if missing:
        pytest.skip(f"{name}.py needs {', '.join(missing)} (its extra is not installed)")
    data = _data_dir()
    if reads_yeast and not (data / "yeast" / "yeast-train.arff").is_file():
        pytest.skip(f"{name}.py reads the MULAN yeast files, not found in {data} "
                    "(set FENCHEL_DATA)")
    env = dict(os.environ, FENCHEL_DATA=str(data))
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{name}.py failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    for line in expected:
        assert line in proc.stdout, f"{name}.py did not print {line!r}:\n{proc.stdout}"
    if check is not None:
        check(proc.stdout)
