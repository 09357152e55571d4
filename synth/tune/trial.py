"""One trial: build its dataset (or reuse the one with the same fingerprint), then run the
training command on it through the same code as ``synth run``, its intermediate objective
values handed to the pruner as they arrive. Both are recorded with trigger
``{"type": "tune", "job": JOB, "trial": N}`` (``tune:JOB/N``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth.catalog import Catalog, DatasetRecord, open_catalog
from synth.catalog.base import data_home
from synth.errors import NotFound, SynthError
from synth.runs.spec import MetricDef, RunRequest
from synth.tune.config import TuneConfig
from synth.tune.space import base_spec, build_config, hyperparameters

# Builds take turns within a process (each renders with the whole of this process); the
# trials' training commands run at once.
_BUILD_LOCK = threading.Lock()

# report(value, step) -> a reason to stop the trial (pruned), or None to go on.
Report = Callable[[float, int], str | None]


@dataclass
class TrialOutcome:
    state: str  # "complete" | "pruned" | "failed"
    value: float | None
    dataset_id: str | None
    run_id: str | None
    reason: str | None
    reused: bool  # the dataset existed (same fingerprint): nothing was rendered
    build_s: float
    command_s: float
    total_s: float
    started: str
    ended: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def trigger(job: str, number: int) -> dict[str, Any]:
    return {"type": "tune", "job": job, "trial": number}


def trigger_text(job: str, number: int) -> str:
    return f"tune:{job}/{number}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _existing(catalog: Catalog, fingerprint: str) -> DatasetRecord | None:
    """The complete dataset of ``fingerprint`` whose folder is still there, else None."""
    for row in reversed(catalog.builds()):
        if row["fingerprint"] == fingerprint and row["status"] == "complete" and row["dataset_id"]:
            try:
                record = catalog.get(row["dataset_id"])
            except NotFound:
                return None
            if (Path(record.path) / "dataset.json").is_file():
                return record
    return None


def build_dataset(
    cfg: TuneConfig, job: str, number: int, config: dict[str, Any], home: str | Path
) -> tuple[DatasetRecord, bool]:
    """The trial's dataset and whether it existed already (same fingerprint: reused as it is)."""
    from synth.engine.build import PoolRunner, local_run, run_build
    from synth.engine.plan import prepare

    spec = base_spec(cfg, config, source=f"trial {number}")
    name = cfg.build.name or f"tune-{job}"
    with _BUILD_LOCK:
        plan, gen = prepare(
            cfg.build.kind,
            spec,
            seed=cfg.build.seed,
            count=cfg.build.count,
            name=name,
            home=str(home),
            trigger=trigger(job, number),
        )
        catalog = open_catalog(home)
        try:
            found = _existing(catalog, plan.fingerprint)
            if found is not None:
                return found, True
            result = run_build(plan, gen, catalog, PoolRunner(1), local_run(1))
            return result.record, False
        finally:
            catalog.close()


def run_trial(
    cfg: TuneConfig,
    job: str,
    number: int,
    values: dict[str, Any],
    spec: dict[str, Any],
    home: str | Path,
    report: Report | None = None,
) -> TrialOutcome:
    """Build trial ``number``'s dataset from ``values`` (by target) and run the command on it."""
    from synth.runs.execute import execute_run

    home = data_home(str(home))
    t0 = time.perf_counter()
    started = _now()
    outcome = TrialOutcome("failed", None, None, None, None, False, 0.0, 0.0, 0.0, started, "")
    try:
        config = build_config(cfg, values, spec)
        record, outcome.reused = build_dataset(cfg, job, number, config, home)
        outcome.dataset_id = record.id
        outcome.build_s = time.perf_counter() - t0
        t = cfg.training
        request = RunRequest(
            train=record.id,
            command=list(t.command),
            val=t.val,
            test=t.test,
            metrics=[MetricDef(k, v) for k, v in t.metrics.items()],
            model=t.model,
            trigger=trigger(job, number),
            hp=hyperparameters(cfg, values),
            timeout_s=t.timeout_s,
            cwd=t.cwd,
        )
        metric = cfg.objective.metric

        def on_metric(name: str, value: float, step: int | None) -> str | None:
            if report is None or name != metric or step is None:
                return None
            return report(value, step)

        catalog = open_catalog(home)
        try:
            run = execute_run(catalog, home, request, on_metric)
        finally:
            catalog.close()
        outcome.run_id = run.id
        outcome.command_s = _seconds(run.started, run.ended)
        if run.status == "stopped":
            outcome.state, outcome.reason = "pruned", run.reason
        elif run.status != "succeeded":
            outcome.reason = run.reason
        elif metric not in run.metrics:
            outcome.reason = f"the run reported no {metric} (it reported {', '.join(run.metrics)})"
        else:
            outcome.state, outcome.value = "complete", float(run.metrics[metric])
    except SynthError as err:
        outcome.reason = str(err)
    outcome.total_s = time.perf_counter() - t0
    outcome.ended = _now()
    return outcome


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
