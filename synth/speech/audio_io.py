"""Audio at the edge: one loader that returns float32 mono at a target rate, and 16-bit encoders.

Inside ``synth.speech`` every signal is a 1-D float32 array at the working rate with full scale
1.0; every file written is 16-bit PCM. Resampling uses soxr "HQ", the same call that
``librosa.resample(res_type="soxr_hq")`` makes, without importing librosa (and numba) per worker.
"""

from __future__ import annotations

import io
import os
import re
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from synth.errors import AssetError

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3"})
"""File name endings the corpus and noise-folder readers treat as audio."""

PCM16_SCALE = 32768.0
"""Float full scale in 16-bit steps; soundfile reads PCM_16 back as ``int / 32768``, so
quantising with the same factor makes write -> read -> quantise an exact round trip."""

_WAV_DATA_LENGTH = re.compile(r"data : (\d+) \(should be (\d+)\)")
_RIFF64_LENGTH = re.compile(r"(?i)riff(?: size)? : (\d+) \(should be (\d+)\)")
_SIZE64_CONTAINERS = ("RF64", "W64")
# Streaming writers leave the data size at 0 or 0xFFFFFFFF: an unknown length, not a truncation.
_UNKNOWN_LENGTHS = (0, 0xFFFFFFFF)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _truncation(info: str, container: str) -> str | None:
    """A truncation that libsndfile noticed while parsing the header, if any."""
    m = _WAV_DATA_LENGTH.search(info)
    if m:
        declared, present = int(m.group(1)), int(m.group(2))
        if declared not in _UNKNOWN_LENGTHS and present < declared:
            return f"the header declares {declared} data bytes, the file holds {present}"
    elif container in _SIZE64_CONTAINERS:
        # RF64 and Wave64 state their sizes in 64 bits and libsndfile reports no data line for
        # them: the container size is checked instead. (Not for plain WAV, whose RIFF size is
        # often a few bytes off in files that hold every frame.)
        m = _RIFF64_LENGTH.search(info)
        if m:
            declared, present = int(m.group(1)), int(m.group(2))
            if declared not in _UNKNOWN_LENGTHS and present < declared:
                return f"the header declares {declared} bytes, the file holds {present}"
    if "ended unexpectedly" in info:
        return "the stream ends without its end-of-stream marker"
    return None


_OGG_TAIL_BYTES = 1 << 16  # an Ogg page is at most 65,307 bytes


def _ogg_truncation(p: Path) -> str | None:
    """An Ogg stream (Vorbis, Opus, FLAC in Ogg) whose last page lacks the end-of-stream flag
    was cut short; libsndfile decodes what is there without a word for Opus."""
    with open(p, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - _OGG_TAIL_BYTES))
        tail = f.read()
    at = tail.rfind(b"OggS\x00")
    if at < 0 or at + 27 > len(tail):
        return "no complete Ogg page at the end of the file"
    segments = tail[at + 26]
    body = sum(tail[at + 27 : at + 27 + segments])
    if at + 27 + segments + body > len(tail):
        return "its last Ogg page is cut short"
    if not tail[at + 5] & 0x04:
        return "the stream ends without its end-of-stream marker"
    return None


_PCM16_WAV_MAX_BYTES = 1 << 28
_INV_PCM16 = np.float32(1.0 / PCM16_SCALE)


def _plain_pcm16_wav(p: Path) -> tuple[np.ndarray, int] | None:
    """Decode a plain 16-bit PCM WAV file (format tag 1, sizes that add up) with numpy, or
    return None for anything else (extensible headers, other sample formats, streaming or
    truncated lengths, empty data), which libsndfile then reads and judges.

    The samples are ``int16 / 32768`` in float32, exactly what libsndfile returns for PCM_16
    (tested); reading them this way costs a fifth of a libsndfile float read.
    """
    with open(p, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        if os.fstat(f.fileno()).st_size > _PCM16_WAV_MAX_BYTES:
            return None
        f.seek(0)
        data = f.read()
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        chunk, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = pos + 8
        if chunk == b"fmt ":
            if length < 16 or body + 16 > len(data):
                return None
            fmt = struct.unpack_from("<HHIIHH", data, body)
        elif chunk == b"data":
            if fmt is None:
                return None
            tag, channels, rate, _, align, bits = fmt
            if tag != 1 or bits != 16 or channels < 1 or align != 2 * channels or rate < 1:
                return None
            if length == 0 or length % align or body + length > len(data):
                return None  # empty, odd-sized, streaming (0xFFFFFFFF) or truncated
            pcm = np.frombuffer(data, dtype="<i2", count=length // 2, offset=body)
            x = np.multiply(pcm, _INV_PCM16, dtype=np.float32)  # int16 -> float32 is exact
            return x.reshape(-1, channels), int(rate)
        pos = body + length + (length & 1)
    return None


class UndecodableAudio(AssetError):
    """The file is there and readable, but its content is not usable audio (corrupt, truncated,
    empty, an implausible header): a clip to skip, where a missing or unreadable file is not."""


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a whole file into float32 samples of shape (frames, channels) and its rate in Hz.

    Plain 16-bit PCM WAV files are decoded with numpy, everything else by libsndfile. Raises
    ``AssetError`` naming the file when it is missing or cannot be read, and its subclass
    ``UndecodableAudio`` when its content is corrupt, truncated, empty or implausible.
    """
    p = Path(path)
    if not p.is_file():
        raise AssetError(p, "audio file not found")
    try:
        plain = _plain_pcm16_wav(p)
    except OSError as err:
        raise AssetError(p, f"cannot read the file ({_one_line(str(err))})") from None
    if plain is not None:
        return plain[0], _checked_rate(p, plain[1])
    try:
        with sf.SoundFile(p) as f:
            declared = f.frames
            rate = int(f.samplerate)
            truncated = _truncation(f.extra_info, f.format)
            if not truncated and f.format == "OGG":  # judged from the pages themselves
                truncated = _ogg_truncation(p)
            data = f.read(dtype="float32", always_2d=True)
    except sf.LibsndfileError as err:
        problem = _one_line(err.error_string or str(err))
        raise UndecodableAudio(
            p, f"not a readable audio file or truncated/corrupt ({problem})"
        ) from None
    except (RuntimeError, ValueError) as err:  # soundfile raises these for some broken headers
        raise UndecodableAudio(p, f"not a readable audio file ({_one_line(str(err))})") from None
    if truncated:
        raise UndecodableAudio(p, f"truncated audio file ({truncated})")
    if len(data) < declared:
        raise UndecodableAudio(
            p, f"truncated audio file (the header declares {declared} frames, {len(data)} decoded)"
        )
    if len(data) == 0:
        raise UndecodableAudio(p, "audio file has no samples (zero length)")
    return data, _checked_rate(p, rate)


RATE_LIMITS_HZ = (4000, 384000)
"""Sample rates a file may declare: outside them the header is wrong (a 1 Hz header would turn
300 samples into a 300 s "utterance"), or the file is not audio we can use."""


def _checked_rate(p: Path, rate: int) -> int:
    low, high = RATE_LIMITS_HZ
    if not low <= rate <= high:
        raise UndecodableAudio(
            p, f"sample rate {rate} Hz in the header is outside {low}-{high} Hz (a broken header?)"
        )
    return rate


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average the channels of (frames, channels) float32 audio into a 1-D float32 array."""
    if data.ndim == 1:
        return data
    if data.shape[1] == 1:
        return data[:, 0]
    return data.mean(axis=1, dtype=np.float32)


def resample(x: np.ndarray, rate_hz: int, target_rate_hz: int) -> np.ndarray:
    """Resample 1-D float32 audio with soxr HQ (deterministic for identical input)."""
    if rate_hz == target_rate_hz:
        return x
    y = soxr.resample(np.ascontiguousarray(x, dtype=np.float32), rate_hz, target_rate_hz, "HQ")
    return np.asarray(y, dtype=np.float32)


def source_rate(path: str | Path) -> int:
    """The sample rate (Hz) a readable audio file declares, from its header alone."""
    try:
        return int(sf.info(os.fspath(path)).samplerate)
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise UndecodableAudio(path, f"not a readable audio file ({_one_line(str(err))})") from None


def load_audio(path: str | Path, target_rate_hz: int = 16000) -> np.ndarray:
    """Load any WAV (16/24-bit, float), FLAC, OGG or MP3 file as float32 mono at ``target_rate_hz``.

    Stereo is averaged to mono, then resampled once. Non-finite samples are kept: the callers
    decide whether that clip is rejected (and count why).
    """
    data, rate = read_audio(path)
    return resample(to_mono(data), rate, target_rate_hz)


def quantise_pcm16(x: np.ndarray, gain: float | np.float32 = 1.0) -> np.ndarray:
    """Round float audio (full scale 1.0), times ``gain``, to int16 steps of 1/32768,
    saturating at the limits.

    The product is taken in float32 (``x * float32(gain)``) and then scaled by 2**15, which is
    exact, so ``quantise_pcm16(x, g)`` equals ``quantise_pcm16(x * np.float32(g))`` sample for
    sample while making one temporary instead of five. Callers scale their signals below full
    scale first; the saturation only guards the one value (+1.0) that has no int16 code.
    """
    return quantise_steps(x, gain).astype(np.int16)


def quantise_steps(
    x: np.ndarray, gain: float | np.float32 = 1.0, saturate: bool = True
) -> np.ndarray:
    """``quantise_pcm16(x, gain)`` as float32 (whole numbers in [-32768, 32767], exact in
    float32): for callers that measure or add the 16-bit signals before they are written.

    ``saturate=False`` leaves out the clamp to the int16 range, for a caller that has scaled
    ``x`` below full scale and checks the range itself (the mixer checks the mix's peak, which
    it reads anyway).
    """
    # x * (g * 2**15) rounds exactly as (x * g) * 2**15: scaling by a power of two is exact.
    q = np.multiply(x, np.float32(gain) * np.float32(PCM16_SCALE), dtype=np.float32)
    np.rint(q, out=q)
    if saturate:
        np.clip(q, -32768, 32767, out=q)
    return q


def _as_pcm16(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.int16:
        return x
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"expected int16 or float audio, got {x.dtype}")
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if not np.isfinite(peak) or peak > 1.0:
        # Writing would clip silently; the mixer scales everything below full scale instead.
        raise ValueError(f"refusing to write audio with peak {peak} (full scale is 1.0)")
    return quantise_pcm16(x)


def _encode(x: np.ndarray, rate_hz: int, fmt: str) -> bytes:
    if x.ndim != 1:
        raise ValueError(f"expected mono 1-D audio, got shape {x.shape}")
    buf = io.BytesIO()
    sf.write(buf, _as_pcm16(x), int(rate_hz), format=fmt, subtype="PCM_16")
    return buf.getvalue()


def _wav16_bytes(q: np.ndarray, rate_hz: int) -> bytes:
    """The canonical 44-byte RIFF/WAVE header of mono 16-bit PCM, then the samples."""
    data = q.astype("<i2", copy=False).tobytes()
    rate = int(rate_hz)
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)
        + b"data"
        + struct.pack("<I", len(data))
    )
    return header + data


def encode_wav16(x: np.ndarray, rate_hz: int) -> bytes:
    """Encode mono audio (int16, or float with peak <= 1.0) as a 16-bit PCM WAV file's bytes.

    The bytes are a plain 44-byte RIFF header plus the samples: identical input, identical bytes
    (the same bytes libsndfile writes for WAV/PCM_16 mono, checked in the tests; built here
    directly because soundfile's in-memory writer costs ten times as much).
    """
    if x.ndim != 1:
        raise ValueError(f"expected mono 1-D audio, got shape {x.shape}")
    if not 1 <= int(rate_hz) < 2**31:
        raise ValueError(f"sample rate out of range: {rate_hz}")
    return _wav16_bytes(_as_pcm16(x), rate_hz)


def encode_flac16(x: np.ndarray, rate_hz: int) -> bytes:
    """Encode mono audio (int16, or float with peak <= 1.0) as 16-bit FLAC bytes.

    libFLAC's output is byte-identical for identical input with the same libFLAC build (checked
    in the tests), but the stream embeds libFLAC's vendor string (e.g. "reference libFLAC 1.4.3
    20230623"), so another libsndfile/libFLAC build may give other bytes for the same samples.
    The samples themselves are lossless either way.
    """
    return _encode(x, rate_hz, "FLAC")


def encode_pcm16(x: np.ndarray, rate_hz: int, fmt: str) -> bytes:
    """Encode with ``fmt`` "wav" or "flac"."""
    if fmt == "wav":
        return encode_wav16(x, rate_hz)
    if fmt == "flac":
        return encode_flac16(x, rate_hz)
    raise ValueError(f"unknown audio format '{fmt}' (known: flac, wav)")
