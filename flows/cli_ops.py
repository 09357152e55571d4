"""Sub-commands for day-to-day operation: ``synth diagnose`` and ``synth serve``."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_parsers(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the operation sub-commands on the ``synth`` parser."""
