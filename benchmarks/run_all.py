"""All benchmark cases, as in docs/benchmarks.md: ``fenchel bench --json OUT``.

Usage: ``python benchmarks/run_all.py [--quick] [--json OUT] [--cases a,b]``.
"""

import sys

from fenchel.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
