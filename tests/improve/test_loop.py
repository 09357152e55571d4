"""``synth improve``'s stopping rules with a real training command whose errors follow a known
learning curve: train_error = T, val_error = max(F, T + K / sqrt(n)), test_error = val_error + M,
for n samples in the dataset version a round trains on. Human-level error is 0.5 %, a gap is high
above 2 points, and an expansion adds n * ((variance / 2)^2 - 1) samples, at most 3 n."""

from __future__ import annotations

import math

import pytest

from synth.diagnose import ErrorRates, diagnose
from tests.improve.conftest import START, catalog_state, make_dataset, train

H = "0.5"


def _val(k: float, n: int, t: float = 1.0, floor: float = 0.0) -> float:
    return max(floor, t + k / math.sqrt(n))


def test_high_variance_is_fixed_by_the_derived_expansion_and_lineage_shows_why(improve, home):
    code, out, _ = improve("--human-error", H, options=("--k", "10"))
    assert code == 0
    rounds = out["rounds"]
    # round 1: variance 10 / sqrt(10) = 3.16 points asks for 10 * ((3.16 / 2)^2 - 1) = 15 more
    assert [r["samples"] for r in rounds] == [START, 25]
    assert [r["val_error"] for r in rounds] == pytest.approx([_val(10, START), 3.0])
    assert [r["train_error"] for r in rounds] == [1.0, 1.0]
    assert [r["human_error"] for r in rounds] == [0.5, 0.5]
    assert [r["findings"] for r in rounds] == [["high_variance"], []]
    assert [r["action"] for r in rounds] == ["expand", "stop"]
    assert (
        rounds[0]["expanded_by"] == 15 and rounds[0]["next_dataset_id"] == rounds[1]["dataset_id"]
    )
    assert out["stopped"] == "variance_fixed"
    assert out["message"].startswith("variance is no longer high: 2.00 points")

    datasets, runs = catalog_state(home)
    by_id = {d.id: d for d in datasets}
    assert len(datasets) == 2 and len(runs) == 2
    first, second = (by_id[r["dataset_id"]] for r in rounds)
    assert second.parent_id == first.id and second.count == 25
    # the expansion's trigger is round 1's diagnosis, as `synth diagnose --expand` records it
    run1 = next(r for r in runs if r.id == rounds[0]["run_id"])
    rates = ErrorRates(0.5, 1.0, round(_val(10, START), 9))
    assert second.trigger == {
        "type": "diagnosis",
        "model": run1.model,
        "diagnosis": diagnose(rates).record(),
        "count": 15,
        "count_derived": True,
        "run_id": run1.id,
        "loop_id": out["loop_id"],
        "round": 1,
    }
    from flows.plans import diagnosis_trigger

    shared = diagnosis_trigger(diagnose(rates), run1.model, 15, True)
    assert {k: second.trigger[k] for k in shared} == shared
    # each run trains on its round's version and names the loop and round
    for number, r in enumerate(rounds, 1):
        run = next(x for x in runs if x.id == r["run_id"])
        assert run.status == "succeeded"
        assert run.dataset("train")["dataset_id"] == r["dataset_id"]
        assert run.trigger == {
            "type": "improve",
            "ref": f"improve:{out['loop_id']}/{number}",
            "loop_id": out["loop_id"],
            "round": number,
        }


def test_the_rounds_budget_stops_a_loop_whose_variance_stays_high(improve, home):
    code, out, _ = improve("--human-error", H, "--max-rounds", "2", options=("--k", "40"))
    assert code == 0
    rounds = out["rounds"]
    # 10 * ((12.6 / 2)^2 - 1) = 390 wanted, at most 3 times the size: +30
    assert [r["samples"] for r in rounds] == [START, 40]
    assert [r["val_error"] for r in rounds] == pytest.approx([_val(40, START), _val(40, 40)])
    assert [r["findings"] for r in rounds] == [["high_variance"], ["high_variance"]]
    assert [r["action_text"] for r in rounds] == ["expand +30", "stop: rounds spent"]
    assert out["stopped"] == "max_rounds"
    assert out["message"] == "2 rounds spent with variance still high (6.32 points)"
    datasets, runs = catalog_state(home)
    assert sorted(d.count for d in datasets) == [START, 40] and len(runs) == 2


def test_the_sample_budget_caps_the_expansion_and_then_stops(improve, home):
    code, out, _ = improve("--human-error", H, "--max-samples", "20", options=("--k", "40"))
    assert code == 0
    rounds = out["rounds"]
    assert [r["samples"] for r in rounds] == [START, 20]  # 30 wanted, 10 left in the budget
    assert [r["action_text"] for r in rounds] == ["expand +10", "stop: samples spent"]
    assert out["stopped"] == "max_samples"
    assert "20 of --max-samples 20" in out["message"]
    datasets, _ = catalog_state(home)
    assert max(d.count for d in datasets) == 20
    grown = next(d for d in datasets if d.count == 20)
    assert grown.trigger["count"] == 10
    assert grown.trigger["capped_by"] == {"max_samples": 20, "wanted": 30}


def test_a_validation_error_that_does_not_fall_stops_the_loop(improve, home):
    # the validation error sits on a floor of 10 %: more data does not help
    code, out, _ = improve("--human-error", H, options=("--k", "10", "--floor", "10"))
    assert code == 0
    rounds = out["rounds"]
    assert [r["samples"] for r in rounds] == [START, 40]
    assert [r["val_error"] for r in rounds] == [10.0, 10.0]
    assert out["stopped"] == "no_improvement"
    assert out["message"] == "validation error did not fall: 10 % in round 2 after 10 % in round 1"
    assert rounds[-1]["action_text"] == "stop: no improvement"


def test_high_bias_stops_with_the_advice_and_synthesises_nothing(improve, home, start):
    code, out, _ = improve("--human-error", H, options=("--train", "10", "--k", "40"))
    assert code == 0
    [only] = out["rounds"]
    assert only["findings"] == ["high_bias", "high_variance"] and only["action"] == "stop"
    assert out["stopped"] == "high_bias"
    ids = [a["id"] for a in out["advice"]]
    assert ids[:2] == ["bigger_model", "train_longer"]
    assert "use a bigger model" in out["message"] and "train longer" in out["message"]
    datasets, runs = catalog_state(home)
    assert [d.id for d in datasets] == [start] and len(runs) == 1


def test_a_mismatch_says_validation_and_test_differ_and_points_at_the_test_set(
    synth, home, start, config
):
    real = make_dataset(home, count=5, seed=9, name="real")
    proc = synth(
        "improve",
        start,
        "--human-error",
        H,
        "--test",
        real,
        "--config",
        config,
        "--",
        *train("--k", "3", "--mismatch", "5"),
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = lines[1].split()
    assert header == [
        "round",
        "samples",
        "human",
        "train",
        "validation",
        "test",
        "findings",
        "action",
    ]
    assert lines[2].split()[:6] == ["1", "10", "0.50", "1.00", "1.95", "6.95"]
    assert "train/test distribution mismatch" in lines[2]
    [note] = [x for x in lines if x.startswith("mismatch: ")]
    assert "validation and test differ" in note
    assert "synthesise training data matched to the test set" in note
    assert lines[-1].startswith("stopped: variance_fixed: variance is no longer high")
    _, runs = catalog_state(home)
    assert runs[0].dataset("test")["dataset_id"] == real


def test_the_table_shows_each_round(synth, start, config):
    proc = synth(
        "improve", start, "--human-error", H, "--config", config, "--", *train("--k", "10")
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("round 1: 10 samples, run ") and lines[0].endswith("expand +15")
    table = lines[2:5]
    assert table[0].split() == [
        "round",
        "samples",
        "human",
        "train",
        "validation",
        "test",
        "findings",
        "action",
    ]
    assert table[1].split() == [
        "1",
        "10",
        "0.50",
        "1.00",
        "4.16",
        "-",
        "high",
        "variance",
        "expand",
        "+15",
    ]
    assert table[2].split() == [
        "2",
        "25",
        "0.50",
        "1.00",
        "3.00",
        "-",
        "none",
        "stop:",
        "variance",
        "fixed",
    ]
    assert lines[-1].startswith("stopped: variance_fixed: ")


def test_a_failed_run_stops_the_loop_naming_the_run(improve, home):
    code, out, err = improve("--human-error", H, options=("--k", "10", "--fail-at", "20"))
    assert code == 1
    assert out["stopped"] == "run_failed"
    failed = out["failed_run"]
    [line] = err.splitlines()
    assert line == f"synth: error: run {failed['id'][:12]} failed: {failed['reason']}"
    assert failed["reason"].startswith("the command exited with code 3")
    assert [r["samples"] for r in out["rounds"]] == [START, 25]
    _, runs = catalog_state(home)
    assert sorted(r.status for r in runs) == ["failed", "succeeded"]


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (("--human-error", "abc"), (), "--human-error='abc': not a number"),
        (("--human-error", "0.5", "--val", "validation"), (), "has no splits"),
        (("--human-error", "0.5", "--metric", "val_error=("), (), "does not compile"),
        (("--human-error", "0.5", "--metric", "val_error=x"), (), "has no group"),
        (("--human-error", "0.5", "--max-samples", "5"), (), "has 10 samples already"),
        (("--human-error", "0.5", "--max-rounds", "0"), (), "--max-rounds"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_records_nothing(
    synth, home, start, config, args, options, message
):
    proc = synth("improve", start, *args, "--config", config, "--", *train(*options))
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert line.startswith(("synth: error: ", "synth improve: error: ")) and message in line
    datasets, runs = catalog_state(home)
    assert [d.id for d in datasets] == [start] and runs == []


def test_an_unknown_dataset_or_command_is_one_line_exit_2(synth, home, start):
    for words, message in (
        (("ffffffffff", "--human-error", "1", "--", *train()), "ffffffffff"),
        ((start, "--human-error", "1", "--", "no-such-trainer-xyz"), "not found on PATH"),
        ((start, "--human-error", "1"), "give the training command after --"),
    ):
        proc = synth("improve", *words)
        assert proc.returncode == 2, proc.stderr
        [line] = proc.stderr.splitlines()
        assert line.startswith("synth: error: ") and message in line
    assert catalog_state(home)[1] == []


def test_a_human_error_above_the_training_error_keeps_the_run_and_stops(improve, home, start):
    code, out, err = improve("--human-error", "5", options=("--train", "1"))
    assert code == 2
    assert out["exit_code"] == 2
    [line] = err.splitlines()
    assert "--human-error 5 % is above the training error 1 %" in line
    datasets, runs = catalog_state(home)
    assert [d.id for d in datasets] == [start]
    assert len(runs) == 1 and runs[0].status == "succeeded"  # the run happened: it is kept


def test_fractions_are_read_as_fractions(improve):
    # --fraction: H and the run's errors are fractions 0-1; the loop reports percent
    code, out, _ = improve(
        "--human-error", "0.005", "--fraction", options=("--train", "0.01", "--k", "0.03")
    )
    assert code == 0
    [only] = out["rounds"]
    assert (only["human_error"], only["train_error"]) == (0.5, 1.0)
    assert only["val_error"] == pytest.approx(1 + 3 / math.sqrt(START))
    assert out["stopped"] == "variance_fixed"
