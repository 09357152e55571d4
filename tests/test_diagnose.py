"""Bias/variance diagnosis: the reference cases, edge cases, bad numbers, the derived expansion
size, and ``synth diagnose`` without ``--expand`` (pure arithmetic, no Prefect)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.cli import main
from synth.diagnose import (
    DiagnosisError,
    ErrorRates,
    ExpansionPolicy,
    Thresholds,
    diagnose,
    error_rates,
    expansion_count,
    from_record,
    load_config,
    no_expansion_reason,
    parse_rate,
)
from synth.errors import ConfigError


def rates(h: float, t: float, v: float, x: float | None = None) -> ErrorRates:
    return ErrorRates(h, t, v, x)


# -- the reference cases --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "bias", "variance", "mismatch", "findings", "summary"),
    [
        ((1, 5, 6), 4, 1, None, ["high_bias"], "high bias"),
        ((1, 2, 6), 1, 4, None, ["high_variance"], "high variance"),
        ((1, 5, 10), 4, 5, None, ["high_bias", "high_variance"], "high bias and high variance"),
        (
            (1, 5, 6, 10),
            4,
            1,
            4,
            ["high_bias", "mismatch"],
            "train/test distribution mismatch (with high bias)",
        ),
    ],
)
def test_reference_cases(values, bias, variance, mismatch, findings, summary):
    d = diagnose(rates(*values))
    assert (d.avoidable_bias, d.variance, d.mismatch) == (bias, variance, mismatch)
    assert list(d.findings) == findings
    assert d.summary() == summary
    assert d.notes == ()


def test_actions_fit_each_finding_and_appear_once():
    def ids(d):
        return [a["id"] for a in d.actions()]

    assert ids(diagnose(rates(1, 5, 6))) == ["bigger_model", "train_longer", "new_architecture"]
    assert ids(diagnose(rates(1, 2, 6))) == [
        "more_data",
        "regularisation",
        "early_stopping",
        "new_architecture",
    ]
    both = diagnose(rates(1, 5, 10)).actions()
    assert [a["id"] for a in both].count("new_architecture") == 1
    assert next(a for a in both if a["id"] == "new_architecture")["findings"] == [
        "high_bias",
        "high_variance",
    ]
    mismatch = ids(diagnose(rates(1, 5, 6, 10)))
    assert mismatch[-2:] == ["same_distribution", "synthesise_like_test"]
    assert "more_data" not in mismatch
    assert diagnose(rates(1, 1, 1)).actions() == []


# -- edge cases -----------------------------------------------------------------------------------
def test_zero_gaps_find_nothing():
    d = diagnose(rates(5, 5, 5, 5))
    assert (d.avoidable_bias, d.variance, d.mismatch) == (0, 0, 0)
    assert d.findings == () and d.notes == ()
    assert d.summary() == "no high bias, high variance or mismatch at these thresholds"


def test_a_gap_equal_to_its_threshold_is_not_high():
    d = diagnose(rates(1, 3, 5, 7))
    assert (d.avoidable_bias, d.variance, d.mismatch) == (2, 2, 2)
    assert d.findings == ()


def test_validation_below_training_is_a_note_not_a_finding():
    d = diagnose(rates(1, 2, 1.5))
    assert d.variance == -0.5 and d.findings == ()
    assert len(d.notes) == 1 and d.notes[0].startswith("validation error is below training")


def test_training_below_human_and_test_below_validation_are_noted():
    d = diagnose(rates(3, 2, 6, 5))
    assert d.avoidable_bias == -1 and d.mismatch == -1
    assert d.findings == ("high_variance",)
    assert [n.split(":")[0] for n in d.notes] == [
        "training error is below human-level error",
        "test error is below validation error",
    ]


def test_fractions_give_exactly_the_percent_diagnosis():
    frac = error_rates(
        {"human_error": 0.01, "train_error": 0.05, "val_error": 0.06, "test_error": 0.10},
        "fraction",
    )
    assert frac == ErrorRates(1.0, 5.0, 6.0, 10.0)
    d = diagnose(frac)
    assert (d.avoidable_bias, d.variance, d.mismatch) == (4, 1, 4)
    assert d.findings == ("high_bias", "mismatch")
    # 0.03 - 0.01 is 0.019999999999999997 in floats: still exactly the threshold, not high
    edge = error_rates({"human_error": 0.01, "train_error": 0.03, "val_error": 0.05}, "fraction")
    assert diagnose(edge).avoidable_bias == 2 and diagnose(edge).findings == ()


def test_thresholds_are_configurable():
    assert diagnose(rates(1, 2, 6), Thresholds(high_variance=5)).findings == ()
    assert diagnose(rates(1, 5, 6), Thresholds(high_bias=0, high_variance=0.5)).findings == (
        "high_bias",
        "high_variance",
    )
    config = load_config({"thresholds": {"high_bias": 3.5}, "expansion": {"min_count": 10}})
    assert config.thresholds == Thresholds(high_bias=3.5)
    assert config.expansion.min_count == 10
    with pytest.raises(ConfigError, match=r"thresholds.toml: unknown key 'thresholds.variance'"):
        load_config({"thresholds": {"variance": 1}}, "thresholds.toml")
    with pytest.raises(ConfigError, match=r"thresholds.high_bias=-1"):
        load_config({"thresholds": {"high_bias": -1}})


# -- bad numbers ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "unit", "message"),
    [
        (-1, "percent", "--val-error=-1: negative (expected a percentage from 0 to 100)"),
        (100.5, "percent", "--val-error=100.5: above 100, expected a percentage from 0 to 100"),
        ("abc", "percent", "--val-error='abc': not a number (expected a percentage from 0 to 100)"),
        ("nan", "percent", "--val-error=nan: not a finite number"),
        (float("inf"), "percent", "--val-error=inf: not a finite number"),
        (None, "percent", "--val-error: missing (expected a percentage from 0 to 100)"),
        (True, "percent", "--val-error=true: expected a percentage from 0 to 100"),
        ([6], "percent", "--val-error=[6]: expected a percentage from 0 to 100"),
        (6, "fraction", "--val-error=6: above 1, expected a fraction between 0 and 1 (for percent"),
    ],
)
def test_bad_numbers_name_the_option_and_what_was_expected(value, unit, message):
    with pytest.raises(DiagnosisError) as err:
        parse_rate("--val-error", value, unit)
    assert str(err.value).startswith(message)


def test_numbers_as_text_and_with_a_percent_sign_are_read():
    assert parse_rate("x", " 6.5 ") == 6.5
    assert parse_rate("x", "6%") == 6.0
    assert parse_rate("x", 0) == 0.0 and parse_rate("x", 100) == 100.0
    assert parse_rate("x", "0.25", "fraction") == 25.0


# -- records (lineage, event payloads) ------------------------------------------------------------
def test_a_record_round_trips_as_dict_and_as_json_text():
    d = diagnose(rates(1, 2, 6), Thresholds(high_variance=1.5))
    record = d.record()
    assert record == {
        "inputs": {"human_error": 1, "train_error": 2, "val_error": 6, "test_error": None},
        "unit": "percent",
        "avoidable_bias": 1,
        "variance": 4,
        "mismatch": None,
        "thresholds": {"high_bias": 2, "high_variance": 1.5, "mismatch": 2},
        "findings": ["high_variance"],
    }
    assert from_record(record) == d
    assert from_record(json.dumps(record)) == d


def test_a_record_whose_findings_do_not_follow_is_rejected():
    record = diagnose(rates(1, 5, 6)).record() | {"findings": ["high_variance"]}
    with pytest.raises(DiagnosisError, match=r"findings \['high_variance'\] do not follow"):
        from_record(record)
    with pytest.raises(DiagnosisError, match="not valid JSON"):
        from_record("{'inputs': None}")
    with pytest.raises(DiagnosisError, match="missing 'inputs'"):
        from_record({"findings": []})
    bad = {"inputs": {"human_error": 1, "train_error": 2, "val_error": 6, "loss": 3}}
    with pytest.raises(DiagnosisError, match=r"unknown key 'inputs\.loss'"):
        from_record(bad)


# -- the derived expansion size -------------------------------------------------------------------
def test_expansion_count_brings_the_gap_to_the_threshold_within_bounds():
    any_size = ExpansionPolicy(min_count=1)
    # variance 4, threshold 2: (4/2)^2 - 1 = 3 times the dataset
    assert expansion_count(diagnose(rates(1, 2, 6)), 40, any_size) == 120
    # variance 3: (3/2)^2 - 1 = 1.25
    assert expansion_count(diagnose(rates(1, 2, 5)), 40, any_size) == 50
    # variance 12: 35 times, capped at max_growth (3) times the size
    assert expansion_count(diagnose(rates(1, 2, 14)), 40, any_size) == 120
    # a tiny dataset still grows by min_count; max_count wins over everything
    assert expansion_count(diagnose(rates(1, 2, 5)), 4) == 100
    assert expansion_count(diagnose(rates(1, 2, 6)), 10_000, ExpansionPolicy(max_count=500)) == 500
    # threshold 0: the growth bound applies directly
    zero = diagnose(rates(1, 2, 2.5), Thresholds(high_variance=0))
    assert expansion_count(zero, 40, ExpansionPolicy(min_count=1, max_growth=0.5)) == 20


def test_no_expansion_without_high_variance():
    d = diagnose(rates(1, 5, 6))
    with pytest.raises(DiagnosisError, match="no high variance"):
        expansion_count(d, 100)
    assert no_expansion_reason(d) == (
        "no high variance (the variance gap 1 is not above 2 points); the finding is high bias"
    )


rate = st.floats(min_value=0, max_value=100, allow_nan=False).map(lambda x: round(x, 3))


@given(rate, rate, rate, st.one_of(st.none(), rate), st.floats(0, 20), st.floats(0, 20))
def test_findings_follow_the_gaps_and_thresholds(h, t, v, x, tb, tv):
    th = Thresholds(high_bias=tb, high_variance=tv)
    d = diagnose(rates(h, t, v, x), th)
    assert math.isclose(d.avoidable_bias, t - h, abs_tol=1e-6)
    assert math.isclose(d.variance, v - t, abs_tol=1e-6)
    assert ("high_bias" in d.findings) == (d.avoidable_bias > tb)
    assert ("high_variance" in d.findings) == (d.variance > tv)
    assert ("mismatch" in d.findings) == (x is not None and d.mismatch > 2)
    assert from_record(json.loads(json.dumps(d.record()))) == d


@given(st.integers(1, 10**6), rate, st.floats(0.1, 20))
def test_expansion_count_stays_within_its_bounds(n, v, t):
    d = diagnose(rates(0, 0, v), Thresholds(high_variance=t))
    if not d.high_variance:
        return
    p = ExpansionPolicy()
    count = expansion_count(d, n, p)
    assert 1 <= count <= p.max_count
    assert count >= min(p.min_count, p.max_count)
    assert count <= max(p.min_count, math.floor(p.max_growth * n))


# -- the command line (no --expand: arithmetic only) ----------------------------------------------
def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["diagnose", *argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "findings"),
    [
        (("1", "5", "6"), ["high_bias"]),
        (("1", "2", "6"), ["high_variance"]),
        (("1", "5", "10"), ["high_bias", "high_variance"]),
        (("1", "5", "6", "10"), ["high_bias", "mismatch"]),
    ],
)
def test_cli_json_reference_cases(capsys, argv, findings):
    names = ("--human-error", "--train-error", "--val-error", "--test-error")
    args = [a for pair in zip(names, argv, strict=False) for a in pair]
    code, out, _ = run(capsys, *args, "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["findings"] == findings
    assert obj["mismatch"] == (4 if len(argv) == 4 else None)
    assert [obj["avoidable_bias"], obj["variance"]] == [
        float(argv[1]) - 1,
        float(argv[2]) - float(argv[1]),
    ]
    assert obj["actions"] and all(set(a["findings"]) <= set(findings) for a in obj["actions"])
    assert obj["expansion"] is None and obj["event"] is None


def test_cli_prints_the_thresholds_and_takes_them_from_options_and_a_config(capsys, tmp_path):
    code, out, _ = run(capsys, "--human-error", "1", "--train-error", "2", "--val-error", "6")
    assert code == 0
    assert "variance          4.00 points  (high above 2)  HIGH" in out
    assert "finding         high variance" in out
    config = tmp_path / "diag.toml"
    config.write_text("[thresholds]\nhigh_variance = 5\n")
    code, out, _ = run(
        capsys, "--human-error", "1", "--train-error", "2", "--val-error", "6",
        "--config", str(config), "--bias-threshold", "0.5", "--json",
    )  # fmt: skip
    obj = json.loads(out)
    assert obj["thresholds"] == {"high_bias": 0.5, "high_variance": 5, "mismatch": 2}
    assert obj["findings"] == ["high_bias"]


def test_cli_fractions(capsys):
    code, out, _ = run(
        capsys, "--fraction", "--human-error", "0.01", "--train-error", "0.02",
        "--val-error", "0.06", "--json",
    )  # fmt: skip
    obj = json.loads(out)
    assert code == 0 and obj["unit"] == "percent" and obj["findings"] == ["high_variance"]
    assert obj["inputs"] == {"human_error": 1, "train_error": 2, "val_error": 6, "test_error": None}
    # percent values that look like fractions get a hint
    code, out, _ = run(
        capsys, "--human-error", "0.01", "--train-error", "0.02", "--val-error", "0.06"
    )
    assert "if these are fractions (0-1), add --fraction" in out


def _errors(h: str, t: str, v: str) -> list[str]:
    return ["--human-error", h, "--train-error", t, "--val-error", v]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (_errors("1", "2", "6")[2:], "missing --human-error (or give --metrics FILE or --run RUN)"),
        (_errors("-1", "2", "6"), "--human-error=-1: negative"),
        (_errors("1", "101", "6"), "--train-error=101: above 100"),
        (_errors("1", "x", "6"), "--train-error='x': not a number"),
        (["--fraction", *_errors("1", "5", "6")], "--train-error=5: above 1, expected a fraction"),
        ([*_errors("1", "2", "6"), "--count", "5"], "--count needs --expand ID"),
    ],
)
def test_cli_bad_numbers_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"synth: error: {message}") and err.count("\n") == 1


def test_cli_bad_threshold_is_an_argument_error(capsys):
    code, _, err = run(
        capsys, "--human-error", "1", "--train-error", "2", "--val-error", "6",
        "--variance-threshold", "-3",
    )  # fmt: skip
    assert code == 2 and "expected 0 to 100 percentage points, got -3" in err


def test_cli_reads_a_metrics_file_and_options_override_it(capsys, tmp_path):
    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        json.dumps({"human_error": 0.01, "train_error": 0.05, "val_error": 0.06,
                    "unit": "fraction", "model": "crnn-v3", "loss": 0.3, "epochs": 12})
    )  # fmt: skip
    code, out, _ = run(capsys, "--metrics", str(metrics), "--json")
    obj = json.loads(out)
    assert code == 0 and obj["findings"] == ["high_bias"] and obj["model"] == "crnn-v3"
    code, out, _ = run(capsys, "--metrics", str(metrics), "--test-error", "10", "--json")
    obj = json.loads(out)
    assert obj["mismatch"] == 4 and obj["findings"] == ["high_bias", "mismatch"]

    metrics.write_text(json.dumps({"human_error": 1, "train_error": 2, "valid_error": 6}))
    code, _, err = run(capsys, "--metrics", str(metrics))
    assert code == 2
    assert f"{metrics}: missing 'val_error'" in err and "did you mean 'valid_error'?" in err
    metrics.write_text("{not json")
    code, _, err = run(capsys, "--metrics", str(metrics))
    assert code == 2 and f"{metrics}: not valid JSON" in err
    metrics.write_text(json.dumps({"human_error": 1, "train_error": "two", "val_error": 6}))
    code, _, err = run(capsys, "--metrics", str(metrics))
    assert code == 2 and f"{metrics}: train_error='two': not a number" in err
    code, _, err = run(capsys, "--metrics", str(tmp_path / "absent.json"))
    assert code == 2 and "absent.json: cannot read" in err


def test_cli_diagnosis_never_imports_prefect():
    code = (
        "import sys\n"
        "from flows.cli import main\n"
        "rc = main(['diagnose', '--human-error', '1', '--train-error', '2', '--val-error', '6'])\n"
        "assert rc == 0, rc\n"
        "bad = [m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')]\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "high variance" in proc.stdout
