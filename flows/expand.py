"""The ``expand_dataset`` flow: a new version of a dataset with ``count`` more samples."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.build import run_build
from flows.plans import expand_plan


@flow(name="expand_dataset", validate_parameters=True)
def expand_dataset(
    dataset_id: str,
    count: int,
    workers: int = 1,
    home: str | None = None,
    trigger: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Expand dataset ``dataset_id`` (an id or unique prefix) by ``count`` new samples.

    The new version keeps the parent's spec and seed, continues its sample indices and records
    the parent and ``trigger`` (default: manual) in its lineage. ``config`` may give new
    locations of the parent's inputs (the same files, moved), nothing else.
    """
    plan, gen = expand_plan(dataset_id, count, home=home, trigger=trigger, config=config)
    return run_build(plan, gen, workers)
