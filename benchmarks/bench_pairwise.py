"""Loss + gradient of the pairwise energy: GFY vs unrolled vs implicit vs bare maximization.

Same as ``fenchel bench --cases pairwise``; extra arguments (``--quick``,
``--json OUT``, ``--reps N``) are passed on.
"""

import sys

from fenchel.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--cases", "pairwise", *sys.argv[1:]]))
