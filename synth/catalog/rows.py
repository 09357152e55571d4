"""The mapping between ``dataset.json`` content, table rows and records, shared by backends."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from synth.catalog.base import DatasetRecord

DATASET_COLUMNS = (
    "id, fingerprint, name, kind, path, status, created, count, seed, spec_json, code_version, "
    "statistics_json, trigger_type, trigger_json, flow_run_id, parent_id, licences_json, "
    "personal_data"
)
INPUT_COLUMNS = "dataset_id, role, name, uri, sha256, licence, attribution, personal_data"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def dataset_row(info: dict[str, Any], path: str) -> tuple[Any, ...]:
    """The ``datasets`` row of a complete version, in ``DATASET_COLUMNS`` order."""
    trigger = info.get("trigger") or {"type": "manual"}
    parent = info.get("parent") or None
    personal = any(i.get("personal_data") for i in info.get("inputs", []))
    return (
        info["id"],
        info["fingerprint"],
        info["name"],
        info["kind"],
        str(path),
        "complete",
        info.get("created") or now(),
        info["count"],
        info["seed"],
        json.dumps(info["spec"], sort_keys=True),
        info["code_version"],
        json.dumps(info["statistics"], sort_keys=True),
        trigger.get("type", "manual"),
        json.dumps(trigger, sort_keys=True),
        (info.get("run") or {}).get("flow_run_id"),
        parent["id"] if parent else None,
        json.dumps(info.get("licences", [])),
        int(personal),
    )


def input_rows(info: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The ``dataset_inputs`` rows of a version, in ``INPUT_COLUMNS`` order."""
    return [
        (
            info["id"],
            i["role"],
            i["name"],
            i["uri"],
            i["sha256"],
            i["licence"],
            i.get("attribution", ""),
            int(bool(i.get("personal_data"))),
        )
        for i in info.get("inputs", [])
    ]


def record(
    row: Mapping[str, Any],
    inputs: list[Mapping[str, Any]],
    grants: Sequence[Mapping[str, Any]] = (),
) -> DatasetRecord:
    """A record from a ``datasets`` row, its input rows and its grant rows (both without
    ``dataset_id``)."""
    return DatasetRecord(
        id=row["id"],
        fingerprint=row["fingerprint"],
        name=row["name"],
        kind=row["kind"],
        path=row["path"],
        status=row["status"],
        created=row["created"],
        count=row["count"],
        seed=row["seed"],
        spec=json.loads(row["spec_json"]),
        code_version=row["code_version"],
        statistics=json.loads(row["statistics_json"]),
        trigger=json.loads(row["trigger_json"]),
        flow_run_id=row["flow_run_id"],
        parent_id=row["parent_id"],
        licences=json.loads(row["licences_json"]),
        personal_data=bool(row["personal_data"]),
        inputs=[dict(i) | {"personal_data": bool(i["personal_data"])} for i in inputs],
        owner=row["owner"],
        access=row["access"],
        grants=[dict(g) for g in grants],
    )
