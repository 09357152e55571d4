"""Tasks shared by every dataset flow: one task per shard, one to assemble and register.

Shard tasks run in Prefect's thread pool and hand the rendering to a pool of worker processes,
so Prefect tracks, retries and resumes shards while the pixels and samples are made at full
speed outside the Prefect engine.
"""

from __future__ import annotations

import re
from typing import Any

from prefect import get_run_logger, task
from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize
from prefect.cache_policies import NONE
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run

from flows.runtime import set_active_pool
from synth.catalog import open_catalog
from synth.engine.build import fail, finish, start
from synth.engine.generator import Generator
from synth.engine.plan import BuildPlan, Shard
from synth.engine.pool import ShardPool
from synth.engine.shard import ShardResult


@task(name="render-shard", cache_policy=NONE, task_run_name="render-{shard.name}")
def render_shard(plan: BuildPlan, shard: Shard, pool: Any) -> dict[str, Any]:
    """Render one shard (skipped at once when its manifest exists: a resumed build)."""
    result: ShardResult = pool.run(plan, shard)
    if not result.rendered:
        pool.add_done(result.samples)
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
    return {"record": record.to_json(), "created": created}


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


def run_build(plan: BuildPlan, gen: Generator, workers: int) -> dict[str, Any]:
    """Inside a flow: render every shard (at most ``workers`` at a time), then register."""
    logger = get_run_logger()
    catalog = open_catalog(plan.home)
    flow_run_id = str(flow_run.get_id()) if flow_run.get_id() else None
    emitter = start(plan, catalog, flow_run_id)
    run = {"flow_run_id": flow_run_id, "workers": workers}
    shards = plan.shards()
    results: list[dict[str, Any]] = []
    try:
        with ShardPool(workers) as pool:
            set_active_pool(pool)
            inflight: list[PrefectFuture] = []
            for shard in shards:
                if len(inflight) >= workers:
                    first = next(as_completed(inflight))
                    results.append(first.result())
                    inflight.remove(first)
                inflight.append(render_shard.submit(plan, shard, pool))
            for fut in inflight:
                results.append(fut.result())
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
    rendered = sum(1 for r in results if r["rendered"])
    logger.info("rendered %d shard(s), %d already done", rendered, len(results) - rendered)
    return {
        **registered,
        "rendered_shards": rendered,
        "skipped_shards": len(results) - rendered,
    }
