"""The ``speech_dataset`` flow: clean speech mixed with noise at controlled SNR."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.build import run_build
from flows.plans import speech_plan, speech_spec

__all__ = ["speech_dataset", "speech_spec"]


@flow(name="speech_dataset", validate_parameters=True)
def speech_dataset(
    count: int,
    seed: int = 0,
    workers: int = 1,
    config: dict[str, Any] | None = None,
    name: str | None = None,
    home: str | None = None,
    trigger: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build (or resume) a noisy-speech dataset of ``count`` mixes and register it.

    ``config`` holds speech spec values (the same keys as a config file).
    """
    plan, gen = speech_plan(count, seed, config, name, home, trigger)
    return run_build(plan, gen, workers)
