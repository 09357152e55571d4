"""The tune flow on a real Prefect server: trials as tasks, at most max_parallel at once, and a
table artifact of the trials."""

from __future__ import annotations

import json

from tests.tune.conftest import job_config


def test_tune_flow_runs_trials_as_tasks_and_publishes_a_table(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.tune import tune

    home = tmp_path / "home"
    cfg = job_config("flowjob", max_trials=4, max_parallel=2, steps=2, sleep=0.3)
    out = tune(config=cfg, home=str(home))
    assert out["stopped"] == "max_trials (4) reached"
    assert [t["state"] for t in out["trials"]] == ["complete"] * 4
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["tune-flowjob"]))
        )
        runs = client.read_task_runs()
    assert len(arts) == 1 and arts[0].type == "table"
    rows = json.loads(arts[0].data) if isinstance(arts[0].data, str) else arts[0].data
    assert [r["trial"] for r in rows] == [0, 1, 2, 3]
    assert [r["run"] for r in rows] == [t["run_id"][:12] for t in out["trials"]]
    names = sorted(r.name for r in runs if r.name.startswith("flowjob-trial-"))
    assert names == [f"flowjob-trial-{n}" for n in range(4)]
    assert all(r.state_name == "Completed" for r in runs if r.name.startswith("flowjob-trial-"))


def test_synth_serve_schedules_a_tuning_job(prefect_api, tmp_path):
    from flows.serve import load_serve_config, scheduled_batch
    from synth.errors import ConfigError
    from tests.tune.conftest import write

    path = write(tmp_path, job_config("nightly", max_trials=2))
    entry = {
        "name": "tune-nightly",
        "cron": "0 2 * * *",
        "flow": "tune",
        "parameters": {"config": str(path)},
    }
    config = load_serve_config({"schedules": [entry]}, "serve.toml")
    assert config.schedules[0].flow == "tune"
    bad = write(tmp_path, {**job_config("worse"), "max_trails": 1}, "worse")
    entry_bad = {**entry, "parameters": {"config": str(bad)}}
    try:
        load_serve_config({"schedules": [entry_bad]}, "serve.toml")
    except ConfigError as err:
        assert "unknown key 'max_trails'" in str(err) and "worse.json" in str(err)
    else:
        raise AssertionError("a bad job file loaded")
    home = tmp_path / "home"
    out = scheduled_batch(
        schedule="tune-nightly", job="tune", parameters={"config": str(path)}, home=str(home)
    )
    assert out["job"] == "nightly" and out["trials_counted"] == 2
    # the next night's run resumes the job: it is done, nothing more runs
    again = scheduled_batch(
        schedule="tune-nightly", job="tune", parameters={"config": str(path)}, home=str(home)
    )
    assert len(again["trials"]) == 2


def test_trials_run_on_a_dask_cluster(prefect_api, tmp_path):
    from importlib.util import find_spec

    import pytest

    if find_spec("prefect_dask") is None:
        pytest.skip("needs synth[dask]")
    from distributed import LocalCluster

    from flows.tune import tune
    from synth.tune.study import load_study

    home = tmp_path / "home"
    cfg = job_config("daskjob", max_trials=4, max_parallel=2, steps=2, early_stopping="auto")
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", host="127.0.0.1"
    )
    try:
        out = tune(
            config=cfg, home=str(home), runner="dask", dask_address=cluster.scheduler_address
        )
    finally:
        cluster.close()
    why = [(t["state"], t["reason"]) for t in out["trials"]]
    assert out["stopped"] == "max_trials (4) reached", why
    states = [t["state"] for t in out["trials"]]
    assert states[:3] == ["complete"] * 3 and states[3] in ("complete", "pruned"), why
    study = load_study(home, "daskjob")
    # the workers reported each step to the study themselves (and asked the pruner there)
    steps = [sorted(t.intermediate_values) for t in study.get_trials()]
    assert steps[:3] == [[1, 2]] * 3 and steps[3] in ([1], [1, 2]), (steps, why)
    if states[3] == "pruned":
        assert out["trials"][3]["reason"].startswith("pruned by the median rule")
