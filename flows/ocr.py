"""The ``ocr_dataset`` flow: OCR line images from a preset, a config and overrides."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.build import run_build
from flows.plans import ocr_plan


@flow(name="ocr_dataset", validate_parameters=True)
def ocr_dataset(
    count: int,
    seed: int = 0,
    workers: int = 1,
    preset: str = "default",
    config: dict[str, Any] | None = None,
    name: str | None = None,
    home: str | None = None,
    trigger: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build (or resume) an OCR dataset of ``count`` line images and register it.

    ``config`` holds spec values on top of the preset (the same keys as a config file).
    Returns the catalog record, whether it is new, and how many shards were rendered.
    """
    plan, gen = ocr_plan(count, seed, preset, config, name, home, trigger)
    return run_build(plan, gen, workers)
