"""The inputs of a speech dataset, decoded once per process and kept.

``SpeechPools`` is built once per worker from a spec: the clean corpus, the noise folder (decoded
and resampled to the working rate up front) and the procedural variants (generated on first
use). Decoded audio lives in process-wide caches keyed by (path, sha256, rate), so rebuilding a
generator in the same process decodes nothing twice and a changed file is never served stale.

Every clean clip is decoded and measured once when the pools are made (its length, finiteness,
levels and source rate are kept, ~100 bytes a clip): a clip that cannot be used (unreadable, not
finite, too short, silent, or listed without a transcript) is left out of the draw there and
then, and named in ``clean_skipped``. So the draws, and the dataset, do not depend on which clips
a worker happened to meet, and a corpus with no usable clip fails before anything is written.
The decoded audio itself is kept for at most ``CLEAN_CACHE_SIZE`` clips (~330 MB of 5 s clips).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from synth.errors import AssetError, ConfigError
from synth.speech.audio_io import UndecodableAudio, load_audio, source_rate
from synth.speech.corpus import CleanItem, Corpus, SkippedClip, no_usable_clean, read_corpus
from synth.speech.level import measure_speech
from synth.speech.mix import MixPools, NoiseIndex, NoiseRef
from synth.speech.noise import (
    NoiseFolder,
    ProceduralNoise,
    babble_variant,
    decoded_noise,
    load_noise_folder,
    render_procedural,
)
from synth.speech.params import NoiseUse
from synth.speech.spec import SpeechSpec

CLEAN_CACHE_SIZE = 1024
SILENT_SPEECH_DBFS = -70.0
"""A clean clip whose active level is below this holds no usable speech."""


@lru_cache(maxsize=CLEAN_CACHE_SIZE)
def decoded_clean(path: str, sha256: str, rate_hz: int) -> np.ndarray:
    """A clean clip decoded once at ``rate_hz`` (read-only float32)."""
    x = load_audio(path, rate_hz)
    x.flags.writeable = False
    return x


@dataclass(frozen=True)
class CleanStats:
    """Per-clip facts the sampler checks on every draw (cached); ``unreadable`` is why the file
    could not be decoded (empty, truncated, corrupt), "" when it was; ``source_rate_hz`` is the
    rate the file was recorded at (0 when unreadable), before resampling to the working rate."""

    num_samples: int
    finite: bool
    active_level: float
    rms: float
    peak: float
    unreadable: str = ""
    source_rate_hz: int = 0


@lru_cache(maxsize=8 * CLEAN_CACHE_SIZE)
def clean_stats(path: str, sha256: str, rate_hz: int) -> CleanStats:
    try:
        x = decoded_clean(path, sha256, rate_hz)
    except UndecodableAudio as err:  # counted as clean_unreadable, named in skipped_inputs
        # (a missing or unreadable file stays an error: the corpus changed since it was hashed)
        return CleanStats(0, True, 0.0, 0.0, 0.0, unreadable=err.problem)
    source = source_rate(path)
    if x.size == 0:
        return CleanStats(0, True, 0.0, 0.0, 0.0, source_rate_hz=source)
    top, bottom = float(x.max()), float(x.min())  # a NaN or an infinity shows in these
    if not (math.isfinite(top) and math.isfinite(bottom)):
        return CleanStats(x.size, False, 0.0, 0.0, 0.0, source_rate_hz=source)
    m = measure_speech(x, rate_hz)  # the active level and the energy from one set of passes
    whole = math.sqrt(m.sum_squares / x.size)
    return CleanStats(x.size, True, m.active.level, whole, max(top, -bottom), "", source)


def _talker(path: str, sha256: str, rate_hz: int) -> np.ndarray:
    """A babble talker's audio; an unreadable clip talks no more than a silent one."""
    if clean_stats(path, sha256, rate_hz).unreadable:
        return np.zeros(0, dtype=np.float32)
    return decoded_clean(path, sha256, rate_hz)


@lru_cache(maxsize=256)
def procedural_buffer(noise: ProceduralNoise, talker_paths: tuple[str, ...]) -> np.ndarray:
    """A procedural noise buffer generated once per process (read-only float32)."""
    talkers = [
        _talker(p, sha, noise.rate_hz)
        for p, (_, sha) in zip(talker_paths, noise.sources, strict=True)
    ]
    x = render_procedural(noise, talkers)
    x.flags.writeable = False
    return x


def _changed(now: str, recipe: str) -> str:
    return f"content changed since the recipe was drawn (sha256 {now[:12]}, recipe {recipe[:12]})"


class SpeechPools:
    """Clean clips and noise buffers of one spec, with cached decoding and recipe lookups."""

    def __init__(self, spec: SpeechSpec) -> None:
        self.spec = spec
        self.rate = spec.sample_rate_hz
        self._noise_index: dict[NoiseRef, NoiseIndex] = {}
        self.corpus: Corpus = read_corpus(spec.clean)
        self._clean_by_id = {it.id: it for it in self.corpus.items}
        # Kept per clip for the whole build: the caches may evict them in a large corpus.
        self._stats = {
            (it.id, it.sha256): clean_stats(str(it.path), it.sha256, self.rate)
            for it in self.corpus.items
        }
        problems = [(it, self.clean_problem(it)) for it in self.corpus.items]
        self.clean: tuple[CleanItem, ...] = tuple(it for it, p in problems if p is None)
        """The clips the draw sees: every usable one, in corpus order."""
        self.clean_skipped: tuple[SkippedClip, ...] = self.corpus.skipped + tuple(
            self._skipped(it, p) for it, p in problems if p is not None
        )
        """Clips left out: listed without a transcript, then unusable audio, in corpus order."""
        if not self.clean:
            where = self.corpus.manifest or self.corpus.root
            raise no_usable_clean(where, self.corpus.root, self.clean_skipped)
        weights = spec.weights()
        self.noise_folder: NoiseFolder | None = None
        if spec.noise_dir is not None:
            self.noise_folder = load_noise_folder(spec.noise_dir, self.rate)
        self._files = {c.id: c for c in self.noise_folder.clips} if self.noise_folder else {}
        if "babble" in weights and len(self.clean) < 2:
            skipped = f" ({len(self.clean_skipped)} skipped)" if self.clean_skipped else ""
            raise ConfigError(
                f"noise_weights.babble={weights['babble']}: babble needs at least 2 usable clean "
                f"clips, the corpus has {len(self.clean)}{skipped}; set noise_weights.babble to 0"
            )
        self.noises: dict[str, list[NoiseRef]] = {kind: self._refs(kind) for kind in weights}
        total = sum(weights.values())
        self.kinds = tuple(weights)
        self.probs = tuple(w / total for w in weights.values())

    def _refs(self, kind: str) -> list[NoiseRef]:
        if kind == "folder":
            assert self.noise_folder is not None  # the spec guarantees it
            return [NoiseRef(c.id, c.uri, c.sha256, "folder") for c in self.noise_folder.clips]
        s = self.spec
        pool = [(it.id, it.sha256) for it in self.clean]
        refs = []
        for v in range(s.procedural_variants):
            if kind == "babble":
                p = babble_variant(
                    s.procedural_seed,
                    v,
                    s.procedural_duration_s,
                    self.rate,
                    pool,
                    s.babble_talkers_range,
                )
            else:
                p = ProceduralNoise(kind, s.procedural_seed, v, s.procedural_duration_s, self.rate)
            excludes = frozenset(i for i, _ in p.sources)
            refs.append(NoiseRef(p.id, p.uri, p.sha256, kind, p, excludes))
        return refs

    # Sampling -------------------------------------------------------------------------------

    def clean_audio(self, item: CleanItem) -> np.ndarray:
        return decoded_clean(str(item.path), item.sha256, self.rate)

    def clean_problem(self, item: CleanItem) -> str | None:
        st = self._stat(item)
        if st.unreadable:
            return "clean_unreadable"
        if not st.finite:
            return "clean_not_finite"
        if st.num_samples < self.spec.min_duration_s * self.rate:
            return "clean_too_short"
        if st.active_level <= 10.0 ** (SILENT_SPEECH_DBFS / 20.0):
            return "clean_silent"
        return None

    def _stat(self, item: CleanItem) -> CleanStats:
        """The facts of a corpus clip, measured when the pools were made."""
        st = self._stats.get((item.id, item.sha256))
        if st is None:  # not a clip of this corpus (a caller's own item)
            st = clean_stats(str(item.path), item.sha256, self.rate)
        return st

    def _skipped(self, item: CleanItem, problem: str) -> SkippedClip:
        """The skip entry of an unusable clip, with the reason in words."""
        st = self._stat(item)
        reason = {
            "clean_unreadable": st.unreadable,
            "clean_not_finite": "NaN or infinite samples",
            "clean_too_short": (
                f"{st.num_samples / self.rate:.3f} s long, shorter than "
                f"min_duration_s={self.spec.min_duration_s:g}"
            ),
            "clean_silent": f"silent (active speech level below {SILENT_SPEECH_DBFS:g} dBFS)",
        }[problem]
        return SkippedClip(str(item.path), reason, problem)

    def source_rate(self, item: CleanItem) -> int:
        """The rate ``item`` was recorded at (Hz), before resampling to the working rate."""
        return self._stat(item).source_rate_hz

    def clean_level(self, item: CleanItem, reference: str) -> float:
        st = self._stat(item)
        return st.active_level if reference == "active" else st.rms

    def clean_peak(self, item: CleanItem) -> float:
        return self._stat(item).peak

    def noise_index(self, ref: NoiseRef) -> NoiseIndex:
        """The block sums of a noise buffer (16 bytes per 1024 samples), made once."""
        index = self._noise_index.get(ref)
        if index is None:
            index = self._noise_index[ref] = NoiseIndex.of(self.noise_audio(ref))
        return index

    def noise_audio(self, ref: NoiseRef) -> np.ndarray:
        if ref.procedural is not None:
            paths = tuple(str(self._clean_by_id[i].path) for i, _ in ref.procedural.sources)
            return procedural_buffer(ref.procedural, paths)
        clip = self._files[ref.id]
        return decoded_noise(str(clip.path), clip.sha256, self.rate)

    def mix_pools(self) -> MixPools:
        return MixPools(
            clean=self.clean,
            clean_audio=self.clean_audio,
            clean_problem=self.clean_problem,
            clean_level=self.clean_level,
            noise_kinds=self.kinds,
            noise_probs=self.probs,
            noises=self.noises,
            noise_audio=self.noise_audio,
            clean_peak=self.clean_peak,
            noise_index=self.noise_index,
        )

    # Rendering from a recipe ------------------------------------------------------------------

    def clean_for_id(self, clean_id: str) -> CleanItem:
        item = self._clean_by_id.get(clean_id)
        if item is None:
            where = self.corpus.manifest or self.corpus.root
            raise AssetError(where, f"the recipe's clean clip '{clean_id}' is not in the corpus")
        return item

    def clean_for(self, clean_id: str, sha256: str) -> CleanItem:
        """The clean item a recipe names, checked against the recipe's content hash."""
        item = self.clean_for_id(clean_id)
        if item.sha256 != sha256:
            raise AssetError(
                item.path,
                _changed(item.sha256, sha256),
            )
        return item

    def noise_for(self, use: NoiseUse) -> np.ndarray:
        """The noise buffer a recipe names, checked against the recipe's content hash."""
        if use.procedural is not None:
            p = ProceduralNoise.from_json(use.procedural)
            if p.sha256 != use.sha256:
                raise AssetError(
                    use.id,
                    "procedural noise parameters do not match the recipe's sha256 "
                    "(made by another noise version?)",
                )
            if p.rate_hz != self.rate:
                raise ConfigError(
                    f"sample_rate_hz={self.rate}: the recipe's noise {use.id} "
                    f"was drawn at {p.rate_hz} Hz"
                )
            paths = tuple(str(self.clean_for(i, sha).path) for i, sha in p.sources)
            return procedural_buffer(p, paths)
        clip = self._files.get(use.id)
        if clip is None:
            root = self.noise_folder.root if self.noise_folder else Path("noise_dir")
            raise AssetError(root / use.id, "the recipe's noise clip is not in noise_dir")
        if clip.sha256 != use.sha256:
            raise AssetError(
                clip.path,
                _changed(clip.sha256, use.sha256),
            )
        return decoded_noise(str(clip.path), clip.sha256, self.rate)
