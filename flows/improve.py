"""The ``improve`` flow: ``synth improve``'s loop (``synth.improve``) as a Prefect flow run.

Each round's training run is a task run (``training_run``), each expansion an
``expand_dataset`` sub-flow run, so the Prefect UI shows the loop round by round. After every
round the flow emits ``synth.improve.round`` (resource ``synth.improve.<loop id>``, the dataset
version and the data root as related resources, the round's numbers as payload), and at the end
it publishes the rounds as a table artifact (key ``improve-rounds``). ``synth serve`` serves it
on demand as ``improve/improve-TAG``.
"""

from __future__ import annotations

import uuid
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.diagnose import DATASET_RESOURCE, data_root_resource
from flows.expand import expand_dataset
from synth.catalog import open_catalog
from synth.catalog.base import data_home
from synth.catalog.runs import RunRecord
from synth.config import validate
from synth.diagnose import ExpansionPolicy, Thresholds
from synth.errors import SynthError
from synth.improve import DEFAULT_ROUNDS, ImproveRequest, Round, improve, table_rows
from synth.runs.spec import MetricDef, RunRequest

ROUND_EVENT = "synth.improve.round"
LOOP_RESOURCE = "synth.improve."  # + the loop id
ARTIFACT_KEY = "improve-rounds"


@task(name="training_run", cache_policy=NO_CACHE)
def training_run(request: RunRequest, home: str | None = None) -> RunRecord:
    """Run and record one training run (``synth.runs.execute_run``) on data root ``home``; a
    run that fails is returned (recorded as failed), not raised: the loop stops on it."""
    from synth.runs.execute import execute_run

    catalog = open_catalog(home, create=False)
    try:
        return execute_run(catalog, data_home(home), request)
    finally:
        catalog.close()


def round_payload(r: Round, loop_id: str) -> dict[str, Any]:
    """An event's payload: the round's numbers, without the diagnosis record's thresholds."""
    out = r.to_json()
    out.pop("diagnosis", None)
    return {"loop_id": loop_id, **out}


def emit_round(r: Round, loop_id: str, home: str | None) -> None:
    from prefect.events import emit_event

    emit_event(
        event=ROUND_EVENT,
        resource={"prefect.resource.id": f"{LOOP_RESOURCE}{loop_id}"},
        related=[
            {
                "prefect.resource.id": f"{DATASET_RESOURCE}{r.dataset_id}",
                "prefect.resource.role": "dataset",
            },
            data_root_resource(home),
        ],
        payload=round_payload(r, loop_id),
    )


def _loop_id() -> str | None:
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    return run_id.replace("-", "")[:12] if run_id else None


@flow(name="improve", validate_parameters=True)
def improve_flow(
    dataset_id: str,
    human_error: float,
    command: list[str],
    val: str | None = None,
    test: str | None = None,
    max_rounds: int = DEFAULT_ROUNDS,
    max_samples: int | None = None,
    metrics: list[str] | None = None,
    model: str | None = None,
    fraction: bool = False,
    thresholds: dict[str, Any] | None = None,
    expansion: dict[str, Any] | None = None,
    hp: dict[str, str] | None = None,
    timeout_s: float | None = None,
    workers: int = 1,
    home: str | None = None,
) -> dict[str, Any]:
    """Train ``command`` on ``dataset_id``, diagnose against ``human_error`` (percent, or a
    fraction with ``fraction``) and grow the dataset on high variance, round by round, as
    ``synth improve`` does. ``metrics`` are ``NAME=REGEX`` definitions, ``hp`` the
    hyperparameters and ``timeout_s`` each run's time limit in seconds, as ``synth run`` takes
    them; ``thresholds`` and ``expansion`` hold ``Thresholds`` / ``ExpansionPolicy`` values.
    Returns the rounds and why the loop stopped (``synth.improve.ImproveResult.to_json``)."""
    logger = get_run_logger()
    request = ImproveRequest(
        dataset=dataset_id,
        human_error=human_error,
        command=list(command),
        val=val,
        test=test,
        max_rounds=max_rounds,
        max_samples=max_samples,
        metrics=[MetricDef.parse(m, "metrics") for m in metrics or []],
        model=model,
        unit="fraction" if fraction else "percent",
        thresholds=validate(Thresholds, thresholds or {}, "thresholds"),
        expansion=validate(ExpansionPolicy, expansion or {}, "expansion"),
        hp=dict(hp or {}),
        timeout_s=timeout_s,
    )
    loop_id = _loop_id() or uuid.uuid4().hex[:12]

    def run(req: RunRequest) -> RunRecord:
        return training_run(req, home)

    def expand(parent: str, count: int, trigger: dict[str, Any]) -> str:
        result = expand_dataset(
            dataset_id=parent, count=count, workers=workers, home=home, trigger=trigger
        )
        return result["record"]["id"]

    def on_round(r: Round) -> None:
        logger.info(
            "round %d: %d samples, run %s: %s", r.number, r.samples, r.run_id, r.action_text
        )
        emit_round(r, loop_id, home)

    catalog = open_catalog(home, create=False)
    try:
        result = improve(catalog, request, run, expand, on_round, loop_id=loop_id)
    finally:
        catalog.close()
    from prefect.artifacts import create_table_artifact

    create_table_artifact(
        table=table_rows(result),
        key=ARTIFACT_KEY,
        description=f"synth improve {result.loop_id}: stopped: {result.stopped}: {result.message}",
    )
    logger.info("stopped: %s: %s", result.stopped, result.message)
    if result.stopped == "run_failed":  # the flow run fails with the run's reason
        raise SynthError(result.message)
    return result.to_json()
