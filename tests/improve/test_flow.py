"""The ``improve`` flow on a real Prefect server: the same rounds as ``synth improve``, a
``synth.improve.round`` event per round and a table artifact of the rounds."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.flows.test_serve_e2e import _retrying
from tests.improve.conftest import START, catalog_state, make_dataset, train

# Prefect reads PREFECT_API_URL when it is first imported: start the server before any import.
pytestmark = pytest.mark.usefixtures("prefect_api")


def _events(api: str, loop_id: str, at_least: int) -> list[dict]:
    body = json.dumps(
        {
            "filter": {
                "event": {"prefix": ["synth.improve.round"]},
                "resource": {"id": [f"synth.improve.{loop_id}"]},
            },
            "limit": 50,
        }
    ).encode()
    deadline = time.monotonic() + 30  # the server writes events asynchronously
    while True:
        req = urllib.request.Request(
            f"{api}/events/filter",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with _retrying(req) as r:  # a 503 while the server is busy is tried again
            events = json.loads(r.read())["events"]
        if len(events) >= at_least or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


def _artifact(flow_run_id: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    with get_client(sync_client=True) as client:
        [found] = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["improve-rounds"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
            )
        )
    return found


def _shape(rounds: list[dict]) -> list[tuple]:
    keys = ("samples", "human_error", "train_error", "val_error", "test_error", "findings")
    return [(*(r[k] for k in keys), r["action_text"]) for r in rounds]


def test_the_flow_makes_the_rounds_the_command_makes(prefect_api, home, tmp_path, synth, config):
    from flows.improve import improve_flow

    # the command line, in its own data root with the same starting dataset
    cli_home = tmp_path / "cli-home"
    cli_home.mkdir()
    cli_start = make_dataset(cli_home)
    proc = synth(
        "improve", cli_start, "--home", str(cli_home), "--human-error", "0.5", "--json",
        "--config", config, "--", *train("--k", "10"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    by_cli = json.loads(proc.stdout)

    start = make_dataset(home)
    assert start == cli_start  # same spec, seed and count: the same content id
    state = improve_flow(
        dataset_id=start,
        human_error=0.5,
        command=train("--k", "10"),
        expansion={"min_count": 1},
        home=str(home),
        return_state=True,
    )
    assert state.is_completed()
    out = state.result()
    assert _shape(out["rounds"]) == _shape(by_cli["rounds"])
    assert [r["samples"] for r in out["rounds"]] == [START, 25]
    assert out["stopped"] == by_cli["stopped"] == "variance_fixed"
    # the versions are the same content: the same ids in both data roots
    assert [r["dataset_id"] for r in out["rounds"]] == [r["dataset_id"] for r in by_cli["rounds"]]

    datasets, runs = catalog_state(home)
    assert len(datasets) == 2 and {r.id for r in runs} == {r["run_id"] for r in out["rounds"]}
    grown = next(d for d in datasets if d.count == 25)
    assert grown.trigger["type"] == "diagnosis" and grown.trigger["loop_id"] == out["loop_id"]
    assert grown.trigger["run_id"] == out["rounds"][0]["run_id"]
    assert grown.flow_run_id  # the expansion was a flow run (a sub-flow of the loop)

    flow_run_id = str(state.state_details.flow_run_id)
    assert out["loop_id"] == flow_run_id.replace("-", "")[:12]
    events = _events(prefect_api, out["loop_id"], 2)
    payloads = sorted((e["payload"] for e in events), key=lambda p: p["round"])
    assert [(p["round"], p["samples"], p["action"]) for p in payloads] == [
        (1, START, "expand"),
        (2, 25, "stop"),
    ]
    assert payloads[0]["val_error"] == out["rounds"][0]["val_error"]
    related = {r["prefect.resource.id"] for e in events for r in e["related"]}
    assert {f"synth.dataset.{r['dataset_id']}" for r in out["rounds"]} <= related

    artifact = _artifact(flow_run_id)
    assert artifact.type == "table"
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert [row["round"] for row in rows] == ["1", "2"]
    assert [row["samples"] for row in rows] == ["10", "25"]
    assert [row["validation"] for row in rows] == ["4.16", "3.00"]
    assert [row["action"] for row in rows] == ["expand +15", "stop: variance fixed"]
    assert "stopped: variance_fixed" in artifact.description


def test_a_failed_run_fails_the_flow_run_with_its_reason(home: Path):
    from flows.improve import improve_flow

    start = make_dataset(home)
    state = improve_flow(
        dataset_id=start,
        human_error=0.5,
        command=train("--fail-at", "1"),
        home=str(home),
        return_state=True,
    )
    assert state.is_failed()
    assert "failed: the command exited with code 3" in state.message
    _, runs = catalog_state(home)
    assert [r.status for r in runs] == ["failed"]
