"""Noisy-speech throughput: synth through the engine beside a numpy baseline and audiomentations.

Every subject makes the same kind of data in the same process, interleaved, on the same disk:
4-6 s clean clips at 16 kHz mixed with noise clips recorded at 44.1 and 48 kHz (so the noise
must be resampled), SNR uniform in 0-20 dB, written as 16-bit PCM WAV files.

* **baseline** - minimal hand-written numpy/soundfile: read the clean WAV, pick a noise file,
  read only the segment needed (``sf.read(start=, stop=)``), resample it with soxr HQ, scale it
  to the SNR over the whole clip (RMS, silence included), add, write the WAV. Nothing else: no
  peak protection, no labels, no hashes, no manifest.
* **audiomentations** - ``AddBackgroundNoise(sounds_path=<the noise folder>, min_snr_db=0,
  max_snr_db=20, p=1)`` on the clean clip read with soundfile, written with ``sf.write``
  (it decodes the noise segment with librosa and resamples it with soxr_hq on every call).
* **synth** - a real build through the engine (``synth.engine.build.prepare`` + ``build``, one
  worker, a SQLite catalog in a temporary home), spec: the clean corpus, the noise folder,
  ``noise_weights={"folder": 1}``, ``snr_db_range=[0, 20]``, active-speech (P.56-style) SNR
  reference. Every mix is drawn, peak-protected, quantised, its achieved SNR measured on the
  16-bit signals, written, hashed and recorded (recipe with lineage, outputs); then the folder
  is assembled (metadata, recipes, statistics, content id), the card pictures (spectrograms,
  SNR histogram), the NeMo manifest and the card are written and the version is registered.
  Each timed run starts **cold**: the process-wide caches (decoded and resampled noise, decoded
  clean clips, file hashes, the worker's generator) are cleared and ``prepare`` is timed too,
  so synth pays its one-time decoding and resampling inside the measurement.
* **synth-warm** - the same build with the caches kept (a pool worker's steady state, which
  keeps its decoded inputs across shards); ``prepare`` untimed.
* **synth@N** - the cold build again with ``--n-large`` clips (default 10,000, about 15.7 hours
  of audio): the per-build costs (hashing the corpus, decoding and resampling the noise bank,
  decoding and measuring each clean clip once, assembly, card, catalog) are the same as for
  ``--n`` clips and weigh a tenth as much per clip.

The clean corpus is made once, untimed: ``--corpus`` distinct 4-6 s clips, each one to three
whole utterances of one embedded speaker joined with 0.15-0.35 s of silence (their transcripts
joined with spaces, so every transcript is still exactly what is said), written as 16 kHz
PCM_16 WAV with a ``transcripts.tsv``. The noise folder holds pink, white and brown noise,
20 s each, at 44.1 kHz and 48 kHz (PCM_16 WAV).

The rate is seconds of audio produced per CPU-second (``time.process_time``, i.e. x real time
per core; every subject is single-threaded) and per wall-second, for ``--n`` clips, best of
``--repeat`` runs, after an untimed warm-up of ``--warmup`` clips on each side. Imports are
never timed. The 2000x target is checked on the cold CPU rate of each build size (``synth``
and ``synth@N``). The 3x-audiomentations target is a throughput rate, so it is checked at
dataset scale: on the cold ``synth@N`` build, which pays every per-build cost (hashing the
corpus, decoding and resampling the noise, assembly, card, catalog) once, as a real build does.
The cold ``--n`` build's ratio is printed beside it as information, with the per-build cost and
the per-clip cost that the two cold builds give (``per-build + clips x per-clip``), so the
figure for any build size can be read off. Without ``synth@N`` (``--n-large 0``) the 3x target
is checked on the ``--n`` build. The exit status is 0 whatever the outcome (a failed target or
a crash is reported, not raised).

Run:  python bench/bench_speech.py [--n 1000] [--n-large 10000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import random
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from common import (
    Clock,
    disk_usage,
    filesystem_of,
    interleaved,
    machine,
    print_report,
    scratch_dir,
)

RATE = 16000
SNR_DB = (0.0, 20.0)
CLIP_S = (4.0, 6.0)
GAP_S = (0.15, 0.35)
NOISE_S = 20.0
NOISE_RATES = (44100, 48000)
NOISE_KINDS = ("pink", "white", "brown")

# Targets from the issue: x real time per core, and the ratio to audiomentations (per core).
TARGET_RT = 2000.0
TARGET_VS_AUDIOMENTATIONS = 3.0


# -- timing -----------------------------------------------------------------------------------
@dataclasses.dataclass
class Timing:
    clips: int
    audio_s: float
    cpu_s: float
    wall_s: float

    @property
    def rt_cpu(self) -> float:
        return self.audio_s / self.cpu_s if self.cpu_s > 0 else float("inf")

    @property
    def rt_wall(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else float("inf")

    def to_json(self) -> dict[str, float]:
        return {
            "clips": self.clips,
            "audio_s": round(self.audio_s, 3),
            "cpu_s": round(self.cpu_s, 4),
            "wall_s": round(self.wall_s, 4),
            "x_realtime_per_cpu_s": round(self.rt_cpu, 1),
            "x_realtime_per_wall_s": round(self.rt_wall, 1),
        }


# -- test data (untimed) ----------------------------------------------------------------------
def make_corpus(folder: Path, count: int, seed: int) -> dict[str, Any]:
    """``count`` 4-6 s clips, each one to three whole embedded utterances of one speaker joined
    by 0.15-0.35 s of silence (so every clip differs), transcripts joined with spaces."""
    from synth.assets import embedded_dir

    src = embedded_dir("speech")
    with open(src / "transcripts.tsv", encoding="utf-8") as f:
        table = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    by_speaker: dict[str, list[tuple[np.ndarray, str]]] = {}
    for row in table:
        x, rate = sf.read(src / row["file"], dtype="float32")
        if rate != RATE or x.ndim != 1:
            raise RuntimeError(f"{row['file']}: expected 16 kHz mono")
        by_speaker.setdefault(row["speaker"], []).append((x, row["text"]))
    speakers = sorted(s for s, clips in by_speaker.items() if len(clips) >= 2)
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[tuple[Any, ...]] = set()
    lines = ["file\ttext\tspeaker"]
    total = 0.0
    while len(lines) - 1 < count:
        speaker = rnd.choice(speakers)
        clips = by_speaker[speaker]
        picks = rnd.sample(range(len(clips)), k=min(len(clips), rnd.randint(1, 3)))
        gaps = [round(rnd.uniform(*GAP_S) * RATE) for _ in picks]
        pieces: list[np.ndarray] = []
        parts: list[int] = []
        n = 0
        for i, gap in zip(picks, gaps, strict=True):
            extra = ([np.zeros(gap, np.float32)] if parts else []) + [clips[i][0]]
            size = sum(p.size for p in extra)
            if n + size > CLIP_S[1] * RATE:
                break
            pieces += extra
            parts.append(i)
            n += size
        key = (speaker, tuple(parts), tuple(p.size for p in pieces))
        if not CLIP_S[0] * RATE <= n <= CLIP_S[1] * RATE or key in seen:
            continue
        seen.add(key)
        audio = np.concatenate(pieces)
        name = f"clip{len(lines):05d}.wav"
        sf.write(folder / name, audio, RATE, subtype="PCM_16")
        lines.append(f"{name}\t{' '.join(clips[i][1] for i in parts)}\t{speaker}")
        total += audio.size / RATE
    (folder / "transcripts.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"clips": count, "mean_s": round(total / count, 3), "speakers": len(speakers)}


def make_noise(folder: Path, seed: int) -> list[str]:
    """Pink, white and brown noise, 20 s each, at 44.1 and 48 kHz (PCM_16 WAV)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = []
    for rate in NOISE_RATES:
        n = round(NOISE_S * rate)
        freqs = np.fft.rfftfreq(n, d=1.0 / rate)
        for kind in NOISE_KINDS:
            exponent = {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind]
            spectrum = np.fft.rfft(rng.standard_normal(n))
            spectrum *= np.maximum(freqs, 20.0) ** (-exponent / 2.0)
            spectrum[0] = 0.0
            x = np.fft.irfft(spectrum, n)
            x *= 0.1 / np.sqrt(np.mean(x * x))
            name = f"{kind}_{rate}.wav"
            sf.write(folder / name, np.clip(x, -1, 1).astype(np.float32), rate, subtype="PCM_16")
            names.append(name)
    return names


def read_corpus_list(corpus: Path) -> list[Path]:
    with open(corpus / "transcripts.tsv", encoding="utf-8") as f:
        return [corpus / row["file"] for row in csv.DictReader(f, delimiter="\t")]


# -- the numpy baseline -----------------------------------------------------------------------
class Baseline:
    """The minimal hand-written pipeline (see the module notes)."""

    name = "baseline"

    def __init__(self, corpus: Path, noise_dir: Path) -> None:
        import soxr

        self._soxr = soxr
        self.clean = read_corpus_list(corpus)
        self.noises = []
        for p in sorted(noise_dir.glob("*.wav")):
            info = sf.info(p)
            self.noises.append((p, info.frames, info.samplerate))

    def run(self, n: int, seed: int, out: Path) -> tuple[Timing, dict[str, Any]]:
        out.mkdir(parents=True, exist_ok=True)
        rnd = random.Random(seed)
        audio = 0.0
        with Clock() as c:
            for i in range(n):
                clean, _ = sf.read(self.clean[rnd.randrange(len(self.clean))], dtype="float32")
                path, frames, rate = self.noises[rnd.randrange(len(self.noises))]
                need = -(-clean.size * rate // RATE) + 64  # a few extra for the resampler
                start = rnd.randrange(0, frames - need + 1)
                seg, _ = sf.read(path, start=start, stop=start + need, dtype="float32")
                noise = self._soxr.resample(seg, rate, RATE, "HQ")[: clean.size]
                if noise.size < clean.size:
                    noise = np.pad(noise, (0, clean.size - noise.size), mode="wrap")
                snr = rnd.uniform(*SNR_DB)
                gain = np.sqrt(np.mean(clean * clean) / np.mean(noise * noise)) / 10 ** (snr / 20)
                sf.write(out / f"{i:09d}.wav", clean + gain * noise, RATE, subtype="PCM_16")
                audio += clean.size / RATE
        return Timing(n, audio, c.cpu_s, c.wall_s), {"dataset_mb": round(disk_usage(out) / 1e6, 2)}


# -- audiomentations --------------------------------------------------------------------------
class Audiomentations:
    """``AddBackgroundNoise`` on the same noise folder, read and written with soundfile."""

    name = "audiomentations"

    def __init__(self, corpus: Path, noise_dir: Path) -> None:
        from audiomentations import AddBackgroundNoise

        self.clean = read_corpus_list(corpus)
        self.transform = AddBackgroundNoise(
            sounds_path=str(noise_dir), min_snr_db=SNR_DB[0], max_snr_db=SNR_DB[1], p=1.0
        )

    def run(self, n: int, seed: int, out: Path) -> tuple[Timing, dict[str, Any]]:
        out.mkdir(parents=True, exist_ok=True)
        rnd = random.Random(seed)
        random.seed(seed)  # audiomentations draws from the global generators
        np.random.seed(seed)
        audio = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "... had to be resampled", once per call
            with Clock() as c:
                for i in range(n):
                    clean, _ = sf.read(self.clean[rnd.randrange(len(self.clean))], dtype="float32")
                    mixed = self.transform(samples=clean, sample_rate=RATE)
                    sf.write(out / f"{i:09d}.wav", mixed, RATE, subtype="PCM_16")
                    audio += clean.size / RATE
        return Timing(n, audio, c.cpu_s, c.wall_s), {"dataset_mb": round(disk_usage(out) / 1e6, 2)}


# -- synth through the engine -----------------------------------------------------------------
def clear_synth_caches() -> None:
    """Forget everything synth decoded, resampled or hashed in this process."""
    from synth.engine import shard
    from synth.speech import corpus, noise, pools

    shard.forget_generators()
    noise.decoded_noise.cache_clear()
    pools.decoded_clean.cache_clear()
    pools.clean_stats.cache_clear()
    pools.procedural_buffer.cache_clear()
    corpus._sha256_cached.cache_clear()


class Synth:
    """A speech build through ``synth.engine.build`` with one worker (see the module notes)."""

    def __init__(self, corpus: Path, noise_dir: Path, cold: bool, count: int | None = None) -> None:
        import synth.speech.generator  # noqa: F401  (imports are never timed)
        from synth.speech.spec import build_spec

        self.cold = cold
        self.count = count  # a fixed build size, whatever the driver's n (see --n-large)
        self.name = ("synth" if cold else "synth-warm") + (f"@{count}" if count else "")
        self.spec = build_spec(
            {
                "clean": str(corpus),
                "noise_dir": str(noise_dir),
                "noise_weights": {"folder": 1.0},
                "snr_db_range": list(SNR_DB),
                "format": "wav",
            }
        ).model_dump(mode="json")

    def run(self, n: int, seed: int, out: Path) -> tuple[Timing, dict[str, Any]]:
        from synth.catalog import open_catalog
        from synth.engine.build import build, prepare

        n = self.count or n
        render = {"cpu_s": 0.0, "wall_s": 0.0}

        def time_shards(pool: Any) -> None:
            # With one worker, submit() renders the shard before it returns: time each call.
            submit = pool.submit

            def timed_submit(*args: Any, **kwargs: Any) -> Any:
                with Clock() as c:
                    fut = submit(*args, **kwargs)
                render["cpu_s"] += c.cpu_s
                render["wall_s"] += c.wall_s
                return fut

            pool.submit = timed_submit

        catalog = open_catalog(out)
        if self.cold:
            clear_synth_caches()
        try:
            with Clock() as c_prepare:
                plan, gen = prepare(
                    "speech", self.spec, seed=seed, count=n, name=f"bench-{self.name}", home=out
                )
            with Clock() as c:
                result = build(plan, gen, catalog, workers=1, on_pool=time_shards)
        finally:
            catalog.close()
        if result.rendered_shards != len(plan.shards()):
            raise RuntimeError(
                f"{self.name}: expected a fresh build in {out}, but {result.skipped_shards} "
                "shard(s) were already there"
            )
        files = sum(1 for _ in plan.out_dir.glob("shard-*/*.wav"))
        if files != n:
            raise RuntimeError(f"{self.name}: {files} files written, expected {n}")
        with open(plan.out_dir / "metadata.jsonl", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        audio = sum(r["duration_s"] for r in rows)
        cpu, wall = c.cpu_s, c.wall_s
        if self.cold:
            cpu, wall = cpu + c_prepare.cpu_s, wall + c_prepare.wall_s
        extra = {
            "prepare_cpu_s": round(c_prepare.cpu_s, 4),
            "render": Timing(n, audio, render["cpu_s"], render["wall_s"]).to_json(),
            "finish_cpu_s": round(c.cpu_s - render["cpu_s"], 4),
            "dataset_mb": round(disk_usage(plan.out_dir) / 1e6, 2),
            "rows_without_snr": sum(1 for r in rows if r["snr_db"] is None),
        }
        return Timing(n, audio, cpu, wall), extra


# -- driver -----------------------------------------------------------------------------------
def _environment() -> dict[str, Any]:
    import audiomentations
    import librosa
    import soxr

    return {
        **machine(),
        "numpy": np.__version__,
        "soundfile": sf.__version__,
        "libsndfile": sf.__libsndfile_version__,
        "soxr": soxr.__version__,
        "librosa": librosa.__version__,
        "audiomentations": audiomentations.__version__,
    }


def _best(runs: list[tuple[Timing, dict[str, Any]]]) -> dict[str, Any]:
    timings = [t for t, _ in runs]
    best_cpu = max(timings, key=lambda t: t.rt_cpu)
    best_wall = max(timings, key=lambda t: t.rt_wall)
    out: dict[str, Any] = {
        "x_realtime_per_cpu_s": round(best_cpu.rt_cpu, 1),
        "x_realtime_per_wall_s": round(best_wall.rt_wall, 1),
        "clips": best_cpu.clips,
        "clips_per_cpu_s": round(best_cpu.clips / best_cpu.cpu_s, 1),
        "ms_per_clip_cpu": round(1000 * best_cpu.cpu_s / best_cpu.clips, 3),
        "mean_clip_s": round(best_cpu.audio_s / best_cpu.clips, 3),
        "runs": [{**t.to_json(), **extra} for t, extra in runs],
    }
    renders = [extra["render"] for _, extra in runs if "render" in extra]
    if renders:
        out["render_x_realtime_per_cpu_s"] = max(r["x_realtime_per_cpu_s"] for r in renders)
    return out


def _cost_split(results: dict[str, dict[str, Any]]) -> dict[str, float] | None:
    """Per-build and per-clip CPU cost from the two cold builds (``synth`` and ``synth@N``):
    ``cpu_s = per_build_s + clips * per_clip_s``; None unless both ran."""
    small = results.get("synth")
    large = next((r for n, r in results.items() if n.startswith("synth@")), None)
    if not small or not large:
        return None
    (n1, t1), (n2, t2) = (
        (r["clips"], r["clips"] * r["ms_per_clip_cpu"] / 1000) for r in (small, large)
    )
    if n2 == n1:
        return None
    per_clip = (t2 - t1) / (n2 - n1)
    return {"per_build_cpu_s": round(t1 - n1 * per_clip, 4), "per_clip_cpu_ms": per_clip * 1000}


def _targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets (see the module notes): 2000x real time on every cold synth build size that
    ran; 3x audiomentations on the dataset-scale cold build (``synth@N``), with the ``--n``
    build's ratio as information beside it (``"info": True``, never a failure)."""
    checks = []
    aug = results.get("audiomentations", {}).get("x_realtime_per_cpu_s")
    at_scale = any(name.startswith("synth@") for name in results)
    for name, result in results.items():
        if name != "synth" and not name.startswith("synth@"):
            continue
        synth = result["x_realtime_per_cpu_s"]
        checks.append(
            {
                "target": f"{name} >= {TARGET_RT:g}x real time per core",
                "value": synth,
                "pass": synth >= TARGET_RT,
            }
        )
        if aug:
            ratio = synth / aug
            check = {
                "target": f"{name} >= {TARGET_VS_AUDIOMENTATIONS:g}x audiomentations per core",
                "value": round(ratio, 2),
                "pass": ratio >= TARGET_VS_AUDIOMENTATIONS,
            }
            if name == "synth" and at_scale:
                check["info"] = True
                check["target"] = (
                    f"{name} ({result['clips']} clips, cold) vs audiomentations per core"
                )
            checks.append(check)
    return checks


def _table(results: dict[str, dict[str, Any]], checks: list[dict[str, Any]], args) -> str:
    aug = results.get("audiomentations", {})
    base = results.get("baseline", {})

    def ratio(r: dict[str, Any], ref: dict[str, Any], key: str) -> str:
        return f"{r[key] / ref[key]:.2f}x" if ref and r is not ref else ""

    lines = [
        f"Noisy speech, {args.n} clips of {CLIP_S[0]:g}-{CLIP_S[1]:g} s at {RATE} Hz, noise at "
        f"{'/'.join(f'{r / 1000:g}' for r in NOISE_RATES)} kHz, WAV; best of {args.repeat} "
        f"(warm-up {args.warmup}); x RT = seconds of audio per second",
        "",
        f"{'subject':<16} {'xRT/CPU-s':>10} {'xRT/wall-s':>11} {'ms/clip':>8} "
        f"{'vs aug CPU':>11} {'vs aug wall':>12} {'vs base CPU':>12} {'render xRT':>11}",
    ]
    for name, r in results.items():
        render = r.get("render_x_realtime_per_cpu_s")
        lines.append(
            f"{name:<16} {r['x_realtime_per_cpu_s']:>10.0f} {r['x_realtime_per_wall_s']:>11.0f} "
            f"{r['ms_per_clip_cpu']:>8.3f} {ratio(r, aug, 'x_realtime_per_cpu_s'):>11} "
            f"{ratio(r, aug, 'x_realtime_per_wall_s'):>12} "
            f"{ratio(r, base, 'x_realtime_per_cpu_s'):>12} "
            f"{'' if render is None else f'{render:.0f}':>11}"
        )
    lines += [
        "",
        "synth: cold whole build (prepare with every cache cleared + render + assemble + card",
        "pictures + NeMo manifest + catalog); synth-warm: the same with decoded inputs kept;",
        "synth@N: the cold build of N clips (--n-large), where the per-build costs weigh less.",
        "render xRT: synth's shard loop alone (sample, render, measure, write, sha256, manifest).",
        "ms/clip: CPU milliseconds per clip.",
        "",
    ]
    split = _cost_split(results)
    if split:
        aug_ms = aug.get("ms_per_clip_cpu") if aug else None
        lines.append(
            f"cold build cost: {split['per_build_cpu_s'] * 1000:.0f} ms per build + "
            f"{split['per_clip_cpu_ms']:.3f} ms per clip"
            + (
                f" (audiomentations: {aug_ms:.3f} ms per clip, "
                f"{aug_ms / split['per_clip_cpu_ms']:.2f}x)"
                if aug_ms
                else ""
            )
        )
        lines.append("")
    for c in checks:
        verdict = "INFO" if c.get("info") else ("PASS" if c["pass"] else "FAIL")
        lines.append(f"{verdict}  {c['target']}: {c['value']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="clips per timed run (default 1000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per subject; best is kept")
    ap.add_argument("--warmup", type=int, default=30, help="untimed clips per subject first")
    ap.add_argument("--corpus", type=int, default=300, help="distinct clean clips (default 300)")
    ap.add_argument(
        "--n-large",
        type=int,
        default=10000,
        help="also time a cold synth build of this many clips (default 10000; 0: skip)",
    )
    ap.add_argument(
        "--subjects",
        default="baseline,audiomentations,synth,synth-warm",
        help="comma-separated subset of baseline,audiomentations,synth,synth-warm",
    )
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument(
        "--scratch",
        help="where the data and outputs go (default: a temp dir on the RAM disk, see common.py)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = ap.parse_args(argv)
    if args.n < 1 or args.repeat < 1 or args.warmup < 0 or args.corpus < 1 or args.n_large < 0:
        ap.error("--n, --repeat and --corpus must be >= 1, --warmup and --n-large >= 0")
    wanted = [s.strip() for s in args.subjects.split(",") if s.strip()]
    known = {"baseline", "audiomentations", "synth", "synth-warm"}
    if not wanted or set(wanted) - known:
        ap.error(f"--subjects: choose from {', '.join(sorted(known))}")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr if args.json else sys.stdout, flush=True)

    try:
        return _run(args, wanted, log)
    except Exception as err:  # a benchmark reports; it never fails the caller (exit 0)
        traceback.print_exc()
        if args.json:
            print(json.dumps({"error": f"{type(err).__name__}: {err}"}, indent=2))
        else:
            print(f"\nERROR  the benchmark did not finish: {type(err).__name__}: {err}")
        return 0


def _run(args: argparse.Namespace, wanted: list[str], log: Callable[[str], None]) -> int:
    env = _environment()
    log(f"setup: {env['cpu']}, {env['cpus']} CPUs, load {env['loadavg_start']}")
    with scratch_dir("bench-speech-", args.scratch) as scratch:
        env["scratch_filesystem"] = filesystem_of(scratch)
        log(f"setup: writing to {env['scratch_filesystem']} ({scratch})")
        corpus_info = make_corpus(scratch / "clean", args.corpus, args.seed)
        noise_files = make_noise(scratch / "noise", args.seed)
        log(
            f"setup: {corpus_info['clips']} clean clips (mean {corpus_info['mean_s']} s), "
            f"{len(noise_files)} noise files"
        )
        factories = {
            "baseline": lambda: Baseline(scratch / "clean", scratch / "noise"),
            "audiomentations": lambda: Audiomentations(scratch / "clean", scratch / "noise"),
            "synth": lambda: Synth(scratch / "clean", scratch / "noise", cold=True),
            "synth-warm": lambda: Synth(scratch / "clean", scratch / "noise", cold=False),
        }
        subjects = [factories[name]() for name in wanted]
        if "synth" in wanted and args.n_large and args.n_large != args.n:
            subjects.append(
                Synth(scratch / "clean", scratch / "noise", cold=True, count=args.n_large)
            )
        runs = interleaved(
            subjects,
            args.n,
            args.repeat,
            args.warmup,
            args.seed,
            scratch,
            log,
            lambda t: f"{t.rt_cpu:8.0f}x RT per CPU-s {t.rt_wall:8.0f}x RT per wall-s",
        )
    results = {name: _best(r) for name, r in runs.items()}
    checks = _targets(results)
    print_report(
        args,
        env,
        results,
        checks,
        lambda: _table(results, checks, args),
        corpus=corpus_info,
        noise_files=noise_files,
        cold_build_cost=_cost_split(results),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
