"""The Dask runner: shard tasks run through Prefect's Dask task runner on a real local Dask
cluster, against the session's real Prefect server, and give the process pool's dataset id."""

from __future__ import annotations

import json
import os
import subprocess
from importlib.util import find_spec

import pytest

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.errors import SynthError
from synth.ocr.spec import build_spec
from synth.speech.spec import build_spec as build_speech_spec
from tests.conftest import synth_cmd

# find_spec, not importorskip: importing Prefect while tests are collected would fix its settings
# before the session's server exists, and flows run in this process would miss the server.
pytestmark = pytest.mark.skipif(find_spec("prefect_dask") is None, reason="needs synth[dask]")


@pytest.fixture(scope="module")
def dask_cluster(prefect_api):
    """Two single-threaded worker processes; they inherit PREFECT_API_URL from this process."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        host="127.0.0.1",
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture
def on_server(prefect_api):
    """Flows called in this process talk to the session's server: Prefect fixed its settings
    when it was first imported, maybe before PREFECT_API_URL was set."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
        yield prefect_api


def _reference_id(kind, spec, tmp_path, count, seed):
    plan, gen = prepare(kind, spec, seed=seed, count=count, name="ref", home=tmp_path / "ref")
    catalog = open_catalog(tmp_path / "ref")
    try:
        return build(plan, gen, catalog, workers=1).record.id
    finally:
        catalog.close()


def _task_run_names(flow_run_id: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return sorted(r.name for r in runs)


def test_ocr_on_an_existing_dask_cluster_gives_the_process_pool_id(
    dask_cluster, on_server, home, tmp_path
):
    from flows.build import with_runner
    from flows.ocr import ocr_dataset

    config = {"shard_size": 10}
    on_dask = with_runner(ocr_dataset, "dask", workers=2, dask_address=dask_cluster)
    result = on_dask(count=40, seed=6, preset="clean", config=config, home=str(home))
    rec = result["record"]
    assert result["created"] and result["rendered_shards"] == 4
    spec = build_spec("clean", config).model_dump(mode="json")
    assert rec["id"] == _reference_id("ocr", spec, tmp_path, 40, 6)

    # the shard tasks are Prefect task runs of this flow run, run on the Dask workers
    names = _task_run_names(rec["flow_run_id"])
    assert [n for n in names if n.startswith("render-")] == [
        f"render-shard-{k:05d}" for k in range(4)
    ]
    info = json.loads((home / "datasets").glob("*/dataset.json").__next__().read_text())
    assert info["run"]["runner"] == "dask" and info["run"]["dask_address"] == dask_cluster

    # resuming on the process pool finds every shard done
    again = ocr_dataset(count=40, seed=6, preset="clean", config=config, home=str(home))
    assert again["record"]["id"] == rec["id"]
    assert (again["rendered_shards"], again["skipped_shards"]) == (0, 4)


def test_speech_on_dask_gives_the_process_pool_id(dask_cluster, on_server, home, tmp_path):
    from flows.build import with_runner
    from flows.speech import speech_dataset

    config = {"shard_size": 20, "snr_db_range": [0, 10]}
    on_dask = with_runner(speech_dataset, "dask", workers=2, dask_address=dask_cluster)
    result = on_dask(count=60, seed=2, config=config, home=str(home))
    spec = build_speech_spec(config).model_dump(mode="json")
    assert result["record"]["id"] == _reference_id("speech", spec, tmp_path, 60, 2)


def test_the_command_runs_on_a_local_dask_cluster_of_its_own(prefect_api, home, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('shard_size = 10\n\n[run]\nrunner = "dask"\n')
    args = ["ocr", "--count", "30", "--seed", "4", "--preset", "clean", "--workers", "2"]
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "SYNTH_HOME": str(home)}
    proc = subprocess.run(
        [*synth_cmd(), *args, "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["rendered_shards"] == 3
    info = json.loads((home / "datasets").glob("*/dataset.json").__next__().read_text())
    assert info["run"]["runner"] == "dask" and "dask_address" not in info["run"]
    spec = build_spec("clean", {"shard_size": 10}).model_dump(mode="json")
    assert out["id"] == _reference_id("ocr", spec, tmp_path, 30, 4)
    assert proc.stderr == "", proc.stderr  # no Dask or Prefect log lines without --verbose


def test_the_dask_runner_without_a_prefect_server_is_a_one_line_error(home):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(home / "prefect")  # no profile with an API URL either
    proc = subprocess.run(
        [*synth_cmd(), "ocr", "--count", "5", "--runner", "dask", "--home", str(home)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("synth: error: --runner dask:")
    assert "PREFECT_API_URL" in proc.stderr and proc.stderr.count("\n") == 1


def test_a_worker_that_cannot_see_the_output_folder_says_so(tmp_path):
    from flows.build import _render_here

    spec = build_spec("clean", {"shard_size": 10}).model_dump(mode="json")
    plan, _gen = prepare("ocr", spec, seed=1, count=10, name="x", home=tmp_path / "elsewhere")
    with pytest.raises(SynthError, match="shared filesystem"):
        _render_here(plan, plan.shards()[0])
    assert not plan.out_dir.exists()  # nothing created on the worker's own disk


def test_a_worker_with_other_library_versions_refuses_to_render(tmp_path):
    import dataclasses

    from flows.build import _render_here
    from synth.engine.build import ensure_writable

    spec = build_spec("clean", {"shard_size": 10}).model_dump(mode="json")
    plan, _gen = prepare("ocr", spec, seed=1, count=10, name="x", home=tmp_path)
    plan = dataclasses.replace(plan, libraries={**plan.libraries, "pillow": "0.0.1"})
    ensure_writable(plan)
    with pytest.raises(SynthError, match=r"pillow .* \(planned 0\.0\.1\)"):
        _render_here(plan, plan.shards()[0])
