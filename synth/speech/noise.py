"""Noise sources: procedural noise drawn from recorded seeds, and a user's folder of noise clips.

Procedural kinds: ``white``; ``pink`` (power ∝ 1/f) and ``brown`` (1/f²), shaped in the
frequency domain so that the buffers loop without a seam; ``hum`` (50 or 60 Hz mains and its
harmonics); ``babble`` (several talkers from the clean corpus, each a clip repeated with short
gaps, at random offsets and gains). Each buffer is a pure function of its ``ProceduralNoise``
parameters (kind, seed, variant, duration, rate and, for babble, the talkers' clips), normalised
to an RMS of 0.1 (-20 dBFS). Pools hold a few variants per kind and crop them at random offsets.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from synth.errors import AssetError
from synth.hashing import sha256_json
from synth.speech.audio_io import AUDIO_SUFFIXES, read_audio, resample, to_mono
from synth.speech.corpus import file_sha256
from synth.speech.level import rms

PROCEDURAL_KINDS = ("white", "pink", "brown", "hum", "babble")
NOISE_VERSION = 1
"""Bumped whenever a generator below changes its output for the same parameters."""
NORMALISED_RMS = 0.1
SILENT_RMS = 1e-5
"""Below -100 dBFS a clip or segment holds no usable noise (16-bit LSB is about -90 dBFS)."""

_NOISE_STREAM = 0x401CE
_KIND_CODES = {kind: i for i, kind in enumerate(PROCEDURAL_KINDS, start=1)}
_COLOUR_FLOOR_HZ = 20.0
_BABBLE_GAP_S = (0.1, 0.6)
_BABBLE_GAIN_DB = (-6.0, 0.0)


@dataclass(frozen=True)
class ProceduralNoise:
    """The parameters that determine one procedural noise buffer.

    ``sources`` lists the (clean id, sha256) of babble's talkers, empty for the other kinds.
    """

    kind: str
    seed: int
    variant: int
    duration_s: float
    rate_hz: int
    sources: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in _KIND_CODES:
            known = ", ".join(PROCEDURAL_KINDS)
            raise ValueError(f"unknown procedural noise kind '{self.kind}' (known: {known})")

    @property
    def id(self) -> str:
        return f"procedural:{self.kind}/{self.seed}/{self.variant}"

    @property
    def uri(self) -> str:
        return f"procedural:{self.kind}"

    @property
    def num_samples(self) -> int:
        return round(self.duration_s * self.rate_hz)

    @property
    def sha256(self) -> str:
        return sha256_json({**self.to_json(), "version": NOISE_VERSION})

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "seed": self.seed,
            "variant": self.variant,
            "duration_s": self.duration_s,
            "rate_hz": self.rate_hz,
            "sources": [list(s) for s in self.sources],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProceduralNoise:
        return cls(
            kind=d["kind"],
            seed=int(d["seed"]),
            variant=int(d["variant"]),
            duration_s=float(d["duration_s"]),
            rate_hz=int(d["rate_hz"]),
            sources=tuple((str(i), str(h)) for i, h in d.get("sources", ())),
        )

    def rng(self, stream: int = 0) -> np.random.Generator:
        return np.random.default_rng(
            [_NOISE_STREAM, _KIND_CODES[self.kind], self.seed, self.variant, stream]
        )


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian white noise, float64, unit variance."""
    return rng.standard_normal(n)


def coloured_noise(n: int, rate_hz: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with power ∝ 1/f**exponent above 20 Hz (flat below), float64.

    Made in the frequency domain, so the buffer is circular: it loops without a seam."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1.0 / rate_hz)
    spectrum *= np.maximum(freqs, _COLOUR_FLOOR_HZ) ** (-exponent / 2.0)
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, n)


def mains_hum(n: int, rate_hz: int, rng: np.random.Generator) -> np.ndarray:
    """50 or 60 Hz mains hum with 4-12 harmonics of random level (falling as 1/k) and phase."""
    mains_hz = float(rng.choice([50.0, 60.0]))
    count = int(rng.integers(4, 13))
    k = np.arange(1, count + 1)
    k = k[k * mains_hz < rate_hz / 2]
    amps = rng.uniform(0.2, 1.0, size=k.size) / k
    phases = rng.uniform(0.0, 2.0 * math.pi, size=k.size)
    t = np.arange(n) / rate_hz
    return (
        amps[:, None] * np.sin(2.0 * math.pi * mains_hz * k[:, None] * t + phases[:, None])
    ).sum(axis=0)


_MIN_TALKER_RMS = 1e-5  # -100 dBFS


def babble(
    n: int, rate_hz: int, talkers: Sequence[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Sum of talkers: each clip repeated with 0.1-0.6 s gaps from a random start, gain -6..0 dB.

    A talker that is silent (RMS below -100 dBFS) or holds a NaN or an infinity is left out: it
    is rejected as clean speech too, and scaling it would amplify nothing or spread the NaN."""
    out = np.zeros(n, dtype=np.float64)
    for clip in talkers:
        level = rms(clip)
        if not (math.isfinite(level) and level >= _MIN_TALKER_RMS):
            continue
        gain = 10.0 ** (rng.uniform(*_BABBLE_GAIN_DB) / 20.0) / level
        pos = -int(rng.integers(0, clip.size))
        while pos < n:
            lo, hi = max(pos, 0), min(pos + clip.size, n)
            out[lo:hi] += gain * clip[lo - pos : hi - pos]
            pos += clip.size + round(rng.uniform(*_BABBLE_GAP_S) * rate_hz)
    return out


def render_procedural(noise: ProceduralNoise, talkers: Sequence[np.ndarray] = ()) -> np.ndarray:
    """The float32 buffer of ``noise`` (RMS 0.1); babble needs its sources' audio in order."""
    n, rng = noise.num_samples, noise.rng()
    if noise.kind == "white":
        x = white_noise(n, rng)
    elif noise.kind == "pink":
        x = coloured_noise(n, noise.rate_hz, 1.0, rng)
    elif noise.kind == "brown":
        x = coloured_noise(n, noise.rate_hz, 2.0, rng)
    elif noise.kind == "hum":
        x = mains_hum(n, noise.rate_hz, rng)
    else:
        if len(talkers) != len(noise.sources) or not talkers:
            raise ValueError(
                f"{noise.id}: babble needs the audio of its {len(noise.sources)} talkers"
            )
        x = babble(n, noise.rate_hz, talkers, rng)
    level = rms(x)
    if level == 0.0:  # babble whose talkers are all unusable: silent, rejected by the sampler
        return np.zeros(n, dtype=np.float32)
    return (x * (NORMALISED_RMS / level)).astype(np.float32)


def babble_variant(
    seed: int,
    variant: int,
    duration_s: float,
    rate_hz: int,
    pool: Sequence[tuple[str, str]],
    talkers_range: tuple[int, int],
) -> ProceduralNoise:
    """Choose the talkers of one babble variant from ``pool`` ((id, sha256) in a fixed order)."""
    probe = ProceduralNoise("babble", seed, variant, duration_s, rate_hz)
    rng = probe.rng(stream=1)
    count = min(int(rng.integers(talkers_range[0], talkers_range[1] + 1)), len(pool))
    picks = sorted(rng.choice(len(pool), size=count, replace=False).tolist())
    return ProceduralNoise(
        "babble", seed, variant, duration_s, rate_hz, tuple(pool[i] for i in picks)
    )


@dataclass(frozen=True)
class NoiseFile:
    """One usable clip of a noise folder: id = path relative to the folder."""

    id: str
    path: Path
    sha256: str

    @property
    def uri(self) -> str:
        return self.path.resolve().as_uri()


@dataclass(frozen=True)
class NoiseFolder:
    """The usable clips of a folder; the rejected ones counted by reason, and each rejected
    file with its problem (``{"file": path, "reason": text}``)."""

    root: Path
    clips: tuple[NoiseFile, ...]
    rejected: dict[str, int] = field(default_factory=dict)
    skipped: tuple[dict[str, str], ...] = ()


@cache
def decoded_noise(path: str, sha256: str, rate_hz: int) -> np.ndarray:
    """A noise file decoded and resampled once per process (read-only, keyed by content hash),
    its DC offset removed: a constant is inaudible, yet it would count as noise in the SNR
    and be scaled up with it (a recording whose stereo channels cancel is then silent, as it
    sounds, instead of a loud offset under a low SNR)."""
    data, rate = read_audio(path)
    x = np.array(to_mono(data), dtype=np.float32)  # at its own rate: the offset goes before
    mean = float(x.mean(dtype=np.float64)) if x.size else 0.0  # the resampler rings on it
    if mean and math.isfinite(mean):
        x -= np.float32(mean)
    x = resample(x, rate, rate_hz)
    x.flags.writeable = False
    return x


def noise_problem(x: np.ndarray, rate_hz: int, min_duration_s: float) -> tuple[str, str] | None:
    """Why a decoded noise clip is unusable: (rejection reason, explanation), or None."""
    if not np.isfinite(x).all():
        return "not_finite", "not_finite: NaN or infinite samples"
    if x.size < min_duration_s * rate_hz:
        return "too_short", f"too_short: {x.size / rate_hz:.3f} s < {min_duration_s} s"
    if rms(x) < SILENT_RMS:
        return "silent", "silent: RMS below -100 dBFS (DC offset removed)"
    return None


def load_noise_folder(folder: str | Path, rate_hz: int, min_duration_s: float = 0.2) -> NoiseFolder:
    """Decode every audio file under ``folder`` once at ``rate_hz`` and keep the usable ones.

    Unusable files are counted by reason (unreadable, empty, not_finite, too_short, silent);
    a folder without a single usable clip is an ``AssetError`` that lists the reasons.
    """
    root = Path(folder)
    if not root.is_dir():
        raise AssetError(root, "noise folder not found")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in AUDIO_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    clips, rejected, skipped = [], Counter[str](), []
    for p in files:
        try:
            sha = file_sha256(p)
            problem = noise_problem(decoded_noise(str(p), sha, rate_hz), rate_hz, min_duration_s)
        except AssetError as err:
            problem = ("empty" if "zero length" in err.problem else "unreadable", err.problem)
        if problem is None:
            clips.append(NoiseFile(p.relative_to(root).as_posix(), p, sha))
        else:
            rejected[problem[0]] += 1
            skipped.append({"file": str(p), "reason": problem[1]})
    if not clips:
        if not files:
            exts = ", ".join(sorted(AUDIO_SUFFIXES))
            raise AssetError(root, f"no usable noise clip: no audio files ({exts}) in the folder")
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(rejected.items()))
        first = f"{Path(skipped[0]['file']).relative_to(root).as_posix()}: {skipped[0]['reason']}"
        raise AssetError(
            root, f"no usable noise clip: {len(files)} rejected ({counts}); first: {first}"
        )
    return NoiseFolder(root, tuple(clips), dict(sorted(rejected.items())), tuple(skipped))
