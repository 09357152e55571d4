"""What every ``synth`` command shows: ``--json`` objects, one-line errors, exit codes and the
progress bar of a long build. The one output module of the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import Any, NoReturn

EXIT_BAD_INPUT = 2
EXIT_CHECK_FAILED = 1


def _wants_json(argv: list[str]) -> bool:
    """``--json`` among the arguments, or an abbreviation argparse would expand to it."""
    return any(len(a) > 3 and "--json".startswith(a) for a in argv)


def _print_json(obj: dict[str, Any]) -> None:
    """One JSON error object on stdout; a closed stdout (piped into ``head``) is no error of
    its own: the message is on stderr and the exit code stands."""
    try:
        print(json.dumps(obj, ensure_ascii=False), flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is quiet too


class _Failed(Exception):
    """A command's one-line error and exit code, reported by ``main``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    raise _Failed(message, code)


def _report_error(args: argparse.Namespace, message: str, code: int) -> int:
    """The error on stderr, one line; with ``--json`` also as ``{"error", "exit_code"}`` on
    stdout, so a script that reads stdout as JSON gets an object in every case."""
    message = message.replace("\n", " ")
    print(f"synth: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        _print_json({"error": message, "exit_code": code})
    return code


def _emit(args: argparse.Namespace, obj: dict[str, Any], human: str) -> None:
    if args.json:
        print(json.dumps(obj, ensure_ascii=False, default=str))
    else:
        print(human)


class _Rate:
    """Samples per second over the last ``window`` seconds, and the time left at that rate."""

    def __init__(self, window: float = 20.0) -> None:
        self.window = window
        self._points: list[tuple[float, int]] = []

    def update(self, now: float, rendered: int) -> float | None:
        self._points.append((now, rendered))
        while len(self._points) > 2 and now - self._points[1][0] >= self.window:
            self._points.pop(0)
        t0, n0 = self._points[0]
        if now - t0 < 1.0 or rendered <= n0:
            return None
        return (rendered - n0) / (now - t0)

    @staticmethod
    def describe(rate: float | None, left: int) -> tuple[str, str]:
        """``("312 samples/s", "2:13 left")``; blank until there is a rate."""
        if not rate:
            return "", ""
        seconds = int(left / rate + 0.5)
        h, rest = divmod(seconds, 3600)
        m, sec = divmod(rest, 60)
        eta = f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
        return f"{rate:,.0f} samples/s", f"{eta} left"


class _Progress:
    """A progress bar on stderr fed by the running build's sample counter (a process pool's, or
    the Dask workers' counts): samples done, samples per second and the time left."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total = total
        self.label = label
        self.enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        import time

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from flows.runtime import active_pool

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("{task.fields[eta]}"),
        )
        rate = _Rate()
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(self.label, total=self.total, rate="", eta="")
            while not self._stop.wait(0.25):
                source = active_pool()
                if source is None:
                    continue
                done = min(source.done_samples, self.total)
                # Shards found done on a resume count as done, not in the rate.
                rendered = getattr(source, "rendered_samples", done)
                speed, eta = _Rate.describe(
                    rate.update(time.monotonic(), rendered), self.total - done
                )
                bar.update(task, completed=done, rate=speed, eta=eta)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def _progress_enabled(args: argparse.Namespace) -> bool:
    return not args.json and sys.stderr.isatty()
