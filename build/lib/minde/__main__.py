"""``python -m minde``: the command line of ``minde.cli``."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
