"""Synthetic room impulse responses: a direct path plus exponentially decaying noise.

The tail's amplitude falls by 60 dB over ``rt60_s`` (``exp(-3·ln(10)·t/rt60)``), its energy is set
``drr_db`` below the direct path's (direct-to-reverberant ratio), and it starts ``predelay``
after the direct path, like the first reflections of a small room. The RIR is a pure function of
its recorded parameters, so a mix can be re-rendered from its recipe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_RIR_STREAM = 0x5EB
PREDELAY_S = 0.0025
"""Gap between the direct path and the diffuse tail (2.5 ms, a ~0.9 m path difference)."""


@dataclass(frozen=True)
class RirParams:
    """The drawn values of one synthetic RIR."""

    rt60_s: float
    drr_db: float
    seed: int
    predelay_s: float = PREDELAY_S


def synthetic_rir(params: RirParams, rate_hz: int) -> np.ndarray:
    """Float32 RIR with the direct path (1.0) at index 0 and a tail lasting ``rt60_s``."""
    if params.rt60_s <= 0:
        raise ValueError(f"rt60_s must be > 0, got {params.rt60_s}")
    n = max(2, math.ceil(params.rt60_s * rate_hz))
    start = min(n - 1, max(1, round(params.predelay_s * rate_hz)))
    rng = np.random.default_rng([_RIR_STREAM, params.seed])
    t = np.arange(n - start, dtype=np.float64) / rate_hz
    tail = rng.standard_normal(n - start) * np.exp(-3.0 * math.log(10.0) * t / params.rt60_s)
    tail *= math.sqrt(10.0 ** (-params.drr_db / 10.0) / float(np.square(tail).sum()))
    rir = np.zeros(n, dtype=np.float64)
    rir[0] = 1.0
    rir[start:] = tail
    return rir.astype(np.float32)


def apply_rir(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve ``x`` with ``rir`` and keep ``len(x)`` samples (the direct path stays aligned)."""
    # Imported here: scipy.signal takes ~0.5 s to import, and only reverberant mixes need it.
    from scipy.signal import oaconvolve

    y = oaconvolve(x.astype(np.float32, copy=False), rir, mode="full")[: x.size]
    return y.astype(np.float32, copy=False)
