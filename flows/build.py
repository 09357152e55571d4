"""Tasks shared by every dataset flow: one task per shard, one to assemble and register.

Shard tasks run in Prefect's thread pool and hand the rendering to a pool of worker processes,
so Prefect tracks, retries and resumes shards while the pixels and samples are made at full
speed outside the Prefect engine.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
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
    rendered = sum(1 for r in results if r["rendered"])
    logger.info("rendered %d shard(s), %d already done", rendered, len(results) - rendered)
    return {
        **registered,
        "rendered_shards": rendered,
        "skipped_shards": len(results) - rendered,
    }
