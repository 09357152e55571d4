"""The ``tune`` flow: a tuning job (``synth.tune.job``) whose trials are Prefect tasks, at most
``max_parallel`` at once, and which publishes a table artifact of its trials."""

from __future__ import annotations

import json
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


def _register(job: str, number: int, work: Callable[[], None]) -> None:
    """Keep trial ``number``'s work for its task. (The flow calls this rather than touching the
    lock itself: a Dask task runner sends the flow's code along, and a lock cannot travel.)"""
    with _WORK_LOCK:
        _WORK[(job, number)] = work


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


@task(name="tune-trial-remote", task_run_name="{job}-trial-{number}", cache_policy=NONE)
def tune_trial_remote(
    config: dict[str, Any],
    job: str,
    number: int,
    trial_id: int,
    values: dict[str, Any],
    home: str,
) -> dict[str, Any]:
    """Trial ``number`` on a Dask worker (``synth.tune.remote``): its outcome as JSON."""
    from synth.tune.remote import run_remote

    return run_remote(config, job, number, trial_id, values, home)


def _await(future: Any, fn: Any) -> None:
    """Hand a remote trial's outcome (or its error) to the job."""
    from synth.tune.trial import TrialOutcome

    try:
        outcome: Any = TrialOutcome(**future.result())
    except BaseException as err:
        outcome = err
    fn.deliver(outcome)


class _Launcher:
    """Starts a trial's task: on a Dask worker (``remote``: it gets the trial's values and opens
    the study itself), else here (the work waits in ``_WORK`` for its task)."""

    def __init__(self, config: dict[str, Any], job: str, root: str, remote: bool) -> None:
        self.config, self.job, self.root, self.remote = config, job, root, remote

    def __call__(self, fn: Any, number: int) -> Any:
        if not self.remote:
            _register(self.job, number, fn)
            return tune_trial.submit(self.job, number)
        future = tune_trial_remote.submit(
            self.config, self.job, number, int(fn.trial._trial_id), dict(fn.values), self.root
        )
        threading.Thread(target=_await, args=(future, fn), daemon=True).start()
        return future


def run_tune(
    config: dict[str, Any] | str, home: str | None, warm_start: list[str] | None, remote: bool
) -> dict[str, Any]:
    """The ``tune`` flow's body (a function of its own: a Dask task runner sends the flow's code
    to its workers, and the flow's code should name nothing that cannot travel)."""
    from prefect.artifacts import create_table_artifact

    from synth.catalog.base import data_home

    if isinstance(config, str):
        cfg, config = load_config(config)
    else:
        cfg = parse_config(config, f"tuning job '{config.get('name')}'")
    job = config["name"]
    launch = _Launcher(json.loads(json.dumps(config)), job, str(data_home(home)), remote)
    out = run_job(cfg, config, home, warm_start, launch=launch)
    create_table_artifact(
        table=trials_table(out),
        key=artifact_key(job, "tune"),
        description=f"synth tune {job}: {out['stopped']}",
    )
    return out


@flow(name="tune", validate_parameters=True)
def tune_flow(
    config: dict[str, Any] | str,
    home: str | None = None,
    warm_start: list[str] | None = None,
    remote: bool = False,
) -> dict[str, Any]:
    """Run (or resume) the tuning job of ``config``: a job config file (TOML, JSON or YAML: a
    ``synth serve`` schedule names one), or its JSON form as ``synth.tune.config.load_config``
    gives it. ``remote``: trials run where the task runner puts them (Dask workers), each
    opening the study itself; else in this process's threads. Returns the job's summary."""
    return run_tune(config, home, warm_start, remote)


def tune(
    config: dict[str, Any] | str,
    home: str | None = None,
    warm_start: list[str] | None = None,
    runner: str = "process",
    dask_address: str | None = None,
) -> dict[str, Any]:
    """The ``tune`` flow with a task runner of ``max_parallel`` threads (``runner`` process:
    trials in this process), or on a Dask cluster (``dask``: ``dask_address``, else a local
    cluster of ``max_parallel`` single-threaded workers)."""
    if isinstance(config, str):
        _, config = load_config(config)
    parallel = int(config.get("max_parallel") or 1)
    if runner == "dask":
        from flows.build import check_runner, dask_task_runner

        check_runner(runner, dask_address)
        task_runner: Any = dask_task_runner(parallel, dask_address)
    else:
        task_runner = ThreadPoolTaskRunner(max_workers=parallel)
    return tune_flow.with_options(task_runner=task_runner)(
        config=config, home=home, warm_start=warm_start, remote=runner == "dask"
    )
