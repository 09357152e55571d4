"""The strict spec of a noisy-speech dataset: ranges to draw from, pools, output format."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from synth.config import StrictModel
from synth.licences import licence_problem

NoiseKind = Literal["white", "pink", "brown", "hum", "babble", "folder"]
DEFAULT_NOISE_WEIGHTS: dict[str, float] = {
    "white": 1.0,
    "pink": 1.0,
    "brown": 1.0,
    "hum": 0.5,
    "babble": 1.0,
    "folder": 4.0,
}


SNR_DB_LIMITS = (-50.0, 100.0)
"""The SNRs a new build may ask for (dB)."""


def _new_build(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("new_build"))


class SpeechSpec(StrictModel):
    """What to draw for each mix. Every ``*_range`` is a ``[low, high]`` pair, drawn uniformly.

    - ``clean``: a corpus folder or manifest (see ``synth.speech.corpus``); None = embedded clips.
    - ``clean_dataset_id``: the catalog dataset whose folder ``clean`` is (``--clean ID``): it is
      recorded as an input, so the new dataset's lineage points at it and carries its licences.
    - ``noise_dir``: a folder of noise clips (kind ``folder``); None = procedural noise only.
    - ``noise_weights``: relative draw weights per kind; None = ``DEFAULT_NOISE_WEIGHTS``, where
      ``folder`` only counts when ``noise_dir`` is set. A kind with weight 0 is never drawn.
    - ``snr_reference``: ``active`` (speech active level, P.56-style) or ``whole`` (clip RMS),
      both over the noise's whole-clip RMS.
    - ``level_dbfs_range``: the mix's whole-clip RMS before peak protection (dB re full scale).
    - ``noise_gain_db_range``: relative level of each noise when a mix has several.
    - ``kaldi``: also write a Kaldi data directory ``kaldi/`` (wav.scp with paths relative to
      the dataset folder, text, utt2spk, spk2utt, utt2dur, reco2dur); the NeMo manifest is
      always written.
    - ``lhotse``: also write Lhotse manifests (``recordings.jsonl.gz``,
      ``supervisions.jsonl.gz``, ``cuts.jsonl.gz``) that ``lhotse.load_manifest`` reads.
    - ``shard_size``: samples per shard, the engine's unit of work, retry and resume.
    """

    sample_rate_hz: int = Field(16000, ge=8000, le=48000)
    clean: str | None = None
    clean_dataset_id: str | None = None
    clean_licence: str = "unknown"
    noise_dir: str | None = None
    noise_licence: str = "unknown"
    noise_weights: dict[NoiseKind, float] | None = None
    noises_per_mix_range: tuple[int, int] = (1, 1)
    noise_gain_db_range: tuple[float, float] = (-6.0, 0.0)
    snr_db_range: tuple[float, float] = (0.0, 20.0)
    snr_reference: Literal["active", "whole"] = "active"
    level_dbfs_range: tuple[float, float] = (-35.0, -15.0)
    peak_limit_dbfs: float = Field(-0.1, ge=-20.0, le=-0.01)
    reverb_prob: float = Field(0.0, ge=0.0, le=1.0)
    rt60_s_range: tuple[float, float] = (0.2, 0.8)
    drr_db_range: tuple[float, float] = (0.0, 12.0)
    loop_crossfade_s: float = Field(0.05, gt=0.0, le=0.5)
    min_duration_s: float = Field(0.5, ge=0.0)
    procedural_seed: int = Field(0, ge=0)
    procedural_variants: int = Field(4, ge=1, le=64)
    procedural_duration_s: float = Field(15.0, ge=1.0, le=120.0)
    babble_talkers_range: tuple[int, int] = (3, 6)
    max_attempts: int = Field(20, ge=1, le=1000)
    format: Literal["wav", "flac"] = "wav"
    with_targets: bool = False
    kaldi: bool = False
    lhotse: bool = False
    shard_size: int = Field(500, ge=1, le=100_000)

    @field_validator(
        "noises_per_mix_range",
        "noise_gain_db_range",
        "snr_db_range",
        "level_dbfs_range",
        "rt60_s_range",
        "drr_db_range",
        "babble_talkers_range",
    )
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(math.isfinite(x) for x in v):
            raise ValueError("expected finite numbers")
        if v[0] > v[1]:
            raise ValueError(f"expected low <= high, got [{v[0]}, {v[1]}]")
        return v

    @field_validator("noises_per_mix_range", "babble_talkers_range")
    @classmethod
    def _at_least_one(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] < 1:
            raise ValueError(f"expected counts >= 1, got [{v[0]}, {v[1]}]")
        return v

    @field_validator("clean_licence", "noise_licence")
    @classmethod
    def _spdx(cls, v: str, info: ValidationInfo) -> str:
        # New builds only: a dataset built before the check must still verify and expand.
        problem = licence_problem(v) if _new_build(info) else None
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("snr_db_range")
    @classmethod
    def _plausible_snr(cls, v: tuple[float, float], info: ValidationInfo) -> tuple[float, float]:
        # New builds only: a dataset built before the limit must still verify and expand.
        if not _new_build(info):
            return v
        if v[0] < SNR_DB_LIMITS[0] or v[1] > SNR_DB_LIMITS[1]:
            raise ValueError(
                f"expected SNRs from {SNR_DB_LIMITS[0]:g} to {SNR_DB_LIMITS[1]:g} dB, got "
                f"[{v[0]:g}, {v[1]:g}] (beyond them one of speech and noise is below 16 bits)"
            )
        return v

    @field_validator("level_dbfs_range")
    @classmethod
    def _below_full_scale(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[1] > 0.0:
            raise ValueError(f"expected levels <= 0 dBFS, got [{v[0]}, {v[1]}]")
        return v

    @field_validator("rt60_s_range")
    @classmethod
    def _positive_rt60(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] <= 0.0 or v[1] > 5.0:
            raise ValueError(f"expected 0 < rt60_s <= 5, got [{v[0]}, {v[1]}]")
        return v

    @field_validator("noise_weights")
    @classmethod
    def _weights(cls, v: dict[str, float] | None, info: ValidationInfo) -> dict[str, float] | None:
        if v is None:
            return v
        bad = {k: w for k, w in v.items() if not (math.isfinite(w) and w >= 0.0)}
        if bad:
            raise ValueError(f"expected weights >= 0, got {bad}")
        if sum(v.values()) <= 0.0:
            raise ValueError("expected at least one weight > 0")
        if v.get("folder", 0.0) > 0.0 and info.data.get("noise_dir") is None:
            raise ValueError("folder > 0 needs noise_dir (a folder of noise clips)")
        if (
            _new_build(info)  # a stored spec from before this rule must still re-render
            and v.get("folder", 0.0) <= 0.0
            and info.data.get("noise_dir") is not None
        ):
            raise ValueError(
                "noise_dir is set but folder has no weight, so its clips would never be drawn; "
                "add folder = 1 (or leave noise_dir out)"
            )
        return v

    def weights(self) -> dict[str, float]:
        """The effective draw weight of each noise kind that can be drawn (weight > 0)."""
        chosen = (
            dict(DEFAULT_NOISE_WEIGHTS) if self.noise_weights is None else dict(self.noise_weights)
        )
        if self.noise_dir is None:
            chosen.pop("folder", None)
        return {k: w for k, w in chosen.items() if w > 0.0}


def build_spec(
    config: dict | None = None, source: str = "config", labels: dict[str, str] | None = None
) -> SpeechSpec:
    """Validate the speech spec of a new build (a config file's values, with overrides merged
    in) strictly, with the rules for new builds (see ``_new_build``); ``labels`` name the flags
    that set fields, for the error."""
    from synth.config import validate

    return validate(SpeechSpec, config or {}, source, context={"new_build": True}, labels=labels)
