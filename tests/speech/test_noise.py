"""Procedural noise (deterministic from its parameters, right spectra) and noise-folder loading."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synth.errors import AssetError
from synth.speech.noise import (
    PROCEDURAL_KINDS,
    ProceduralNoise,
    babble_variant,
    load_noise_folder,
    render_procedural,
)
from synth.speech.reverb import RirParams, apply_rir, synthetic_rir
from tests.speech.helpers import noise, speechlike, write

RATE = 16000


def _band_power_db(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / RATE)
    band = (f >= lo) & (f < hi)
    return 10 * math.log10(spec[band].mean())


def _talkers(n: int = 4) -> list[np.ndarray]:
    return [speechlike(1.0 + 0.3 * i, seed=10 + i) for i in range(n)]


def _make(kind: str, seed: int = 0, variant: int = 0) -> np.ndarray:
    if kind == "babble":
        pool = [(f"t{i}", f"{i:064x}") for i in range(4)]
        p = babble_variant(seed, variant, 4.0, RATE, pool, (3, 4))
        by_id = dict(zip((i for i, _ in pool), _talkers(), strict=True))
        return render_procedural(p, [by_id[i] for i, _ in p.sources])
    return render_procedural(ProceduralNoise(kind, seed, variant, 4.0, RATE))


@pytest.mark.parametrize("kind", PROCEDURAL_KINDS)
def test_procedural_noise_is_deterministic_and_normalised(kind):
    a, b = _make(kind), _make(kind)
    assert a.dtype == np.float32 and a.shape == (4 * RATE,)
    np.testing.assert_array_equal(a, b)
    assert np.sqrt(np.mean(a.astype(np.float64) ** 2)) == pytest.approx(0.1, rel=1e-4)
    assert not np.array_equal(a, _make(kind, variant=1))
    assert not np.array_equal(a, _make(kind, seed=5))


def test_pink_and_brown_slopes():
    # mean power density one octave apart: white flat, pink -3 dB, brown -6 dB
    white, pink, brown = _make("white"), _make("pink"), _make("brown")
    for x, slope in ((white, 0.0), (pink, -3.01), (brown, -6.02)):
        per_octave = _band_power_db(x, 1000, 2000) - _band_power_db(x, 500, 1000)
        assert per_octave == pytest.approx(slope, abs=0.6)


def test_hum_is_mains_and_harmonics():
    x = _make("hum").astype(np.float64)
    spec = np.abs(np.fft.rfft(x))
    f = np.fft.rfftfreq(x.size, 1 / RATE)
    peak = f[np.argmax(spec)]
    assert peak in (50.0, 60.0)
    strong = f[spec > 0.05 * spec.max()]
    assert np.allclose(strong / peak, np.round(strong / peak))


def test_babble_variant_records_its_talkers():
    pool = [(f"t{i}", f"{i:064x}") for i in range(10)]
    p = babble_variant(3, 1, 5.0, RATE, pool, (3, 6))
    assert 3 <= len(p.sources) <= 6 and set(p.sources) <= set(pool)
    assert p == babble_variant(3, 1, 5.0, RATE, pool, (3, 6))
    assert ProceduralNoise.from_json(p.to_json()) == p
    assert p.id == "procedural:babble/3/1" and p.uri == "procedural:babble"
    with pytest.raises(ValueError, match="babble needs the audio of its"):
        render_procedural(p, [])


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown procedural noise kind 'purple'"):
        ProceduralNoise("purple", 0, 0, 1.0, RATE)


def test_noise_folder_keeps_usable_clips_and_counts_rejections(tmp_path):
    folder = tmp_path / "noise"
    write(folder / "good.wav", noise(2.0))
    write(
        folder / "sub" / "good48k.wav",
        np.stack([noise(1.0, 48000), noise(1.0, 48000, seed=2)], 1),
        48000,
        "PCM_24",
    )
    write(folder / "silent.wav", np.zeros(RATE, np.float32))
    bad = noise(1.0)
    bad[5] = np.inf
    write(folder / "inf.wav", bad, subtype="FLOAT")
    write(folder / "short.wav", noise(0.05))
    (folder / "broken.flac").write_bytes(b"fLaC not really")
    (folder / "README.txt").write_text("ignored")
    write(folder / ".hidden" / "x.wav", noise(1.0))
    nf = load_noise_folder(folder, RATE)
    assert [c.id for c in nf.clips] == ["good.wav", "sub/good48k.wav"]
    assert nf.rejected == {"not_finite": 1, "silent": 1, "too_short": 1, "unreadable": 1}
    assert nf.skipped[0]["file"] == str(folder / "broken.flac")
    assert nf.skipped[0]["reason"].startswith("not a readable audio file or truncated/corrupt (")
    assert [s["reason"] for s in nf.skipped[1:]] == [
        "not_finite: NaN or infinite samples",
        "too_short: 0.050 s < 0.2 s",
        "silent: RMS below -100 dBFS (DC offset removed)",
    ]


def test_a_noise_clip_s_dc_offset_is_removed_and_cancelling_channels_are_silent(tmp_path):
    folder = tmp_path / "noise"
    hiss = noise(1.0)  # RMS 0.1
    write(folder / "offset.wav", hiss + np.float32(0.25), subtype="FLOAT")
    left = noise(1.0, seed=3)
    # the channels cancel but for a constant: the downmix is a pure offset, nothing to hear
    write(folder / "cancel.wav", np.stack([left, np.float32(0.3) - left], 1), subtype="FLOAT")
    both = np.stack([left, np.float32(0.3) - left], 1)
    write(folder / "cancel48k.wav", both, 48000, "FLOAT")
    nf = load_noise_folder(folder, RATE)
    assert [c.id for c in nf.clips] == ["offset.wav"]
    # at 48 kHz too: the offset goes before resampling, where soxr would ring on it
    assert nf.skipped == tuple(
        {"file": str(folder / name), "reason": "silent: RMS below -100 dBFS (DC offset removed)"}
        for name in ("cancel.wav", "cancel48k.wav")
    )
    from synth.speech.noise import decoded_noise

    (clip,) = nf.clips
    x = decoded_noise(str(clip.path), clip.sha256, RATE)
    assert abs(float(x.mean(dtype=np.float64))) < 1e-6
    np.testing.assert_allclose(x, hiss - hiss.mean(dtype=np.float64), atol=1e-6)


def test_noise_folder_without_a_usable_clip(tmp_path):
    folder = tmp_path / "noise"
    write(folder / "silent.wav", np.zeros(RATE, np.float32))
    write(folder / "zero.wav", np.zeros(0, np.float32))
    nan = noise(1.0)
    nan[:10] = np.nan
    write(folder / "nan.wav", nan, subtype="FLOAT")
    full = write(tmp_path / "full.wav", noise(1.0)).read_bytes()
    (folder / "cut.wav").write_bytes(full[: len(full) // 2])
    with pytest.raises(AssetError) as info:
        load_noise_folder(folder, RATE)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(
        f"{folder}: no usable noise clip: 4 rejected "
        "(1 empty, 1 not_finite, 1 silent, 1 unreadable); first: cut.wav: truncated audio file"
    )


def test_noise_folder_with_no_audio_files(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(AssetError, match=r"no usable noise clip: no audio files \(\.flac, \.mp3"):
        load_noise_folder(tmp_path, RATE)
    with pytest.raises(AssetError, match="noise folder not found"):
        load_noise_folder(tmp_path / "missing", RATE)


def test_synthetic_rir_decays_by_60_db_over_rt60():
    rir = synthetic_rir(RirParams(rt60_s=0.5, drr_db=6.0, seed=3), RATE)
    assert rir[0] == 1.0 and rir.size == RATE // 2
    np.testing.assert_array_equal(rir, synthetic_rir(RirParams(0.5, 6.0, 3), RATE))
    tail = rir[1:].astype(np.float64)
    assert 10 * math.log10(1.0 / np.sum(tail**2)) == pytest.approx(6.0, abs=1e-3)
    # the tail starts at sample 40 (2.5 ms); windows centred 25 ms and 467.5 ms after it
    early = np.mean(tail[40:840] ** 2)
    late = np.mean(tail[-880:-80] ** 2)
    assert 10 * math.log10(early / late) == pytest.approx(60.0 / 0.5 * 0.4425, abs=2.0)
    x = speechlike(1.0)
    y = apply_rir(x, rir)
    assert y.shape == x.shape and y.dtype == np.float32
