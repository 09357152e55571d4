"""Start-up: the wall time of a small build from the command line, beside importing synth.

* **baseline** - ``python -c "import synth"``: the interpreter's start and the core's import,
  the least any ``synth`` command costs.
* **synth ocr** - ``synth ocr --count N`` (default 5) into a fresh ``--home`` each run: the
  command's imports, spec and input checks, the build (plan, render, assemble, card, catalog,
  OpenLineage events) and its report. Without a Prefect server configured (the default here:
  ``PREFECT_API_URL`` unset, a fresh empty ``PREFECT_HOME``, a working directory without
  ``.env`` or ``prefect.toml``), the build runs without Prefect.
* ``--api-url URL`` adds **synth ocr (server)**: the same command with ``PREFECT_API_URL=URL``,
  a flow run on that server (its start-up is the server's, not measured).

Each subject runs ``--repeat`` times (default 5), interleaved; the median wall time is kept, and
the ratio is synth ocr over the baseline. Target (the issue): ``synth ocr --count 5`` <= 3 s.

Run:  python bench/bench_startup.py [--count 5] [--repeat 5] [--api-url URL] [--json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import filesystem_of, machine, print_report, scratch_dir

TARGET_WALL_S = 3.0
REPO = Path(__file__).resolve().parent.parent


def synth_command() -> list[str]:
    exe = shutil.which("synth", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "flows.cli"]


def clean_env(scratch: Path, api_url: str | None) -> dict[str, str]:
    """The environment of a user without a Prefect server (or with ``api_url``): no PREFECT_*
    or SYNTH_* settings of this shell, an empty Prefect home, this checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SYNTH_"))}
    env["PREFECT_HOME"] = str(scratch / "prefect-home")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall seconds of one run of ``args``; a failing command stops the benchmark."""
    t0 = time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=5, help="images per build (default 5)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per subject; median kept")
    ap.add_argument("--api-url", help="also time the build as a flow run on this Prefect server")
    ap.add_argument("--scratch", help="where the builds go (default: a temp dir, see common.py)")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = ap.parse_args(argv)
    if args.count < 1 or args.repeat < 1:
        ap.error("--count and --repeat must be >= 1")
    args.n, args.warmup, args.seed = args.count, 0, 0  # the fields every report carries

    def log(msg: str) -> None:
        print(msg, file=sys.stderr if args.json else sys.stdout, flush=True)

    env_info: dict[str, Any] = machine()
    runs: dict[str, list[float]] = {"import synth": [], "synth ocr": []}
    if args.api_url:
        runs["synth ocr (server)"] = []
    with scratch_dir("bench-startup-", args.scratch) as scratch:
        env_info["scratch_filesystem"] = filesystem_of(scratch)
        work = scratch / "cwd"
        work.mkdir()
        for r in range(args.repeat):
            for name in runs:
                env = clean_env(scratch, args.api_url if name.endswith("(server)") else None)
                if name == "import synth":
                    cmd = [sys.executable, "-c", "import synth"]
                else:
                    home = scratch / f"home-{len(runs[name])}-{name.split()[-1].strip('()')}"
                    cmd = [*synth_command(), "ocr", "--count", str(args.count), "--json"]
                    cmd += ["--home", str(home)]
                wall = timed(cmd, env, work)
                runs[name].append(wall)
                log(f"  run {r + 1}/{args.repeat} {name:<20} {wall:6.2f} s")
                if name != "import synth":
                    shutil.rmtree(home, ignore_errors=True)
        env_info["prefect_home_created"] = (scratch / "prefect-home").exists()

    results = {
        name: {"median_s": statistics.median(walls), "min_s": min(walls), "runs_s": walls}
        for name, walls in runs.items()
    }
    base = results["import synth"]["median_s"]
    for r in results.values():
        r["ratio"] = r["median_s"] / base
    ocr = results["synth ocr"]["median_s"]
    checks = [
        {
            "target": f"synth ocr --count {args.count} without a server <= {TARGET_WALL_S:g} s",
            "value": f"{ocr:.2f} s median of {args.repeat}",
            "pass": ocr <= TARGET_WALL_S,
        }
    ]

    def table() -> str:
        lines = [f"{'subject':22} {'median s':>9} {'min s':>7} {'vs import':>10}"]
        for name, r in results.items():
            lines.append(f"{name:22} {r['median_s']:9.2f} {r['min_s']:7.2f} {r['ratio']:9.1f}x")
        load = env_info.get("loadavg_start")
        if load and env_info.get("cpus") and load[0] > env_info["cpus"] / 2:
            lines.append(f"note: load average {load[0]:.1f} at the start: times are inflated")
        lines += [f"{'PASS' if c['pass'] else 'FAIL'}  {c['target']}: {c['value']}" for c in checks]
        return "\n".join(lines)

    print_report(args, env_info, results, checks, table, count=args.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
