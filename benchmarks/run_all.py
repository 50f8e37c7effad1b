"""All benchmark cases, as in docs/benchmarks.md: ``fenchel bench --json OUT``.

Usage: ``python benchmarks/run_all.py [--quick | --preset device] [--json OUT] [--cases a,b]``
(on a GPU, ``benchmarks/device_check.sh OUTDIR`` runs ``--preset device`` with checks
and a timeout).
"""

import sys

from fenchel.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
