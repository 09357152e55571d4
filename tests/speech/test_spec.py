"""The strict speech spec: unknown keys and bad values fail with the field's name."""

from __future__ import annotations

import pytest

from synth.config import validate
from synth.errors import ConfigError
from synth.speech.spec import DEFAULT_NOISE_WEIGHTS, SpeechSpec


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate(SpeechSpec, data, "speech spec", context={"new_build": True})
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_defaults():
    spec = validate(SpeechSpec, {})
    assert spec.sample_rate_hz == 16000 and spec.format == "wav" and spec.snr_reference == "active"
    assert spec.weights() == {k: w for k, w in DEFAULT_NOISE_WEIGHTS.items() if k != "folder"}
    assert validate(SpeechSpec, {"noise_dir": "x"}).weights()["folder"] == 4.0


def test_ranges_come_from_json_lists_and_stay_frozen():
    spec = validate(SpeechSpec, {"snr_db_range": [10, 10], "noises_per_mix_range": [1, 3]})
    assert spec.snr_db_range == (10.0, 10.0) and spec.noises_per_mix_range == (1, 3)
    with pytest.raises(Exception, match="frozen"):
        spec.format = "flac"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"snr_db": 10}, "speech spec: unknown key 'snr_db'"),
        (
            {"snr_db_range": [10, 5]},
            "snr_db_range=[10, 5]: Value error, expected low <= high, got [10.0, 5.0]",
        ),
        ({"snr_db_range": [0, "x"]}, 'snr_db_range.1="x": Input should be a valid number'),
        (
            {"level_dbfs_range": [-20, 3]},
            "level_dbfs_range=[-20, 3]: Value error, expected levels <= 0 dBFS",
        ),
        ({"snr_reference": "p56"}, "snr_reference=\"p56\": Input should be 'active' or 'whole'"),
        ({"format": "mp3"}, "format=\"mp3\": Input should be 'wav' or 'flac'"),
        (
            {"noise_weights": {"purple": 1}},
            "noise_weights.purple.[key]=\"purple\": Input should be 'white'",
        ),
        (
            {"noise_weights": {"pink": -1}},
            "noise_weights={...}: Value error, expected weights >= 0, got {'pink': -1.0}",
        ),
        (
            {"noise_weights": {"pink": 0}},
            "noise_weights={...}: Value error, expected at least one weight > 0",
        ),
        (
            {"noise_weights": {"folder": 1}},
            "noise_weights={...}: Value error, folder > 0 needs noise_dir",
        ),
        (
            {"noise_dir": "noise/", "noise_weights": {"white": 1}},
            "noise_weights={...}: Value error, noise_dir is set but folder has no weight, so its "
            "clips would never be drawn; add folder = 1 (or leave noise_dir out)",
        ),
        (
            {"snr_db_range": [1e300, 1e300]},
            "snr_db_range=[1e+300, 1e+300]: Value error, expected SNRs from -50 to 100 dB, got "
            "[1e+300, 1e+300] (beyond them one of speech and noise is below 16 bits)",
        ),
        (
            {"snr_db_range": [-200, -150]},
            "snr_db_range=[-200, -150]: Value error, expected SNRs from -50 to 100 dB",
        ),
        (
            {"noises_per_mix_range": [0, 2]},
            "noises_per_mix_range=[0, 2]: Value error, expected counts >= 1",
        ),
        ({"rt60_s_range": [0, 1]}, "rt60_s_range=[0, 1]: Value error, expected 0 < rt60_s <= 5"),
        ({"reverb_prob": 2}, "reverb_prob=2: Input should be less than or equal to 1"),
        (
            {"sample_rate_hz": 4000},
            "sample_rate_hz=4000: Input should be greater than or equal to 8000",
        ),
        ({"peak_limit_dbfs": 0}, "peak_limit_dbfs=0: Input should be less than or equal to -0.01"),
    ],
)
def test_bad_values_name_the_field(data, expected):
    assert expected in _error(data)


@pytest.mark.parametrize(
    "data",
    [{"snr_db_range": [-60, -55]}, {"noise_dir": "noise/", "noise_weights": {"white": 1}}],
)
def test_rules_for_new_builds_do_not_reject_a_stored_spec(data):
    """A dataset built before a rule existed must still verify and expand: its stored spec is
    re-read without the new-build rules."""
    assert validate(SpeechSpec, data, "speech spec").snr_db_range
    assert "Value error" in _error(data)
