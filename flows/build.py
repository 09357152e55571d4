"""Tasks shared by every dataset flow: one task per shard, one to assemble and register.

Two runners render the shards, through one code path (``run_build``):

- ``process`` (the default): shard tasks run in Prefect's thread pool and hand the rendering to a
  pool of worker processes on this machine (``synth.engine.pool.ShardPool``), so Prefect tracks,
  retries and resumes shards while the samples are made at full speed outside the Prefect engine.
- ``dask``: the flow runs with Prefect's Dask task runner (``prefect-dask``; ``with_runner``
  sets it), so shard tasks go to an existing Dask cluster (``dask_address``) or to a local one,
  and render on the Dask worker itself. Every worker must reach the dataset folder (a shared
  filesystem) and the Prefect API (``PREFECT_API_URL``: a real server, not the ephemeral one).

Either way the bytes, and so the content id, are the same: they depend on the plan alone.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import signal
import socket
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from prefect import Flow, get_run_logger, task
from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize
from prefect.cache_policies import NONE
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run

from flows.runtime import set_active_pool
from synth.catalog import open_catalog
from synth.engine.build import fail, finish, start
from synth.engine.generator import Generator
from synth.engine.plan import BuildPlan, Shard
from synth.engine.pool import ONE_THREAD_ENV, ShardPool, single_threaded_blas
from synth.engine.shard import ShardResult, build_shard, shard_manifest_path
from synth.errors import SynthError

RUNNERS = ("process", "dask")
F = TypeVar("F", bound=Flow)
PROGRESS_TOPIC = "synth-progress"  # Dask event topic of per-shard sample counts


def check_runner(runner: str, dask_address: str | None) -> str:
    """The runner to use; errors are one line naming the option."""
    if dask_address and runner == "process":
        raise SynthError("--dask-address: only used with --runner dask")
    if runner not in RUNNERS:
        raise SynthError(f"runner: '{runner}' is not one of {', '.join(RUNNERS)}")
    if runner == "dask":
        try:
            import prefect_dask  # noqa: F401
        except ImportError:
            raise SynthError(
                "--runner dask needs prefect-dask: pip install 'synth[dask]'"
            ) from None
        _require_server()
    return runner


def _require_server() -> None:
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise SynthError(
            "--runner dask: Dask workers report to Prefect through its API, so a Prefect "
            "server is needed: start one (prefect server start) and export PREFECT_API_URL"
        )


def dask_task_runner(workers: int, address: str | None = None) -> Any:
    """Prefect's Dask task runner for a build: the cluster at ``address``, or a local cluster of
    ``workers`` single-threaded worker processes (scheduler and dashboard on free ports)."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address, client_kwargs={"timeout": "20s"})
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": ":0",  # a free port: never "8787 in use" warnings
            "silence_logs": logging.ERROR,
        }
    )


def with_runner(flow: F, runner: str, workers: int, dask_address: str | None = None) -> F:
    """``flow`` as it should run: itself (shards in a local process pool), or with a Dask task
    runner (shards on Dask workers). E.g. ``with_runner(ocr_dataset, "dask", 2)(count=1000)``."""
    if check_runner(runner, dask_address) == "dask":
        return flow.with_options(task_runner=dask_task_runner(workers, dask_address))
    return flow


def _is_dask(task_runner: Any) -> bool:
    return type(task_runner).__module__.startswith("prefect_dask")


def _check_worker(plan: BuildPlan) -> None:
    """This worker must see the dataset folder and run the code and libraries the build was
    planned with (they are part of the fingerprint: other versions could write other bytes)."""
    from synth.version import code_version, library_versions

    host = socket.gethostname()
    if not (plan.internal_dir / "plan.json").is_file():
        raise SynthError(
            f"{plan.out_dir}: not found on Dask worker {host}; the output folder must be on a "
            "filesystem every worker can reach (a shared filesystem)"
        )
    mine = {"synth": code_version(), **library_versions()}
    planned = {"synth": plan.code_version, **plan.libraries}
    differ = sorted(k for k in set(mine) | set(planned) if mine.get(k) != planned.get(k))
    if differ:
        found = ", ".join(f"{k} {mine.get(k)} (planned {planned.get(k)})" for k in differ)
        raise SynthError(
            f"Dask worker {host} runs other versions than the build was planned with: {found}; "
            "install the same synth and libraries on every worker"
        )


def _render_here(plan: BuildPlan, shard: Shard) -> ShardResult:
    """Render a shard in this process: on a Dask worker."""
    _check_worker(plan)
    progress: Callable[[int], None] | None = None
    with contextlib.suppress(ImportError, ValueError):
        from distributed import get_worker

        worker = get_worker()
        build_key = plan.fingerprint[:16]

        def progress(n: int) -> None:
            worker.log_event(
                PROGRESS_TOPIC, {"build": build_key, "shard": shard.number, "samples": n}
            )

    with single_threaded_blas():
        return build_shard(plan, shard, progress=progress)


@task(name="render-shard", cache_policy=NONE, task_run_name="render-{shard.name}")
def render_shard(plan: BuildPlan, shard: Shard, pool: Any = None) -> dict[str, Any]:
    """Render one shard: in the process pool ``pool``, or, without one (on a Dask worker), right
    here. A shard whose manifest exists is done (a resumed build) and is skipped at once."""
    result = _render_here(plan, shard) if pool is None else pool.run(plan, shard)
    return {"shard": result.shard, "samples": result.samples, "rendered": result.rendered}


@task(name="register-dataset", cache_policy=NONE)
def register_dataset(
    plan: BuildPlan, gen: Any, run: dict[str, Any], emitter: Any
) -> dict[str, Any]:
    """Assemble the dataset folder, write its card and record the version in the catalog."""
    catalog = open_catalog(plan.home)
    try:
        record, created = finish(plan, gen, catalog, run, emitter)
    finally:
        catalog.close()
    built = {"path": str(plan.out_dir), "fingerprint": plan.fingerprint}
    return {"record": record.to_json(), "created": created, "built": built}


_KEY_FORBIDDEN = re.compile(r"[\s#?&%\"'<>\[\]{}|\\^`]")


def asset_key(uri: str) -> str:
    """A Prefect asset key for a lineage URI (``asset:``, ``file://``, ``dataset:``, ...)."""
    scheme, _, rest = uri.partition(":")
    if scheme == "asset":
        key = f"synth://asset/{rest}"
    elif scheme == "dataset":
        key = f"synth://dataset/{rest}"
    elif scheme == "file":
        key = uri
    else:  # Prefect wants a lowercase alphanumeric scheme
        key = f"{re.sub('[^a-z0-9]', '', scheme.lower()) or 'input'}://{rest.split('?')[0]}"
    return _KEY_FORBIDDEN.sub("_", key)[:512]


def materialize_dataset(record: dict[str, Any]) -> None:
    """Materialise the registered version as a Prefect asset with its upstream assets.

    The task is cached on the dataset id: building the same version again is a cached run,
    which emits no asset event, just as the catalog adds no second record.
    """
    asset = Asset(
        key=asset_key(f"dataset:{record['id']}"),
        properties=AssetProperties(
            name=f"{record['name']} {record['id'][:12]}",
            description=f"synth {record['kind']} dataset, {record['count']} samples",
        ),
    )
    deps = [Asset(key=asset_key(i["uri"])) for i in record["inputs"]]
    if record.get("parent_id"):
        deps.append(Asset(key=asset_key(f"dataset:{record['parent_id']}")))
    metadata = {
        "dataset_id": record["id"],
        "fingerprint": record["fingerprint"],
        "name": record["name"],
        "kind": record["kind"],
        "count": record["count"],
        "seed": record["seed"],
        "code_version": record["code_version"],
        "licences": record["licences"],
        "trigger": record["trigger"].get("type"),
        "path": record["path"],
    }

    @materialize(
        asset,
        asset_deps=deps,
        by="synth",
        name="materialize-dataset",
        cache_key_fn=lambda _ctx, params: f"synth-materialize-{params['dataset_id']}",
        persist_result=True,
    )
    def _materialize(dataset_id: str) -> str:
        add_asset_metadata(asset, metadata)
        return dataset_id

    _materialize(record["id"])


class ShardProgress:
    """Samples done, for the progress bar, when shards render on Dask workers: each worker sends
    a count every few samples (a Dask event); a finished shard counts whole."""

    def __init__(self, build_key: str) -> None:
        self.build_key = build_key
        self._lock = threading.Lock()
        self._finished = 0
        self._skipped = 0
        self._partial: dict[int, int] = {}
        self._closed: set[int] = set()

    @property
    def done_samples(self) -> int:
        with self._lock:
            return self._skipped + self._finished + sum(self._partial.values())

    @property
    def rendered_samples(self) -> int:
        with self._lock:
            return self._finished + sum(self._partial.values())

    def add_done(self, n: int) -> None:
        with self._lock:
            self._skipped += n

    def event(self, event: Any) -> None:
        """A Dask event handler: ``(timestamp, {"build", "shard", "samples"})``."""
        _ts, msg = event
        if not isinstance(msg, dict) or msg.get("build") != self.build_key:
            return
        with self._lock:
            shard = int(msg["shard"])
            if shard not in self._closed:
                self._partial[shard] = self._partial.get(shard, 0) + int(msg["samples"])

    def finished(self, shard: int, samples: int) -> None:
        with self._lock:
            self._partial.pop(shard, None)
            self._closed.add(shard)
            self._finished += samples


@contextlib.contextmanager
def _process_runner(plan: BuildPlan, workers: int) -> Iterator[tuple[Any, Any, int]]:
    """Submit shards to Prefect's thread pool; each task waits on a worker of the process pool."""
    with ShardPool(workers) as pool:
        set_active_pool(pool)

        def submit(shard: Shard) -> PrefectFuture:
            return render_shard.submit(plan, shard, pool)

        # One more shard task per worker than there are workers waits for a free worker, so a
        # worker takes its next shard the moment it is done, not after Prefect has recorded the
        # finished task run and started the next one (~0.1 s per shard, idle, per worker).
        yield submit, pool, 2 * workers


@contextlib.contextmanager
def _sigint_ignored_by_children() -> Iterator[None]:
    """Processes started meanwhile (a local Dask cluster's workers) ignore SIGINT: Ctrl-C in a
    terminal reaches the whole process group, and this process alone decides what stops (it
    closes the cluster). An ignored signal stays ignored across exec; Python keeps it so."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _die_with_parent() -> Callable[[], None] | None:
    """A function for a child process to call before it starts: a SIGTERM when this process
    dies (Linux's PR_SET_PDEATHSIG), so the child never outlives it; None elsewhere. The C
    function is looked up here, so that the child, between fork and exec, only calls it."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    term = int(signal.SIGTERM)
    return lambda: prctl(1, term)  # 1 = PR_SET_PDEATHSIG


def start_temporary_server(quiet: bool = True) -> None:
    """Without ``PREFECT_API_URL``, start Prefect's temporary server now, in a session of its
    own (call from the main thread); with ``quiet``, its output goes to
    ``$PREFECT_HOME/temporary-server.log`` instead of this terminal (under load its services
    log retried database writes as errors with tracebacks, which are not the build's).

    Ctrl-C in a terminal reaches the whole process group. Prefect starts its temporary server
    in ours, so the Ctrl-C killed it too, and this process then spent over a minute retrying to
    report the interrupted run before it failed with a connection traceback instead of saying
    it was interrupted. Started here, the server outlives the Ctrl-C and is stopped on exit as
    usual (Prefect's ``atexit`` hook), or when this process dies.
    """
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return
    import prefect.server.api.server as server_module

    server = server_module.SubprocessASGIServer()  # the instance Prefect's client uses
    real = getattr(server_module, "subprocess", None)
    if server.running or real is None or os.name != "posix":
        server.start()
        return
    # Prefect has no option for this: its module-level ``subprocess`` is swapped, for this
    # one call, for a copy whose ``Popen`` starts the server in its own session.
    options: dict[str, Any] = {"start_new_session": True, "preexec_fn": _die_with_parent()}
    with contextlib.ExitStack() as stack:
        if quiet:
            home = Path(settings.home).expanduser()
            home.mkdir(parents=True, exist_ok=True)
            log = stack.enter_context(open(home / "temporary-server.log", "ab"))
            options |= {"stdout": log, "stderr": real.STDOUT}
        own = types.ModuleType("subprocess")
        own.__dict__.update(vars(real))
        own.Popen = functools.partial(real.Popen, **options)  # type: ignore[attr-defined]
        server_module.subprocess = own
        try:
            server.start()
        finally:
            server_module.subprocess = real


@contextlib.contextmanager
def _glibc_default_trimming(local: bool) -> Iterator[None]:
    """Local Dask workers keep glibc's own malloc trimming. Dask starts workers with
    ``MALLOC_TRIM_THRESHOLD_=65536`` (memory handed back to the system sooner), which made
    rendering ~30% slower here: every image buffer was mapped and unmapped again."""
    if not local:
        yield
        return
    import dask

    key = "distributed.nanny.pre-spawn-environ"
    environ = dict(dask.config.get(key) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({key: environ}):
        yield


@contextlib.contextmanager
def _dask_runner(plan: BuildPlan, runner: Any) -> Iterator[tuple[Any, Any, int]]:
    """Submit shards to the flow's Dask task runner: they render on the Dask workers."""
    _require_server()
    local = not runner.address
    if local:
        for key, value in ONE_THREAD_ENV.items():  # read by each local worker's BLAS
            os.environ.setdefault(key, value)
    try:
        with _sigint_ignored_by_children(), _glibc_default_trimming(local):
            client = runner.client  # connects, or starts the local cluster
        threads = sum(client.nthreads().values())
    except Exception as err:
        where = f"--dask-address {runner.address}" if not local else "a local Dask cluster"
        raise SynthError(f"{where}: cannot reach the Dask scheduler ({err})") from None
    progress = ShardProgress(plan.fingerprint[:16])
    client.subscribe_topic(PROGRESS_TOPIC, progress.event)
    set_active_pool(progress)
    inflight: list[Any] = []

    def submit(shard: Shard) -> PrefectFuture:
        fut = render_shard.submit(plan, shard)
        inflight.append(fut)
        return fut

    try:
        # Two shards queued per worker thread keep the cluster busy; a bounded queue keeps
        # Ctrl-C prompt and the flow's memory flat.
        yield submit, progress, max(2, 2 * threads)
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel([f.wrapped_future for f in inflight if not f.wrapped_future.done()])
        raise
    finally:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(PROGRESS_TOPIC)


def run_build(plan: BuildPlan, gen: Generator, workers: int) -> dict[str, Any]:
    """Inside a flow: render every unfinished shard, then register.

    With the flow's default task runner, at most ``workers`` shards at a time render in a local
    process pool; with a Dask task runner (``with_runner``), on the Dask workers. Shards whose
    manifest exists (a resumed build) are counted, not submitted.
    """
    context = FlowRunContext.get()
    task_runner = context.task_runner if context is not None else None
    dask = _is_dask(task_runner)
    logger = get_run_logger()
    catalog = open_catalog(plan.home)
    flow_run_id = str(flow_run.get_id()) if flow_run.get_id() else None
    emitter = start(plan, catalog, flow_run_id)
    run: dict[str, Any] = {"flow_run_id": flow_run_id, "workers": workers}
    run["runner"] = "dask" if dask else "process"
    if dask and task_runner.address:
        run["dask_address"] = task_runner.address
    shards = plan.shards()
    todo = [s for s in shards if not shard_manifest_path(plan, s).exists()]
    rendered = 0
    try:
        runner_cm = _dask_runner(plan, task_runner) if dask else _process_runner(plan, workers)
        with runner_cm as (submit, progress, limit):
            progress.add_done(sum(len(s) for s in shards) - sum(len(s) for s in todo))

            shard_of: dict[PrefectFuture, int] = {}
            failures: list[tuple[int, SynthError]] = []

            def collect(fut: PrefectFuture) -> None:
                nonlocal rendered
                try:
                    result = fut.result()
                except SynthError as err:  # a bad input: the lowest failing shard is reported
                    failures.append((shard_of[fut], err))
                    return
                if isinstance(progress, ShardProgress):
                    progress.finished(result["shard"], result["samples"])
                if result["rendered"]:
                    rendered += 1
                elif not isinstance(progress, ShardProgress):
                    # finished meanwhile, e.g. by a worker that died as it wrote the manifest
                    progress.add_done(result["samples"])

            inflight: list[PrefectFuture] = []
            for shard in todo:
                if len(inflight) >= limit:
                    first = next(as_completed(inflight))
                    inflight.remove(first)
                    collect(first)
                if failures:  # no new shards; the ones in flight finish, so that the error
                    break  # reported is the first in sample order, whichever ended first
                inflight.append(fut := submit(shard))
                shard_of[fut] = shard.number
            for fut in as_completed(inflight):
                collect(fut)
            if failures:
                raise min(failures, key=lambda f: f[0])[1]
        registered = register_dataset(plan, gen, run, emitter)
    except BaseException as err:
        fail(plan, catalog, emitter, err)
        raise
    finally:
        set_active_pool(None)
        catalog.close()
    try:
        materialize_dataset(registered["record"])
    except Exception as err:  # a copy of the catalog's record: never fatal to a built dataset
        logger.warning("Prefect asset event not sent for %s: %s", registered["record"]["id"], err)
    skipped = len(shards) - rendered
    logger.info("rendered %d shard(s), %d already done", rendered, skipped)
    return {**registered, "rendered_shards": rendered, "skipped_shards": skipped}
