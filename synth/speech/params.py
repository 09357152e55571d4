"""The drawn values of one mix (``MixParams``) and their JSON form, the speech recipe's core.

Every value the renderer needs is here, so ``render_mix(MixParams.from_json(d), ...)`` reproduces
a mix from its recipe alone. Offsets and lengths are in samples at ``rate_hz``; gains are linear
factors applied to the decoded float32 clips (full scale 1.0); levels are in dB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from synth.speech.reverb import PREDELAY_S, RirParams

LoopPolicy = Literal["crop", "loop_crossfade"]


@dataclass(frozen=True)
class NoiseUse:
    """One noise in a mix: which buffer, where it starts, how it is extended, how loud.

    ``policy`` is ``crop`` (the buffer is at least as long as the speech; ``offset`` is where the
    crop starts) or ``loop_crossfade`` (the buffer is made periodic with an equal-power
    crossfade of ``crossfade`` samples, then read from ``offset``). ``procedural`` holds the
    ``ProceduralNoise`` parameters of a generated buffer, None for a file.
    """

    id: str
    uri: str
    sha256: str
    kind: str
    offset: int
    policy: LoopPolicy
    crossfade: int
    weight_db: float
    gain: float
    procedural: dict[str, Any] | None = None

    def to_json(self, rate_hz: int) -> dict[str, Any]:
        loop: dict[str, Any] = {"policy": self.policy}
        if self.policy == "loop_crossfade":
            loop |= {"crossfade_samples": self.crossfade, "crossfade_s": self.crossfade / rate_hz}
        return {
            "id": self.id,
            "uri": self.uri,
            "sha256": self.sha256,
            "kind": self.kind,
            "offset_samples": self.offset,
            "offset_s": self.offset / rate_hz,
            "loop": loop,
            "weight_db": self.weight_db,
            "gain": self.gain,
            "procedural": self.procedural,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NoiseUse:
        loop = d["loop"]
        return cls(
            id=d["id"],
            uri=d["uri"],
            sha256=d["sha256"],
            kind=d["kind"],
            offset=int(d["offset_samples"]),
            policy=loop["policy"],
            crossfade=int(loop.get("crossfade_samples", 0)),
            weight_db=float(d["weight_db"]),
            gain=float(d["gain"]),
            procedural=d.get("procedural"),
        )


@dataclass(frozen=True)
class MixParams:
    """Everything drawn or derived for one mix, before rendering.

    ``clean_gain`` and each noise's ``gain`` put the mix at ``level_dbfs`` with the requested
    SNR; ``peak_scale`` (<= 1) then scales speech, noise and mix together when the peak would
    pass the limit, which keeps the SNR. ``reverb`` is None when no reverb is applied.
    """

    clean_id: str
    clean_sha256: str
    rate_hz: int
    num_samples: int
    snr_db: float
    snr_reference: str
    level_dbfs: float
    noises: tuple[NoiseUse, ...]
    reverb: RirParams | None
    clean_gain: float
    peak_scale: float
    rejections: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        reverb: dict[str, Any] = {"applied": False}
        if self.reverb is not None:
            r = self.reverb
            reverb = {
                "applied": True,
                "rt60_s": r.rt60_s,
                "drr_db": r.drr_db,
                "seed": r.seed,
                "predelay_s": r.predelay_s,
            }
        return {
            "clean": {"id": self.clean_id, "sha256": self.clean_sha256},
            "sample_rate_hz": self.rate_hz,
            "num_samples": self.num_samples,
            "duration_s": self.num_samples / self.rate_hz,
            "snr_db": self.snr_db,
            "snr_reference": self.snr_reference,
            "level_dbfs": self.level_dbfs,
            "noises": [u.to_json(self.rate_hz) for u in self.noises],
            "reverb": reverb,
            "clean_gain": self.clean_gain,
            "peak_scale": self.peak_scale,
            "rejections": dict(self.rejections),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MixParams:
        r = d["reverb"]
        reverb = (
            RirParams(
                float(r["rt60_s"]),
                float(r["drr_db"]),
                int(r["seed"]),
                float(r.get("predelay_s", PREDELAY_S)),
            )
            if r["applied"]
            else None
        )
        return cls(
            clean_id=d["clean"]["id"],
            clean_sha256=d["clean"]["sha256"],
            rate_hz=int(d["sample_rate_hz"]),
            num_samples=int(d["num_samples"]),
            snr_db=float(d["snr_db"]),
            snr_reference=d["snr_reference"],
            level_dbfs=float(d["level_dbfs"]),
            noises=tuple(NoiseUse.from_json(u) for u in d["noises"]),
            reverb=reverb,
            clean_gain=float(d["clean_gain"]),
            peak_scale=float(d["peak_scale"]),
            rejections={str(k): int(v) for k, v in d.get("rejections", {}).items()},
        )
