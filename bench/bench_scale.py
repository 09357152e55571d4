"""Scaling: 1 vs 2 worker processes for OCR and speech, and the Prefect layer's share of a build.

* **scaling** - the same build (``--ocr-n`` images, ``--speech-n`` mixes, default shard size)
  through the engine (``synth.engine.build.run_build``: process pool, assembly, card, catalog) with
  1 and with 2 workers, each into a fresh home, interleaved ``--repeat`` times, best kept.
  Throughput is samples per wall-second of the whole build; the ratio is 2 workers over 1.
  Also shown: the render phase alone (pool start to last shard) and the serial finish.
* **overhead** - a ``--overhead-n``-image OCR build with 2 workers through the ``ocr_dataset``
  Prefect flow (a real Prefect server on 127.0.0.1: flow and task runs, one task per shard,
  asset event, artifacts) beside the same build through the core's sequence without Prefect
  (what ``synth ocr`` runs without a server), in the same process.
  Overhead share = (flow wall - engine wall) / flow wall. Importing Prefect happens once, before
  any timing, and is reported apart. The CPU share (the same difference in CPU seconds of the
  whole build: this process, its worker processes and the Prefect server) is reported beside
  it: on a shared machine the wall times swing with other load, CPU time much less. ``--dask``
  adds the flow on a local Dask cluster.

Targets (the issue): 2 workers >= 1.8x the throughput of 1, for OCR and for speech; the Prefect
layer < 10% of a 20,000-image build's wall time. These need 2 idle cores: the load average
before each part is printed, and a busy machine makes the ratios meaningless.

Both scaling builds default to 20,000 samples, the size of the overhead build: each worker
process fills its own caches (font objects, glyph bitmaps, layouts) as it goes, so a short build
spends a larger part of its time warming them twice over (at 8,000 OCR images the steady-state
ratio was ~1.7x, at 20,000 ~1.9x).

Run:  python bench/bench_scale.py [--ocr-n 20000] [--speech-n 20000] [--overhead-n 20000] [--json]
A Prefect server is started for the overhead part unless PREFECT_API_URL is set.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import filesystem_of, process_stats, scratch_dir

TARGET_SCALING = 1.8
TARGET_OVERHEAD = 0.10


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


# -- a Prefect server -----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def prefect_server(scratch: Path) -> Iterator[str]:
    """The API URL of ``PREFECT_API_URL`` if set, else of a ``prefect server start`` on
    127.0.0.1 with its own PREFECT_HOME, stopped (by process group) at the end."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    home = scratch / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
    }
    prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
    with open(home / "server.log", "wb") as out:
        proc = subprocess.Popen(
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start; see {home / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        for key in ("PREFECT_HOME", "PREFECT_API_DATABASE_CONNECTION_URL"):
            os.environ[key] = env[key]
        os.environ["PREFECT_API_URL"] = url
        global _server_session
        _server_session = proc.pid
        yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        _server_session = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


_server_session: int | None = None  # session id of the Prefect server this bench started


def server_cpu_s() -> float:
    """CPU seconds (user + system) used so far by the live processes of the Prefect server this
    bench started (0.0 for a server of PREFECT_API_URL: it may not even run here)."""
    if _server_session is None:
        return 0.0
    ticks = sum(
        int(fields[11]) + int(fields[12])  # utime, stime
        for _pid, fields in process_stats()
        if int(fields[3]) == _server_session
    )
    return ticks / os.sysconf("SC_CLK_TCK")


def all_cpu_s() -> float:
    """CPU seconds of this process and its finished children (the pool's worker processes,
    counted once they are reaped at the end of a build)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# -- builds ---------------------------------------------------------------------------------------
def spec_of(kind: str) -> dict[str, Any]:
    if kind == "ocr":
        from synth.ocr.spec import build_spec

        return build_spec("default", {}).model_dump(mode="json")
    from synth.speech.spec import build_spec as speech_spec

    return speech_spec({}).model_dump(mode="json")


class Meter(threading.Thread):
    """Samples (time, samples done) of a pool every 20 ms: the steady-state rate is taken between
    20% and 80% of the samples, where every worker is running and none has run out of shards."""

    def __init__(self, pool: Any, n: int) -> None:
        super().__init__(daemon=True)
        self.pool, self.n = pool, n
        self.points: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            self.points.append((time.perf_counter(), self.pool.done_samples))

    def steady_rate(self) -> float:
        def when(fraction: float) -> tuple[float, int]:
            return next(p for p in self.points if p[1] >= fraction * self.n)

        try:
            (t0, n0), (t1, n1) = when(0.2), when(0.8)
        except StopIteration:  # the counter never got there (a resumed build)
            return 0.0
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0  # 0.0: too small a build to tell


def engine_build(kind: str, n: int, workers: int, home: Path, seed: int = 7) -> dict[str, Any]:
    """A build through the core's sequence without Prefect (``run_build`` with the local process
    pool, as ``synth ocr`` runs without a server), timed by phase: render (prepare, then pool
    start to last shard) and finish (assemble, card, register), with the steady-state rate of
    the render."""
    from synth.catalog import open_catalog
    from synth.engine.build import PoolRunner, local_run, prepare, run_build

    meters: list[Meter] = []

    class TimedRunner(PoolRunner):
        render_end = 0.0

        @contextlib.contextmanager
        def open(self, plan: Any) -> Iterator[Any]:
            with super().open(plan) as dispatch:
                yield dispatch
                meters[0].stop.set()
            self.render_end = time.perf_counter()

    def on_pool(pool: Any) -> None:
        meters.append(Meter(pool, n))
        meters[0].start()

    runner = TimedRunner(workers, on_pool)
    t0 = time.perf_counter()  # the flow prepares too: its timing starts before prepare
    plan, gen = prepare(kind, spec_of(kind), seed=seed, count=n, name=f"bench-{kind}", home=home)
    catalog = open_catalog(home)
    try:
        result = run_build(plan, gen, catalog, runner, local_run(workers))
        t2 = time.perf_counter()
    finally:
        catalog.close()
    meters[0].join()
    t1 = runner.render_end
    return {
        "id": result.record.id,
        "wall_s": t2 - t0,
        "render_s": t1 - t0,
        "finish_s": t2 - t1,
        "steady_per_s": meters[0].steady_rate(),
    }


def flow_build(n: int, workers: int, home: Path, runner: str = "process") -> dict[str, Any]:
    from flows.build import with_runner
    from flows.ocr import ocr_dataset
    from flows.runtime import active_pool

    class Source:  # the running build's sample counter, once the flow has started it
        @property
        def done_samples(self) -> int:
            pool = active_pool()
            return pool.done_samples if pool is not None else 0

    meter = Meter(Source(), n)
    meter.start()
    t0 = time.perf_counter()
    flow = with_runner(ocr_dataset, runner, workers)
    result = flow(count=n, seed=7, workers=workers, preset="default", home=str(home))
    wall = time.perf_counter() - t0
    meter.stop.set()
    meter.join()
    return {"id": result["record"]["id"], "wall_s": wall, "steady_per_s": meter.steady_rate()}


# -- the parts ------------------------------------------------------------------------------------
def scaling(kind: str, n: int, repeat: int, scratch: Path) -> dict[str, Any]:
    best: dict[int, dict[str, Any]] = {}
    steady: dict[int, float] = {}
    ids = set()
    for r in range(repeat):
        for workers in (1, 2):
            home = scratch / f"scale-{kind}-{workers}-{r}"
            log(f"  {kind} n={n} workers={workers} round {r + 1} (load {load_average()})")
            res = engine_build(kind, n, workers, home)
            ids.add(res["id"])
            shutil.rmtree(home, ignore_errors=True)
            if workers not in best or res["wall_s"] < best[workers]["wall_s"]:
                best[workers] = res
            steady[workers] = max(steady.get(workers, 0.0), res["steady_per_s"])
    one, two = best[1], best[2]
    return {
        "kind": kind,
        "n": n,
        "one_worker": {**one, "per_s": n / one["wall_s"], "steady_per_s": steady[1]},
        "two_workers": {**two, "per_s": n / two["wall_s"], "steady_per_s": steady[2]},
        "ratio": steady[2] / steady[1],
        "build_ratio": one["wall_s"] / two["wall_s"],
        "render_ratio": one["render_s"] / two["render_s"],
        "same_id": len(ids) == 1,
    }


def overhead(n: int, scratch: Path, dask: bool, repeat: int) -> dict[str, Any]:
    with prefect_server(scratch) as url:
        # Prefect reads PREFECT_API_URL when it is first imported: only now, once the server is
        # up, and outside the timing.
        t = time.perf_counter()
        import flows.ocr  # noqa: F401

        import_s = time.perf_counter() - t
        log(f"  Prefect server at {url}; warm-up flow run")
        flow_build(50, 1, scratch / "warm")  # first flow run in a process: client, settings
        shutil.rmtree(scratch / "warm", ignore_errors=True)
        best: dict[str, dict[str, Any]] = {}
        ids: dict[str, str] = {}
        for r in range(repeat):
            for subject in ("engine", "flow"):
                log(f"  {subject}, {n} images, 2 workers, round {r + 1} (load {load_average()})")
                home = scratch / f"ov-{subject}"
                cpu, server, every = time.process_time(), server_cpu_s(), all_cpu_s()
                if subject == "engine":
                    res = engine_build("ocr", n, 2, home)
                else:
                    res = flow_build(n, 2, home)
                res["parent_cpu_s"] = time.process_time() - cpu
                res["server_cpu_s"] = server_cpu_s() - server
                res["build_cpu_s"] = all_cpu_s() - every + res["server_cpu_s"]
                shutil.rmtree(home, ignore_errors=True)
                ids[subject] = res["id"]
                if subject not in best or res["wall_s"] < best[subject]["wall_s"]:
                    best[subject] = res
        engine, flow = best["engine"], best["flow"]
        out: dict[str, Any] = {
            "n": n,
            "prefect_import_s": import_s,
            "engine_wall_s": engine["wall_s"],
            "flow_wall_s": flow["wall_s"],
            "engine_steady_per_s": engine["steady_per_s"],
            "flow_steady_per_s": flow["steady_per_s"],
            "engine_parent_cpu_s": engine["parent_cpu_s"],
            "flow_parent_cpu_s": flow["parent_cpu_s"],
            "engine_server_cpu_s": engine["server_cpu_s"],
            "flow_server_cpu_s": flow["server_cpu_s"],
            "share": (flow["wall_s"] - engine["wall_s"]) / flow["wall_s"],
            "engine_build_cpu_s": engine["build_cpu_s"],
            "flow_build_cpu_s": flow["build_cpu_s"],
            "cpu_share": (flow["build_cpu_s"] - engine["build_cpu_s"]) / flow["build_cpu_s"],
            "ids": ids,
        }
        if dask:
            log(f"  flow on a local Dask cluster, {n} images, 2 workers (load {load_average()})")
            try:
                d = flow_build(n, 2, scratch / "ov-dask", runner="dask")
            except Exception as err:  # reported, not fatal to the other figures
                out["dask_error"] = f"{type(err).__name__}: {err}"
            else:
                out["dask_flow_wall_s"] = d["wall_s"]
                out["dask_share"] = (d["wall_s"] - engine["wall_s"]) / d["wall_s"]
                ids["dask_flow"] = d["id"]
            shutil.rmtree(scratch / "ov-dask", ignore_errors=True)
        out["same_id"] = len(set(ids.values())) == 1
    return out


def report(doc: dict[str, Any]) -> str:
    lines = [f"machine: {doc['machine']}; writing to {doc['scratch_filesystem']}"]
    lines.append(
        f"{'kind':7} {'n':>6}  {'steady/s 1 -> 2 workers':>24} {'ratio':>5}  "
        f"{'whole build/s 1 -> 2':>21} {'ratio':>5}  {'finish s':>8}"
    )
    for s in doc["scaling"]:
        one, two = s["one_worker"], s["two_workers"]
        steady = f"{one['steady_per_s']:.0f} -> {two['steady_per_s']:.0f}"
        whole = f"{one['per_s']:.0f} -> {two['per_s']:.0f}"
        lines.append(
            f"{s['kind']:7} {s['n']:>6}  {steady:>24} {s['ratio']:>5.2f}  "
            f"{whole:>21} {s['build_ratio']:>5.2f}  {two['finish_s']:>8.1f}"
        )
    ov = doc.get("overhead")
    if ov:
        lines.append(
            f"overhead: {ov['n']} OCR images, 2 workers: engine {ov['engine_wall_s']:.1f} s, "
            f"Prefect flow {ov['flow_wall_s']:.1f} s -> {100 * ov['share']:.1f}% of the flow's "
            f"wall time (import prefect: {ov['prefect_import_s']:.1f} s, not counted); CPU of "
            f"the submitting process {ov['engine_parent_cpu_s']:.1f} s -> "
            f"{ov['flow_parent_cpu_s']:.1f} s, of the Prefect server "
            f"{ov['engine_server_cpu_s']:.1f} s -> {ov['flow_server_cpu_s']:.1f} s; "
            f"steady state {ov['engine_steady_per_s']:.0f} -> "
            f"{ov['flow_steady_per_s']:.0f} images/s"
        )
        lines.append(
            f"          CPU of the whole build (workers and Prefect server included) "
            f"{ov['engine_build_cpu_s']:.1f} s -> {ov['flow_build_cpu_s']:.1f} s: Prefect's "
            f"share {100 * ov['cpu_share']:.1f}% (less swayed by other load than wall time)"
        )
        if "dask_error" in ov:
            lines.append(f"          the flow on a local Dask cluster failed: {ov['dask_error']}")
        if "dask_flow_wall_s" in ov:
            lines.append(
                f"          Prefect flow on a local Dask cluster {ov['dask_flow_wall_s']:.1f} s "
                f"-> {100 * ov['dask_share']:.1f}% (cluster start included)"
            )
    for c in doc["checks"]:
        lines.append(f"{'PASS' if c['pass'] else 'FAIL'}  {c['target']}: {c['value']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ocr-n", type=int, default=20000, help="OCR images per scaling run")
    ap.add_argument("--speech-n", type=int, default=20000, help="speech mixes per scaling run")
    ap.add_argument("--overhead-n", type=int, default=20000, help="images of the overhead run")
    ap.add_argument("--repeat", type=int, default=2, help="scaling rounds; best is kept")
    ap.add_argument("--kinds", default="ocr,speech", help="scaling kinds (default ocr,speech)")
    ap.add_argument("--no-overhead", action="store_true", help="skip the Prefect overhead run")
    ap.add_argument("--overhead-repeat", type=int, default=2, help="engine/flow rounds, best kept")
    ap.add_argument("--dask", action="store_true", help="also time the flow on a Dask cluster")
    ap.add_argument(
        "--scratch",
        help="where datasets are written (default: a temp dir on the RAM disk, see common.py)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = ap.parse_args(argv)

    for var in ("SYNTH_CATALOG_URL", "SYNTH_OPENLINEAGE_URL", "SYNTH_HOME"):
        os.environ.pop(var, None)
    from flows.env import apply_defaults

    apply_defaults()
    with scratch_dir("synth-bench-scale-", args.scratch) as scratch:
        doc = run(args, scratch)
    print(json.dumps(doc, indent=2) if args.json else report(doc))
    return 0


def run(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load {load_average()} at start",
        "scratch_filesystem": filesystem_of(scratch),
        "scaling": [],
        "checks": [],
    }
    log(f"writing to {doc['scratch_filesystem']} ({scratch})")
    for kind in [k for k in args.kinds.split(",") if k]:
        n = args.ocr_n if kind == "ocr" else args.speech_n
        log(f"scaling: {kind}")
        s = scaling(kind, n, args.repeat, scratch)
        doc["scaling"].append(s)
        doc["checks"].append(
            {
                "target": f"{kind}: 2 workers >= {TARGET_SCALING}x the throughput of 1",
                "value": f"{s['ratio']:.2f}x steady state "
                f"({s['one_worker']['steady_per_s']:.0f} -> "
                f"{s['two_workers']['steady_per_s']:.0f} samples/s); whole build "
                f"{s['build_ratio']:.2f}x (worker start-up and the serial finish included)",
                "pass": s["ratio"] >= TARGET_SCALING,
            }
        )
        doc["checks"].append(
            {
                "target": f"{kind}: same dataset id for 1 and 2 workers",
                "value": str(s["same_id"]),
                "pass": s["same_id"],
            }
        )
    if not args.no_overhead:
        log("overhead: the Prefect flow beside the engine")
        ov = overhead(args.overhead_n, scratch, args.dask, args.overhead_repeat)
        doc["overhead"] = ov
        doc["checks"].append(
            {
                "target": f"Prefect layer < {100 * TARGET_OVERHEAD:.0f}% of a "
                f"{args.overhead_n}-image build's wall time",
                "value": f"{100 * ov['share']:.1f}%",
                "pass": ov["share"] < TARGET_OVERHEAD,
            }
        )
        doc["checks"].append(
            {
                "target": "same dataset id with and without Prefect",
                "value": str(ov["same_id"]),
                "pass": ov["same_id"],
            }
        )
    return doc


if __name__ == "__main__":
    sys.exit(main())
