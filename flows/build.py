"""What every dataset flow shares: the core's build sequence with one Prefect task per shard,
then the Prefect copies of what was built (an asset event, a table and a markdown artifact).

The flow decides only who renders the shards (``PrefectShardRunner``); start, failure semantics,
assembly and registration are the core's (``synth.engine.build.run_build``), the same sequence
a build without a Prefect server runs (``flows.jobs``). Two runners render the shards:

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
import logging
import os
import re
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
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
from synth.engine.build import run_build as core_run_build
from synth.engine.generator import Generator
from synth.engine.plan import BuildPlan, Shard
from synth.engine.pool import ONE_THREAD_ENV, ShardPool, single_threaded_blas
from synth.engine.shard import ShardResult, build_shard
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
    withheld = record.get("access", "team") != "team"  # no paths of a restricted dataset
    deps = [Asset(key=asset_key(_shown_uri(i, withheld))) for i in record["inputs"]]
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
        "access": record.get("access", "team"),
    }
    if not withheld:
        metadata["path"] = record["path"]

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


def _shown_uri(item: dict[str, Any], withheld: bool) -> str:
    """An input's URI as the Prefect copies show it: a file of a restricted dataset by its
    sha256, never by its path."""
    if withheld and not item["uri"].startswith(("asset:", "dataset:", "procedural:")):
        return f"input:{item['sha256'] or 'withheld'}"
    return item["uri"]


def artifact_key(name: str, what: str) -> str:
    """A Prefect artifact key for dataset ``name``: lowercase letters, digits and dashes, the
    same for every version of the name, so that the Prefect UI lines the versions up."""
    slug = re.sub("-+", "-", re.sub("[^a-z0-9]", "-", name.lower())).strip("-")
    return f"{what}-{slug or 'dataset'}"[:200]


def build_table(record: dict[str, Any]) -> list[dict[str, Any]]:
    """What a build made, one row per fact: id, path, count, licences, each rejection reason."""
    access = record.get("access", "team")
    rows: list[dict[str, Any]] = [
        {"field": "dataset id", "value": record["id"]},
        {"field": "name", "value": record["name"]},
        {"field": "kind", "value": record["kind"]},
        {"field": "count", "value": record["count"]},
        {"field": "access", "value": access},
        {"field": "licences", "value": ", ".join(record["licences"])},
    ]
    if access == "team":  # a restricted dataset's folder is not named
        rows.insert(4, {"field": "path", "value": record["path"]})
    rejections = (record.get("statistics") or {}).get("rejections") or {}
    rows += [{"field": f"rejected: {k}", "value": v} for k, v in sorted(rejections.items())]
    if not rejections:
        rows.append({"field": "rejected", "value": 0})
    return rows


_CARD_SKIPPED = ("## Preview", "## Load it")  # pictures by relative path; a local code snippet


def card_summary(card: str) -> str:
    """The dataset card (``README.md``) without its metadata header, preview pictures and
    loading snippet: title, summary, statistics, licences and attributions."""
    if card.startswith("---\n"):
        end = card.find("\n---\n", 4)
        card = card[end + 5 :] if end >= 0 else card
    kept: list[str] = []
    skipping = False
    for line in card.splitlines():
        if line.startswith("## "):
            skipping = line.strip() in _CARD_SKIPPED
        if not skipping:
            kept.append(line)
    return "\n".join(kept).strip() + "\n"


def publish_artifacts(record: dict[str, Any]) -> None:
    """Publish what was built to the flow run: a table artifact (``build_table``) and a
    markdown artifact (``card_summary``), keyed by the dataset's name."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    version = f"{record['name']} {record['id'][:12]}"
    create_table_artifact(
        table=build_table(record),
        key=artifact_key(record["name"], "dataset"),
        description=f"synth {record['kind']} dataset {version}",
    )
    access = record.get("access", "team")
    if access == "team":
        card = card_summary((Path(record["path"]) / "README.md").read_text(encoding="utf-8"))
    else:  # the card quotes texts and transcripts: not copied out of the catalog
        card = (
            f"# {record['name']}\n\nsynth {record['kind']} dataset `{record['id']}`, "
            f"{record['count']} samples: **{access}**. Its card, paths, texts and transcripts "
            "are withheld here; `synth datasets show` gives them to the roles that may read "
            "it.\n"
        )
    create_markdown_artifact(
        markdown=card,
        key=artifact_key(record["name"], "card"),
        description=f"dataset card of {version}",
    )


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


class _PrefectDispatch:
    """Shards as Prefect task runs (``render_shard``); ``progress`` is the sample counter a
    progress bar reads (the process pool's, or the Dask workers' reports)."""

    def __init__(self, submit: Callable[[Shard], PrefectFuture], progress: Any, limit: int):
        self._submit = submit
        self.progress = progress
        self.limit = limit

    def submit(self, shard: Shard) -> PrefectFuture:
        return self._submit(shard)

    def wait(self, handles: Sequence[PrefectFuture], block: bool) -> list[PrefectFuture]:
        if block:
            return [next(as_completed(list(handles)))]
        # A look at the wrapped (thread or Dask) future: no call to the Prefect API.
        return [h for h in handles if getattr(h, "wrapped_future", h).done()]

    def result(self, handle: PrefectFuture) -> ShardResult:
        return ShardResult(**handle.result())

    def skipped(self, samples: int) -> None:
        self.progress.add_done(samples)

    def finished(self, result: ShardResult) -> None:
        if isinstance(self.progress, ShardProgress):
            self.progress.finished(result.shard, result.samples)
        elif not result.rendered:  # finished meanwhile, e.g. by a worker that died as it wrote
            self.progress.add_done(result.samples)


@contextlib.contextmanager
def _process_runner(plan: BuildPlan, workers: int) -> Iterator[_PrefectDispatch]:
    """Submit shards to Prefect's thread pool; each task waits on a worker of the process pool."""
    with ShardPool(workers) as pool:
        set_active_pool(pool)

        def submit(shard: Shard) -> PrefectFuture:
            return render_shard.submit(plan, shard, pool)

        # One more shard task per worker than there are workers waits for a free worker, so a
        # worker takes its next shard the moment it is done, not after Prefect has recorded the
        # finished task run and started the next one (~0.1 s per shard, idle, per worker).
        yield _PrefectDispatch(submit, pool, 2 * workers)


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
def _dask_runner(plan: BuildPlan, runner: Any) -> Iterator[_PrefectDispatch]:
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
        yield _PrefectDispatch(submit, progress, max(2, 2 * threads))
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel([f.wrapped_future for f in inflight if not f.wrapped_future.done()])
        raise
    finally:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(PROGRESS_TOPIC)


class PrefectShardRunner:
    """The shards of a build inside a flow run, one Prefect task run each: rendered by a local
    process pool of ``workers`` (the flow's default task runner) or on Dask workers (a Dask
    task runner, see ``with_runner``)."""

    def __init__(self, workers: int, task_runner: Any = None) -> None:
        self.workers = workers
        self.task_runner = task_runner
        self.dask = _is_dask(task_runner)

    def run_facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"runner": "dask" if self.dask else "process"}
        if self.dask and self.task_runner.address:
            facts["dask_address"] = self.task_runner.address
        return facts

    @contextlib.contextmanager
    def open(self, plan: BuildPlan) -> Iterator[_PrefectDispatch]:
        runner = (
            _dask_runner(plan, self.task_runner)
            if self.dask
            else _process_runner(plan, self.workers)
        )
        try:
            with runner as dispatch:
                yield dispatch
        finally:
            set_active_pool(None)


def run_build(plan: BuildPlan, gen: Generator, workers: int) -> dict[str, Any]:
    """Inside a flow: the core's build sequence (``synth.engine.build.run_build``) with the
    shards as Prefect task runs, then the Prefect copies of what was built: an asset event, and
    a table and a markdown artifact (``publish_artifacts``).

    With the flow's default task runner, at most ``workers`` shards at a time render in a local
    process pool; with a Dask task runner (``with_runner``), on the Dask workers. Shards whose
    manifest exists (a resumed build) are counted, not submitted.
    """
    context = FlowRunContext.get()
    runner = PrefectShardRunner(workers, context.task_runner if context is not None else None)
    logger = get_run_logger()
    flow_run_id = str(flow_run.get_id()) if flow_run.get_id() else None
    run: dict[str, Any] = {
        "orchestrator": "prefect",
        "flow_run_id": flow_run_id,
        "workers": workers,
        **runner.run_facts(),
    }
    catalog = open_catalog(plan.home)
    try:
        result = core_run_build(plan, gen, catalog, runner, run, flow_run_id)
    finally:
        catalog.close()
    record = result.record.to_json()
    for what, publish in (("asset event", materialize_dataset), ("artifacts", publish_artifacts)):
        try:
            publish(record)
        except Exception as err:  # copies of the catalog's record: never fatal to a dataset
            logger.warning("Prefect %s not sent for %s: %s", what, record["id"], err)
    logger.info(
        "rendered %d shard(s), %d already done", result.rendered_shards, result.skipped_shards
    )
    return {
        "record": record,
        "created": result.created,
        "built": {"path": str(plan.out_dir), "fingerprint": plan.fingerprint},
        "rendered_shards": result.rendered_shards,
        "skipped_shards": result.skipped_shards,
    }
