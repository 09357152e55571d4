"""The one build sequence: start, render the unfinished shards, finish (or record the failure).

``run_build`` is the whole of it, whoever renders the shards: a ``ShardRunner`` decides that.
``PoolRunner`` renders them in a pool of worker processes on this machine (the command line
without a Prefect server, tests, benchmarks); the Prefect flows pass a runner that submits one
Prefect task per shard (``flows/build.py``). The failure semantics are the sequence's: once a
shard fails on a bad input no new shard starts, the ones in flight finish, and the error of the
lowest failing shard is raised, so the error reported is the first in sample order whatever
ended first; an input that stops a build half-way removes its unfinished folder.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import inspect
import itertools
import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from synth.catalog import Catalog, DatasetRecord
from synth.engine.assemble import DATASET_JSON, INDEX_JSON, METADATA, assemble
from synth.engine.card import write_card
from synth.engine.expand import link_parent
from synth.engine.generator import Generator
from synth.engine.plan import BuildPlan, Shard, prepare
from synth.engine.pool import ShardPool
from synth.engine.shard import ShardResult, adopt_generator, shard_manifest_path
from synth.engine.stats import Stats
from synth.errors import AssetError, SynthError, TooManyRejections
from synth.hashing import sha256_file
from synth.licences import all_of
from synth.lineage.openlineage import LineageEmitter

__all__ = [
    "BuildResult",
    "Dispatch",
    "PoolRunner",
    "ShardRunner",
    "build",
    "discard_unfinished",
    "ensure_writable",
    "fail",
    "finish",
    "inherit_from_datasets",
    "local_run",
    "prepare",
    "record_derived",
    "render_shards",
    "run_build",
    "start",
]


@dataclass(frozen=True)
class BuildResult:
    record: DatasetRecord
    created: bool  # False when the catalog already held this exact version
    rendered_shards: int
    skipped_shards: int


def start(plan: BuildPlan, catalog: Catalog, flow_run_id: str | None = None) -> LineageEmitter:
    """Before rendering: the folder exists and is writable, an expansion's parent samples are
    linked in, the catalog knows a build is under way, and an OpenLineage START is sent."""
    read = require_sources(plan, catalog)  # before anything is written
    ensure_writable(plan)
    link_parent(plan)
    inherit_from_datasets(plan, catalog)
    for dataset_id in read:  # the audit trail's "read": this build reads that dataset
        catalog.audit("read", dataset_id, {"build": plan.name, "fingerprint": plan.fingerprint})
    catalog.start_build(plan.fingerprint, plan.name, plan.kind, str(plan.out_dir))
    emitter = LineageEmitter(plan, flow_run_id, access=planned_access(plan, catalog, read))
    emitter.start()
    return emitter


def require_sources(plan: BuildPlan, catalog: Catalog) -> list[str]:
    """The catalog datasets the build reads (its parent, its ``dataset:`` inputs), each of which
    the acting role must have the right to use: else ``AccessDenied``, naming it."""
    ids = [plan.parent["id"]] if plan.parent else []
    ids += [i["uri"][len("dataset:") :] for i in plan.inputs if i["uri"].startswith("dataset:")]
    ids = list(dict.fromkeys(ids))
    for dataset_id in ids:
        catalog.require(dataset_id, "use")
    return ids


def planned_access(plan: BuildPlan, catalog: Catalog, sources: list[str]) -> str:
    """The access level the build's dataset will be registered with (as the catalog's
    ``register`` derives it), for the copies sent before it is: its OpenLineage events."""
    from synth.catalog.access import inherited, requested_level

    records = [catalog.get(i) for i in sources]
    personal = any(i.get("personal_data") for i in plan.inputs)
    level, _ = inherited(
        requested_level({}),
        personal,
        catalog.whoami(),
        [{"access": r.access, "owner": r.owner, "grants": r.grants} for r in records],
    )
    return level


def inherit_from_datasets(plan: BuildPlan, catalog: Catalog) -> None:
    """An input that is a catalog dataset passes on its licences and personal-data mark."""
    for item in plan.inputs:
        if item["uri"].startswith("dataset:"):
            source = catalog.get(item["uri"][len("dataset:") :])
            item["licence"] = all_of(source.licences)
            item["personal_data"] = bool(item.get("personal_data") or source.personal_data)


def fail(plan: BuildPlan, catalog: Catalog, emitter: LineageEmitter, err: BaseException) -> None:
    """Record a failed or interrupted build: catalog build status and an OpenLineage FAIL; an
    unusable input also discards the unfinished folder (see ``discard_unfinished``)."""
    catalog.end_build(plan.fingerprint, "failed", error=str(err)[:500] or type(err).__name__)
    emitter.fail(err)
    if isinstance(err, AssetError | TooManyRejections):
        discard_unfinished(plan)


def ensure_writable(plan: BuildPlan) -> None:
    """Create the dataset folder, or fail with one line naming the folder that is not writable."""
    try:
        plan.internal_dir.mkdir(parents=True, exist_ok=True)
        probe = plan.internal_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise SynthError(
            f"{plan.out_dir}: cannot write the dataset here ({err.strerror})"
        ) from None
    (plan.internal_dir / "plan.json").write_text(json.dumps(plan.to_json(), indent=2))


def record_derived(plan: BuildPlan, paths: list[Path]) -> None:
    """Add the hashes of files derived from the labels (``write_extras``) to the folder's index,
    so ``verify`` names an edited or deleted one."""
    index_path = plan.internal_dir / INDEX_JSON
    index = json.loads(index_path.read_text(encoding="utf-8"))
    index["derived"] = {
        Path(p).relative_to(plan.out_dir).as_posix(): sha256_file(p) for p in sorted(paths)
    }
    tmp = index_path.with_name(f".{INDEX_JSON}.tmp")
    tmp.write_text(json.dumps(index) + "\n", encoding="utf-8")
    tmp.replace(index_path)


def finish(
    plan: BuildPlan,
    gen: Generator,
    catalog: Catalog,
    run: dict[str, Any] | None = None,
    emitter: LineageEmitter | None = None,
) -> tuple[DatasetRecord, bool]:
    """Assemble the folder, write the card, register the version (idempotently) and send the
    OpenLineage COMPLETE."""
    skipped_inputs = getattr(gen, "skipped_inputs", None)
    run = dict(run or {})
    if emitter is not None:
        run["openlineage_run_id"] = emitter.run_id

    input_warnings = getattr(gen, "input_warnings", None)

    def extra(stats: Stats) -> dict[str, Any]:
        # The optional hook takes the build's rejection counts (files found unusable only
        # while rendering are listed from them); a hook without parameters is called bare.
        out: dict[str, Any] = {"skipped_inputs": []}
        if skipped_inputs is not None:
            params = inspect.signature(skipped_inputs).parameters
            if "counts" in params:  # the hook also reads the counted categories
                out["skipped_inputs"] = skipped_inputs(dict(stats.rejections), counts=stats.counts)
            elif params:
                out["skipped_inputs"] = skipped_inputs(dict(stats.rejections))
            else:
                out["skipped_inputs"] = skipped_inputs()
        if input_warnings is not None:  # lines on inputs used as they are, e.g. upsampled audio
            out["input_warnings"] = input_warnings(stats.to_json()["counts"])
        return out

    assembled = assemble(plan, run, extra=extra)
    previews: list[tuple[str, str]] = []
    preview = getattr(gen, "preview", None)
    if preview is not None:
        with open(plan.out_dir / METADATA, encoding="utf-8") as f:
            rows = (json.loads(line) for line in itertools.islice(f, 64))
            previews = preview(plan.out_dir, rows)
    extras = getattr(gen, "write_extras", None)
    written = None
    if extras is not None:  # derived views of the labels, e.g. a NeMo manifest or Kaldi files
        with open(plan.out_dir / METADATA, encoding="utf-8") as f:
            written = extras(plan.out_dir, (json.loads(line) for line in f))
    record_derived(plan, written or [])  # none is recorded too: verify then knows every file
    card_notes = getattr(gen, "card_notes", None)
    write_card(plan.out_dir, assembled.info, previews, card_notes() if card_notes else None)
    record, created = catalog.register(assembled.info, str(plan.out_dir))
    catalog.end_build(plan.fingerprint, "complete", record.id)
    if emitter is not None:
        emitter.access = record.access  # the catalog's word
        emitter.complete(assembled.info)
    return record, created


class Dispatch(Protocol):
    """Shards on their way to a renderer, for one build. A handle is whatever ``submit``
    returns (a future of some kind); ``result`` gives its ``ShardResult`` or raises the
    shard's error."""

    limit: int  # shards in flight at most: enough to keep every renderer busy

    def submit(self, shard: Shard) -> Any: ...

    def wait(self, handles: Sequence[Any], block: bool) -> list[Any]:
        """The handles that are done: at least one when ``block``, maybe none otherwise."""
        ...

    def result(self, handle: Any) -> ShardResult: ...

    def skipped(self, samples: int) -> None:
        """Samples of shards found done before this run (a resume), for the progress count."""
        ...

    def finished(self, result: ShardResult) -> None:
        """A shard came back (rendered now, or found done by its renderer)."""
        ...


class ShardRunner(Protocol):
    """Who renders the shards: ``open`` readies the renderers for one build and releases them
    on leaving (at once, stopping the shards in flight, when the build fails or is
    interrupted)."""

    def open(self, plan: BuildPlan) -> contextlib.AbstractContextManager[Dispatch]: ...


class _PoolDispatch:
    def __init__(self, pool: ShardPool, plan: BuildPlan) -> None:
        self.pool = pool
        self.plan = plan
        # One shard queued per worker beyond the one it renders: a worker takes its next shard
        # the moment it is done.
        self.limit = 2 * pool.workers

    def submit(self, shard: Shard) -> concurrent.futures.Future[ShardResult]:
        return self.pool.submit(self.plan, shard)

    def wait(self, handles: Sequence[Any], block: bool) -> list[Any]:
        done, _ = concurrent.futures.wait(
            handles, timeout=None if block else 0, return_when=concurrent.futures.FIRST_COMPLETED
        )
        return list(done)

    def result(self, handle: concurrent.futures.Future[ShardResult]) -> ShardResult:
        return handle.result()

    def skipped(self, samples: int) -> None:
        self.pool.add_done(samples)

    def finished(self, result: ShardResult) -> None:
        if not result.rendered:  # finished meanwhile, e.g. by a worker that died as it wrote
            self.pool.add_done(result.samples)


class PoolRunner:
    """Shards rendered by ``workers`` processes on this machine (``ShardPool``; one worker is
    this process). ``on_pool`` sees the pool once it exists (a progress bar reads its sample
    counter, tests its worker pids)."""

    def __init__(
        self, workers: int = 1, on_pool: Callable[[ShardPool], None] | None = None
    ) -> None:
        self.workers = workers
        self.on_pool = on_pool

    @contextlib.contextmanager
    def open(self, plan: BuildPlan) -> Iterator[Dispatch]:
        with ShardPool(self.workers) as pool:
            if self.on_pool is not None:
                self.on_pool(pool)
            yield _PoolDispatch(pool, plan)


def render_shards(plan: BuildPlan, dispatch: Dispatch) -> tuple[int, int]:
    """Render every shard of ``plan`` without a manifest through ``dispatch``; returns the
    shards rendered now and those found done. Once a shard fails on a bad input
    (``SynthError``) no new shard starts and the ones in flight finish; then the error of the
    lowest failing shard is raised. Any other error (an interrupt, a worker that died on every
    try) is raised at once."""
    shards = plan.shards()
    todo = [s for s in shards if not shard_manifest_path(plan, s).exists()]
    dispatch.skipped(sum(len(s) for s in shards) - sum(len(s) for s in todo))
    rendered = 0
    failures: list[tuple[int, SynthError]] = []
    inflight: list[tuple[Any, int]] = []

    def reap(block: bool) -> None:
        nonlocal rendered
        if not inflight:
            return
        done = dispatch.wait([h for h, _ in inflight], block)
        for item in [item for item in inflight if any(item[0] is d for d in done)]:
            inflight.remove(item)
            handle, number = item
            try:
                result = dispatch.result(handle)
            except SynthError as err:
                failures.append((number, err))
                continue
            dispatch.finished(result)
            rendered += int(result.rendered)

    for shard in todo:
        while len(inflight) >= dispatch.limit:
            reap(block=True)
        reap(block=False)  # a shard rendered at once (in this process) is seen at once
        if failures:
            break
        inflight.append((dispatch.submit(shard), shard.number))
    while inflight:
        reap(block=True)
    if failures:
        raise min(failures, key=lambda f: f[0])[1]
    return rendered, len(shards) - rendered


def run_build(
    plan: BuildPlan,
    gen: Generator,
    catalog: Catalog,
    runner: ShardRunner,
    run: dict[str, Any] | None = None,
    flow_run_id: str | None = None,
) -> BuildResult:
    """Build ``plan``: start (folder, parent's samples, catalog build status, OpenLineage
    START), render the unfinished shards with ``runner``, then finish (assemble, card,
    registration, COMPLETE); a failure or an interrupt is recorded (``fail``) and raised.
    ``run`` holds facts about how the build ran, kept in ``dataset.json`` (not in the id)."""
    emitter = start(plan, catalog, flow_run_id)
    try:
        adopt_generator(plan, gen)  # for shards rendered in this process
        with runner.open(plan) as dispatch:
            rendered, skipped = render_shards(plan, dispatch)
        record, created = finish(plan, gen, catalog, run, emitter)
    except BaseException as err:
        fail(plan, catalog, emitter, err)
        raise
    return BuildResult(record, created, rendered, skipped)


def local_run(workers: int) -> dict[str, Any]:
    """The run facts of a build on this machine without Prefect."""
    return {"orchestrator": "local", "flow_run_id": None, "runner": "process", "workers": workers}


def build(
    plan: BuildPlan,
    gen: Generator,
    catalog: Catalog,
    workers: int = 1,
    run: dict[str, Any] | None = None,
    on_pool: Callable[[ShardPool], None] | None = None,
) -> BuildResult:
    """Render every unfinished shard with ``workers`` processes here, then finish the dataset."""
    facts = local_run(workers) | (run or {})
    return run_build(plan, gen, catalog, PoolRunner(workers, on_pool), facts)


def discard_unfinished(plan: BuildPlan) -> None:
    """Remove the folder of a build that an unusable input stopped half-way (no clean clip
    left to draw, a text no font draws with redraws off, an input file gone). Resuming cannot
    help, since the same spec meets the same input, and fixing the input changes the fingerprint
    and so the folder; an interrupted or crashed build keeps its folder to resume. A folder
    already assembled (``dataset.json`` written) is never touched."""
    if (plan.out_dir / DATASET_JSON).exists():
        return
    shutil.rmtree(plan.out_dir, ignore_errors=True)
