"""The one audio loader (float32 mono at the target rate) and the 16-bit encoders."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.errors import AssetError
from synth.speech.audio_io import (
    _plain_pcm16_wav,
    encode_flac16,
    encode_pcm16,
    encode_wav16,
    load_audio,
    quantise_pcm16,
    resample,
)
from tests.speech.helpers import noise, speechlike, write


def _one_line_error(path: Path) -> str:
    with pytest.raises(AssetError) as info:
        load_audio(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path) + ": ")
    return msg


@pytest.mark.parametrize(
    ("subtype", "fmt", "suffix"),
    [
        ("PCM_16", "WAV", "wav"),
        ("PCM_24", "WAV", "wav"),
        ("FLOAT", "WAV", "wav"),
        ("PCM_16", "FLAC", "flac"),
        ("VORBIS", "OGG", "ogg"),
    ],
)
def test_loads_any_format_as_float32_mono(tmp_path, subtype, fmt, suffix):
    x = speechlike(1.0)
    path = write(tmp_path / f"a.{suffix}", x, 16000, subtype=subtype, fmt=fmt)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1 and y.size == x.size
    if subtype != "VORBIS":
        assert np.max(np.abs(y - x)) < 1e-4


def test_stereo_48k_24bit_is_averaged_and_resampled(tmp_path):
    left, right = speechlike(1.0, 48000, seed=1), speechlike(1.0, 48000, seed=2)
    path = write(tmp_path / "st.wav", np.stack([left, right], axis=1), 48000, subtype="PCM_24")
    y = load_audio(path, 16000)
    assert y.dtype == np.float32 and y.shape == (left.size // 3,)
    expected = resample(((left + right) / 2).astype(np.float32), 48000, 16000)
    assert np.max(np.abs(y - expected)) < 1e-5


def test_8k_is_upsampled_to_the_target_rate(tmp_path):
    path = write(tmp_path / "n8k.wav", speechlike(1.25, 8000), 8000)
    y = load_audio(path, 16000)
    assert y.shape == (2 * sf.info(path).frames,)
    # The content too: a 440 Hz tone written at 8 kHz reads back as the same tone at 16 kHz.
    t8, t16 = np.arange(8000) / 8000, np.arange(16000) / 16000
    tone = write(tmp_path / "tone8k.wav", (0.5 * np.sin(2 * np.pi * 440 * t8)).astype("f4"), 8000)
    y = load_audio(tone, 16000)
    expected = 0.5 * np.sin(2 * np.pi * 440 * t16)
    middle = slice(800, -800)  # away from the resampler's edges
    assert np.max(np.abs(y[middle] - expected[middle])) < 2e-3  # 16-bit file: ~1.5e-5 steps
    assert np.argmax(np.abs(np.fft.rfft(y))) == 440  # 1 s at 16 kHz: bin k is k Hz


def test_resampling_matches_librosa_soxr_hq():
    librosa = pytest.importorskip("librosa")
    x = noise(0.5, 44100)
    ours = resample(x, 44100, 16000)
    theirs = librosa.resample(x, orig_sr=44100, target_sr=16000, res_type="soxr_hq")
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours, resample(x.copy(), 44100, 16000))


def test_missing_file(tmp_path):
    msg = _one_line_error(tmp_path / "nope.wav")
    assert msg.endswith("audio file not found")


def test_zero_length_file(tmp_path):
    path = write(tmp_path / "zero.wav", np.zeros(0, np.float32))
    assert _one_line_error(path).endswith("audio file has no samples (zero length)")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert "not a readable audio file" in _one_line_error(path)


def test_not_audio(tmp_path):
    path = tmp_path / "text.wav"
    path.write_text("hello, not audio")
    assert (
        "not a readable audio file or truncated/corrupt (Format not recognised.)"
        in _one_line_error(path)
    )


@pytest.mark.parametrize(
    ("subtype", "bytes_per_sample"), [("PCM_16", 2), ("PCM_24", 3), ("FLOAT", 4)]
)
def test_truncated_wav(tmp_path, subtype, bytes_per_sample):
    x = speechlike(1.0)
    full = write(tmp_path / "full.wav", x, subtype=subtype).read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(full[: len(full) // 2])
    msg = _one_line_error(path)
    assert (
        f"truncated audio file (the header declares {x.size * bytes_per_sample} data bytes" in msg
    )


def test_truncated_flac(tmp_path):
    full = write(tmp_path / "full.flac", speechlike(1.0), fmt="FLAC").read_bytes()
    path = tmp_path / "cut.flac"
    path.write_bytes(full[: len(full) // 2])
    msg = _one_line_error(path)
    assert "truncated/corrupt (Error : flac decoder lost sync.)" in msg


def test_truncated_ogg(tmp_path):
    full = write(tmp_path / "full.ogg", speechlike(1.0), subtype="VORBIS", fmt="OGG").read_bytes()
    path = tmp_path / "cut.ogg"
    path.write_bytes(full[: len(full) // 2])
    msg = _one_line_error(path)
    # libsndfile reports a cut Ogg stream either as malformed or as ending without its marker.
    assert "truncated" in msg


@pytest.mark.parametrize(
    ("fmt", "subtype", "suffix", "expected"),
    [
        ("RF64", "PCM_16", "wav", "truncated audio file (the header declares "),
        ("W64", "PCM_24", "w64", "truncated audio file (the header declares "),
        ("OGG", "OPUS", "opus", "truncated"),
        ("OGG", "VORBIS", "ogg", "truncated"),
    ],
)
@pytest.mark.parametrize("keep", [0.6, 0.95])
def test_truncated_64bit_wav_and_ogg_streams(tmp_path, fmt, subtype, suffix, expected, keep):
    # libsndfile decodes what is left of these without an error: a full transcript would be
    # paired with cut audio. Every complete file still reads.
    x = speechlike(1.0)
    full = write(tmp_path / f"full.{suffix}", x, subtype=subtype, fmt=fmt)
    assert load_audio(full).size == x.size
    path = tmp_path / f"cut.{suffix}"
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    assert expected in _one_line_error(path)


def test_wav_with_unknown_streaming_length_is_not_truncated(tmp_path):
    x = speechlike(0.5)
    data = write(tmp_path / "s.wav", x).read_bytes()
    assert data[36:40] == b"data"
    streamed = data[:40] + (0xFFFFFFFF).to_bytes(4, "little") + data[44:]
    path = tmp_path / "streamed.wav"
    path.write_bytes(streamed)
    assert load_audio(path).size == x.size


def _libsndfile(path: Path) -> tuple[np.ndarray, int]:
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    return data, rate


@pytest.mark.parametrize("channels", [1, 2, 3])
@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_plain_pcm16_wav_is_decoded_exactly_as_libsndfile(tmp_path, channels, rate):
    rng = np.random.default_rng(channels * rate)
    x = rng.uniform(-1.0, 1.0, (rate // 3, channels)).astype(np.float32)
    x[:3] = [[-1.0] * channels, [32767 / 32768] * channels, [0.0] * channels]
    path = write(tmp_path / "plain.wav", x, rate)
    fast = _plain_pcm16_wav(path)
    assert fast is not None
    data, got_rate = fast
    expected, expected_rate = _libsndfile(path)
    assert got_rate == expected_rate == rate and data.dtype == np.float32
    np.testing.assert_array_equal(data, expected)


def test_plain_pcm16_wav_skips_other_chunks_with_their_pad_byte(tmp_path):
    x = speechlike(0.25)
    plain = write(tmp_path / "a.wav", x).read_bytes()
    assert plain[36:40] == b"data"
    odd = b"LIST" + (5).to_bytes(4, "little") + b"INFO!" + b"\0"  # 5 bytes, padded to 6
    body = plain[12:36] + odd + plain[36:]
    path = tmp_path / "list.wav"
    path.write_bytes(b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"WAVE" + body)
    data, rate = _plain_pcm16_wav(path)
    expected, _ = _libsndfile(path)
    np.testing.assert_array_equal(data, expected)
    assert rate == 16000 and data.shape == (x.size, 1)


@pytest.mark.parametrize("subtype", ["PCM_24", "FLOAT", "PCM_U8"])
def test_other_wav_formats_are_left_to_libsndfile(tmp_path, subtype):
    path = write(tmp_path / "other.wav", speechlike(0.25), subtype=subtype)
    assert _plain_pcm16_wav(path) is None
    assert load_audio(path).size == speechlike(0.25).size


def test_streaming_and_truncated_pcm16_wav_are_left_to_libsndfile(tmp_path):
    data = write(tmp_path / "s.wav", speechlike(0.5)).read_bytes()
    streamed = tmp_path / "streamed.wav"
    streamed.write_bytes(data[:40] + (0xFFFFFFFF).to_bytes(4, "little") + data[44:])
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    assert _plain_pcm16_wav(streamed) is None and _plain_pcm16_wav(cut) is None


def test_nan_samples_are_loaded_for_the_caller_to_reject(tmp_path):
    x = speechlike(0.5)
    x[100] = np.nan
    path = write(tmp_path / "nan.wav", x, subtype="FLOAT")
    assert np.isnan(load_audio(path)).sum() == 1


def test_wav_round_trip_is_exact_and_bytes_are_canonical():
    q = quantise_pcm16(speechlike(1.0))
    data = encode_wav16(q, 16000)
    assert len(data) == 44 + 2 * q.size and data[:4] == b"RIFF"
    back, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == 16000
    np.testing.assert_array_equal(back, q)
    floats, _ = sf.read(io.BytesIO(data), dtype="float32")
    np.testing.assert_array_equal(quantise_pcm16(floats), q)
    assert encode_wav16(q.astype(np.float32) / 32768, 16000) == data


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("n", [0, 1, 7, 16000])
def test_wav_bytes_equal_libsndfile_output(rate, n):
    # encode_wav16 builds the header itself; it must stay byte-identical to libsndfile's WAV.
    q = (np.random.default_rng(n).standard_normal(n) * 3000).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, q, rate, format="WAV", subtype="PCM_16")
    assert encode_wav16(q, rate) == buf.getvalue()
    with pytest.raises(ValueError, match="expected mono 1-D audio"):
        encode_wav16(np.zeros((4, 2), np.int16), rate)


def test_quantise_with_a_gain_equals_scaling_first():
    x = speechlike(1.0)
    for gain in (0.3, 0.123456789, 1.0, 2.5e-3):
        np.testing.assert_array_equal(quantise_pcm16(x, gain), quantise_pcm16(x * np.float32(gain)))


def test_flac_is_lossless_and_byte_identical_across_processes():
    q = quantise_pcm16(speechlike(1.0))
    data = encode_flac16(q, 16000)
    assert data == encode_flac16(q.copy(), 16000)
    back, _ = sf.read(io.BytesIO(data), dtype="int16")
    np.testing.assert_array_equal(back, q)
    code = (
        "import hashlib, sys, numpy as np\n"
        "from synth.speech.audio_io import encode_flac16\n"
        "q = np.frombuffer(sys.stdin.buffer.read(), dtype=np.int16)\n"
        "print(hashlib.sha256(encode_flac16(q, 16000)).hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code], input=q.tobytes(), capture_output=True, check=True
        )
        .stdout.decode()
        .strip()
        for _ in range(2)
    }
    import hashlib

    assert digests == {hashlib.sha256(data).hexdigest()}


def test_encoders_refuse_to_clip_silently():
    with pytest.raises(ValueError, match=r"refusing to write audio with peak 1\.5"):
        encode_wav16(np.array([0.0, 1.5], dtype=np.float32), 16000)
    with pytest.raises(ValueError, match="unknown audio format 'mp3'"):
        encode_pcm16(np.zeros(4, np.int16), 16000, "mp3")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0, width=32), min_size=1, max_size=200))
def test_quantise_stays_in_range_and_within_half_a_step(values):
    x = np.array(values, dtype=np.float32)
    q = quantise_pcm16(x)
    assert q.dtype == np.int16
    err = np.abs(q.astype(np.float64) - x.astype(np.float64) * 32768)
    inside = np.abs(x) < 32767 / 32768
    assert np.all(err[inside] <= 0.5)


@pytest.mark.parametrize(("rate", "subtype"), [(1, "PCM_16"), (2000, "PCM_24"), (500000, "FLOAT")])
def test_an_implausible_sample_rate_in_the_header_is_named(tmp_path, rate, subtype):
    path = write(tmp_path / "odd.wav", np.full(300, 0.1, np.float32), rate, subtype=subtype)
    assert _one_line_error(path).endswith(
        f"sample rate {rate} Hz in the header is outside 4000-384000 Hz (a broken header?)"
    )


def test_complete_files_with_slightly_off_sizes_or_trailing_bytes_read_whole(tmp_path):
    """No false truncation: a WAV whose RIFF size is a few bytes off, one without the pad byte
    of an odd data chunk, and an Ogg stream with junk (an ID3v1 tag) after its last page."""
    x = speechlike(1.0)
    riff = write(tmp_path / "riff.wav", x, subtype="PCM_24")
    data = bytearray(riff.read_bytes())
    data[4:8] = len(data).to_bytes(4, "little")  # the RIFF size counts its own 8-byte header
    riff.write_bytes(bytes(data))
    assert load_audio(riff).size == x.size
    odd = write(tmp_path / "odd.wav", speechlike(1.0)[:16001], subtype="PCM_24")
    odd.write_bytes(odd.read_bytes()[:-1])  # 48,003 data bytes, the pad byte left out
    assert load_audio(odd).size == 16001
    ogg = write(tmp_path / "tagged.ogg", x, subtype="VORBIS", fmt="OGG")
    ogg.write_bytes(ogg.read_bytes() + b"TAG" + b"\0" * 125)
    assert load_audio(ogg).size == x.size
