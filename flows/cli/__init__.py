"""The ``synth`` command: one sub-command per job, ``--json`` for scripts, one-line errors.

One module per command group registers its sub-commands: ``build`` (ocr, speech, expand),
``ops`` (diagnose, serve), ``datasets`` (the catalog commands) and ``retention`` (the catalog's
delete and where-used); ``output`` is the one module that prints results and errors, ``args``
declares the argument types and shared flags, and ``config`` assembles a build's spec values.
Prefect and the heavy libraries are imported inside the commands, so ``--help`` and the catalog
commands are instant, and worker processes that re-import this package stay light.
"""

from __future__ import annotations

import argparse
import sys

from flows.cli import access, build, datasets, improve, ops, retention, runs, splits, tune
from flows.cli.args import _Parser, parse
from flows.cli.output import EXIT_BAD_INPUT, _Failed, _print_json, _report_error

__all__ = ["build_parser", "main"]

# The commands that run a user's command: the words after their first ``--`` are that command,
# kept out of argparse (which cannot tell them from an optional positional's values).
COMMAND_TAKERS = frozenset({"run", "improve"})


def split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """``argv`` without the user's command, and the command (the words after the first ``--``
    of a command in ``COMMAND_TAKERS``)."""
    if argv and argv[0] in COMMAND_TAKERS and "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="synth",
        description="Synthesise OCR line images and noisy speech with exact labels and lineage.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    build.register(sub)
    ops.register(sub)
    runs.register(sub)
    improve.register(sub)
    tune.register(sub)
    dsub = datasets.register(sub)  # returns its sub-commands: other modules add to them
    retention.register_datasets(dsub)
    splits.register_datasets(dsub)
    access.register_datasets(dsub)
    access.register(sub)
    access.wrap_commands(sub, dsub)  # --access on the builds and imports, verify audited
    return parser


def main(argv: list[str] | None = None) -> int:
    from flows.env import apply_defaults

    words, command = split_command(list(sys.argv[1:] if argv is None else argv))
    args = parse(build_parser(), words)
    if hasattr(args, "user_command"):
        args.user_command = command
    apply_defaults(verbose=getattr(args, "verbose", False))
    from synth.errors import SynthError

    try:
        return int(args.func(args) or 0)
    except SynthError as err:
        return _report_error(args, str(err), EXIT_BAD_INPUT)
    except _Failed as err:
        return _report_error(args, str(err), err.code)
    except BrokenPipeError:  # stdout closed early (e.g. piped into head): nothing to report
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("synth: interrupted; run the same command again to resume", file=sys.stderr)
        if getattr(args, "json", False):
            _print_json({"error": "interrupted", "exit_code": 130})
        return 130
