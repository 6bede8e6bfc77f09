"""`python -m fuserank.evaluate`: the CLI (`cli.py`)."""

import sys

from .cli import main

sys.exit(main())
