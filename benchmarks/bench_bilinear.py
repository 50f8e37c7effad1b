"""Bilinear GFY losses vs optax (sigmoid BCE, sparsemax, softmax cross-entropy).

Same as ``fenchel bench --cases bilinear``; extra arguments (``--quick``,
``--json OUT``, ``--reps N``) are passed on.
"""

import sys

from fenchel.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--cases", "bilinear", *sys.argv[1:]]))
