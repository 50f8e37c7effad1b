"""The ``fenchel`` dispatcher: its version, and the message of a sub-command whose extra
is not installed (simulated by hiding the dependency from the import system)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import fenchel
from fenchel import cli


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fenchel {fenchel.__version__}"


@pytest.mark.parametrize("hidden, argv, extra", [
    ("gymnasium", ["imitation", "train", "--env", "particle-2d"], "imitation"),
    ("gymnasium", ["reproduce", "imitation", "--help"], "imitation"),
    ("arff", ["multilabel", "--dataset", "yeast"], "multilabel"),
    ("flax", ["bench", "--quick"], "bench"),
])
def test_a_missing_extra_names_the_install_command(hidden, argv, extra, subprocess_env):
    code = (f"import sys; sys.modules[{hidden!r}] = None\n"
            "from fenchel.cli import main\n"
            f"sys.exit(main({argv!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=subprocess_env(), timeout=120)
    assert result.returncode == 2, result.stderr
    assert f'pip install "fenchel[{extra}]"' in result.stderr
    assert "Traceback" not in result.stderr
