"""More of a job's cases: a speech build with a pair's item, a runtime limit, a failing command,
a changed config under an existing name, the same job started twice."""

from __future__ import annotations

import json
import sys

import pytest

from flows.cli import main
from synth.catalog import open_catalog
from synth.tune.storage import job_lock
from tests.tune.conftest import job_config, write

SNR = (
    "import json, os, sys; s = json.load(open(os.path.join(sys.argv[1], 'dataset.json')))"
    "['spec']; print('val_error=%f' % abs(s['snr_db_range'][0] - 5))"
)


def _tune(capsys, home, path, code=0):
    capsys.readouterr()
    assert main(["tune", "--config", str(path), "--home", str(home), "--json"]) == code
    captured = capsys.readouterr()
    return json.loads(captured.out) if code == 0 else captured.err


def test_speech_build_tunes_an_item_of_a_pair(home, tmp_path, capsys):
    cfg = {
        "name": "snr",
        "strategy": "random",
        "max_trials": 3,
        "build": {"kind": "speech", "count": 2},
        "training": {
            "command": [sys.executable, "-c", SNR, "{path}"],
            "metrics": {"val_error": r"val_error=(\S+)"},
        },
        "objective": {"metric": "val_error"},
        "ranges": [{"target": "snr_db_range.0", "type": "integer", "low": 0, "high": 10}],
    }
    out = _tune(capsys, home, write(tmp_path, cfg))
    catalog = open_catalog(home)
    try:
        for t in out["trials"]:
            low = t["values"]["snr_db_range.0"]
            assert isinstance(low, int) and 0 <= low <= 10
            assert catalog.get(t["dataset_id"]).spec["snr_db_range"] == [low, 20.0]
            assert t["objective"] == pytest.approx(abs(low - 5))
    finally:
        catalog.close()
    # a pair's item out of what the spec takes is a one-line error naming the range
    cfg["ranges"][0]["high"] = 30
    cfg["name"] = "snr-bad"
    err = _tune(capsys, home, write(tmp_path, cfg), code=2)
    assert "ranges[0] (snr_db_range.0).high=30:" in err


def test_max_runtime_stops_the_job(home, tmp_path, capsys):
    cfg = job_config("runtime", max_trials=50, max_runtime_s=0.5, steps=2, sleep=0.3)
    out = _tune(capsys, home, write(tmp_path, cfg))
    assert out["stopped"] == "max_runtime_s (0.5 s) reached"
    assert len(out["trials"]) == 1


def test_a_failing_command_is_a_failed_trial_that_counts(home, tmp_path, capsys):
    cfg = job_config("failing", max_trials=2)
    cfg["training"]["command"] = [sys.executable, "-c", "import sys; sys.exit(3)"]
    out = _tune(capsys, home, write(tmp_path, cfg))
    assert [t["state"] for t in out["trials"]] == ["fail", "fail"]
    assert out["trials"][0]["reason"] == "the command exited with code 3"
    assert out["best"] is None and out["trials_counted"] == 2
    assert (
        main(["tune", "best", "failing", "--out", str(tmp_path / "b.toml"), "--home", str(home)])
        == 2
    )
    assert "no trial completed yet" in capsys.readouterr().err


def test_a_changed_config_under_an_existing_name_is_an_error(home, tmp_path, capsys):
    _tune(capsys, home, write(tmp_path, job_config("changed", max_trials=1)))
    err = _tune(
        capsys,
        home,
        write(tmp_path, job_config("changed", max_trials=2, strategy="bayesian")),
        code=2,
    )
    assert "tuning job 'changed' exists with another config (changed: max_trials, strategy)" in err


def test_the_same_job_twice_at_once_is_an_error(home, tmp_path, capsys):
    path = write(tmp_path, job_config("twice", max_trials=1))
    with job_lock(home, "twice"):
        err = _tune(capsys, home, path, code=2)
    assert "tuning job 'twice' is running in another process" in err
    assert main(["tune", "show", "nope", "--home", str(home)]) == 2
    assert "tuning job 'nope': not found" in capsys.readouterr().err


def test_hyperband_stops_trials_by_successive_halving(home, tmp_path, capsys):
    cfg = job_config("hyperband", strategy="hyperband", max_trials=10, steps=9, seed=8)
    out = _tune(capsys, home, write(tmp_path, cfg))
    states = [t["state"] for t in out["trials"]]
    assert len(states) == 10 and "pruned" in states, states
    catalog = open_catalog(home)
    try:
        for t in out["trials"]:
            if t["state"] == "pruned":
                assert catalog.get_run(t["run_id"]).reason.startswith("pruned by hyperband")
    finally:
        catalog.close()


def test_an_unknown_warm_start_parent_is_an_error_before_the_job_is_recorded(
    home, tmp_path, capsys
):
    from synth.tune.report import list_jobs
    from synth.tune.storage import open_storage

    path = write(tmp_path, job_config("orphan", max_trials=1))
    capsys.readouterr()
    args = ["tune", "--config", str(path), "--home", str(home), "--warm-start", "nobody"]
    assert main(args) == 2
    assert "tuning job 'nobody': not found" in capsys.readouterr().err
    assert "orphan" not in {j["job"] for j in list_jobs(open_storage(home))}
