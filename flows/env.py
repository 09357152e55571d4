"""Prefect settings synth applies before Prefect is imported, unless the user set them."""

from __future__ import annotations

import os

_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    "PREFECT_TASK_RUN_TAG_CONCURRENCY_SLOT_WAIT_SECONDS": "1",
    # A local Dask cluster's workers log a heartbeat ERROR when the scheduler closes first at
    # the end of a build; only real failures, which reach the command, should be shown.
    "DASK_LOGGING__DISTRIBUTED": "critical",
}


def apply_defaults(verbose: bool = False) -> None:
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    if verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
        os.environ["DASK_LOGGING__DISTRIBUTED"] = "info"
