"""The engine's ``speech`` kind: clean speech mixed with noise at a measured SNR.

Output layout (relative to the dataset folder): the mix at ``<stem>.wav`` (or ``.flac``); with
``with_targets``, the speech as it sits in the mix (reverberant when a reverb was drawn) at
``__target__/<stem>.wav`` and the noise component at ``__noise__/<stem>.wav``, so that
``mix == target + noise`` sample for sample. Hugging Face's audiofolder loader skips folders whose
name starts with ``__`` when it lists data files, so the extra files do not become rows; the
``target_file_name`` and ``noise_file_name`` columns of ``metadata.jsonl`` point at them (recent
``datasets`` versions load them as the audio columns ``target`` and ``noise``).

Derived label files (``write_extras``, after assembly): ``manifest.nemo.jsonl`` always, the
Kaldi data directory ``kaldi/`` when ``spec.kaldi`` is set, and the Lhotse manifests when
``spec.lhotse`` is set (see ``synth.speech.manifests``).
Card pictures (``preview``): ``__synth__/preview.jpg`` (spectrograms of the first mixes) and
``__synth__/snr_histogram.png`` (achieved SNR of every mix).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote_from_bytes

import numpy as np

from synth.assets import AssetRecord, asset_root, embedded_record
from synth.config import validate
from synth.engine.assemble import METADATA
from synth.engine.generator import InputRef, Rendered, register_kind, register_label_views
from synth.errors import ConfigError, TooManyRejections
from synth.hashing import sha256_json
from synth.speech.audio_io import encode_pcm16
from synth.speech.corpus import file_sha256
from synth.speech.lhotse_manifests import CUTS, RECORDINGS, SUPERVISIONS
from synth.speech.manifests import KALDI_DIR, NEMO_MANIFEST, write_nemo_and_kaldi
from synth.speech.mix import render_mix, sample_mix
from synth.speech.noise import NOISE_VERSION, PROCEDURAL_KINDS
from synth.speech.params import MixParams
from synth.speech.pools import SpeechPools
from synth.speech.spec import SpeechSpec

TARGET_DIR = "__target__"

RENDERER_VERSION: int = 1
"""The mixing's version, recorded in every recipe and in the dataset record. Bump it with any
change that renders a recipe to other bytes (a loop crossfade, a resampler): verify then skips
the re-render of older datasets instead of calling them changed, and expand refuses to mix both
renderings."""
NOISE_DIR = "__noise__"


class _AssetLookup:
    """Resolves input paths (each folder once: a corpus of thousands of clips would otherwise
    cost two full path resolutions per clip) and finds their embedded-asset records."""

    def __init__(self) -> None:
        self.root = os.path.join(os.path.realpath(asset_root()), "")
        self.dirs: dict[str, str] = {}

    def resolve(self, path: Path) -> str:
        """``path.resolve()`` as a string, with the folder's resolution cached."""
        text = os.fspath(path)
        if os.path.islink(text):
            return os.path.realpath(text)
        folder, name = os.path.split(text)
        resolved = self.dirs.get(folder)
        if resolved is None:
            resolved = self.dirs[folder] = os.path.realpath(folder or os.curdir)
        return os.path.join(resolved, name)

    def record(self, real: str) -> AssetRecord | None:
        return embedded_record(real) if real.startswith(self.root) else None


def _file_input(
    role: str, name: str, path: Path, sha256: str, licence: str, assets: _AssetLookup
) -> InputRef:
    real = assets.resolve(path)
    record = assets.record(real)
    if record is not None:
        uri, licence, attribution = f"asset:{record.path}", record.licence, record.attribution
    else:  # Path(real).as_uri() for an absolute path, without building a Path per clip
        uri, attribution = "file://" + quote_from_bytes(os.fsencode(real)), ""
    return InputRef(
        role=role, name=name, uri=uri, sha256=sha256, licence=licence, attribution=attribution
    )


class SpeechGenerator:
    """Builds noisy-speech samples from a ``SpeechSpec`` (given as a dict or a spec)."""

    kind: ClassVar[str] = "speech"
    renderer_version: ClassVar[int] = RENDERER_VERSION

    def __init__(self, spec: dict[str, Any] | SpeechSpec) -> None:
        self.spec = (
            spec if isinstance(spec, SpeechSpec) else validate(SpeechSpec, spec, "speech spec")
        )
        self.pools = SpeechPools(self.spec)
        self._mix_pools = self.pools.mix_pools()

    def inputs(self) -> list[InputRef]:
        """The corpus dataset (``--clean ID``), the transcript manifest (or each clip's
        ``.txt``), every clean clip, each procedural kind, babble's talkers and each noise file.
        Names are the ids recipes use (clean id, ``procedural:<kind>``, noise file path relative
        to ``noise_dir``)."""
        spec, corpus = self.spec, self.pools.corpus
        assets = _AssetLookup()
        refs = []
        if spec.clean_dataset_id:  # the engine fills in the dataset's licences
            refs.append(
                InputRef(
                    role="clean_corpus",
                    name=spec.clean_dataset_id[:12],
                    uri=f"dataset:{spec.clean_dataset_id}",
                    sha256=spec.clean_dataset_id,
                    licence=spec.clean_licence,
                )
            )
        if corpus.manifest is not None:
            sha = file_sha256(corpus.manifest)
            refs.append(
                _file_input(
                    "transcripts",
                    corpus.manifest.name,
                    corpus.manifest,
                    sha,
                    spec.clean_licence,
                    assets,
                )
            )
        refs += [
            _file_input("clean_speech", it.id, it.path, it.sha256, spec.clean_licence, assets)
            for it in corpus.items
        ]
        refs += [  # text_pairs: each clip's .txt (kept for exactly the clips drawn)
            _file_input(
                "clean_transcript",
                it.id,
                it.transcript,
                it.transcript_sha256,
                spec.clean_licence,
                assets,
            )
            for it in corpus.items
            if it.transcript is not None
        ]
        talkers = sorted({i for ref in self.pools.noises.get("babble", []) for i in ref.excludes})
        for i in talkers:
            it = self.pools.clean_for_id(i)
            refs.append(
                _file_input("babble_speech", it.id, it.path, it.sha256, spec.clean_licence, assets)
            )
        for kind in self.pools.kinds:
            if kind in PROCEDURAL_KINDS:
                recipe = {
                    "kind": kind,
                    "version": NOISE_VERSION,
                    "seed": spec.procedural_seed,
                    "variants": spec.procedural_variants,
                    "duration_s": spec.procedural_duration_s,
                    "rate_hz": spec.sample_rate_hz,
                }
                note = "generated by synth.speech.noise"
                if kind == "babble":
                    note += " from the babble_speech inputs (their attributions apply)"
                refs.append(
                    InputRef(
                        role="noise",
                        name=f"procedural:{kind}",
                        uri=f"procedural:{kind}",
                        sha256=sha256_json(recipe),
                        licence="CC0-1.0",
                        attribution=note,
                    )
                )
        if "folder" in self.pools.kinds and self.pools.noise_folder is not None:
            clips = self.pools.noise_folder.clips
            refs += [
                _file_input("noise", c.id, c.path, c.sha256, spec.noise_licence, assets)
                for c in clips
            ]
        return refs

    def skipped_inputs(self) -> list[dict[str, str]]:
        """Input files left out, each ``{"file": path, "reason": text}``: noise-folder clips, then
        clean clips listed without a transcript or whose audio is unusable (unreadable, not
        finite, too short, silent). All are found when the generator is made, before any draw,
        so the list is the same whatever the workers."""
        folder = self.pools.noise_folder
        skipped = list(folder.skipped) if folder is not None else []
        return skipped + [clip.to_json() for clip in self.pools.clean_skipped]

    def input_warnings(self, counts: dict[str, dict[str, int]]) -> list[str]:
        """One line when mixes use clean clips recorded below ``sample_rate_hz`` (upsampled:
        nothing above half their own rate), from the build's statistics ``counts``: how many
        mixes and distinct clips came from which rate."""
        rate = self.spec.sample_rate_hz
        by_rate = counts.get("clean_source_rate_hz", {})
        low = sorted((int(r), n) for r, n in by_rate.items() if int(r) < rate)
        if not low:
            return []
        clips: dict[int, int] = {}
        for clean_id in counts.get("clean_speech", {}):
            source = self.pools.source_rate(self.pools.clean_for_id(clean_id))
            if source < rate:
                clips[source] = clips.get(source, 0) + 1
        mixes = sum(n for _, n in low)
        parts = ", ".join(
            f"{n} from {r} Hz ({clips.get(r, 0)} clip{'s' if clips.get(r, 0) != 1 else ''})"
            for r, n in low
        )
        return [
            f"{mixes} of {sum(by_rate.values())} mixes use clean speech recorded below "
            f"{rate} Hz and upsampled, with nothing above half its own rate: {parts} "
            "(clean_source_rate_hz in metadata.jsonl)"
        ]

    def sample(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        """Draw the recipe of sample ``index``: clean clip, noises, SNR, level, gains, reverb.
        The recipe's ``clean`` also holds the clip's transcript, speaker and the rate it was
        recorded at (``source_rate_hz``; below ``sample_rate_hz`` it was upsampled)."""
        try:
            params = sample_mix(self.spec, rng, self._mix_pools)
        except TooManyRejections as err:
            raise TooManyRejections(f"sample {index}: {err}") from None
        item = self.pools.clean_for(params.clean_id, params.clean_sha256)
        recipe = params.to_json()
        recipe["clean"] |= {
            "text": item.text,
            "speaker": item.speaker,
            "source_rate_hz": self.pools.source_rate(item),
        }
        recipe["renderer_version"] = RENDERER_VERSION
        return recipe

    def render(self, recipe: dict[str, Any], stem: str) -> Rendered:
        """Render a recipe to the mix file (and targets); same recipe and inputs, same bytes."""
        params = MixParams.from_json(recipe)
        rate = self.spec.sample_rate_hz
        if params.rate_hz != rate:
            raise ConfigError(f"sample_rate_hz={rate}: the recipe was drawn at {params.rate_hz} Hz")
        clean = self.pools.clean_audio(self.pools.clean_for(params.clean_id, params.clean_sha256))
        result = render_mix(
            params,
            clean,
            [self.pools.noise_for(u) for u in params.noises],
            components=self.spec.with_targets,
        )
        fmt = self.spec.format
        name = f"{stem}.{fmt}"
        files = {name: encode_pcm16(result.mix, rate, fmt)}
        m = result.measured
        row: dict[str, Any] = {
            "file_name": name,
            "text": recipe["clean"]["text"],
            "speaker": recipe["clean"].get("speaker", ""),
            "clean_id": params.clean_id,
            "noise_kind": "+".join(sorted(u.kind for u in params.noises)),
            "snr_db": None if m["snr_db"] is None else round(m["snr_db"], 3),
            "snr_reference": params.snr_reference,
            "level_dbfs": round(m["level_dbfs"], 3),
            "duration_s": m["duration_s"],
            "reverb": params.reverb is not None,
        }
        source_rate = recipe["clean"].get("source_rate_hz")
        if source_rate is not None:  # recipes drawn before it was recorded have none
            row["clean_source_rate_hz"] = source_rate
        if self.spec.with_targets:
            target_name, noise_name = f"{TARGET_DIR}/{name}", f"{NOISE_DIR}/{name}"
            files[target_name] = encode_pcm16(result.target, rate, fmt)
            files[noise_name] = encode_pcm16(result.noise, rate, fmt)
            row |= {"target_file_name": target_name, "noise_file_name": noise_name}
        return Rendered(files=files, row=row, outputs=dict(m))

    def preview(self, out_dir: Path, rows: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
        """Write the card's pictures: the spectrograms of the first mixes (from ``rows``) and
        the histogram of the achieved SNR of every mix (streamed from ``metadata.jsonl`` when
        the folder has one, else from ``rows``). Returns (path relative to ``out_dir``,
        caption) of each."""
        from synth.engine.card import preview_dir
        from synth.speech.preview import SnrCounts, contact_sheet, snr_histogram

        first = list(rows)  # the engine passes the first 64 rows
        folder = preview_dir(out_dir)
        sheet = folder / "preview.jpg"
        sheet.write_bytes(contact_sheet(out_dir, first))
        counts = SnrCounts()
        metadata = Path(out_dir) / METADATA
        if metadata.is_file():
            with open(metadata, encoding="utf-8") as f:
                for line in f:
                    counts.add(json.loads(line).get("snr_db"))
        else:
            for row in first:
                counts.add(row.get("snr_db"))
        lo, hi = self.spec.snr_db_range
        hist = folder / "snr_histogram.png"
        hist.write_bytes(snr_histogram(counts, self.spec.snr_reference, (lo, hi)))
        return [
            (sheet.relative_to(out_dir).as_posix(), "spectrograms of the first mixes"),
            (
                hist.relative_to(out_dir).as_posix(),
                f"achieved SNR of all {counts.total} mixes ({self.spec.snr_reference} "
                f"reference; dotted: requested range {lo:g} to {hi:g} dB)",
            ),
        ]

    def card_notes(self) -> list[str]:
        """The dataset card's paragraphs on the audio and the files beside it."""
        spec = self.spec
        lo, hi = spec.snr_db_range
        reference = (
            "active speech (a P.56-style energy-gated level)"
            if spec.snr_reference == "active"
            else "the whole clip"
        )
        notes = [
            f"Audio: mono, {spec.sample_rate_hz} Hz, 16-bit PCM {spec.format.upper()}. SNR drawn "
            f"from {lo:g} to {hi:g} dB over {reference}; `snr_db` is the SNR measured on the "
            "written 16-bit target and noise.",
        ]
        if spec.with_targets:
            notes.append(
                f"`{TARGET_DIR}/` and `{NOISE_DIR}/` hold each mix's clean target and noise as "
                "they were mixed (after reverb, gains and peak protection): mix = target + noise "
                "exactly. `metadata.jsonl` names them in `target_file_name` and `noise_file_name`."
            )
        low: dict[int, int] = {}
        for item in self.pools.clean:
            source = self.pools.source_rate(item)
            if source < spec.sample_rate_hz:
                low[source] = low.get(source, 0) + 1
        if low:
            rates = ", ".join(f"{n} at {r} Hz" for r, n in sorted(low.items()))
            notes.append(
                f"{sum(low.values())} of the {len(self.pools.clean)} usable clean clips were "
                f"recorded below {spec.sample_rate_hz} Hz ({rates}) and are upsampled: a mix "
                "made from one has nothing above half that rate. `clean_source_rate_hz` in "
                "`metadata.jsonl` gives each mix's."
            )
        files = f"`{NEMO_MANIFEST}` is a NeMo manifest of the same mixes"
        if spec.kaldi:
            files += (
                f"; `{KALDI_DIR}/` is a Kaldi data directory (`wav.scp`, `text`, `utt2spk`, "
                "`spk2utt`, `utt2dur`, `reco2dur`) whose `wav.scp` paths are relative to this "
                "folder: run Kaldi from here"
            )
        if spec.lhotse:
            files += (
                f"; `{RECORDINGS}`, `{SUPERVISIONS}` and `{CUTS}` are Lhotse manifests "
                "(`lhotse.load_manifest`) with paths relative to this folder: load them from "
                "here or add the folder with `CutSet.with_recording_path_prefix`"
            )
        notes.append(files + ". Every path in them is relative to this folder, so it can be moved.")
        return notes

    def write_extras(self, out_dir: Path, rows: Iterable[dict[str, Any]]) -> list[Path]:
        """Write the NeMo manifest and, with ``spec.kaldi``, the Kaldi data directory, with
        ``spec.lhotse`` the Lhotse manifests (see ``synth.speech.manifests``) from the
        ``metadata.jsonl`` rows, streamed once; returns the paths written."""
        spec = self.spec
        return write_nemo_and_kaldi(
            Path(out_dir), rows, kaldi=spec.kaldi, lhotse=spec.lhotse, rate_hz=spec.sample_rate_hz
        )

    def describe(self, recipe: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
        """Per-sample statistics: kinds and flags as strings (counted), levels as numbers."""
        stats: dict[str, Any] = {
            "clean_speech": recipe["clean"]["id"],
            "noise_kind": "+".join(sorted(u["kind"] for u in recipe["noises"])),
            "noise_count": len(recipe["noises"]),
            "snr_reference": recipe["snr_reference"],
            "reverb": "applied" if recipe["reverb"]["applied"] else "not_applied",
            "clipping_prevented": "yes" if outputs.get("clipping_prevented") else "no",
            "speaker": recipe["clean"].get("speaker") or "unknown",
            "snr_requested_db": recipe["snr_db"],
            "level_requested_dbfs": recipe["level_dbfs"],
            "peak_scale_db": 20.0 * math.log10(recipe["peak_scale"]),
        }
        if self.spec.noises_per_mix_range[1] == 1:
            # Named like the "noise" inputs so the engine keeps only the ones drawn; with several
            # noises per mix one string cannot name them all, and the inputs are kept whole.
            (use,) = recipe["noises"]
            stats["noise"] = use["uri"] if use["procedural"] else use["id"]
        source_rate = recipe["clean"].get("source_rate_hz")
        if source_rate is not None:
            stats["clean_source_rate_hz"] = str(source_rate)  # counted per rate
        for key in ("snr_db", "level_dbfs", "peak_dbfs", "duration_s", "speech_activity"):
            if outputs.get(key) is not None:
                stats[key] = outputs[key]
        if outputs.get("snr_db") is not None:
            stats["snr_error_db"] = outputs["snr_db"] - recipe["snr_db"]
        return stats


register_kind("speech", SpeechGenerator)


def write_label_views(
    out_dir: Path, rows: Iterable[dict[str, Any]], spec: dict[str, Any]
) -> list[Path]:
    """``write_extras`` from a spec dict, without a generator (its pools are not needed): the
    views of a folder of mixes written again elsewhere, e.g. each split of a split version."""
    return write_nemo_and_kaldi(
        Path(out_dir),
        rows,
        kaldi=bool(spec.get("kaldi")),
        lhotse=bool(spec.get("lhotse")),
        rate_hz=spec.get("sample_rate_hz"),
    )


register_label_views("speech", write_label_views)
