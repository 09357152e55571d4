"""The digits example end to end at a small size: real digits imported with their licence,
synth handwriting digit lines, the rbf SVC trained on their character boxes and tested on the
real digits (real subprocesses, the real CLI, a real catalog)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "sklearn", reason="the digits example needs scikit-learn: pip install 'synth[examples]'"
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "digits"


def _run(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The prepared inputs, the imported real digits and two synth builds (40 and 240 lines)."""
    tmp = tmp_path_factory.mktemp("digits")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SYNTH_"))}
    env["SYNTH_HOME"] = str(tmp / "home")
    proc = _run(str(EXAMPLE / "prepare.py"), str(tmp / "ex"), "--lines", "400", env=env)
    assert proc.returncode == 0, proc.stderr
    real = tmp / "ex" / "real-digits"
    imported = _run(
        "-m", "flows.cli", "datasets", "import", str(real), "--kind", "ocr",
        "--licence", "CC-BY-4.0", "--name", "real-digits", "--json", env=env,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    builds = {}
    for count in (40, 240):
        built = _run(
            "-m", "flows.cli", "ocr", "--count", str(count), "--seed", "1",
            "--preset", "handwriting", "--texts", str(tmp / "ex" / "digit-lines.txt"),
            "--name", f"digits-{count}", "--json", env=env,
        )  # fmt: skip
        assert built.returncode == 0, built.stderr
        builds[count] = json.loads(built.stdout)
    return {"tmp": tmp, "env": env, "real": real, "imported": imported, "builds": builds}


def test_prepare_writes_the_real_digits_and_digit_lines(example):
    rows = (example["real"] / "metadata.jsonl").read_text().splitlines()
    assert len(rows) == 1797
    first = json.loads(rows[0])
    assert first == {"file_name": "images/0000.png", "text": "0", "label": 0}
    lines = (example["tmp"] / "ex" / "digit-lines.txt").read_text().splitlines()
    assert len(lines) == 400
    assert all(3 <= len(line.split()) <= 8 and line.replace(" ", "").isdigit() for line in lines)


def test_the_real_digits_are_registered_with_their_licence(example):
    rec = json.loads(example["imported"].stdout)
    assert rec["count"] == 1797
    shown = _run("-m", "flows.cli", "datasets", "show", rec["id"], "--json", env=example["env"])
    assert shown.returncode == 0, shown.stderr
    assert "CC-BY-4.0" in json.loads(shown.stdout)["licences"]


def test_training_reports_errors_and_more_lines_lower_the_real_error(example, tmp_path):
    errors = {}
    for count, build in example["builds"].items():
        metrics_file = tmp_path / f"metrics-{count}.json"
        env = {
            **example["env"],
            "SYNTH_DATASET_PATH": build["path"],
            "SYNTH_TEST_PATH": str(example["real"]),
            "SYNTH_METRICS_FILE": str(metrics_file),
        }
        proc = _run(str(EXAMPLE / "train.py"), "--val", build["path"], env=env)
        assert proc.returncode == 0, proc.stderr
        metrics = json.loads(metrics_file.read_text())
        printed = dict(line.split("=", 1) for line in proc.stdout.splitlines())
        assert {k: float(v) for k, v in printed.items()} == metrics
        assert {"train_error", "val_error", "test_error"} <= set(metrics)
        assert metrics["test_chars"] == 1797
        assert metrics["train_chars"] == metrics["val_chars"] > count * 3  # 3..8 digits a line
        assert metrics["val_error"] == metrics["train_error"]  # the same set
        assert 0.0 <= metrics["train_error"] < metrics["test_error"] < 0.9  # chance: 0.9
        errors[count] = metrics["test_error"]
    assert errors[240] < errors[40]


def test_a_folder_that_is_no_dataset_is_one_line_and_exit_2(example, tmp_path):
    proc = _run(str(EXAMPLE / "train.py"), str(tmp_path), env=example["env"])
    assert proc.returncode == 2
    assert (
        proc.stderr
        == f"train.py: error: {tmp_path}: no recipes.jsonl (a synth OCR build) or metadata.jsonl\n"
    )


def test_the_one_command_loop_grows_the_data_and_the_validation_error_falls(tmp_path):
    """``loop.py`` at a small size: real digits as the test set, 20 lines grown by synth
    improve; the validation error falls, and every round's data and run are in the catalog."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SYNTH_"))}
    work = tmp_path / "work"
    proc = _run(
        str(EXAMPLE / "loop.py"), "--work", str(work), "--start", "20", "--val-lines", "200",
        "--max-samples", "120", "--max-rounds", "2", env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    loop = json.loads((work / "improve.json").read_text())
    rounds = loop["rounds"]
    assert [r["samples"] for r in rounds] == [20, 120]
    assert rounds[1]["val_error"] < rounds[0]["val_error"]
    assert rounds[1]["test_error"] < rounds[0]["test_error"]  # on real digits it did not make
    assert loop["stopped"] in ("max_samples", "max_rounds", "variance_fixed")
    assert "round   lines" in proc.stdout and f"stopped: {loop['stopped']}" in proc.stdout
    from synth.catalog import open_catalog

    catalog = open_catalog(work / "synth-data")
    try:
        for r in rounds:
            run = catalog.get_run(r["run_id"])
            assert (
                run.status == "succeeded" and run.dataset("train")["dataset_id"] == r["dataset_id"]
            )
            assert run.dataset("test")["dataset_id"] == catalog.list(name="real-digits")[0].id
        grown = catalog.get(rounds[1]["dataset_id"])
        assert grown.parent_id == rounds[0]["dataset_id"]
        assert grown.trigger["run_id"] == rounds[0]["run_id"]
    finally:
        catalog.close()


def test_the_tuning_job_runs_on_real_validation_and_test_splits(tmp_path):
    """``tune.py`` at a small size: the job's trials train on synth digits and are scored on a
    real validation split; the preset and the best trial are judged on the real test split."""
    pytest.importorskip("optuna", reason="synth tune needs Optuna: pip install 'synth[tune]'")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SYNTH_"))}
    work = tmp_path / "work"
    proc = _run(
        str(EXAMPLE / "tune.py"), "--work", str(work), "--max-trials", "2", "--count", "40",
        "--max-parallel", "1", env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads((work / "tune-result.json").read_text())
    assert result["trials"] == 2 and result["stopped"].startswith("max_trials")
    from synth.catalog import open_catalog

    catalog = open_catalog(work / "synth-data")
    try:
        [split] = [r for r in catalog.list() if r.trigger.get("type") == "split"]
        assert split.parent_id == catalog.list(name="real-digits")[0].id
        assert split.statistics["splits"]["shared_groups"] == 0
        for key in ("baseline", "best"):
            run = catalog.get_run(result[key]["run_id"])
            assert run.status == "succeeded"
            assert run.dataset("validation") == {
                "dataset_id": split.id,
                "role": "validation",
                "split": "validation",
            }
            assert run.dataset("test")["split"] == "test"
            assert run.metrics["val_error"] == result[key]["val_error"]
            assert run.metrics["test_chars"] + run.metrics["val_chars"] > 1600  # real digits
        best = catalog.get_run(result["best"]["run_id"])
        assert best.trigger["type"] == "tune" and best.hp["C"] == str(
            result["best"]["params"]["hp.C"]
        )
    finally:
        catalog.close()
