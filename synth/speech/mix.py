"""One noisy-speech mix: ``sample_mix`` draws it, ``render_mix`` (pure) makes the 16-bit signals.

Gains. With speech ``s`` (reverberant when a reverb is drawn) and noise segments ``n_i``, each
noise is weighted to ``10**(weight_db/20)`` of unit RMS and summed into ``N``; ``N`` is scaled so
that ``speech_level(s) / rms(N)`` is the requested SNR (``speech_level`` per ``snr_reference``),
then speech and noise together so that the mix's RMS is ``level_dbfs``. When the peak of speech,
noise or mix would pass ``peak_limit_dbfs``, all three are scaled by one ``peak_scale`` (< 1), so
the SNR holds and nothing clips. ``sample_mix`` derives the gains (it has the audio at hand and
must reject silent or broken clips anyway) and records them; ``render_mix`` only applies them.

Quantisation. The target and the noise component are rounded to 16 bits separately and the mix is
their exact integer sum, so ``mix == target + noise`` holds sample for sample in the files. The
achieved SNR is measured on those integers and recorded next to the requested one.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from synth.errors import TooManyRejections
from synth.rng import child_seed
from synth.speech.audio_io import PCM16_SCALE, quantise_steps
from synth.speech.corpus import CleanItem
from synth.speech.level import dbfs, measure_speech, rms, speech_level, sum_squares
from synth.speech.noise import SILENT_RMS, ProceduralNoise
from synth.speech.params import LoopPolicy, MixParams, NoiseUse
from synth.speech.reverb import RirParams, apply_rir, synthetic_rir
from synth.speech.spec import SpeechSpec

MIN_SPEECH_LSB = 4.0
"""Speech below 4 LSB RMS (-78 dBFS) in the written target is rejected: at such a level the
16-bit target is mostly zeros, a label without audible speech."""
MIN_NOISE_LSB = 4.0
"""A noise component below 4 LSB RMS (-78 dBFS) is rejected: 16-bit rounding would shift its
level, and so the SNR, by more than 0.02 dB (and below ~0.3 LSB it vanishes altogether)."""


@dataclass(frozen=True)
class NoiseRef:
    """A drawable noise buffer: a noise-folder file or a procedural variant.

    ``excludes`` lists clean ids the noise must not be mixed with (babble built from them).
    """

    id: str
    uri: str
    sha256: str
    kind: str
    procedural: ProceduralNoise | None = None
    excludes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MixPools:
    """What ``sample_mix`` draws from; the callables return cached, decoded float32 audio.

    ``clean_problem`` returns a rejection reason for an unusable clip (or None) and
    ``clean_level`` its speech level for a reference; both are cached per clip, and so is
    ``clean_peak`` (its largest absolute sample; None = measured on every draw).
    ``noise_index`` gives a buffer's ``NoiseIndex`` (cached per buffer; None = every crop is
    measured sample by sample).
    """

    clean: Sequence[CleanItem]
    clean_audio: Callable[[CleanItem], np.ndarray]
    clean_problem: Callable[[CleanItem], str | None]
    clean_level: Callable[[CleanItem, str], float]
    noise_kinds: tuple[str, ...]
    noise_probs: tuple[float, ...]
    noises: Mapping[str, Sequence[NoiseRef]]
    noise_audio: Callable[[NoiseRef], np.ndarray]
    clean_peak: Callable[[CleanItem], float] | None = None
    noise_index: Callable[[NoiseRef], NoiseIndex] | None = None

    @cached_property
    def noise_cdf(self) -> list[float]:
        """Cumulative ``noise_probs``, normalised as ``Generator.choice`` does."""
        cdf = np.cumsum(np.asarray(self.noise_probs, dtype=np.float64))
        return (cdf / cdf[-1]).tolist()


class MixResult(NamedTuple):
    """The rendered int16 signals (``mix == target + noise`` exactly) and measured values;
    unpacks as ``mix, target, noise, measured``. ``target`` and ``noise`` are None when the
    caller did not ask for the components."""

    mix: np.ndarray
    target: np.ndarray | None
    noise: np.ndarray | None
    measured: dict[str, Any]


def _peak(x: np.ndarray) -> float:
    return max(float(x.max()), -float(x.min())) if x.size else 0.0


_INDEX_BLOCK = 1024  # samples per block of a ``NoiseIndex``


@dataclass(frozen=True)
class NoiseIndex:
    """Per-block sums of a noise buffer that give the energy and the peak of any crop while
    reading only its two ragged ends: ``block_energy[b]`` is the sum of squares of block ``b``
    (``_INDEX_BLOCK`` samples, summed in float64) and ``block_peak[b]`` its largest absolute
    sample. 16 bytes per 1024 samples.

    ``energy`` agrees with the exact sum to ~1e-8 relative (as ``sum_squares`` does); ``peak``
    is exact.
    """

    block_energy: np.ndarray
    block_peak: np.ndarray

    @classmethod
    def of(cls, buffer: np.ndarray) -> NoiseIndex:
        whole = buffer.size - buffer.size % _INDEX_BLOCK
        blocks = np.asarray(buffer[:whole]).reshape(-1, _INDEX_BLOCK)
        wide = blocks.astype(np.float64)
        energy = np.einsum("ij,ij->i", wide, wide)
        peak = np.maximum(blocks.max(axis=1), -blocks.min(axis=1)).astype(np.float64)
        return cls(energy, peak)

    def _split(self, start: int, stop: int) -> tuple[int, int, int, int] | None:
        first, last = -(-start // _INDEX_BLOCK), stop // _INDEX_BLOCK
        if first >= last:
            return None
        return first, last, first * _INDEX_BLOCK, last * _INDEX_BLOCK

    def energy(self, buffer: np.ndarray, start: int, stop: int) -> float:
        """Sum of squares of ``buffer[start:stop]``."""
        split = self._split(start, stop)
        if split is None:
            return sum_squares(buffer[start:stop])
        first, last, head, tail = split
        return (
            float(self.block_energy[first:last].sum())
            + sum_squares(buffer[start:head])
            + sum_squares(buffer[tail:stop])
        )

    def peak(self, buffer: np.ndarray, start: int, stop: int) -> float:
        """``_peak(buffer[start:stop])``, exactly: whole blocks from the index, the ends read."""
        split = self._split(start, stop)
        if split is None:
            return _peak(buffer[start:stop])
        first, last, head, tail = split
        out = float(self.block_peak[first:last].max())
        if start < head:
            out = max(out, _peak(buffer[start:head]))
        if tail < stop:
            out = max(out, _peak(buffer[tail:stop]))
        return out


def loop_period(buffer: np.ndarray, crossfade: int) -> np.ndarray:
    """A periodic version of ``buffer`` (length ``len - crossfade``): its head is a crossfade
    from the buffer's tail into its head, so tiling it has no seam.

    The crossfade keeps the power level whatever the two ends' correlation ``r`` (clamped to
    [0, 1]): sine/cosine fades divided by ``sqrt(1 + 2 r sin cos)``, which is the equal-power
    crossfade for uncorrelated noise (r = 0) and an amplitude-preserving one for a tone whose
    ends are in phase (r = 1), where equal power would bulge by up to 3 dB at every seam.
    """
    period = buffer.size - crossfade
    out = np.array(buffer[:period], dtype=np.float32)
    head, tail = buffer[:crossfade], buffer[period:]
    h, w = head.astype(np.float64), tail.astype(np.float64)  # numpy's own sums, not BLAS
    energy = float((h * h).sum()) * float((w * w).sum())
    r = min(max(float((h * w).sum()) / math.sqrt(energy), 0.0), 1.0) if energy > 0 else 0.0
    t = (np.arange(crossfade, dtype=np.float64) + 0.5) / crossfade
    fade_in, fade_out = np.sin(0.5 * np.pi * t), np.cos(0.5 * np.pi * t)
    norm = np.sqrt(1.0 + 2.0 * r * fade_in * fade_out)
    out[:crossfade] = head * (fade_in / norm).astype(np.float32) + tail * (fade_out / norm).astype(
        np.float32
    )
    return out


def noise_segment(
    buffer: np.ndarray, offset: int, n: int, policy: LoopPolicy, crossfade: int
) -> np.ndarray:
    """``n`` samples of a noise buffer from ``offset``, cropped or looped with a crossfade."""
    if policy == "crop":
        if offset + n > buffer.size:
            raise ValueError(
                f"crop [{offset}, {offset + n}) passes the noise's {buffer.size} samples"
            )
        return buffer[offset : offset + n]
    period = loop_period(buffer, crossfade)
    reps = -(-(offset + n) // period.size)
    return np.tile(period, reps)[offset : offset + n]


def _placement(
    size: int, n: int, crossfade_s: float, rate_hz: int, rng: np.random.Generator
) -> tuple[LoopPolicy, int, int]:
    if size >= n:
        return "crop", 0, int(rng.integers(0, size - n + 1))
    crossfade = min(max(1, round(crossfade_s * rate_hz)), size // 2)
    return "loop_crossfade", crossfade, int(rng.integers(0, size - crossfade))


def _solve_gains(
    speech: np.ndarray,
    level: float,
    speech_rms: float,
    speech_peak: float,
    segments: Sequence[np.ndarray],
    levels: Sequence[float],
    peaks: Sequence[float | None],
    weights_db: Sequence[float],
    snr_db: float,
    level_dbfs: float,
    peak_limit: float,
) -> tuple[float, list[float], float]:
    """(clean gain, noise gains, peak scale) for the requested SNR, level and peak limit.

    ``level`` is the speech level the SNR refers to, ``speech_rms`` and ``speech_peak`` the
    speech's whole-clip RMS and peak, ``levels`` the segments' RMS values and ``peaks`` their
    peaks (None: measured here). With one noise the
    mix ``speech + f * segment`` is never built: its energy follows from the speech energy, the
    segment energy and one cross product, and its peak is only measured when the bound
    ``peak(speech) + f * peak(segment)`` could pass the limit (below it no scaling is needed).
    """
    unit = [10.0 ** (w / 20.0) / r for r, w in zip(levels, weights_db, strict=True)]
    snr = 10.0 ** (snr_db / 20.0)
    target = 10.0 ** (level_dbfs / 20.0)
    if len(segments) == 1:
        (segment,) = segments
        a = level / (levels[0] * unit[0] * snr)
        f = a * unit[0]  # the segment's factor in the mix
        n = speech.size
        cross = float(np.einsum("i,i->", speech, segment))
        energy = (speech_rms**2 + (f * levels[0]) ** 2) * n + 2.0 * f * cross
        g = target / math.sqrt(max(energy / n, 1e-30))
        noise_peak = f * (_peak(segment) if peaks[0] is None else peaks[0])
        peak = g * max(speech_peak, noise_peak)
        if g * (speech_peak + noise_peak) > peak_limit:
            mix = segment * np.float32(f)
            mix += speech
            peak = max(peak, g * _peak(mix))
        return float(g), [float(g * f)], float(min(1.0, peak_limit / peak))
    noise = segments[0] * unit[0]
    for seg, u in zip(segments[1:], unit[1:], strict=True):
        noise += seg * u
    a = level / (rms(noise) * snr)
    mix = noise * a
    mix += speech
    g = target / rms(mix)
    peak = g * max(speech_peak, a * _peak(noise), _peak(mix))
    scale = min(1.0, peak_limit / peak)
    return float(g), [float(g * a * u) for u in unit], float(scale)


def _draw_noise(pools: MixPools, rng: np.random.Generator) -> NoiseRef:
    # What rng.choice(len(kinds), p=probs) does, draw for draw, without its checks per call.
    kind = pools.noise_kinds[bisect.bisect_right(pools.noise_cdf, rng.random())]
    refs = pools.noises[kind]
    return refs[int(rng.integers(len(refs)))]


def sample_mix(spec: SpeechSpec, rng: np.random.Generator, pools: MixPools) -> MixParams:
    """Draw one mix from ``pools`` with ``rng``; every attempt that fails is counted by reason.

    Reasons: clean_unreadable, clean_silent, clean_not_finite, clean_too_short (from
    ``clean_problem``),
    babble_contains_clean, noise_segment_silent, speech_below_16bit, noise_below_16bit. A clean
    clip's problem is the clip's, not the draw's: another clip is drawn and the attempt is not
    counted, so a corpus with any usable clip never fails on an unlucky seed. After
    ``spec.max_attempts`` failed attempts, or when every clean clip is unusable,
    ``TooManyRejections`` lists the counts (and, for the most frequent reason, what to change).
    """
    rate = spec.sample_rate_hz
    peak_limit = 10.0 ** (spec.peak_limit_dbfs / 20.0)
    rejections: Counter[str] = Counter()
    unusable: set[str] = set()
    attempts = 0
    while attempts < spec.max_attempts:
        item = pools.clean[int(rng.integers(len(pools.clean)))]
        problem = pools.clean_problem(item)
        if problem:
            # A property of the clip, not of this draw: counted, drawn again, and not an
            # attempt, so a corpus with some usable clips never fails on an unlucky seed.
            rejections[problem] += 1
            unusable.add(item.id)
            if len(unusable) == len(pools.clean):
                break
            continue
        attempts += 1
        clean = pools.clean_audio(item)
        n = clean.size
        count = int(rng.integers(spec.noises_per_mix_range[0], spec.noises_per_mix_range[1] + 1))
        picks: list[tuple[NoiseRef, LoopPolicy, int, int, float, np.ndarray, float, Any]] = []
        for _ in range(count):
            ref = _draw_noise(pools, rng)
            if item.id in ref.excludes:
                rejections["babble_contains_clean"] += 1
                break
            buffer = pools.noise_audio(ref)
            policy, crossfade, offset = _placement(buffer.size, n, spec.loop_crossfade_s, rate, rng)
            segment = noise_segment(buffer, offset, n, policy, crossfade)
            segment_peak: float | None = None
            if policy == "crop" and pools.noise_index is not None and n:
                index = pools.noise_index(ref)
                segment_rms = math.sqrt(index.energy(buffer, offset, offset + n) / n)
                segment_peak = index.peak(buffer, offset, offset + n)
            else:
                segment_rms = rms(segment)
            if segment_rms < SILENT_RMS:
                rejections["noise_segment_silent"] += 1
                break
            weight_db = float(rng.uniform(*spec.noise_gain_db_range)) if count > 1 else 0.0
            picks.append(
                (ref, policy, crossfade, offset, weight_db, segment, segment_rms, segment_peak)
            )
        if len(picks) < count:
            continue
        snr_db = float(rng.uniform(*spec.snr_db_range))
        level_dbfs = float(rng.uniform(*spec.level_dbfs_range))
        reverb = None
        if rng.random() < spec.reverb_prob:
            rt60 = float(rng.uniform(*spec.rt60_s_range))
            reverb = RirParams(rt60, float(rng.uniform(*spec.drr_db_range)), child_seed(rng))
        if reverb is None:
            speech, level = clean, pools.clean_level(item, spec.snr_reference)
            speech_rms = pools.clean_level(item, "whole")
            speech_peak = _peak(clean) if pools.clean_peak is None else pools.clean_peak(item)
        else:
            speech = apply_rir(clean, synthetic_rir(reverb, rate))
            level = speech_level(speech, rate, spec.snr_reference)
            speech_rms, speech_peak = rms(speech), _peak(speech)
        clean_gain, gains, scale = _solve_gains(
            speech,
            level,
            speech_rms,
            speech_peak,
            [p[5] for p in picks],
            [p[6] for p in picks],
            [p[7] for p in picks],
            [p[4] for p in picks],
            snr_db,
            level_dbfs,
            peak_limit,
        )
        target_level = clean_gain * scale * level
        if target_level * PCM16_SCALE < MIN_SPEECH_LSB:
            rejections["speech_below_16bit"] += 1
            continue
        noise_rms = target_level / 10.0 ** (snr_db / 20.0)
        if noise_rms * PCM16_SCALE < MIN_NOISE_LSB:
            rejections["noise_below_16bit"] += 1
            continue
        uses = tuple(
            NoiseUse(
                id=ref.id,
                uri=ref.uri,
                sha256=ref.sha256,
                kind=ref.kind,
                offset=offset,
                policy=policy,
                crossfade=crossfade,
                weight_db=weight_db,
                gain=gain,
                procedural=ref.procedural.to_json() if ref.procedural else None,
            )
            for (ref, policy, crossfade, offset, weight_db, *_), gain in zip(
                picks, gains, strict=True
            )
        )
        return MixParams(
            clean_id=item.id,
            clean_sha256=item.sha256,
            rate_hz=rate,
            num_samples=n,
            snr_db=snr_db,
            snr_reference=spec.snr_reference,
            level_dbfs=level_dbfs,
            noises=uses,
            reverb=reverb,
            clean_gain=clean_gain,
            peak_scale=scale,
            rejections=dict(sorted(rejections.items())),
        )
    counts = ", ".join(f"{k}={v}" for k, v in sorted(rejections.items()))
    if len(unusable) == len(pools.clean):
        raise TooManyRejections(
            f"no usable clean clip: all {len(pools.clean)} are unreadable, silent, not finite "
            f"or shorter than min_duration_s (rejections: {counts})"
        )
    reason = max(sorted(rejections), key=lambda r: rejections[r])
    hint = _REJECTION_HINTS.get(reason, "")
    raise TooManyRejections(
        f"no usable mix after {spec.max_attempts} attempts (rejections: {counts})"
        + (f"; {hint}" if hint else "")
    )


_REJECTION_HINTS = {
    "noise_below_16bit": (
        "the noise would be quieter than 16-bit audio holds: lower snr_db_range (--snr-db) "
        "or raise level_dbfs_range"
    ),
    "speech_below_16bit": (
        "the speech would be quieter than 16-bit audio holds: raise snr_db_range (--snr-db) "
        "or level_dbfs_range"
    ),
    "noise_segment_silent": "the noise clips are silent where they were cut: check the noise",
    "babble_contains_clean": (
        "babble needs talkers other than the clip it is mixed with: add clean clips or lower "
        "noise_weights.babble"
    ),
}
"""What to change, for the most frequent reason a mix could not be made."""


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def render_mix(
    params: MixParams,
    clean: np.ndarray,
    noises: Sequence[np.ndarray],
    components: bool = True,
) -> MixResult:
    """Render ``params`` from the decoded clean clip and noise buffers (in ``params.noises`` order).

    Pure: the same params and inputs give the same int16 arrays. ``measured`` holds the achieved
    SNR (both references, on the 16-bit target and noise), the speech activity, the mix level and
    peak in dBFS, and whether the peak protection scaled the mix down. ``components=False``
    leaves the 16-bit target and noise out of the result (they are measured all the same).
    """
    n, rate = params.num_samples, params.rate_hz
    if clean.size != n:
        raise ValueError(f"clean clip has {clean.size} samples, the recipe expects {n}")
    if len(noises) != len(params.noises):
        raise ValueError(f"expected {len(params.noises)} noise buffers, got {len(noises)}")
    speech = (
        clean if params.reverb is None else apply_rir(clean, synthetic_rir(params.reverb, rate))
    )
    # Gains as float32 scalars: the arithmetic stays float32 whatever type the gains arrived as.
    # The 16-bit signals are kept as float32 whole numbers (exact) until they are written: the
    # mix is their exact sum, and every measurement reads them without a conversion.
    # The gains keep speech, noise and mix below the peak limit (at most -0.01 dBFS, 37 steps
    # below full scale), so no clamp is applied: the range is checked on the mix, whose peak is
    # measured anyway, and on the components when they are returned.
    # Each signal is measured as soon as it is made, while it is still in the CPU's cache.
    target_f = quantise_steps(
        speech, np.float32(params.clean_gain * params.peak_scale), saturate=False
    )
    speech_m = measure_speech(target_f, rate)
    if len(noises) == 1:
        (use,), (buffer,) = params.noises, noises
        segment = noise_segment(buffer, use.offset, n, use.policy, use.crossfade)
        noise_f = quantise_steps(segment, np.float32(use.gain * params.peak_scale), saturate=False)
    else:
        noise = np.zeros(n, dtype=np.float32)
        for use, buffer in zip(params.noises, noises, strict=True):
            segment = noise_segment(buffer, use.offset, n, use.policy, use.crossfade)
            noise += segment * np.float32(use.gain * params.peak_scale)
        noise_f = quantise_steps(noise, saturate=False)
    noise_level = rms(noise_f)
    # Whole numbers below 2**24: the sum is exact in float32. Without the components, the mix
    # takes the noise's place.
    if components:
        mix_f = target_f + noise_f
    else:
        mix_f = noise_f
        mix_f += target_f
    top, bottom = (int(mix_f.max()), int(mix_f.min())) if n else (0, 0)
    if top > 32767 or bottom < -32768:
        raise RuntimeError("internal error: the peak-protected mix overflows 16 bits")
    mix_level = rms(mix_f)

    act = speech_m.active
    snr_active = (
        20.0 * math.log10(act.level / noise_level) if noise_level and act.level else math.nan
    )
    target_rms = math.sqrt(speech_m.sum_squares / n) if n else 0.0
    snr_whole = (
        20.0 * math.log10(target_rms / noise_level) if noise_level and act.level else math.nan
    )
    measured = {
        "snr_db": _finite(snr_active if params.snr_reference == "active" else snr_whole),
        "snr_active_db": _finite(snr_active),
        "snr_whole_db": _finite(snr_whole),
        "speech_activity": act.activity,
        "level_dbfs": dbfs(mix_level / PCM16_SCALE),
        "peak_dbfs": dbfs(max(top, -bottom) / PCM16_SCALE),
        "clipping_prevented": params.peak_scale < 1.0,
        "duration_s": n / rate,
    }
    if not components:  # the 16-bit target and noise are only written with --with-targets
        return MixResult(mix_f.astype(np.int16), None, None, measured)
    for part, name in ((target_f, "speech"), (noise_f, "noise")):
        if n and (part.max() > 32767 or part.min() < -32768):
            raise RuntimeError(f"internal error: the peak-protected {name} overflows 16 bits")
    return MixResult(
        mix_f.astype(np.int16), target_f.astype(np.int16), noise_f.astype(np.int16), measured
    )
