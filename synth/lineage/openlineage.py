"""OpenLineage run events for every build: START, then COMPLETE or FAIL.

Inputs carry their content hash as the dataset version and their role, licence and personal-data
mark as tags (each input once, however many roles it has); the output carries the content id, a
schema facet (the ``metadata.jsonl`` columns), output statistics and a ``synth`` facet with the
spec, seed, fingerprint and code version. Events go to ``<data root>/lineage/openlineage.jsonl``
and, when ``SYNTH_OPENLINEAGE_URL`` is set, are POSTed there as well (``.../api/v1/lineage``).
The catalog stays the record: a failed delivery is logged, never fatal to a build.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import synth

log = logging.getLogger(__name__)

SPEC_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = f"https://pypi.org/project/synth/{synth.__version__}"
NAMESPACE = "synth"
_FACETS = "https://openlineage.io/spec/facets"
_SCHEMA = {
    "version": f"{_FACETS}/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
    "schema": f"{_FACETS}/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
    "dataSource": f"{_FACETS}/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet",
    "outputStatistics": (
        f"{_FACETS}/1-0-2/OutputStatisticsOutputDatasetFacet.json"
        "#/$defs/OutputStatisticsOutputDatasetFacet"
    ),
    "processingEngine": (
        f"{_FACETS}/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet"
    ),
    "errorMessage": f"{_FACETS}/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
    "jobType": f"{_FACETS}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
    "parent": f"{_FACETS}/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet",
    "tags": f"{_FACETS}/1-0-0/TagsDatasetFacet.json#/$defs/TagsDatasetFacet",
    "synth": "https://pypi.org/project/synth/#SynthBuildRunFacet",
    "synthRun": "https://pypi.org/project/synth/#SynthTrainingRunFacet",
}


class BuildPlan(Protocol):
    """What the events say of a build: the fields of ``synth.engine.plan.BuildPlan`` they read
    (a protocol, so that lineage depends on no part of the engine)."""

    kind: str
    name: str
    spec: dict[str, Any]
    seed: int
    count: int
    home: str
    inputs: list[dict[str, Any]]
    code_version: str
    libraries: dict[str, str]
    parent: dict[str, Any] | None
    trigger: dict[str, Any]

    @property
    def fingerprint(self) -> str: ...

    @property
    def out_dir(self) -> Path: ...


def _facet(kind: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": _SCHEMA[kind], **fields}


def events_path(home: str | Path) -> Path:
    return Path(home) / "lineage" / "openlineage.jsonl"


def _tags(item: dict[str, Any]) -> list[dict[str, str]]:
    """What the catalog knows of an input beyond its hash: role, licence, personal data."""
    tags = [
        {"key": "role", "value": item["role"], "source": "synth"},
        {"key": "licence", "value": item.get("licence") or "unknown", "source": "synth"},
    ]
    if item.get("personal_data"):
        tags.append({"key": "personal_data", "value": "true", "source": "synth"})
    return tags


def _dataset_of_input(item: dict[str, Any]) -> dict[str, Any]:
    uri = item["uri"]
    scheme, _, rest = uri.partition(":")
    if scheme == "file":
        namespace, name = "file", rest.removeprefix("//")
    elif scheme == "asset":
        namespace, name = "synth-assets", rest
    elif scheme == "dataset":
        namespace, name = NAMESPACE, rest
    else:
        namespace, name = scheme, rest
    facets: dict[str, Any] = {}
    if item.get("sha256"):
        facets["version"] = _facet("version", datasetVersion=item["sha256"])
    facets["tags"] = _facet("tags", tags=_tags(item))
    return {"namespace": namespace, "name": name, "facets": facets}


def _inputs(plan: BuildPlan) -> list[dict[str, Any]]:
    """One OpenLineage dataset per input (namespace, name): a file that serves in two roles (a
    clean clip that also makes babble) is listed once, tagged with both roles."""
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for item in plan.inputs:
        ds = _dataset_of_input(item)
        key = (ds["namespace"], ds["name"])
        if key not in seen:
            seen[key] = ds
            out.append(ds)
            continue
        tags = seen[key]["facets"]["tags"]["tags"]
        tags.extend(t for t in ds["facets"]["tags"]["tags"] if t not in tags)
    if plan.parent:
        out.append(
            {
                "namespace": "file",
                "name": str(plan.parent["path"]),
                "facets": {"version": _facet("version", datasetVersion=plan.parent["id"])},
            }
        )
    return out


def _job(plan: BuildPlan) -> dict[str, Any]:
    return {
        "namespace": NAMESPACE,
        "name": f"{plan.kind}.{plan.name}",
        "facets": {
            "jobType": _facet(
                "jobType", processingType="BATCH", integration="SYNTH", jobType="DATASET_BUILD"
            ),
        },
    }


def _run(plan: BuildPlan, run_id: str, flow_run_id: str | None, extra: dict[str, Any]):
    facets: dict[str, Any] = {
        "processingEngine": _facet("processingEngine", name="synth", version=plan.code_version),
        "synth": {
            "_producer": PRODUCER,
            "_schemaURL": _SCHEMA["synth"],
            "fingerprint": plan.fingerprint,
            "seed": plan.seed,
            "count": plan.count,
            "spec": plan.spec,
            "codeVersion": plan.code_version,
            "libraries": plan.libraries,
            "trigger": plan.trigger,
        },
        **extra,
    }
    if flow_run_id:
        facets["parent"] = _facet(
            "parent",
            run={"runId": flow_run_id},
            job={"namespace": "prefect", "name": f"{plan.kind}_dataset"},
        )
    return {"runId": run_id, "facets": facets}


def _schema_fields(row: dict[str, Any]) -> list[dict[str, str]]:
    def kind(v: Any) -> str:
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, int):
            return "integer"
        if isinstance(v, float):
            return "double"
        return "string"

    return [{"name": k, "type": kind(v)} for k, v in row.items()]


_OPEN_NAMESPACES = ("synth", "synth-assets", "procedural")  # ids and embedded assets' names


def withhold(event: dict[str, Any], access: str, fingerprint: str) -> dict[str, Any]:
    """``event`` as a restricted or private dataset's build may publish it: the output named
    by the build's fingerprint (its version facet gives the content id), inputs that are files
    named by their sha256, the spec and an error's message withheld, the level stated."""
    out = json.loads(json.dumps(event, default=str))
    note = f"withheld: the dataset is {access}"
    facets = out["run"]["facets"]
    synth = facets["synth"]
    synth["spec"] = {"withheld": note}
    synth["trigger"] = {"type": (synth.get("trigger") or {}).get("type", "manual")}
    synth["access"] = access
    if "errorMessage" in facets:
        facets["errorMessage"]["message"] = f"the build failed (its message is {note})"
    for ds in out["inputs"]:
        if ds["namespace"] not in _OPEN_NAMESPACES:
            version = ds.get("facets", {}).get("version", {}).get("datasetVersion")
            # the parent (a folder, without tags) by its content id; a file by its sha256
            is_parent = "tags" not in ds.get("facets", {})
            ds["namespace"] = "synth" if is_parent else "synth-input"
            ds["name"] = version or "input"
    for ds in out["outputs"]:
        ds["namespace"], ds["name"] = "synth", f"build/{fingerprint}"
        ds.get("facets", {}).pop("dataSource", None)
    return out


class LineageEmitter:
    """Writes the events of one build; ``run_id`` is shared by its START and its end event."""

    def __init__(
        self, plan: BuildPlan, flow_run_id: str | None = None, access: str = "team"
    ) -> None:
        self.plan = plan
        self.flow_run_id = flow_run_id
        self.run_id = str(uuid.uuid4())
        # The dataset's access level (synth.catalog.access): a restricted or private one's
        # events carry its id and level, never its paths, spec, texts or error messages.
        self.access = access

    def _event(self, event_type: str, outputs: list[dict[str, Any]], run_extra=None):
        return {
            "eventType": event_type,
            "eventTime": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "producer": PRODUCER,
            "schemaURL": SPEC_URL,
            "run": _run(self.plan, self.run_id, self.flow_run_id, run_extra or {}),
            "job": _job(self.plan),
            "inputs": _inputs(self.plan),
            "outputs": outputs,
        }

    def _output(self, info: dict[str, Any] | None) -> dict[str, Any]:
        out_dir = self.plan.out_dir
        facets: dict[str, Any] = {
            "dataSource": _facet("dataSource", name="file", uri=f"file://{out_dir.parent}"),
        }
        if info is not None:
            facets["version"] = _facet("version", datasetVersion=info["id"])
            first = out_dir / "metadata.jsonl"
            if not first.is_file():  # a split version: the rows of its train split
                first = out_dir / "train" / "metadata.jsonl"
            with open(first, encoding="utf-8") as f:
                row = json.loads(f.readline())
            facets["schema"] = _facet("schema", fields=_schema_fields(row))
        out: dict[str, Any] = {"namespace": "file", "name": str(out_dir), "facets": facets}
        if info is not None:
            size = info["files"].get("bytes")  # every sample file, from the file manifest
            if size is None:  # a dataset.json written before the manifest carried sizes
                size = sum(p.stat().st_size for p in out_dir.glob("shard-*/*") if p.is_file())
            out["outputFacets"] = {
                "outputStatistics": _facet(
                    "outputStatistics",
                    rowCount=info["count"],
                    size=size,
                    fileCount=info["files"]["count"],
                )
            }
        return out

    def _shown(self, event: dict[str, Any]) -> dict[str, Any]:
        """``event`` as the dataset's access level lets it out (``withhold``), its level stated."""
        event["run"]["facets"]["synth"]["access"] = self.access
        if self.access != "team":
            event = withhold(event, self.access, self.plan.fingerprint)
        return event

    def start(self) -> dict[str, Any]:
        return self._send(self._shown(self._event("START", [self._output(None)])))

    def complete(self, info: dict[str, Any]) -> dict[str, Any]:
        return self._send(self._shown(self._event("COMPLETE", [self._output(info)])))

    def fail(self, error: BaseException) -> dict[str, Any]:
        message = str(error) or type(error).__name__
        extra = {
            "errorMessage": _facet(
                "errorMessage", message=message[:2000], programmingLanguage="PYTHON"
            )
        }
        return self._send(self._shown(self._event("FAIL", [self._output(None)], extra)))

    def _send(self, event: dict[str, Any]) -> dict[str, Any]:
        return send(event, self.plan.home)


def send(event: dict[str, Any], home: str | Path) -> dict[str, Any]:
    """Append ``event`` to the data root's event log and POST it to ``SYNTH_OPENLINEAGE_URL``
    when set; a failure of either is logged, never raised."""
    line = json.dumps(event, ensure_ascii=False, default=str)
    path = events_path(home)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError as err:
        log.warning("OpenLineage event not written to %s: %s", path, err)
    url = os.environ.get("SYNTH_OPENLINEAGE_URL")
    if url and not url.startswith(("http://", "https://")):
        log.warning("SYNTH_OPENLINEAGE_URL must be an http(s) URL, got %r: not sent", url)
    elif url:
        endpoint = url.rstrip("/")
        if not endpoint.endswith("/lineage"):
            endpoint += "/api/v1/lineage"
        req = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
            endpoint,
            data=line.encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                resp.read()
        except OSError as err:
            log.warning("OpenLineage event not delivered to %s: %s", endpoint, err)
    return event
