import sys

from fenchel.cli import main

sys.exit(main())
