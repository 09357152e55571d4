"""The ``tune`` flow: a tuning job (``synth.tune.job``) whose trials are Prefect tasks, at most
``max_parallel`` at once, and which publishes a table artifact of its trials."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.build import artifact_key
from synth.tune.config import load_config, parse_config
from synth.tune.job import run_job

# The work of each trial task, by (job, trial): a task's parameters are its record in Prefect,
# so they are plain names, and the work itself waits here.
_WORK: dict[tuple[str, int], Callable[[], None]] = {}
_WORK_LOCK = threading.Lock()


@task(name="tune-trial", task_run_name="{job}-trial-{number}", cache_policy=NONE)
def tune_trial(job: str, number: int) -> None:
    """Build trial ``number``'s dataset and run its command (``synth.tune.trial``)."""
    with _WORK_LOCK:
        work = _WORK.pop((job, number))
    work()


def trials_table(out: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per trial: number, state, objective, values, dataset and run."""
    rows = []
    for t in out["trials"]:
        rows.append(
            {
                "trial": t["number"],
                "state": t["state"],
                "objective": t["objective"],
                "values": ", ".join(f"{k}={v}" for k, v in t["values"].items()),
                "dataset": (t["dataset_id"] or "")[:12],
                "run": (t["run_id"] or "")[:12],
                "seconds": round(t["total_s"], 2) if t.get("total_s") else None,
                "from": t.get("warm_start") or "",
            }
        )
    return rows


@flow(name="tune", validate_parameters=True)
def tune_flow(
    config: dict[str, Any] | str, home: str | None = None, warm_start: list[str] | None = None
) -> dict[str, Any]:
    """Run (or resume) the tuning job of ``config``: a job config file (TOML, JSON or YAML: a
    ``synth serve`` schedule names one), or its JSON form as ``synth.tune.config.load_config``
    gives it. Returns the job's summary."""
    from prefect.artifacts import create_table_artifact

    if isinstance(config, str):
        cfg, config = load_config(config)
    else:
        cfg = parse_config(config, f"tuning job '{config.get('name')}'")
    job = config["name"]

    def launch(fn: Callable[[], None], number: int) -> Any:
        with _WORK_LOCK:
            _WORK[(job, number)] = fn
        return tune_trial.submit(job, number)

    out = run_job(cfg, config, home, warm_start, launch=launch)
    create_table_artifact(
        table=trials_table(out),
        key=artifact_key(job, "tune"),
        description=f"synth tune {job}: {out['stopped']}",
    )
    return out


def tune(
    config: dict[str, Any] | str, home: str | None = None, warm_start: list[str] | None = None
) -> dict[str, Any]:
    """The ``tune`` flow with a task runner of ``max_parallel`` threads."""
    if isinstance(config, str):
        _, config = load_config(config)
    parallel = int(config.get("max_parallel") or 1)
    runner = ThreadPoolTaskRunner(max_workers=parallel)
    return tune_flow.with_options(task_runner=runner)(
        config=config, home=home, warm_start=warm_start
    )
