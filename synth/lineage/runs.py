"""OpenLineage events of a training run: START when its command starts, then COMPLETE, or FAIL
with the reason (a failed or stopped run). Its datasets are the inputs, each named as the build
that made it names its output (the folder) with the dataset id as version and its role as a tag;
a ``synthRun`` run facet carries the model, command, hyperparameters, trigger and metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth.catalog.runs import RunRecord
from synth.lineage.openlineage import _SCHEMA, NAMESPACE, PRODUCER, SPEC_URL, _facet, send


def _input(item: dict[str, Any]) -> dict[str, Any]:
    tags = [{"key": "role", "value": item["role"], "source": "synth"}]
    if item.get("split"):
        tags.append({"key": "split", "value": item["split"], "source": "synth"})
    access = item.get("access", "team")
    if access != "team":  # a restricted or private dataset: its id and level, not its folder
        tags.append({"key": "access", "value": access, "source": "synth"})
        namespace, name = "synth", item["dataset_id"]
    else:
        namespace, name = "file", item["path"]
    return {
        "namespace": namespace,
        "name": name,
        "facets": {
            "version": _facet("version", datasetVersion=item["dataset_id"]),
            "tags": _facet("tags", tags=tags),
        },
    }


def run_event(event_type: str, run: RunRecord, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``event_type`` (START, COMPLETE, FAIL) event of ``run``; ``inputs`` are its datasets
    with their folders (``dataset_id``, ``role``, ``split``, ``path``)."""
    facets: dict[str, Any] = {
        "synthRun": {
            "_producer": PRODUCER,
            "_schemaURL": _SCHEMA["synthRun"],
            "model": run.model,
            "command": run.command,
            "hyperparameters": run.hp,
            "trigger": run.trigger,
            "status": run.status,
            "metrics": run.metrics,
            "exitCode": run.exit_code,
        }
    }
    closed = sorted({i.get("access", "team") for i in inputs} - {"team"})
    if closed:  # the reason may quote the command's output: texts of a restricted dataset
        facets["synthRun"]["access"] = "private" if "private" in closed else "restricted"
    if event_type == "FAIL":
        message = (run.reason or run.status)[:2000]
        if closed:
            message = f"the run {run.status} (its reason is withheld: a dataset is {closed[0]})"
        facets["errorMessage"] = _facet(
            "errorMessage", message=message, programmingLanguage="SHELL"
        )
    when = run.started if event_type == "START" else (run.ended or run.started)
    return {
        "eventType": event_type,
        "eventTime": datetime.fromisoformat(when)
        .astimezone(UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "producer": PRODUCER,
        "schemaURL": SPEC_URL,
        "run": {"runId": _uuid(run.id), "facets": facets},
        "job": {
            "namespace": NAMESPACE,
            "name": f"train.{run.model}",
            "facets": {
                "jobType": _facet(
                    "jobType", processingType="BATCH", integration="SYNTH", jobType="TRAINING"
                )
            },
        },
        "inputs": [_input(i) for i in inputs],
        "outputs": [],
    }


def _uuid(hex32: str) -> str:
    """A run id (32 hex digits) in the UUID form OpenLineage asks for."""
    h = hex32
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def emit(event_type: str, run: RunRecord, inputs: list[dict[str, Any]], home: str | Path):
    return send(run_event(event_type, run, inputs), home)
