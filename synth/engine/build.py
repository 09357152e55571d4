"""Plain-Python build driver: plan, render shards in a pool, assemble, write the card, register.

The Prefect flows call the same steps (one Prefect task per shard); tests and benchmarks may
call ``build`` directly, without Prefect.
"""

from __future__ import annotations

import inspect
import itertools
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth.catalog import Catalog, DatasetRecord
from synth.catalog.base import data_home
from synth.engine.assemble import DATASET_JSON, INDEX_JSON, METADATA, assemble
from synth.engine.card import write_card
from synth.engine.expand import link_parent
from synth.engine.generator import Generator, make_generator
from synth.engine.plan import BuildPlan
from synth.engine.pool import ShardPool
from synth.engine.shard import adopt_generator
from synth.engine.stats import Stats
from synth.errors import AssetError, SynthError, TooManyRejections
from synth.hashing import sha256_file
from synth.licences import all_of
from synth.lineage.openlineage import LineageEmitter


@dataclass(frozen=True)
class BuildResult:
    record: DatasetRecord
    created: bool  # False when the catalog already held this exact version
    rendered_shards: int
    skipped_shards: int


def prepare(
    kind: str,
    spec: dict[str, Any],
    *,
    seed: int,
    count: int,
    name: str,
    home: str | Path | None = None,
    trigger: dict[str, Any] | None = None,
    parent: dict[str, Any] | None = None,
) -> tuple[BuildPlan, Generator]:
    """Validate the inputs by building the generator once, and fix the plan."""
    if count < 1:
        raise SynthError(f"count: must be >= 1, got {count}")
    if not 0 <= seed < 2**63:
        raise SynthError(f"seed: must be a whole number from 0 to 2**63 - 1, got {seed}")
    gen = make_generator(kind, spec)
    plan = BuildPlan(
        kind=kind,
        name=name,
        spec=spec,
        seed=seed,
        count=count,
        shard_size=int(spec.get("shard_size", 500)),
        home=str(data_home(str(home) if home else None)),
        inputs=[i.to_json() for i in gen.inputs()],
        parent=parent,
        trigger=trigger or {"type": "manual"},
        renderer_version=getattr(gen, "renderer_version", None),
    )
    return plan, gen


def start(plan: BuildPlan, catalog: Catalog, flow_run_id: str | None = None) -> LineageEmitter:
    """Before rendering: the folder exists and is writable, an expansion's parent samples are
    linked in, the catalog knows a build is under way, and an OpenLineage START is sent."""
    ensure_writable(plan)
    link_parent(plan)
    inherit_from_datasets(plan, catalog)
    catalog.start_build(plan.fingerprint, plan.name, plan.kind, str(plan.out_dir))
    emitter = LineageEmitter(plan, flow_run_id)
    emitter.start()
    return emitter


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
                out["skipped_inputs"] = skipped_inputs(
                    dict(stats.rejections), counts=stats.counts
                )
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
        emitter.complete(assembled.info)
    return record, created


def build(
    plan: BuildPlan,
    gen: Generator,
    catalog: Catalog,
    workers: int = 1,
    run: dict[str, Any] | None = None,
    on_pool: Callable[[ShardPool], None] | None = None,
) -> BuildResult:
    """Render every unfinished shard with ``workers`` processes, then finish the dataset."""
    emitter = start(plan, catalog)
    rendered = skipped = 0
    try:
        adopt_generator(plan, gen)  # for shards rendered in this process
        with ShardPool(workers) as pool:
            if on_pool is not None:
                on_pool(pool)
            futures = [pool.submit(plan, shard) for shard in plan.shards()]
            for fut in futures:
                result = fut.result()
                if result.rendered:
                    rendered += 1
                else:
                    skipped += 1
                    pool.add_done(result.samples)
        record, created = finish(plan, gen, catalog, run, emitter)
    except BaseException as err:
        fail(plan, catalog, emitter, err)
        raise
    return BuildResult(record, created, rendered, skipped)


def discard_unfinished(plan: BuildPlan) -> None:
    """Remove the folder of a build that an unusable input stopped half-way (no clean clip
    left to draw, a text no font draws with redraws off, an input file gone). Resuming cannot
    help, since the same spec meets the same input, and fixing the input changes the fingerprint
    and so the folder; an interrupted or crashed build keeps its folder to resume. A folder
    already assembled (``dataset.json`` written) is never touched."""
    if (plan.out_dir / DATASET_JSON).exists():
        return
    shutil.rmtree(plan.out_dir, ignore_errors=True)
