"""The ``diagnose`` flow and the high-variance path to more data.

High variance on a model trained on dataset ID calls for more data. Without a Prefect server the
``diagnose`` flow expands the dataset itself; with one (``PREFECT_API_URL``) it emits the event
``synth.diagnosis.high-variance`` instead, and the ``expand_on_diagnosis/on-high-variance``
deployment that ``synth serve`` runs is triggered by it and expands the dataset with the event's
payload as its parameters. Both paths record the same trigger in the new version's lineage:
``{"type": "diagnosis", "model", "diagnosis", "count", "count_derived"}`` plus ``event`` and
``event_id`` when an event carried it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from prefect import flow, get_run_logger
from prefect.events import DeploymentEventTrigger

from flows.expand import expand_dataset
from flows.plans import (
    EVENT,
    Via,
    diagnosis_outcome,
    diagnosis_trigger,
    expansion_size,
    find_parent,
    resolve_via,
    root_tag,
    server_configured,
)
from synth.catalog import DatasetRecord
from synth.diagnose import Diagnosis, DiagnosisError, from_record
from synth.errors import SynthError

__all__ = [
    "EVENT",
    "diagnose",
    "diagnosis_trigger",
    "emit_high_variance",
    "event_payload",
    "expand_on_diagnosis",
    "expansion_size",
    "find_parent",
    "high_variance_trigger",
    "resolve_via",
    "server_configured",
]

MODEL_RESOURCE = "synth.model."  # + the model's name
DATASET_RESOURCE = "synth.dataset."  # + the dataset's id
DATA_ROOT_RESOURCE = "synth.data-root."  # + the data root's tag (flows.plans.root_tag)


def data_root_resource(home: str | None) -> dict[str, str]:
    """The related resource naming the data root an event is about: a served trigger reacts to
    its own root's events only, so two roots served on one Prefect server stay apart."""
    return {
        "prefect.resource.id": f"{DATA_ROOT_RESOURCE}{root_tag(home)}",
        "prefect.resource.role": "data-root",
    }


DEFAULT_MODEL = "unnamed"


def model_resource(model: str) -> dict[str, str]:
    return {"prefect.resource.id": f"{MODEL_RESOURCE}{model}", "prefect.resource.name": model}


def event_payload(
    diag: Diagnosis, model: str, dataset_id: str, count: int, derived: bool, event_id: str
) -> dict[str, Any]:
    """The payload of a high-variance event. ``diagnosis_json`` repeats ``diagnosis`` as JSON
    text, and ``event_id`` the event's own id, as plain strings: the trigger passes those on,
    so they arrive intact whatever the templating does to nested objects and UUIDs."""
    record = diag.record()
    return {
        "event_id": event_id,
        "model": model,
        "dataset_id": dataset_id,
        "count": count,
        "count_derived": derived,
        "diagnosis": record,
        "diagnosis_json": json.dumps(record, sort_keys=True),
    }


def emit_high_variance(
    diag: Diagnosis, model: str, dataset_id: str, count: int, derived: bool, home: str | None
) -> dict[str, Any]:
    """Send the high-variance event about ``dataset_id`` of data root ``home`` to the Prefect
    server; returns its name, id and resource."""
    from prefect.events import emit_event

    resource = model_resource(model)
    event_id = uuid.uuid4()
    event = emit_event(
        event=EVENT,
        id=event_id,
        resource=resource,
        related=[
            {
                "prefect.resource.id": f"{DATASET_RESOURCE}{dataset_id}",
                "prefect.resource.role": "dataset",
            },
            data_root_resource(home),
        ],
        payload=event_payload(diag, model, dataset_id, count, derived, str(event_id)),
    )
    if event is None:
        raise SynthError(
            f"could not emit {EVENT}: Prefect events are off in this process "
            "(check PREFECT_API_URL)"
        )
    return {"name": EVENT, "id": str(event.id), "resource": resource["prefect.resource.id"]}


def high_variance_trigger(home: str, workers: int = 1) -> DeploymentEventTrigger:
    """The trigger of the ``on-high-variance`` deployment: every ``synth.diagnosis.high-variance``
    event about a model and about data root ``home`` runs ``expand_on_diagnosis`` with the
    payload as its parameters. The data root and worker count are the serving side's, so they
    are fixed here, not templated; another root's events are another server's to act on."""
    return DeploymentEventTrigger(
        name="synth-high-variance",
        description="Expand the dataset a high-variance diagnosis names",
        expect={EVENT},
        match={"prefect.resource.id": f"{MODEL_RESOURCE}*"},
        match_related=data_root_resource(home),
        parameters={
            "dataset_id": "{{ event.payload.dataset_id }}",
            "diagnosis": "{{ event.payload.diagnosis_json }}",
            "model": "{{ event.payload.model }}",
            "count": "{{ event.payload.count }}",
            "count_derived": "{{ event.payload.count_derived }}",
            "event_id": "{{ event.payload.event_id }}",
            "workers": workers,
            "home": home,
        },
    )


def _expand(
    diag: Diagnosis,
    model: str,
    parent: DatasetRecord,
    count: int,
    derived: bool,
    workers: int,
    home: str | None,
    event_id: str | None = None,
) -> dict[str, Any]:
    trigger = diagnosis_trigger(diag, model, count, derived, event_id)
    result = expand_dataset(
        dataset_id=parent.id, count=count, workers=workers, home=home, trigger=trigger
    )
    return {**result, "trigger": trigger, "parent_id": parent.id}


@flow(name="expand_on_diagnosis", validate_parameters=True)
def expand_on_diagnosis(
    dataset_id: str,
    diagnosis: dict[str, Any] | str,
    model: str = DEFAULT_MODEL,
    count: int | None = None,
    count_derived: bool = False,
    event_id: str | None = None,
    workers: int = 1,
    home: str | None = None,
) -> dict[str, Any]:
    """Expand ``dataset_id`` because ``diagnosis`` (a diagnosis record, or its JSON text as a
    trigger passes it) found high variance; ``count`` None derives the size from the gap.

    The findings are recomputed from the recorded inputs and must include high variance.
    """
    diag = from_record(diagnosis)
    if not diag.high_variance:
        raise DiagnosisError(
            f"diagnosis: no high variance (findings {list(diag.findings)}): nothing to expand"
        )
    parent = find_parent(dataset_id, home)
    if count is None:
        count, count_derived = expansion_size(diag, parent, None, None)
    get_run_logger().info(
        "high variance on %s: expanding %s by %d (event %s)", model, parent.id[:12], count, event_id
    )
    return _expand(diag, model, parent, count, count_derived, workers, home, event_id)


def _expand_flow(
    dataset_id: str, count: int, workers: int, home: str | None, trigger: dict[str, Any]
) -> dict[str, Any]:
    return expand_dataset(
        dataset_id=dataset_id, count=count, workers=workers, home=home, trigger=trigger
    )


@flow(name="diagnose", validate_parameters=True)
def diagnose(
    human_error: float,
    train_error: float,
    val_error: float,
    test_error: float | None = None,
    thresholds: dict[str, Any] | None = None,
    expansion: dict[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
    dataset_id: str | None = None,
    count: int | None = None,
    workers: int = 1,
    home: str | None = None,
    via: Via = "auto",
) -> dict[str, Any]:
    """Diagnose a model from its error rates (percent) and, on high variance, grow ``dataset_id``.

    ``via`` picks the path: ``local`` expands here (an ``expand_dataset`` sub-flow run),
    ``event`` emits the high-variance event for a served ``on-high-variance`` deployment,
    ``auto`` emits when a Prefect server is configured. ``thresholds`` and ``expansion`` hold
    ``Thresholds`` / ``ExpansionPolicy`` values. Returns the diagnosis, what was done
    (``action``: none, expanded or event) and why. Without a server the command line runs the
    same job without Prefect (``flows.jobs.run_diagnosis_job``).
    """
    return diagnosis_outcome(
        human_error=human_error,
        train_error=train_error,
        val_error=val_error,
        test_error=test_error,
        thresholds=thresholds,
        expansion=expansion,
        model=model,
        dataset_id=dataset_id,
        count=count,
        workers=workers,
        home=home,
        via=via,
        expand=_expand_flow,
        emit=emit_high_variance,
    )
