"""sample_mix / render_mix: exact SNR on the 16-bit signals, mix = target + noise, no clipping,
purity and JSON round trips, loop policy, and every rejection counted by reason."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.errors import TooManyRejections
from synth.speech.level import rms, snr_db
from synth.speech.mix import loop_period, noise_segment, render_mix, sample_mix
from synth.speech.params import MixParams, NoiseUse
from synth.speech.spec import SpeechSpec
from tests.speech.helpers import memory_pools, noise, speechlike

RATE = 16000
CLEANS = {"a": speechlike(2.0, seed=1), "b": speechlike(3.1, seed=2)}
NOISES = {"long": noise(5.0, seed=3), "short": noise(0.7, seed=4, level=0.3)}


def _render(spec: SpeechSpec, seed: int, pools=None):
    pools = pools or memory_pools(CLEANS, NOISES)
    params = sample_mix(spec, np.random.default_rng(seed), pools)
    clean = CLEANS[params.clean_id]
    result = render_mix(params, clean, [NOISES[u.id] for u in params.noises])
    return params, result


def _check_invariants(spec: SpeechSpec, params: MixParams, result) -> None:
    mix, target, noise_part, measured = result
    assert mix is result.mix and target is result.target and noise_part is result.noise
    assert measured is result.measured
    assert result.mix.dtype == result.target.dtype == result.noise.dtype == np.int16
    np.testing.assert_array_equal(
        result.mix.astype(np.int32), result.target.astype(np.int32) + result.noise
    )
    limit = 10 ** (spec.peak_limit_dbfs / 20) * 32768
    for x in (result.mix, result.target, result.noise):
        assert np.max(np.abs(x.astype(np.int32))) <= limit + 1.0
    assert 0.0 < params.peak_scale <= 1.0
    assert json.loads(json.dumps(result.measured)) == result.measured


@pytest.mark.parametrize("reference", ["active", "whole"])
@pytest.mark.parametrize("seed", range(6))
def test_degenerate_snr_is_met_on_the_16bit_signals(reference, seed):
    spec = SpeechSpec(snr_db_range=(10.0, 10.0), snr_reference=reference)
    params, result = _render(spec, seed)
    assert params.snr_db == 10.0
    assert result.measured["snr_db"] == pytest.approx(10.0, abs=0.1)
    assert snr_db(result.target, result.noise, RATE, reference) == pytest.approx(10.0, abs=0.1)
    if reference == "whole":
        t, n = result.target.astype(np.float64), result.noise.astype(np.float64)
        assert 10 * math.log10(np.sum(t**2) / np.sum(n**2)) == pytest.approx(10.0, abs=0.1)
    _check_invariants(spec, params, result)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    snr=st.floats(-10.0, 35.0),
    level=st.floats(-40.0, -1.0),
    reference=st.sampled_from(["active", "whole"]),
    noises=st.integers(1, 3),
    reverb=st.booleans(),
)
def test_properties_hold_for_any_draw(seed, snr, level, reference, noises, reverb):
    spec = SpeechSpec(
        snr_db_range=(snr, snr),
        level_dbfs_range=(level, level),
        snr_reference=reference,
        noises_per_mix_range=(noises, noises),
        reverb_prob=1.0 if reverb else 0.0,
    )
    params, result = _render(spec, seed)
    assert len(params.noises) == noises and (params.reverb is not None) == reverb
    assert result.measured["snr_db"] == pytest.approx(snr, abs=0.1)
    _check_invariants(spec, params, result)
    if params.peak_scale == 1.0:
        assert result.measured["level_dbfs"] == pytest.approx(level, abs=0.1)
    else:
        assert result.measured["level_dbfs"] < level
        assert result.measured["clipping_prevented"] is True


def test_loud_mixes_are_scaled_down_together_and_keep_the_snr():
    spec = SpeechSpec(snr_db_range=(0.0, 0.0), level_dbfs_range=(-2.0, -2.0))
    params, result = _render(spec, 0)
    assert params.peak_scale < 0.5
    assert result.measured["peak_dbfs"] == pytest.approx(spec.peak_limit_dbfs, abs=0.01)
    assert result.measured["snr_db"] == pytest.approx(0.0, abs=0.1)


def test_render_is_pure_and_replays_from_json():
    spec = SpeechSpec(noises_per_mix_range=(2, 2), reverb_prob=1.0)
    params, first = _render(spec, 11)
    again = MixParams.from_json(json.loads(json.dumps(params.to_json())))
    assert again == params
    second = render_mix(again, CLEANS[again.clean_id], [NOISES[u.id] for u in again.noises])
    for a, b in (
        (first.mix, second.mix),
        (first.target, second.target),
        (first.noise, second.noise),
    ):
        np.testing.assert_array_equal(a, b)
    assert first.measured == second.measured


def test_same_rng_same_params_and_inputs_untouched():
    spec = SpeechSpec()
    before = {k: v.copy() for k, v in {**CLEANS, **NOISES}.items()}
    a = sample_mix(spec, np.random.default_rng([4, 2]), memory_pools(CLEANS, NOISES))
    b = sample_mix(spec, np.random.default_rng([4, 2]), memory_pools(CLEANS, NOISES))
    assert a == b
    _render(spec, 3)
    for k, v in {**CLEANS, **NOISES}.items():
        np.testing.assert_array_equal(v, before[k])


def test_short_noise_is_looped_with_a_crossfade():
    spec = SpeechSpec(snr_db_range=(5.0, 5.0), loop_crossfade_s=0.05)
    pools = memory_pools(CLEANS, {"short": NOISES["short"]})
    params, result = _render(spec, 1, pools)
    (use,) = params.noises
    assert use.policy == "loop_crossfade" and use.crossfade == 800
    assert params.to_json()["noises"][0]["loop"] == {
        "policy": "loop_crossfade",
        "crossfade_samples": 800,
        "crossfade_s": 0.05,
    }
    assert result.measured["snr_db"] == pytest.approx(5.0, abs=0.1)
    buffer = NOISES["short"]
    period = loop_period(buffer, 800)
    seg = noise_segment(buffer, use.offset, params.num_samples, use.policy, use.crossfade)
    assert seg.size == params.num_samples
    np.testing.assert_array_equal(seg[: period.size - use.offset], period[use.offset :])
    np.testing.assert_array_equal(
        seg[period.size - use.offset :][: period.size],
        period[: seg.size - (period.size - use.offset)],
    )
    # the seam joins the buffer's own neighbours: the period's head starts where its tail ends
    assert period[0] == pytest.approx(buffer[period.size], abs=0.02)
    assert rms(period) == pytest.approx(rms(buffer), rel=0.02)


@pytest.mark.parametrize(("kind", "ends_in_phase"), [("tone", True), ("white", False)])
def test_a_looped_noise_keeps_its_level_across_the_seams(kind, ends_in_phase):
    # 0.95 s periods of a 100 Hz hum hold whole cycles: its two ends are in phase, where an
    # equal-power crossfade bulges by up to 3 dB at every seam. A 10 ms frame is one cycle.
    rate, crossfade = 16000, 800
    t = np.arange(rate) / rate
    rng = np.random.default_rng(1)
    buffer = (
        0.3 * np.sin(2 * np.pi * 100 * t) if kind == "tone" else 0.1 * rng.standard_normal(rate)
    ).astype(np.float32)
    head, tail = buffer[:crossfade], buffer[-crossfade:]
    assert bool(np.corrcoef(head, tail)[0, 1] > 0.99) is ends_in_phase
    looped = noise_segment(buffer, 0, 4 * rate, "loop_crossfade", crossfade)
    frames = looped[: looped.size // 160 * 160].reshape(-1, 160).astype(np.float64)
    frame_db = 10 * np.log10((frames**2).mean(axis=1))
    whole_db = 10 * np.log10((buffer.astype(np.float64) ** 2).mean())
    seams = [(k * (rate - crossfade)) // 160 + j for k in range(4) for j in range(5)]
    if kind == "tone":  # every frame, seams included, at the tone's level
        assert np.abs(frame_db - whole_db).max() < 0.05
    else:  # 160 random samples: frames scatter by a dB or two, at the seams as elsewhere
        assert abs(frame_db[seams].mean() - whole_db) < 1.0


def test_long_noise_is_cropped():
    spec = SpeechSpec()
    pools = memory_pools(CLEANS, {"long": NOISES["long"]})
    params, _ = _render(spec, 2, pools)
    (use,) = params.noises
    assert use.policy == "crop" and 0 <= use.offset <= NOISES["long"].size - params.num_samples
    assert params.to_json()["noises"][0]["loop"] == {"policy": "crop"}
    with pytest.raises(ValueError, match="passes the noise's"):
        noise_segment(NOISES["long"], NOISES["long"].size - 10, 100, "crop", 0)


def test_reverb_params_recorded_and_not_applied_recorded():
    spec = SpeechSpec(reverb_prob=1.0, rt60_s_range=(0.4, 0.4), drr_db_range=(3.0, 3.0))
    params, _ = _render(spec, 5)
    d = params.to_json()["reverb"]
    assert (
        d["applied"] is True
        and d["rt60_s"] == 0.4
        and d["drr_db"] == 3.0
        and isinstance(d["seed"], int)
        and d["predelay_s"] == 0.0025
    )
    params, _ = _render(SpeechSpec(reverb_prob=0.0), 5)
    assert params.to_json()["reverb"] == {"applied": False}


def test_clean_problems_are_counted_and_redrawn():
    pools = memory_pools(CLEANS, NOISES, problems={"b": "clean_silent"})
    spec = SpeechSpec()
    params = [sample_mix(spec, np.random.default_rng(s), pools) for s in range(20)]
    assert {p.clean_id for p in params} == {"a"}
    assert sum(p.rejections.get("clean_silent", 0) for p in params) > 0
    assert all(set(p.rejections) <= {"clean_silent"} for p in params)


def test_too_many_rejections_names_the_reasons():
    pools = memory_pools(CLEANS, NOISES, problems={"a": "clean_not_finite", "b": "clean_too_short"})
    with pytest.raises(TooManyRejections) as info:
        sample_mix(SpeechSpec(max_attempts=10), np.random.default_rng(0), pools)
    msg = str(info.value)
    assert msg.startswith("no usable clean clip: all 2 are unreadable, silent, not finite or")
    assert "(rejections: clean_not_finite=" in msg and "clean_too_short=" in msg


def test_a_corpus_with_one_usable_clip_never_fails_whatever_the_seed():
    """Clean problems are the clip's, not the draw's: they do not use up the attempts. With one
    usable clip among many silent ones, 20 attempts used to run out on some seeds."""
    many = {f"s{i}": CLEANS["a"] for i in range(30)} | {"a": CLEANS["a"]}
    pools = memory_pools(many, NOISES, problems={f"s{i}": "clean_silent" for i in range(30)})
    spec = SpeechSpec(max_attempts=2)
    params = [sample_mix(spec, np.random.default_rng(s), pools) for s in range(40)]
    assert {p.clean_id for p in params} == {"a"}
    assert max(p.rejections.get("clean_silent", 0) for p in params) > 2  # beyond max_attempts


def test_silent_noise_segments_are_rejected():
    quiet = np.zeros(6 * RATE, np.float32)
    with pytest.raises(TooManyRejections, match=r"\(rejections: noise_segment_silent=5\)"):
        sample_mix(
            SpeechSpec(max_attempts=5), np.random.default_rng(0), memory_pools(CLEANS, {"z": quiet})
        )


def test_noise_below_16bit_is_rejected():
    spec = SpeechSpec(snr_db_range=(70.0, 70.0), level_dbfs_range=(-30.0, -30.0), max_attempts=3)
    with pytest.raises(TooManyRejections, match=r"noise_below_16bit=3\); the noise would be "):
        sample_mix(spec, np.random.default_rng(0), memory_pools(CLEANS, NOISES))


def test_speech_below_16bit_is_rejected():
    # -50 dB SNR in a -35 dBFS mix leaves the speech at -85 dBFS, under 4 LSB: the written
    # target would be mostly zeros under a full transcript.
    spec = SpeechSpec(snr_db_range=(-50.0, -50.0), level_dbfs_range=(-35.0, -35.0), max_attempts=3)
    with pytest.raises(TooManyRejections, match=r"speech_below_16bit=3\); the speech would be "):
        sample_mix(spec, np.random.default_rng(0), memory_pools(CLEANS, NOISES))


def test_babble_made_from_the_clean_clip_is_not_mixed_with_it():
    pools = memory_pools(CLEANS, {"long": NOISES["long"]}, excludes={"long": {"a"}})
    params = [sample_mix(SpeechSpec(), np.random.default_rng(s), pools) for s in range(12)]
    assert {p.clean_id for p in params} == {"b"}
    assert sum(p.rejections.get("babble_contains_clean", 0) for p in params) > 0


@pytest.mark.parametrize(
    ("level_dbfs", "snr"),
    # no peak check needed; bound passed but the mix's own peak is below the limit; scaled
    [(-30.0, 10.0), (-24.0, -5.0), (-22.0, 10.0), (-18.0, -5.0), (-18.0, 0.0), (-3.0, 30.0)],
)
def test_one_noise_gains_equal_the_mix_built_sample_by_sample(level_dbfs, snr):
    # The one-noise path derives the mix's level from energies and a cross product and measures
    # its peak only when a bound says it could matter; check it against the mix itself.
    from synth.speech.mix import _peak, _solve_gains

    speech, segment = CLEANS["b"], NOISES["long"][: CLEANS["b"].size]
    level, limit = rms(speech), 10 ** (-0.1 / 20)
    g, (noise_gain,), scale = _solve_gains(
        speech, level, rms(speech), _peak(speech), [segment], [rms(segment)], [None], [0.0],
        snr, level_dbfs, limit,
    )  # fmt: skip
    s64, n64 = speech.astype(np.float64), segment.astype(np.float64)
    mix = g * s64 + noise_gain * n64
    assert 20 * math.log10(np.sqrt(np.mean(mix**2))) == pytest.approx(level_dbfs, abs=1e-4)
    assert 20 * math.log10(g * level / rms(noise_gain * n64)) == pytest.approx(snr, abs=1e-4)
    worst = max(np.max(np.abs(g * s64)), np.max(np.abs(noise_gain * n64)), np.max(np.abs(mix)))
    assert scale == pytest.approx(min(1.0, limit / worst), rel=1e-5)
    assert (scale < 1.0) == (worst > limit)


def test_noise_index_gives_the_energy_and_exact_peak_of_any_crop():
    from synth.speech.level import sum_squares
    from synth.speech.mix import NoiseIndex, _peak

    rng = np.random.default_rng(5)
    buffer = (rng.standard_normal(50_000) * 0.1).astype(np.float32)
    buffer[31_337] = -0.97  # a lone peak inside a block
    index = NoiseIndex.of(buffer)
    crops = [(0, 50_000), (0, 1024), (1024, 4096), (10, 900), (1000, 1100), (31_000, 31_400)]
    crops += [tuple(sorted(rng.integers(0, 50_001, size=2))) for _ in range(200)]
    for start, stop in crops:
        crop = buffer[start:stop]
        assert index.peak(buffer, start, stop) == _peak(crop)
        exact = float(np.sum(crop.astype(np.float64) ** 2))
        assert index.energy(buffer, start, stop) == pytest.approx(exact, rel=1e-7, abs=1e-12)
        assert index.energy(buffer, start, stop) == pytest.approx(sum_squares(crop), rel=1e-6)


def test_a_mix_without_components_is_the_same_mix_and_measurements():
    spec = SpeechSpec(snr_db_range=(3.0, 12.0), noises_per_mix_range=(1, 2))
    for seed in range(6):
        params, full = _render(spec, seed)
        noises = [NOISES[u.id] for u in params.noises]
        bare = render_mix(params, CLEANS[params.clean_id], noises, components=False)
        assert bare.target is None and bare.noise is None
        np.testing.assert_array_equal(bare.mix, full.mix)
        assert bare.measured == full.measured


def test_a_recipe_whose_gains_pass_16_bits_is_refused_not_wrapped():
    # The sampler never draws such gains; a hand-edited recipe can. int16 would wrap around
    # (a loud click with a wrong label), so the render refuses instead.
    params, _ = _render(SpeechSpec(noises_per_mix_range=(1, 1), reverb_prob=0.0), 5)
    noises = [NOISES[u.id] for u in params.noises]
    loud = dataclasses.replace(params, clean_gain=params.clean_gain * 1000.0)
    for components in (True, False):
        with pytest.raises(RuntimeError, match="mix overflows 16 bits"):
            render_mix(loud, CLEANS[loud.clean_id], noises, components=components)


def test_components_that_pass_16_bits_are_refused_even_when_the_mix_fits():
    # Speech and noise in antiphase: each component is far past full scale, their sum is 0.
    clean = np.full(1600, 0.5, dtype=np.float32)
    use = NoiseUse("n", "memory:n", "0" * 64, "folder", 0, "crop", 0, 0.0, 2.0)
    params = MixParams(
        clean_id="c",
        clean_sha256="0" * 64,
        rate_hz=RATE,
        num_samples=clean.size,
        snr_db=0.0,
        snr_reference="whole",
        level_dbfs=0.0,
        noises=(use,),
        reverb=None,
        clean_gain=2.0,
        peak_scale=1.0,
    )
    bare = render_mix(params, clean, [-clean], components=False)
    assert not bare.mix.any()
    with pytest.raises(RuntimeError, match="speech overflows 16 bits"):
        render_mix(params, clean, [-clean])
