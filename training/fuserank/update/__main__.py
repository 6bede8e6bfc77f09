"""`python -m fuserank.update`: the CLI of `continuous.py`."""

import sys

from .continuous import main

sys.exit(main())
