"""``synth serve`` serves the improve flow on demand: a run of its deployment on a real Prefect
server runs the loop in the served data root."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

import pytest

from flows.plans import root_tag
from tests.conftest import synth_cmd
from tests.flows.test_serve_e2e import api  # retries the server's 503s
from tests.improve.conftest import START, catalog_state, make_dataset, train


def _until(what: str, probe, timeout: float, log) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = probe()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(1.0)
    pytest.fail(f"{what}: not within {timeout:.0f} s\n{log.read_text(errors='replace')[-3000:]}")


def test_a_served_improve_deployment_runs_the_loop(prefect_api, home, tmp_path):
    start = make_dataset(home)
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "SYNTH_HOME": str(home),
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*synth_cmd(), "serve", "--no-trigger", "--json"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        name = f"improve/improve-{root_tag(str(home))}"
        dep = _until("deployment", lambda: api(prefect_api, f"/deployments/name/{name}"), 120, log)
        assert dep["parameters"] == {"home": str(home)}
        run = api(
            prefect_api,
            f"/deployments/{dep['id']}/create_flow_run",
            {
                "parameters": {
                    "dataset_id": start,
                    "human_error": 0.5,
                    "command": train("--k", "10"),
                    "expansion": {"min_count": 1},
                }
            },
        )

        def finished() -> dict | None:
            state = api(prefect_api, f"/flow_runs/{run['id']}")["state"]
            return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED") else None

        state = _until("the improve flow run", finished, 240, log)
        assert state["type"] == "COMPLETED", state
        datasets, runs = catalog_state(home)
        assert sorted(d.count for d in datasets) == [START, 25]
        loop = run["id"].replace("-", "")[:12]
        assert sorted(r.trigger["ref"] for r in runs) == [f"improve:{loop}/1", f"improve:{loop}/2"]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
