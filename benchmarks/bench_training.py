"""Throughput (examples per second) of the multi-label trainer (fenchel.multilabel.train.fit) on yeast.

Same as ``fenchel bench --cases training``; extra arguments (``--quick``,
``--json OUT``, ``--reps N``) are passed on.
"""

import sys

from fenchel.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--cases", "training", *sys.argv[1:]]))
