"""The ``speech_dataset`` flow: clean speech mixed with noise at controlled SNR."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.build import run_build
from synth.engine.build import prepare
from synth.speech.spec import build_spec


def speech_spec(
    config: dict[str, Any] | None, source: str = "config", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Validate a speech spec dict strictly; returns it as plain JSON."""
    return build_spec(config, source, labels).model_dump(mode="json")


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
    spec = speech_spec(config)
    plan, gen = prepare(
        "speech", spec, seed=seed, count=count, name=name or "speech", home=home, trigger=trigger
    )
    return run_build(plan, gen, workers)
