"""Levels and SNR: exact values on known signals, invariances, hypothesis properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.speech.audio_io import load_audio
from synth.speech.corpus import read_corpus
from synth.speech.level import active_level, dbfs, rms, snr_db
from tests.speech.helpers import noise, speechlike

RATE = 16000


def test_rms_and_dbfs_of_a_full_scale_sine():
    t = np.arange(RATE) / RATE
    sine = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    assert rms(sine) == pytest.approx(1 / math.sqrt(2), rel=1e-6)
    assert dbfs(rms(sine)) == pytest.approx(-3.0103, abs=1e-3)
    assert dbfs(0.0) == -200.0 and rms(np.zeros(0, np.float32)) == 0.0


def test_stationary_noise_is_fully_active():
    x = noise(3.0, level=0.05)
    a = active_level(x, RATE)
    assert a.activity > 0.99
    assert dbfs(a.level) == pytest.approx(dbfs(rms(x)), abs=0.05)


def test_silence_has_no_level():
    a = active_level(np.zeros(RATE, np.float32), RATE)
    assert (a.level, a.activity) == (0.0, 0.0)


def test_active_level_ignores_added_silence_on_real_speech():
    for item in read_corpus(None).items[:6]:
        x = load_audio(item.path)
        padded = np.concatenate([np.zeros(2 * RATE, np.float32), x, np.zeros(3 * RATE, np.float32)])
        a, b = active_level(x, RATE), active_level(padded, RATE)
        assert abs(dbfs(a.level) - dbfs(b.level)) < 0.05, item.id
        assert b.activity == pytest.approx(a.activity * x.size / padded.size, rel=1e-3)
        # the whole-clip level drops by the padding, the active level does not
        assert dbfs(rms(padded)) < dbfs(rms(x)) - 1.0


def test_active_level_is_above_the_rms_of_speech_with_pauses():
    x = speechlike(3.0)
    a = active_level(x, RATE)
    assert 0.3 < a.activity < 0.95
    assert dbfs(a.level) > dbfs(rms(x)) + 1.0


def test_snr_of_scaled_signals_is_exact():
    s, n = speechlike(2.0), noise(2.4, seed=3)[: speechlike(2.0).size]
    for ref in ("active", "whole"):
        base = snr_db(s, n, RATE, ref)
        assert snr_db(s, n * 10 ** (-6 / 20), RATE, ref) == pytest.approx(base + 6, abs=1e-4)
    whole = 10 * math.log10(np.sum(s.astype(np.float64) ** 2) / np.sum(n.astype(np.float64) ** 2))
    assert snr_db(s, n, RATE, "whole") == pytest.approx(whole, abs=1e-4)
    assert snr_db(s, np.zeros_like(n), RATE, "whole") == math.inf
    with pytest.raises(ValueError, match="unknown SNR reference 'p56'"):
        snr_db(s, n, RATE, "p56")  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), gain_db=st.floats(-60, 20), seconds=st.floats(0.0, 3.0))
def test_active_level_is_scale_invariant(seed, gain_db, seconds):
    x = speechlike(seconds, seed=seed)
    g = 10 ** (gain_db / 20)
    a, b = active_level(x, RATE), active_level((x * g).astype(np.float32), RATE)
    if a.level == 0.0:  # all-silent input (very short bursts)
        assert (b.level, b.activity, a.activity) == (0.0, 0.0, 0.0)
        return
    assert dbfs(b.level) == pytest.approx(dbfs(a.level) + gain_db, abs=1e-3)
    assert b.activity == pytest.approx(a.activity, abs=1e-4)
    assert 0.0 <= a.activity <= 1.0 and a.level <= np.max(np.abs(x), initial=0.0)


def test_integer_input_gives_the_same_level():
    x = speechlike(1.0)
    q = np.rint(x * 32768).astype(np.int16)
    assert dbfs(active_level(q, RATE).level / 32768) == pytest.approx(
        dbfs(active_level(x, RATE).level), abs=0.01
    )


@pytest.mark.parametrize("frames", [1, 7, 1023, 1024, 1025, 3000])
def test_envelope_filter_matches_the_textbook_recursion(frames):
    """The vectorised one-pole filter equals scipy's lfilter (the recursion it replaces),
    across the 1024-frame block boundary too."""
    from scipy.signal import lfilter

    from synth.speech.level import _ENVELOPE_G, _envelope_filter

    x = np.abs(np.random.default_rng(frames).standard_normal(frames)) * 0.1
    x[frames // 3 : frames // 2] = 0.0  # a pause
    g = _ENVELOPE_G
    want = lfilter([1.0 - g], [1.0, -g], x)
    np.testing.assert_allclose(_envelope_filter(x), want, rtol=1e-12, atol=1e-18)
    twice = lfilter([(1.0 - g) ** 2], [1.0, -2.0 * g, g * g], x)
    np.testing.assert_allclose(_envelope_filter(_envelope_filter(x)), twice, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 7, 8, 11, 16, 17, 40])
def test_sliding_max_equals_the_naive_window_maximum(width):
    from synth.speech.level import _sliding_max

    x = np.random.default_rng(width).standard_normal(60)
    want = np.array([x[i : i + width].max() for i in range(x.size - width + 1)])
    got = _sliding_max(x, width)
    np.testing.assert_array_equal(got, want)
    assert got is not x


@pytest.mark.parametrize("n", [0, 5, 255, 256, 90_001])
def test_sum_squares_is_close_to_the_exact_sum(n):
    from synth.speech.level import measure_speech, sum_squares

    x = (np.random.default_rng(n).standard_normal(n) * 0.2).astype(np.float32)
    exact = float(np.sum(x.astype(np.float64) ** 2))
    assert sum_squares(x) == pytest.approx(exact, rel=1e-6, abs=1e-30)
    q = np.rint(x * 20000).astype(np.int16)
    exact_q = float(np.sum(q.astype(np.int64) ** 2))
    assert sum_squares(q) == pytest.approx(exact_q, rel=1e-6, abs=1e-30)
    assert measure_speech(q, RATE).sum_squares == pytest.approx(exact_q, rel=1e-6, abs=1e-30)
