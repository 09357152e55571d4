"""What the throughput benchmarks share: a CPU/wall clock, the scratch folder, interleaved runs.

Scratch. By default every subject writes under a RAM-backed folder (``/dev/shm`` when it is
there and writable), because on a virtual machine the cost of creating a file on the block
device swings tenfold from minute to minute (measured on the reference machine: 0.07 to 0.9 ms of
kernel CPU per 180 KB file) and would drown the per-core work being compared. The files are still
real files written through the same calls. ``--scratch DIR`` picks any folder (e.g. one on disk);
the report names the file system that was used.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

RAM_DISK = Path("/dev/shm")


class Clock:
    """CPU and wall time of a block (the whole process's CPU: every thread counts)."""

    def __enter__(self) -> Clock:
        self.cpu0, self.wall0 = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu_s = time.process_time() - self.cpu0
        self.wall_s = time.perf_counter() - self.wall0


def filesystem_of(path: Path) -> str:
    """The type of the file system ``path`` lives on (``tmpfs``, ``ext4``...), from
    ``/proc/mounts``; ``unknown`` where that is not available."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    target = os.path.realpath(path)
    best, kind = "", "unknown"
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, parts[2]
    return kind


@contextlib.contextmanager
def scratch_dir(prefix: str, where: str | None) -> Iterator[Path]:
    """A temporary folder under ``where``, or under the RAM disk when ``where`` is None and
    one is writable (else the system temp folder); removed at the end."""
    root: Path | None
    if where is not None:
        root = Path(where)
        root.mkdir(parents=True, exist_ok=True)
    elif RAM_DISK.is_dir() and os.access(RAM_DISK, os.W_OK):
        root = RAM_DISK
    else:
        root = None
    with tempfile.TemporaryDirectory(prefix=prefix, dir=root) as tmp:
        yield Path(tmp)


class Subject(Protocol):
    name: str

    def run(self, n: int, seed: int, out: Path) -> tuple[Any, dict[str, Any]]: ...


def interleaved(
    subjects: list[Subject],
    n: int,
    repeat: int,
    warmup: int,
    seed: int,
    scratch: Path,
    log: Callable[[str], None],
    describe: Callable[[Any], str],
) -> dict[str, list[tuple[Any, dict[str, Any]]]]:
    """A warm-up of ``warmup`` items per subject, then ``repeat`` rounds in which every subject
    makes ``n`` items into a fresh folder (interleaved, so that drift in machine load hits every
    side alike; each output is removed after its run). ``describe`` formats a timing for the
    log."""
    runs: dict[str, list[tuple[Any, dict[str, Any]]]] = {s.name: [] for s in subjects}
    if warmup > 0:
        for s in subjects:
            out = scratch / f"warmup-{s.name}"
            t, _ = s.run(warmup, seed + 1, out)
            shutil.rmtree(out, ignore_errors=True)
            log(f"  warm-up {s.name:<15} {warmup} items, {describe(t)}")
    for r in range(repeat):
        for s in subjects:
            out = scratch / f"run{r}-{s.name}"
            t, extra = s.run(n, seed, out)
            shutil.rmtree(out, ignore_errors=True)
            runs[s.name].append((t, extra))
            log(f"  run {r + 1}/{repeat} {s.name:<15} {describe(t)}")
    return runs


def disk_usage(path: Path) -> int:
    """Bytes in the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def machine() -> dict[str, Any]:
    """What every benchmark report states about the machine: Python, CPU model and count, and
    the load average when the run started."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "cpu": cpu or platform.processor(),
        "cpus": os.cpu_count(),
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def print_report(
    args: Any,
    environment: dict[str, Any],
    results: dict[str, Any],
    checks: list[dict[str, Any]],
    table: Callable[[], str],
    **extra: Any,
) -> None:
    """Print a benchmark's outcome: one JSON document with ``--json`` (the run's settings,
    ``extra``, the environment, results and target checks), else the ``table()`` text."""
    environment["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    if args.json:
        doc = {
            "n": args.n,
            "repeat": args.repeat,
            "warmup": args.warmup,
            "seed": args.seed,
            **extra,
            "environment": environment,
            "results": results,
            "targets": checks,
        }
        print(json.dumps(doc, indent=2))
    else:
        print()
        print(table())


def process_stats() -> Iterator[tuple[int, list[str]]]:
    """(pid, fields of ``/proc/<pid>/stat`` after the command name) of every process: field 0
    is the state, 2 the process group, 3 the session, 11 and 12 utime and stime in clock ticks
    (proc(5) numbers them from 3). Nothing where there is no /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        yield int(stat.parent.name), fields
