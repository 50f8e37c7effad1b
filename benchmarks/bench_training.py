"""Training throughput (examples per second) on yeast.

Same as ``fenchel bench --cases training``; extra arguments (``--quick``,
``--json OUT``, ``--reps N``) are passed on.
"""

import sys

from fenchel.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--cases", "training", *sys.argv[1:]]))
