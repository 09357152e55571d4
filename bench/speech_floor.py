"""The per-clip work of a noisy-speech build alone, in a bare loop, stage by stage.

What ``bench_speech.py``'s synth subject must do for every clip, without the engine around it
(no recipes, statistics, assembly, card or catalog; inputs decoded, measured and indexed before
the clock starts): each stage adds one step to the loop, and the CPU milliseconds per clip of
each cumulative loop are printed.

1. draw: the sample's generator, a clean clip, a noise file and offset, SNR and level, the
   noise crop's energy and peak from the block index, the speech-noise cross product;
2. quantise: speech and noise to 16-bit steps, their sum, the mix's peak;
3. measure: the P.56-style active level of the written target, the RMS of noise and mix;
4. encode + hash: the WAV bytes and their SHA-256;
5. write: the file;
6. manifest: one canonical JSON line of about the size of a real record.

It is the floor of synth's shard loop on this machine: with per-build costs on top, a build
cannot be faster than this.

Run:  python bench/speech_floor.py [--n 1000] [--corpus 300]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

import numpy as np
from bench_speech import make_corpus, make_noise
from common import scratch_dir

STAGES = ("draw", "quantise", "measure", "encode + hash", "write", "manifest")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="clips per timed loop (default 1000)")
    ap.add_argument("--corpus", type=int, default=300, help="distinct clean clips (default 300)")
    ap.add_argument("--repeat", type=int, default=3, help="timed loops per stage; best is kept")
    args = ap.parse_args(argv)

    from synth.hashing import canonical_json
    from synth.rng import sample_rng
    from synth.speech.audio_io import encode_wav16, load_audio, quantise_steps
    from synth.speech.level import measure_speech, rms
    from synth.speech.mix import NoiseIndex, _peak

    with scratch_dir("speech-floor-", None) as scratch:
        make_corpus(scratch / "clean", args.corpus, 1234)
        make_noise(scratch / "noise", 1234)
        cleans = [load_audio(p) for p in sorted((scratch / "clean").glob("*.wav"))]
        levels = [measure_speech(x, 16000).active.level for x in cleans]
        peaks = [_peak(x) for x in cleans]
        noises = [load_audio(p) for p in sorted((scratch / "noise").glob("*.wav"))]
        index = [NoiseIndex.of(b) for b in noises]
        out = scratch / "out"
        out.mkdir()

        def loop(n: int, stages: int) -> float:
            start = time.process_time()
            for i in range(n):
                rng = sample_rng(1, i)
                c = int(rng.integers(len(cleans)))
                x = cleans[c]
                k = int(rng.integers(len(noises)))
                buf = noises[k]
                off = int(rng.integers(0, buf.size - x.size + 1))
                seg = buf[off : off + x.size]
                energy = index[k].energy(buf, off, off + x.size)
                noise_peak = index[k].peak(buf, off, off + x.size)
                snr, level = rng.uniform(0.0, 20.0), rng.uniform(-35.0, -15.0)
                cross = float(np.einsum("i,i->", x, seg))
                gain = 10.0 ** (level / 20.0) / levels[c]
                noise_gain = gain * levels[c] / 10.0 ** (snr / 20.0) / np.sqrt(energy / x.size)
                scale = min(1.0, 0.9 / (gain * peaks[c] + noise_gain * noise_peak))
                if stages < 2:
                    continue
                target = quantise_steps(x, np.float32(gain * scale), saturate=False)
                noise = quantise_steps(seg, np.float32(noise_gain * scale), saturate=False)
                mix = target + noise
                top, bottom = float(mix.max()), float(mix.min())
                if stages < 3:
                    continue
                m = measure_speech(target, 16000)
                noise_rms, mix_rms = rms(noise), rms(mix)
                if stages < 4:
                    continue
                data = encode_wav16(mix.astype(np.int16), 16000)
                digest = hashlib.sha256(data).hexdigest()
                if stages < 5:
                    continue
                fd = os.open(out / f"{i:09d}.wav", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
                os.write(fd, data)
                os.close(fd)
                if stages < 6:
                    continue
                canonical_json(
                    {
                        "files": [[f"{i:09d}.wav", digest, len(data)]],
                        "index": i,
                        "outputs": {
                            "level": m.active.level,
                            "activity": m.active.activity,
                            "noise_rms": noise_rms,
                            "mix_rms": mix_rms,
                            "peak": max(top, -bottom),
                        },
                        "recipe": {
                            "clean": {"id": f"clip{c:05d}", "sha256": "0" * 64},
                            "noises": [{"id": f"noise{k}", "offset": off, "gain": noise_gain}],
                            "snr_db": snr,
                            "level_dbfs": level,
                            "clean_gain": gain,
                            "peak_scale": scale,
                            "cross": cross,
                        },
                        "row": {"file_name": f"{i:09d}.wav", "text": "a transcript " * 6},
                    }
                )
            return time.process_time() - start

        print(f"{args.n} clips of {sum(x.size for x in cleans) / len(cleans) / 16000:.2f} s")
        for stage, name in enumerate(STAGES, start=1):
            loop(min(100, args.n), stage)  # warm-up
            best = min(loop(args.n, stage) for _ in range(args.repeat))
            print(f"  + {name:<14} {1000 * best / args.n:6.3f} ms per clip (CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
