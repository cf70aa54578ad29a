"""``python -m simdyn``: the ``simdyn`` command (see :mod:`simdyn.cli`)."""

import sys

from .cli import main

sys.exit(main())
