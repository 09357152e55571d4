"""Fixture audio made on the fly: speech-like bursts, noise, and files in any format."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import soundfile as sf


def speechlike(seconds: float, rate: int = 16000, seed: int = 0, pad_s: float = 0.2) -> np.ndarray:
    """Syllable-like bursts (modulated noise with pauses) between silent edges; float32."""
    rng = np.random.default_rng([7, seed])
    n = round(seconds * rate)
    x = rng.standard_normal(n)
    t = np.arange(n) / rate
    envelope = np.clip(np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 6)), 0, None) ** 2
    envelope *= (np.sin(2 * np.pi * 0.4 * t) > -0.6).astype(float)  # a pause now and then
    x *= envelope
    pad = np.zeros(round(pad_s * rate))
    y = np.concatenate([pad, x, pad])
    peak = np.max(np.abs(y))
    return (0.5 * y / peak if peak > 0 else y).astype(np.float32)


def noise(seconds: float, rate: int = 16000, seed: int = 1, level: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng([8, seed])
    return (level * rng.standard_normal(round(seconds * rate))).astype(np.float32)


def write(
    path: Path, x: np.ndarray, rate: int = 16000, subtype: str = "PCM_16", fmt: str | None = None
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, rate, subtype=subtype, format=fmt)
    return path


def memory_pools(
    cleans: dict[str, np.ndarray],
    noises: dict[str, np.ndarray],
    problems: dict[str, str] | None = None,
    excludes: dict[str, set[str]] | None = None,
    rate: int = 16000,
):
    """``MixPools`` over in-memory arrays (ids are the dict keys; kind ``mem``)."""
    from synth.speech.corpus import CleanItem
    from synth.speech.level import speech_level
    from synth.speech.mix import MixPools, NoiseRef

    def sha(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    items = tuple(CleanItem(k, Path("mem") / k, f"text of {k}", sha(k)) for k in cleans)
    refs = [
        NoiseRef(k, f"mem:{k}", sha(k), "mem", None, frozenset((excludes or {}).get(k, ())))
        for k in noises
    ]
    return MixPools(
        clean=items,
        clean_audio=lambda it: cleans[it.id],
        clean_problem=lambda it: (problems or {}).get(it.id),
        clean_level=lambda it, ref: speech_level(cleans[it.id], rate, ref),
        noise_kinds=("mem",),
        noise_probs=(1.0,),
        noises={"mem": refs},
        noise_audio=lambda r: noises[r.id],
    )
