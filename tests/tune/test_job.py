"""Tuning jobs end to end through the command line, on real tiny datasets and a real command."""

from __future__ import annotations

import itertools
import json
import statistics
from pathlib import Path

import pytest

from flows.cli import main
from synth.catalog import open_catalog
from synth.tune.study import load_study
from tests.tune.conftest import QUALITIES, expected, job_config, write


def _tune(capsys, home: Path, path: Path, *extra: str) -> dict:
    capsys.readouterr()
    assert main(["tune", "--config", str(path), "--home", str(home), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_trial_builds_runs_and_records_with_its_trigger(home, tmp_path, capsys):
    out = _tune(capsys, home, write(tmp_path, job_config("first", max_trials=3)))
    assert out["stopped"] == "max_trials (3) reached"
    assert [t["state"] for t in out["trials"]] == ["complete"] * 3
    catalog = open_catalog(home)
    try:
        for t in out["trials"]:
            q = t["values"]["effects.jpeg_quality_range"][0]
            assert t["objective"] == pytest.approx(expected(q, t["values"]["hp.lr"]), abs=1e-5)
            run = catalog.get_run(t["run_id"])
            assert run.trigger == {"type": "tune", "job": "first", "trial": t["number"]}
            assert run.dataset("train")["dataset_id"] == t["dataset_id"]
            assert run.hp == {"lr": str(t["values"]["hp.lr"])}
            record = catalog.get(t["dataset_id"])
            assert record.spec["effects"]["jpeg_quality_range"] == [q, q]
            assert t["trigger"] == f"tune:first/{t['number']}"
    finally:
        catalog.close()
    best = min(out["trials"], key=lambda t: t["objective"])
    assert out["best"]["number"] == best["number"]
    assert Path(out["picture"]).is_file()


def test_grid_exhausts_its_grid_and_stops_and_reuses_datasets(home, tmp_path, capsys):
    ranges = [
        {
            "target": "effects.jpeg_quality_range",
            "type": "categorical",
            "values": [[60, 60], [70, 70], [80, 80]],
        },
        {"target": "hp.lr", "type": "categorical", "values": [0.01, 0.1]},
    ]
    cfg = job_config("grid", strategy="grid", ranges=ranges, max_trials=None, max_parallel=2)
    out = _tune(capsys, home, write(tmp_path, cfg))
    assert out["stopped"] == "every point of the grid (6) was tried"
    points = {
        (t["values"]["effects.jpeg_quality_range"][0], t["values"]["hp.lr"]) for t in out["trials"]
    }
    assert points == set(itertools.product([60, 70, 80], [0.01, 0.1]))
    assert out["best"]["values"] == {"effects.jpeg_quality_range": [70, 70], "hp.lr": 0.01}
    assert out["best"]["objective"] == pytest.approx(1.0)
    # the same build again (another job): every dataset exists by fingerprint, none is rebuilt
    again = _tune(capsys, home, write(tmp_path, {**cfg, "name": "grid2"}))
    assert all(t["reused_dataset"] for t in again["trials"])
    assert {t["dataset_id"] for t in again["trials"]} == {t["dataset_id"] for t in out["trials"]}
    # a finished job run again runs nothing more
    assert len(_tune(capsys, home, write(tmp_path, cfg))["trials"]) == 6


def test_a_target_value_stops_the_job(home, tmp_path, capsys):
    cfg = job_config("target", max_trials=30, completion={"target": 3.0}, seed=1)
    out = _tune(capsys, home, write(tmp_path, cfg))
    assert out["stopped"].startswith("the objective reached its target 3")
    assert out["best"]["objective"] <= 3.0
    assert len(out["trials"]) < 30
    assert out["trials"][-1]["number"] == out["best"]["number"]
    assert all(t["objective"] > 3.0 for t in out["trials"][:-1])


def test_no_improvement_for_n_trials_stops_the_job(home, tmp_path, capsys):
    cfg = job_config("patience", max_trials=40, completion={"no_improvement_trials": 3}, seed=2)
    out = _tune(capsys, home, write(tmp_path, cfg))
    best = out["best"]["number"]
    assert out["stopped"] == f"the best (trial {best}) did not improve for 3 trials"
    assert len(out["trials"]) == best + 4


def test_early_stopping_prunes_a_trial(home, tmp_path, capsys):
    cfg = job_config("prune", max_trials=10, early_stopping="auto", steps=4, seed=3)
    out = _tune(capsys, home, write(tmp_path, cfg))
    pruned = [t for t in out["trials"] if t["state"] == "pruned"]
    assert pruned, [t["objective"] for t in out["trials"]]
    catalog = open_catalog(home)
    try:
        for t in pruned:
            run = catalog.get_run(t["run_id"])
            assert run.status == "stopped"
            assert run.reason.startswith("pruned by the median rule (val_error=")
            assert len([s for s in run.steps if s["name"] == "val_error"]) < 4
    finally:
        catalog.close()
    study = load_study(home, "prune")
    for t in study.get_trials():
        if t.state.name == "PRUNED":
            assert t.intermediate_values  # the pruner saw the steps


def test_bayesian_best_beats_random_median(home, tmp_path, capsys):
    # one trial at a time: each sampler sees the same history whatever the timing (measured at
    # 16 trials: bayesian 1.0059, 1.0017, 1.0600 against random 1.0134, 1.0206, 1.1109)
    bests = {}
    for strategy in ("bayesian", "random"):
        bests[strategy] = []
        for seed in range(3):
            cfg = job_config(f"{strategy}-{seed}", strategy=strategy, max_trials=16, seed=seed)
            out = _tune(capsys, home, write(tmp_path, cfg))
            bests[strategy].append(out["best"]["objective"])
    assert statistics.median(bests["bayesian"]) < statistics.median(bests["random"]), bests


def test_warm_start_hands_parents_trials_to_the_sampler_and_counts_them(home, tmp_path, capsys):
    parent = _tune(capsys, home, write(tmp_path, job_config("parent", max_trials=5, seed=4)))
    # identical data: the same build, command and objective
    child = job_config("child", max_trials=7, seed=5)
    out = _tune(capsys, home, write(tmp_path, child), "--warm-start", "parent")
    assert out["warm_start"] == [{"job": "parent", "mode": "identical", "trials": 5, "left_out": 0}]
    from_parent = [t for t in out["trials"] if t.get("warm_start") == "parent"]
    assert sorted(t["parent_trial"] for t in from_parent) == [0, 1, 2, 3, 4]
    assert len(out["trials"]) == 7 and out["trials_counted"] == 7  # 5 inherited + 2 new
    study = load_study(home, "child")
    inherited = [t for t in study.get_trials() if t.user_attrs.get("warm_start")]
    assert sorted(t.value for t in inherited) == sorted(t["objective"] for t in parent["trials"])
    # transfer: narrower ranges take only the parent's trials inside them
    narrow = job_config("narrow", max_trials=6, seed=6)
    narrow["ranges"][1] = {"target": "hp.lr", "type": "continuous", "low": 1e-3, "high": 0.1}
    narrow["build"]["count"] = 3
    inside = [t for t in parent["trials"] if 1e-3 <= t["values"]["hp.lr"] <= 0.1]
    out = _tune(capsys, home, write(tmp_path, narrow), "--warm-start", "parent")
    assert out["warm_start"] == [
        {"job": "parent", "mode": "transfer", "trials": len(inside), "left_out": 5 - len(inside)}
    ]
    assert out["trials_counted"] == 6


def test_show_best_and_clone(home, tmp_path, capsys):
    _tune(capsys, home, write(tmp_path, job_config("shown", max_trials=3)))
    assert main(["tune", "show", "shown", "--home", str(home)]) == 0
    text = capsys.readouterr().out
    assert "stopped      max_trials (3) reached" in text and "best         trial" in text
    assert main(["tune", "list", "--home", str(home), "--json"]) == 0
    jobs = {j["job"]: j for j in json.loads(capsys.readouterr().out)["jobs"]}
    assert jobs["shown"]["trials"] == 3
    best_file = tmp_path / "best.toml"
    assert (
        main(["tune", "best", "shown", "--out", str(best_file), "--home", str(home), "--json"]) == 0
    )
    best = json.loads(capsys.readouterr().out)
    q = best["config"]["effects"]["jpeg_quality_range"]
    # the written config builds the best trial's dataset again: the same content id
    assert (
        main(
            [
                "ocr",
                "--preset",
                "clean",
                "--count",
                "2",
                "--config",
                str(best_file),
                "--home",
                str(home),
                "--json",
                "--name",
                "tune-shown",
            ]
        )
        == 0
    )
    built = json.loads(capsys.readouterr().out)
    assert built["id"] == best["dataset_id"] and not built["new"]
    assert q[0] in QUALITIES
    clone_file = tmp_path / "clone.toml"
    assert (
        main(
            [
                "tune",
                "clone",
                "shown",
                "--set",
                "ranges[hp.lr].low=0.001",
                "--set",
                "max_trials=5",
                "--out",
                str(clone_file),
                "--home",
                str(home),
            ]
        )
        == 0
    )
    capsys.readouterr()
    from synth.tune.config import load_config

    cfg, data = load_config(clone_file)
    assert data["name"] == "shown-clone" and data["warm_start"] == ["shown"]
    assert cfg.ranges[1].low == 0.001 and cfg.max_trials == 5
    out = _tune(capsys, home, clone_file)
    assert out["warm_start"][0]["job"] == "shown" and out["trials_counted"] == 5
    assert main(["tune", "clone", "shown", "--set", "ranges[hp.x].low=1", "--home", str(home)]) == 2
    assert "no range searches 'hp.x'" in capsys.readouterr().err
