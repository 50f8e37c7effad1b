"""Maximizer throughput and accuracy vs scipy L-BFGS-B (pairwise and neural energies).

Same as ``fenchel bench --cases solvers``; extra arguments (``--quick``,
``--json OUT``, ``--reps N``) are passed on.
"""

import sys

from fenchel.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--cases", "solvers", *sys.argv[1:]]))
