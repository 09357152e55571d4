"""Training runs through ``execute_run``: a real command, real metrics, the catalog's record."""

from __future__ import annotations

import json
import sys
import time

import pytest

from synth.catalog import open_catalog
from synth.errors import SynthError
from synth.lineage.openlineage import events_path
from synth.runs.execute import execute_run
from synth.runs.spec import MetricDef, RunRequest
from tests.runs.conftest import TRAIN

PY = sys.executable


def _run(home, request, on_metric=None):
    catalog = open_catalog(home)
    try:
        run = execute_run(catalog, home, request, on_metric)
        stored = catalog.get_run(run.id[:8])
    finally:
        catalog.close()
    assert stored.to_json() == run.to_json()  # what the catalog holds is what was returned
    return run


def test_metrics_from_the_file_the_command_writes(home, dataset):
    run = _run(home, RunRequest(dataset.id[:8], [PY, TRAIN, "file", "{path}"]))
    assert run.status == "succeeded" and run.reason is None and run.exit_code == 0
    assert run.metrics == {
        "train_error": 1.5,
        "val_error": 100 / 12,
        "samples": 12.0,
        "chars": run.metrics["chars"],
    }
    assert run.metrics["chars"] == sum(len(t) for t in _texts(dataset))
    assert run.unit == "percent" and run.model == "tiny-cnn"  # named by its metrics file
    assert run.datasets == [{"dataset_id": dataset.id, "role": "train", "split": None}]
    assert run.started <= run.ended


def _texts(dataset):
    from pathlib import Path

    rows = (Path(dataset.path) / "metadata.jsonl").read_text().splitlines()
    return [json.loads(r)["text"] for r in rows]


def test_metrics_from_regexes_with_their_steps_last_match_wins(home, dataset):
    metrics = [
        MetricDef.parse(r"train_error=train_err=([\d.]+)"),
        MetricDef.parse(r"val_error=val_err=([\d.]+)"),
    ]
    run = _run(
        home, RunRequest(dataset.id, [PY, TRAIN, "lines", "{path}"], metrics=metrics, model="m1")
    )
    assert run.status == "succeeded"
    assert run.metrics == {"train_error": 1.2, "val_error": 2.4}  # the final line, n = 12
    assert run.steps == [
        {"name": "train_error", "step": 1, "value": 10.0},
        {"name": "val_error", "step": 1, "value": 20.0},
        {"name": "train_error", "step": 2, "value": 5.0},
        {"name": "val_error", "step": 2, "value": 10.0},
        {"name": "train_error", "step": 3, "value": pytest.approx(3.33)},
        {"name": "val_error", "step": 3, "value": pytest.approx(6.67)},
    ]
    log = open(run.log_path).read()
    assert log.count("epoch") == 3 and "final: train_err=1.20" in log


def test_a_named_step_group_and_json_lines_steps(home, dataset):
    seen = []
    metric = MetricDef("val_error", r"it (?P<step>\d+) v=(?P<value>[\d.]+)")
    code = "for i in range(4): print(f'it {i*10} v={9-i}')"
    run = _run(
        home,
        RunRequest(dataset.id, [PY, "-c", code], metrics=[metric]),
        on_metric=lambda *a: seen.append(a),
    )
    assert run.steps == [
        {"name": "val_error", "step": s, "value": v}
        for s, v in ((0, 9.0), (10, 8.0), (20, 7.0), (30, 6.0))
    ]
    assert seen == [("val_error", v, s) for s, v in ((0, 9.0), (10, 8.0), (20, 7.0), (30, 6.0))]
    run = _run(home, RunRequest(dataset.id, [PY, TRAIN, "jsonl", "{path}"]))
    assert run.status == "succeeded"
    assert run.metrics == {"train_error": 2.0, "val_error": 27.5}
    assert [(s["step"], s["value"]) for s in run.steps] == [(0, 30.0), (1, 29.0), (2, 28.0)]


def test_the_command_gets_paths_ids_and_hyperparameters(home, dataset):
    run = _run(
        home,
        RunRequest(
            dataset.id,
            [PY, TRAIN, "env", "{path}", "--lr={hp.lr}", "{id}"],
            val=dataset.id,
            hp={"lr": "0.01"},
        ),
    )
    log = open(run.log_path).read().splitlines()
    env = json.loads(next(x for x in log if x.startswith("ENV "))[4:])
    argv = json.loads(next(x for x in log if x.startswith("ARGV "))[5:])
    assert argv == ["env", dataset.path, "--lr=0.01", dataset.id]
    assert env == {
        "SYNTH_DATASET_PATH": dataset.path,
        "SYNTH_DATASET_ID": dataset.id,
        "SYNTH_VAL_PATH": dataset.path,
        "SYNTH_TEST_PATH": None,
        "SYNTH_METRICS_FILE": str(home / "runs" / run.id / "metrics.json"),
        "SYNTH_RUN_ID": run.id,
        "SYNTH_HP_LR": "0.01",
    }
    assert run.hp == {"lr": "0.01"}
    assert [d["role"] for d in run.datasets] == ["train", "validation"]
    assert run.metrics == {"train_error": 12.0, "val_error": 13.0}


def test_a_failed_command_is_recorded_as_failed_with_its_exit_code(home, dataset):
    run = _run(home, RunRequest(dataset.id, [PY, TRAIN, "fail", "{path}"]))
    assert run.status == "failed" and run.exit_code == 3
    assert run.reason.startswith("the command exited with code 3: ")
    assert "CUDA out of memory" in open(run.log_path).read()


def test_a_command_printing_no_metric_fails_the_run(home, dataset):
    run = _run(home, RunRequest(dataset.id, [PY, TRAIN, "silent", "{path}"]))
    assert run.status == "failed" and run.exit_code == 0
    assert run.reason.startswith("no metric: the command printed no train_error=")
    run = _run(
        home,
        RunRequest(
            dataset.id,
            [PY, TRAIN, "lines", "{path}"],
            metrics=[MetricDef.parse("acc=accuracy (\\S+)")],
        ),
    )
    assert run.status == "failed"
    assert run.reason == "metric acc never printed (no line matched acc=accuracy (\\S+))"


def test_a_caller_can_stop_a_run_at_a_step(home, dataset):
    started = time.monotonic()
    run = _run(
        home,
        RunRequest(dataset.id, [PY, TRAIN, "slow", "{path}"]),
        on_metric=lambda name, value, step: step is not None and step >= 3 and "pruned",
    )
    assert time.monotonic() - started < 20  # not the command's 60 s
    assert run.status == "stopped"
    assert run.reason == "pruned (val_error=47 at step 3)"
    assert [s["step"] for s in run.steps] == [0, 1, 2, 3]


def test_a_timeout_fails_the_run(home, dataset):
    run = _run(home, RunRequest(dataset.id, [PY, TRAIN, "slow", "{path}"], timeout_s=1))
    assert run.status == "failed" and run.reason == "timed out after 1 s"


@pytest.mark.parametrize(
    ("request_kw", "message"),
    [
        ({"command": ["no-such-trainer-xyz"]}, "command 'no-such-trainer-xyz': not found on PATH"),
        ({"command": ["./missing.sh"]}, "command './missing.sh': no such file"),
        ({"command": [PY, "{val_path}"]}, "command: {val_path} but no --val dataset was given"),
        ({"command": [PY, "{hp.lr}"]}, "command: {hp.lr} but no hyperparameter 'lr' is set"),
        ({"command": [PY], "val": "validation"}, "has no splits"),
        ({"command": [PY], "test": "ffffffff"}, "--test: dataset id 'ffffffff': no such dataset"),
        ({"command": [PY], "val": "0000:dev2"}, "no such dataset"),
        ({"command": []}, "command: give the training command after --"),
    ],
)
def test_bad_input_is_one_line_and_records_nothing(home, dataset, request_kw, message):
    catalog = open_catalog(home)
    try:
        before = len(catalog.list_runs())
        events = events_path(home).read_text() if events_path(home).exists() else ""
        with pytest.raises(SynthError) as err:
            execute_run(catalog, home, RunRequest(dataset.id, **request_kw))
        assert message in str(err.value) and "\n" not in str(err.value)
        assert len(catalog.list_runs()) == before
        assert (events_path(home).read_text() if events_path(home).exists() else "") == events
    finally:
        catalog.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("acc=acc=(", "--metric acc: regex 'acc=(' does not compile"),
        ("acc=acc", "--metric acc: regex 'acc' has no group"),
        ("acc", "--metric 'acc': expected NAME=REGEX"),
    ],
)
def test_bad_metric_definitions(text, message):
    with pytest.raises(SynthError, match=message.replace("(", r"\(")):
        MetricDef.parse(text)


def test_runs_emit_openlineage_start_and_complete_or_fail(home, dataset):
    from tests.lineage.test_openlineage import validate as _validate_fixture

    check = _validate_fixture.__wrapped__()
    good = _run(home, RunRequest(dataset.id, [PY, TRAIN, "file", "{path}"]))
    bad = _run(home, RunRequest(dataset.id, [PY, TRAIN, "fail", "{path}"]))
    events = [json.loads(x) for x in events_path(home).read_text().splitlines()]
    for run, end in ((good, "COMPLETE"), (bad, "FAIL")):
        mine = [e for e in events if e["run"]["runId"].replace("-", "") == run.id]
        assert [e["eventType"] for e in mine] == ["START", end]
        for e in mine:
            check(e)
            [inp] = e["inputs"]
            assert inp["name"] == dataset.path
            assert inp["facets"]["version"]["datasetVersion"] == dataset.id
        assert mine[-1]["job"]["name"] == f"train.{run.model}"  # tiny-cnn, named by its file
        assert mine[-1]["run"]["facets"]["synthRun"]["status"] == run.status
    fail = [e for e in events if e["run"]["runId"].replace("-", "") == bad.id][-1]
    assert fail["run"]["facets"]["errorMessage"]["message"] == bad.reason


def test_runs_for_a_dataset_and_its_lineage(home, dataset):
    from synth.lineage.trace import render_tree, trace

    run = _run(home, RunRequest(dataset.id, [PY, TRAIN, "file", "{path}"], val=dataset.id))
    catalog = open_catalog(home)
    try:
        ids = [r.id for r in catalog.list_runs(dataset.id)]
        assert run.id in ids and ids == [r.id for r in catalog.runs_for_dataset(dataset.id)]
        assert catalog.list_runs("f" * 64) == []
        lineage = trace(catalog, dataset.id)
    finally:
        catalog.close()
    mine = [r for r in lineage["runs"] if r["id"] == run.id]
    assert [(r["role"], r["status"]) for r in mine] == [
        ("train", "succeeded"),
        ("validation", "succeeded"),
    ]
    assert f"{run.id[:12]}  tiny-cnn (train, succeeded)" in render_tree(lineage)


def test_a_split_version_hands_each_split_its_folder(home, dataset):
    from pathlib import Path

    from flows.cli import main

    assert (
        main(
            [
                "datasets",
                "split",
                dataset.id,
                "--ratios",
                "50",
                "25",
                "25",
                "--home",
                str(home),
                "--json",
            ]
        )
        == 0
    )
    catalog = open_catalog(home)
    try:
        split = next(r for r in catalog.list() if r.parent_id == dataset.id)
    finally:
        catalog.close()
    run = _run(
        home,
        RunRequest(
            f"{split.id[:10]}:train", [PY, TRAIN, "env", "{path}"], val="validation", test="test"
        ),
    )
    log = open(run.log_path).read().splitlines()
    env = json.loads(next(x for x in log if x.startswith("ENV "))[4:])
    root = Path(split.path)
    assert env["SYNTH_DATASET_PATH"] == str(root / "train")
    assert env["SYNTH_VAL_PATH"] == str(root / "validation")
    assert env["SYNTH_TEST_PATH"] == str(root / "test")
    counts = split.statistics["splits"]["counts"]
    assert run.metrics == {"train_error": counts["train"], "val_error": counts["train"] + 1}
    assert run.datasets == [
        {"dataset_id": split.id, "role": "train", "split": "train"},
        {"dataset_id": split.id, "role": "validation", "split": "validation"},
        {"dataset_id": split.id, "role": "test", "split": "test"},
    ]
