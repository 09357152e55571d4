"""Peak memory of 100,000-sample builds, and catalog look-ups on them.

For each kind (``ocr``, ``speech``) the real command (``synth ocr|speech --count N --workers W``)
runs in its own process group against a Prefect server on 127.0.0.1. Every process of the group
(the command, its worker processes, multiprocessing's resource tracker; with ``--runner dask``
the local Dask cluster's workers) is sampled every ``--interval`` seconds for its peak resident
set (``VmHWM`` in ``/proc/<pid>/status``, the kernel's own high-water mark, so a peak between
two samples is not missed unless the process exits first). ``wait4``'s ``ru_maxrss`` gives, at
the end, the largest peak of any process in the tree, exact. Then, on the built dataset:
``synth datasets show`` and ``synth datasets verify --quick --samples 8`` are timed (the whole
command, best of 3), and the same two look-ups in-process.

Target (the issue): every process under 500 MB; show and a sampled verify under a second.
Needs Linux (/proc). Disk: ~1.3 GB for 100k OCR images, ~13 GB for 100k speech mixes (WAV),
removed at the end unless --keep.

Run:  python bench/bench_memory.py [--count 100000] [--kinds ocr,speech] [--workers 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_scale import load_average, log, prefect_server
from common import process_stats

TARGET_RSS_MB = 500.0
TARGET_LOOKUP_S = 1.0


def synth_cmd() -> list[str]:
    exe = shutil.which("synth", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "flows.cli"]


def _status_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _group(pgid: int) -> list[int]:
    return [pid for pid, f in process_stats() if int(f[2]) == pgid and f[0] != "Z"]


def _role(pid: int, main: int) -> str:
    if pid == main:
        return "main (flow, assembly)"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    if "resource_tracker" in cmd:
        return "resource tracker"
    if "distributed" in cmd or "dask" in cmd:
        return "dask worker"
    if "multiprocessing" in cmd or "spawn_main" in cmd:
        return "worker"
    return "other: " + cmd[:60]


class Sampler(threading.Thread):
    """Peak resident set (VmHWM) of every process of a process group, by pid."""

    def __init__(self, pgid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pgid = pgid
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self.roles: dict[int, str] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for pid in _group(self.pgid):
                hwm = _status_kb(pid, "VmHWM")
                if hwm is None:
                    continue
                if pid not in self.roles:
                    self.roles[pid] = _role(pid, self.pgid)
                self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)
            self.stop.wait(self.interval)


def _timed(cmd: list[str], env: dict[str, str], repeat: int = 3) -> tuple[float, str]:
    best = float("inf")
    out = ""
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        best = min(best, time.perf_counter() - t)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
        out = proc.stdout
    return best, out


def measure(kind: str, args: argparse.Namespace, scratch: Path, url: str) -> dict[str, Any]:
    home = scratch / kind
    home.mkdir(parents=True)
    env = {**os.environ, "PREFECT_API_URL": url, "SYNTH_HOME": str(home)}
    cmd = [*synth_cmd(), kind, "--count", str(args.count), "--workers", str(args.workers)]
    if args.runner != "process":
        cmd += ["--runner", args.runner]
    cmd += shlex.split(getattr(args, f"{kind}_args") or "")
    cmd += ["--json"]
    log(f"{kind}: {' '.join(cmd[1:])} (load {load_average()})")
    out_path = scratch / f"{kind}.out"
    err_path = scratch / f"{kind}.err"
    t0 = time.perf_counter()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, start_new_session=True)
    sampler = Sampler(proc.pid, args.interval)
    sampler.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} build failed:\n{err_path.read_text()[-3000:]}")
    result = json.loads(out_path.read_text())
    by_role: dict[str, dict[str, Any]] = {}
    for pid, kb in sampler.peaks.items():
        role = sampler.roles[pid]
        entry = by_role.setdefault(role, {"processes": 0, "peak_mb": 0.0})
        entry["processes"] += 1
        entry["peak_mb"] = max(entry["peak_mb"], kb / 1024)
    tree_peak_mb = usage.ru_maxrss / 1024  # Linux: kilobytes

    log(f"{kind}: built {result['count']} in {wall:.0f} s; timing look-ups")
    dataset_id = result["id"]
    show_s, _ = _timed([*synth_cmd(), "datasets", "show", dataset_id], env)
    verify_cmd = [*synth_cmd(), "datasets", "verify", dataset_id, "--quick", "--samples", "8"]
    verify_s, verify_out = _timed([*verify_cmd, "--json"], env)
    verify = json.loads(verify_out)

    from synth.catalog import open_catalog
    from synth.engine.verify import verify_dataset

    t = time.perf_counter()
    catalog = open_catalog(home)
    record = catalog.get(dataset_id)
    catalog.close()
    show_in_s = time.perf_counter() - t
    t = time.perf_counter()
    report = verify_dataset(record.path, record.id, samples=8, quick=True)
    verify_in_s = time.perf_counter() - t
    folder = Path(record.path)
    sizes = {
        name: round((folder / name).stat().st_size / 2**20, 1)
        for name in ("metadata.jsonl", "recipes.jsonl", "__synth__/files.tsv")
    }
    full: dict[str, Any] = {}
    if args.full_verify:
        log(f"{kind}: full verify (every file hashed)")
        t = time.perf_counter()
        full_report = verify_dataset(record.path, record.id, samples=8)
        full = {"full_verify_s": time.perf_counter() - t, "full_verify_ok": full_report.ok}
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return {
        "kind": kind,
        "count": result["count"],
        "workers": args.workers,
        "runner": args.runner,
        "build_wall_s": wall,
        "per_s": result["count"] / wall,
        "processes": by_role,
        "max_process_peak_mb": max([tree_peak_mb] + [e["peak_mb"] for e in by_role.values()]),
        "tree_peak_mb_wait4": tree_peak_mb,
        "show_cli_s": show_s,
        "verify_quick_cli_s": verify_s,
        "show_in_process_s": show_in_s,
        "verify_quick_in_process_s": verify_in_s,
        "verify_ok": verify["ok"] and report.ok,
        "verify_checked_files": verify["checked_files"],
        "verify_hashed_files": verify["hashed_files"],
        "sizes_mb": sizes,
        **full,
    }


def report(doc: dict[str, Any]) -> str:
    lines = [f"machine: {doc['machine']}"]
    for r in doc["results"]:
        lines.append(
            f"{r['kind']}: {r['count']} samples, {r['workers']} workers ({r['runner']}), "
            f"{r['build_wall_s']:.0f} s ({r['per_s']:.0f}/s)"
        )
        for role, e in sorted(r["processes"].items()):
            lines.append(f"  peak RSS {e['peak_mb']:7.1f} MB  {role} (x{e['processes']})")
        lines.append(f"  peak RSS {r['tree_peak_mb_wait4']:7.1f} MB  largest of all (wait4)")
        lines.append(
            f"  show {r['show_cli_s']:.2f} s (command) / {r['show_in_process_s'] * 1000:.0f} ms "
            f"(catalog); verify --quick --samples 8 {r['verify_quick_cli_s']:.2f} s (command) / "
            f"{r['verify_quick_in_process_s']:.2f} s (function); "
            f"{r['verify_checked_files']} files sized, {r['verify_hashed_files']} hashed"
        )
        if "full_verify_s" in r:
            lines.append(f"  full verify (every file hashed): {r['full_verify_s']:.1f} s")
        lines.append(f"  sizes MB: {r['sizes_mb']}")
    for c in doc["checks"]:
        lines.append(f"{'PASS' if c['pass'] else 'FAIL'}  {c['target']}: {c['value']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100_000, help="samples per build")
    ap.add_argument("--kinds", default="ocr,speech", help="comma-separated (default ocr,speech)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--runner", choices=("process", "dask"), default="process")
    ap.add_argument("--interval", type=float, default=0.1, help="sampling period, seconds")
    ap.add_argument("--ocr-args", help="more options of synth ocr, e.g. '--preset clean'")
    ap.add_argument("--speech-args", help="more options of synth speech, e.g. '--format flac'")
    ap.add_argument("--full-verify", action="store_true", help="also time a full verify")
    ap.add_argument("--keep", action="store_true", help="keep the datasets (and print where)")
    ap.add_argument("--scratch", help="where datasets are written (default: a temp dir)")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = ap.parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("bench_memory needs Linux (/proc)", file=sys.stderr)
        return 0

    for var in ("SYNTH_CATALOG_URL", "SYNTH_OPENLINEAGE_URL", "SYNTH_HOME"):
        os.environ.pop(var, None)
    scratch = Path(tempfile.mkdtemp(prefix="synth-bench-memory-", dir=args.scratch))
    doc: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load {load_average()} at start",
        "results": [],
        "checks": [],
    }
    try:
        with prefect_server(scratch) as url:
            for kind in [k for k in args.kinds.split(",") if k]:
                try:
                    r = measure(kind, args, scratch, url)
                except RuntimeError as err:  # a failed build is a FAIL line, not a crash
                    doc["checks"].append(
                        {
                            "target": f"{kind}: the build completes",
                            "value": str(err)[-2000:],
                            "pass": False,
                        }
                    )
                    continue
                doc["results"].append(r)
                doc["checks"].append(
                    {
                        "target": f"{kind}: every process < {TARGET_RSS_MB:.0f} MB peak RSS",
                        "value": f"largest {r['max_process_peak_mb']:.0f} MB",
                        "pass": r["max_process_peak_mb"] < TARGET_RSS_MB,
                    }
                )
                slowest = max(r["show_cli_s"], r["verify_quick_cli_s"])
                doc["checks"].append(
                    {
                        "target": f"{kind}: show and verify --quick --samples 8 < "
                        f"{TARGET_LOOKUP_S:.0f} s",
                        "value": f"show {r['show_cli_s']:.2f} s, verify "
                        f"{r['verify_quick_cli_s']:.2f} s (whole commands)",
                        "pass": slowest < TARGET_LOOKUP_S and r["verify_ok"],
                    }
                )
    finally:
        if args.keep:
            log(f"datasets kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(doc, indent=2) if args.json else report(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
