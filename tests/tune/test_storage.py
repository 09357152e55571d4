"""The study storage under load and after a crash: parallel trials of two jobs at once on one
SQLite file lose nothing, and a job killed with SIGKILL resumes with the same command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from flows.cli import main
from synth.catalog import open_catalog
from synth.tune.study import load_study
from tests.tune.conftest import job_config, write

ROOT = Path(__file__).resolve().parents[2]


def _cli(home: Path, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "tune",
            "--config",
            str(path),
            "--home",
            str(home),
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _most_at_once(runs: list) -> int:
    edges = []
    for r in runs:
        edges += [(datetime.fromisoformat(r.started), 1), (datetime.fromisoformat(r.ended), -1)]
    now = most = 0
    for _, step in sorted(edges):
        now += step
        most = max(most, now)
    return most


def test_parallel_trials_of_two_jobs_on_one_sqlite_file_lose_nothing(tmp_path):
    _parallel_jobs(tmp_path)
    assert (tmp_path / "home" / "tune" / "studies.sqlite3").is_file()


def test_parallel_trials_of_two_jobs_on_postgresql_lose_nothing(tmp_path, pg_url, monkeypatch):
    import psycopg

    monkeypatch.setenv("SYNTH_CATALOG_URL", pg_url)
    _parallel_jobs(tmp_path)
    assert not (tmp_path / "home" / "tune" / "studies.sqlite3").exists()
    with psycopg.connect(pg_url) as db:  # the studies are in the catalog's database
        rows = db.execute("SELECT study_name FROM synth_tune.studies ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == ["par-a", "par-b"]


def _parallel_jobs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    procs = []
    for name in ("par-a", "par-b"):
        cfg = job_config(name, max_trials=8, max_parallel=4, steps=3, sleep=0.6, seed=len(procs))
        procs.append(_cli(home, write(tmp_path, cfg)))
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        assert "locked" not in stderr
        outs.append(json.loads(stdout))
    catalog = open_catalog(home)
    try:
        for out in outs:
            assert out["trials_counted"] == 8
            assert [t["state"] for t in out["trials"]] == ["complete"] * 8
            assert [t["number"] for t in out["trials"]] == list(range(8))
            runs = [catalog.get_run(t["run_id"]) for t in out["trials"]]
            assert {r.trigger["trial"] for r in runs} == set(range(8))
            assert all(r.status == "succeeded" for r in runs)
            assert _most_at_once(runs) > 1  # trials ran at once
            study = load_study(home, out["job"])
            steps = [len(t.intermediate_values) for t in study.get_trials()]
            assert steps == [3] * 8  # every intermediate value of every trial was written
        every = {t["run_id"] for out in outs for t in out["trials"]}
        assert len(every) == 16
    finally:
        catalog.close()


def _when_one_done_and_one_running(proc: subprocess.Popen[str], home: Path, job: str) -> list:
    """The job's trials once one has completed and another is running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if not (home / "tune" / "studies.sqlite3").exists():
            continue
        try:
            trials = load_study(home, job).get_trials()
        except Exception:  # the study is not created yet
            continue
        states = [t.state.name for t in trials]
        if "COMPLETE" in states and states[-1] == "RUNNING":
            return trials
    raise AssertionError(proc.communicate())


def test_ctrl_c_marks_the_running_trial_for_retry_and_the_same_command_resumes(tmp_path, capsys):
    home = tmp_path / "home"
    path = write(tmp_path, job_config("ctrlc", max_trials=3, steps=3, sleep=0.4, seed=9))
    proc = _cli(home, path)
    before = _when_one_done_and_one_running(proc, home, "ctrlc")
    os.kill(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted; run the same command again to resume" in stderr
    study = load_study(home, "ctrlc")
    assert study.user_attrs["stopped"] == "interrupted (Ctrl-C): the same command resumes it"
    running = before[-1]
    after = study.get_trials()[running.number]
    assert after.state.name == "FAIL" and after.user_attrs["retried"] is True
    assert after.user_attrs["reason"] == "interrupted (Ctrl-C); retried"

    capsys.readouterr()
    assert main(["tune", "--config", str(path), "--home", str(home), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["retried"] == []  # nothing was left running
    assert out["trials_counted"] == 3 and out["stopped"] == "max_trials (3) reached"
    retry = [t for t in out["trials"] if t.get("retry_of") == running.number]
    assert len(retry) == 1 and retry[0]["params"] == dict(running.params)


def test_resume_after_kill_9(tmp_path, capsys):
    home = tmp_path / "home"
    cfg = job_config("crash", max_trials=4, steps=3, sleep=0.4, seed=7)
    path = write(tmp_path, cfg)
    proc = _cli(home, path)
    before = _when_one_done_and_one_running(proc, home, "crash")
    deadline = time.monotonic() + 60  # and its command has started: its run is recorded
    while time.monotonic() < deadline:
        catalog = open_catalog(home)
        try:
            running = [
                r
                for r in catalog.list_runs()
                if r.status == "running" and r.trigger.get("trial") == before[-1].number
            ]
        finally:
            catalog.close()
        if running:
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = before[-1]
    done = {t.number: t.value for t in before if t.state.name == "COMPLETE"}

    capsys.readouterr()
    assert main(["tune", "--config", str(path), "--home", str(home), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["retried"] == [killed.number]
    trials = {t["number"]: t for t in out["trials"]}
    assert trials[killed.number]["state"] == "fail"
    assert trials[killed.number]["retried"] is True
    assert "retried" in trials[killed.number]["reason"]
    retry = [t for t in out["trials"] if t.get("retry_of") == killed.number]
    assert len(retry) == 1 and retry[0]["state"] == "complete"
    assert retry[0]["params"] == dict(killed.params)
    for number, value in done.items():  # finished trials kept, not run again
        assert trials[number]["objective"] == value
    assert out["trials_counted"] == 4
    assert len(out["trials"]) == 5
    catalog = open_catalog(home)  # the killed trial's run is no longer "running"
    try:
        runs = [r for r in catalog.list_runs() if r.trigger.get("job") == "crash"]
        killed_runs = [r for r in runs if r.trigger["trial"] == killed.number]
        assert [r.status for r in killed_runs] == ["failed"]
        assert killed_runs[0].reason == (
            f"its tuning job's process ended while trial {killed.number} ran"
        )
        assert all(r.status == "succeeded" for r in runs if r not in killed_runs)
    finally:
        catalog.close()
    params = [json.dumps(t["params"], sort_keys=True) for t in out["trials"]]
    assert len(set(params)) == 4  # only the killed trial's values were asked twice
    # and the same command once more runs nothing
    assert main(["tune", "--config", str(path), "--home", str(home), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["trials"]) == 5
