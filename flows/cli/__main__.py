"""``python -m flows.cli``: the ``synth`` command."""

import sys

from flows.cli import main

sys.exit(main())
