"""``synth run``, ``synth runs list|show`` and ``synth diagnose --run`` in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from synth.catalog import open_catalog
from tests.conftest import synth_cmd
from tests.runs.conftest import TRAIN

PY = sys.executable


@pytest.fixture
def synth(home):
    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "SYNTH_HOME": str(home)}
        env.pop("PREFECT_API_URL", None)
        proc = subprocess.run(
            [*synth_cmd(), *args], capture_output=True, text=True, env=env, timeout=120
        )
        assert "Traceback" not in proc.stderr
        return proc

    return run


def _runs(home) -> list:
    catalog = open_catalog(home)
    try:
        return catalog.list_runs()
    finally:
        catalog.close()


def test_run_json_then_list_show_and_diagnose(synth, home, dataset):
    proc = synth(
        "run",
        dataset.id[:10],
        "--model",
        "tiny",
        "--json",
        "--",
        PY,
        TRAIN,
        "file",
        "{path}",
        "--epochs",
        "3",
    )
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)
    assert run["status"] == "succeeded" and run["model"] == "tiny"
    assert run["command"] == [PY, TRAIN, "file", "{path}", "--epochs", "3"]
    listed = json.loads(synth("runs", "list", "--json", "--dataset", dataset.id[:8]).stdout)
    assert run["id"] in [r["id"] for r in listed["runs"]]
    shown = synth("runs", "show", run["id"][:8])
    assert f"run          {run['id']}" in shown.stdout and "val_error    8.33333" in shown.stdout
    diag = json.loads(
        synth("diagnose", "--run", run["id"][:8], "--human-error", "1", "--json").stdout
    )
    assert diag["inputs"]["human_error"] == 1.0 and diag["inputs"]["train_error"] == 1.5
    assert diag["inputs"]["val_error"] == pytest.approx(100 / 12, abs=1e-3)
    assert diag["inputs"]["test_error"] is None
    assert diag["model"] == "tiny" and "high_variance" in diag["findings"]


def test_a_failed_command_exits_1_and_is_recorded(synth, home, dataset):
    before = len(_runs(home))
    proc = synth("run", dataset.id[:10], "--", PY, TRAIN, "fail", "{path}")
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert (
        line.startswith("synth: error: run ") and "failed: the command exited with code 3" in line
    )
    runs = _runs(home)
    assert len(runs) == before + 1 and runs[-1].status == "failed"


def test_a_metric_never_printed_exits_2_naming_it(synth, home, dataset):
    proc = synth(
        "run",
        dataset.id[:10],
        "--metric",
        "acc=acc=(\\S+)",
        "--json",
        "--",
        PY,
        TRAIN,
        "lines",
        "{path}",
    )
    assert proc.returncode == 2
    run = json.loads(proc.stdout)  # one object: the recorded, failed run
    assert run["status"] == "failed" and run["reason"].startswith("metric acc never printed")
    assert "metric acc never printed" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--", "no-such-trainer-xyz"], "command 'no-such-trainer-xyz': not found on PATH"),
        (["--metric", "x=(", "--", PY], "--metric x: regex '(' does not compile"),
        (["--metric", "x=abc", "--", PY], "--metric x: regex 'abc' has no group"),
        (["--val", "test", "--", PY], "--val: dataset"),
        ([], "give the training command after --"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_records_nothing(synth, home, dataset, args, message):
    before = len(_runs(home))
    proc = synth("run", dataset.id[:10], *args)
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert message in line
    assert len(_runs(home)) == before


def test_unknown_dataset_and_run(synth):
    proc = synth("run", "abcdef12", "--", PY)
    assert proc.returncode == 2 and "dataset id 'abcdef12': no such dataset" in proc.stderr
    proc = synth("runs", "show", "abcdef12")
    assert proc.returncode == 2 and "run id 'abcdef12': no such run" in proc.stderr
