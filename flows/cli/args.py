"""Argument types and the flags many commands share, each declared once here; the parser class
whose mistakes are one-line errors (and the JSON error object with ``--json``)."""

from __future__ import annotations

import argparse
import re
from typing import NoReturn

from flows.cli.output import EXIT_BAD_INPUT, _print_json, _wants_json


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other synth error; the usage is one --help away.
        message = f"{' '.join(message.split())} (see '{self.prog} --help')"
        if _wants_json(_argv):  # the same JSON error object as any other error
            _print_json({"error": message, "exit_code": EXIT_BAD_INPUT})
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


_argv: list[str] = []
"""The arguments ``main`` is parsing, for errors of the parser itself (empty outside it)."""


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``parser.parse_args(argv)``, its own errors following this call's ``--json``."""
    global _argv
    _argv = list(argv)
    try:
        return parser.parse_args(_argv)
    finally:
        _argv = []


# -- argument types ----------------------------------------------------------------------------
def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _non_negative(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


_MAX_SEED = 2**63 - 1  # the catalog stores seeds as SQLite's signed 64-bit INTEGER


def _seed(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None
    if not 0 <= n <= _MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be from 0 to {_MAX_SEED}, got {n}")
    return n


def _name(value: str) -> str:
    """A dataset name becomes a folder name under the data root: no separators, no dot first."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", value):
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a valid dataset name (expected 1-100 ASCII letters, digits, '.', "
            "'_' or '-', starting with a letter or digit)"
        )
    return value


def _points(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of points, got '{value}'") from None
    if not 0 <= x <= 100:
        raise argparse.ArgumentTypeError(f"expected 0 to 100 percentage points, got {value}")
    return x


# -- the shared flags --------------------------------------------------------------------------
def add_count(p: argparse.ArgumentParser, help: str, required: bool = True) -> None:
    """``--count N`` (N >= 1): how many samples a command makes."""
    p.add_argument("--count", type=_positive, required=required, help=help)


def add_seed(p: argparse.ArgumentParser) -> None:
    """``--seed N``: the dataset seed, 0 to 2**63 - 1."""
    p.add_argument("--seed", type=_seed, default=0, help="dataset seed (default 0)")


def add_workers(
    p: argparse.ArgumentParser,
    help: str = "worker processes (default 1)",
    default: int | None = 1,
) -> None:
    """``--workers N`` (N >= 1): the processes that render."""
    p.add_argument("--workers", type=_positive, default=default, help=help)


def add_common(p: argparse.ArgumentParser) -> None:
    """``--home``, ``--json`` and ``--verbose``, which every command takes."""
    p.add_argument("--home", help="data root (default: $SYNTH_HOME or ./synth-data)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--verbose", action="store_true", help="show Prefect's logs")


def add_runner(p: argparse.ArgumentParser) -> None:
    """``--runner`` and ``--dask-address``: who renders a build's shards."""
    p.add_argument(
        "--runner",
        choices=("process", "dask"),
        help=(
            "process: a pool of --workers processes here (default); dask: the shard tasks run on "
            "a Dask cluster through Prefect (needs PREFECT_API_URL; see docs/scaling.md)"
        ),
    )
    p.add_argument(
        "--dask-address",
        metavar="tcp://HOST:PORT",
        help=(
            "an existing Dask scheduler (implies --runner dask; default: a local cluster of "
            "--workers processes); the output must be on a filesystem every worker can reach"
        ),
    )
