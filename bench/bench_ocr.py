"""OCR throughput: synth's ``clean``, ``default`` and ``document`` presets beside a minimal Pillow
baseline.

Both sides run in the same process, interleaved, on the same machine and disk:

* **baseline** - one line of ~30 characters (words from Faker's English word list) drawn with
  ``ImageDraw.text`` in a preloaded TTF (embedded DejaVuSans) on a random crop of a preloaded
  embedded background photo, black or white by the crop's mean grey, saved as JPEG (q90) to disk.
  Nothing else: no labels, no hashes, no manifest.
* **synth** - a real build through the engine (``synth.engine.build.build``, one worker, a SQLite
  catalog in a temporary home): every sample is drawn, rendered, written, hashed, its recipe and
  outputs go into the shard manifests, then the folder is assembled (metadata, recipes,
  statistics, content id), the card and preview are written and the version is registered.
  ``default`` draws documents (paper, forms, receipts, scans) for ~45% of its backgrounds and
  ``document`` for all; both measure every line's legibility on the final image and redraw
  the lines under their floor, so their rates include those redraws.

The timed rate is images per CPU-second (``time.process_time``) and per wall-second
(``time.perf_counter``) for ``--n`` images, best of ``--repeat`` runs, after a warm-up of
``--warmup`` images on each side. One-time setup happens before the warm-up and is never timed:
on both sides the fonts are opened at every size the run can draw and the photos are decoded
(for synth: the generator of the shard loop, with Faker and its font pool). For synth,
``render`` is the shard loop alone (sample, render, write, sha256, manifest) and ``build`` adds
the finish (assemble, card, catalog).
The targets are checked on the ``build`` CPU rate, the stricter of the two.

Run:  python bench/bench_ocr.py [--n 2000] [--repeat 3] [--presets clean,default,document] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import (
    Clock,
    disk_usage,
    filesystem_of,
    interleaved,
    machine,
    print_report,
    scratch_dir,
)

# Targets from the issue: images per CPU-second on one core, and the ratio to the baseline.
TARGET_RATE = {"clean": 300.0, "default": 150.0}
TARGET_RATIO = {"clean": 0.7}

BASELINE_FONT = "DejaVuSans.ttf"
BASELINE_SIZES = (28, 48)  # px, the clean preset's range
BASELINE_PAD = (6, 16)  # px
BASELINE_CHARS = (28, 34)  # aim for ~30 characters
BASELINE_QUALITY = 90


# -- timing -----------------------------------------------------------------------------------
@dataclasses.dataclass
class Timing:
    n: int
    cpu_s: float
    wall_s: float

    @property
    def cpu_rate(self) -> float:
        return self.n / self.cpu_s if self.cpu_s > 0 else float("inf")

    @property
    def wall_rate(self) -> float:
        return self.n / self.wall_s if self.wall_s > 0 else float("inf")

    def to_json(self) -> dict[str, float]:
        return {
            "n": self.n,
            "cpu_s": round(self.cpu_s, 4),
            "wall_s": round(self.wall_s, 4),
            "images_per_cpu_s": round(self.cpu_rate, 2),
            "images_per_wall_s": round(self.wall_rate, 2),
        }


# -- the Pillow baseline ----------------------------------------------------------------------
class Baseline:
    """The minimal hand-written pipeline; assets are loaded once in ``__init__``."""

    name = "baseline"

    def __init__(self) -> None:
        from faker.providers.lorem.en_US import Provider as Lorem
        from PIL import Image, ImageDraw, ImageFont

        from synth.assets import embedded_dir

        self._Image, self._ImageDraw = Image, ImageDraw
        path = str(embedded_dir("fonts") / BASELINE_FONT)
        lo, hi = BASELINE_SIZES
        self.fonts = {s: ImageFont.truetype(path, s) for s in range(lo, hi + 1)}
        self.photos = []
        for p in sorted(embedded_dir("backgrounds").iterdir()):
            if p.suffix.lower() in {".jpg", ".jpeg", ".png"}:
                with Image.open(p) as im:
                    self.photos.append(im.convert("RGB"))
        self.words = list(Lorem.word_list)

    def _text(self, rnd: random.Random) -> str:
        words: list[str] = []
        length = -1
        while length < BASELINE_CHARS[0]:
            w = rnd.choice(self.words)
            words.append(w)
            length += len(w) + 1
        return " ".join(words)[: BASELINE_CHARS[1]].rstrip()

    def render_one(self, rnd: random.Random, path: Path) -> int:
        Image, ImageDraw = self._Image, self._ImageDraw
        text = self._text(rnd)
        font = self.fonts[rnd.randint(*BASELINE_SIZES)]
        pad = rnd.randint(*BASELINE_PAD)
        x0, y0, x1, y1 = font.getbbox(text)
        w, h = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
        photo = self.photos[rnd.randrange(len(self.photos))]
        pw, ph = photo.size
        scale = min(1.0, pw / w, ph / h)  # crop at the canvas size, or the largest crop that fits
        cw, ch = max(1, int(w * scale)), max(1, int(h * scale))
        cx, cy = rnd.randint(0, pw - cw), rnd.randint(0, ph - ch)
        image = photo.crop((cx, cy, cx + cw, cy + ch))
        if (cw, ch) != (w, h):
            image = image.resize((w, h), Image.Resampling.BILINEAR)
        grey = image.convert("L").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        fill = (0, 0, 0) if grey >= 128 else (255, 255, 255)
        ImageDraw.Draw(image).text((pad - x0, pad - y0), text, fill=fill, font=font)
        image.save(path, "JPEG", quality=BASELINE_QUALITY)
        return w * h

    def run(self, n: int, seed: int, out: Path) -> tuple[Timing, dict[str, Any]]:
        out.mkdir(parents=True, exist_ok=True)
        rnd = random.Random(seed)
        paths = [out / f"{i:09d}.jpg" for i in range(n)]
        pixels = 0
        with Clock() as c:
            for path in paths:
                pixels += self.render_one(rnd, path)
        extra = {
            "mean_kpixels": round(pixels / n / 1000, 2),
            "dataset_mb": round(disk_usage(out) / 1e6, 2),
        }
        return Timing(n, c.cpu_s, c.wall_s), extra


# -- synth through the engine -----------------------------------------------------------------
class SynthPreset:
    """One preset built through ``synth.engine.build.build`` with one worker."""

    def __init__(self, preset: str) -> None:
        from synth.engine.build import prepare
        from synth.ocr.spec import build_spec

        self.name = preset
        spec = build_spec(preset).model_dump(mode="json")
        # prepare() validates the spec and builds a generator (fonts, photos, Faker): untimed.
        with tempfile.TemporaryDirectory(prefix="synth-bench-") as home:
            self.plan, self.gen = prepare(
                "ocr", spec, seed=0, count=1, name=f"bench-{preset}", home=home
            )

    def preload(self) -> None:
        """Open every font at every size the spec can draw, in the generator the shard loop
        uses (``build`` hands the prepared one to in-process shards), as the baseline preloads
        its sizes."""
        gen: Any = self.gen
        lo, hi = self.plan.spec["fonts"]["size_px_range"]
        for font in gen.fonts.fonts:
            for size in range(lo, hi + 1):
                font.get(size, "basic")

    def run(self, n: int, seed: int, out: Path) -> tuple[Timing, dict[str, Any]]:
        from synth.catalog import open_catalog
        from synth.engine.build import build

        plan = dataclasses.replace(self.plan, seed=seed, count=n, home=str(out))
        catalog = open_catalog(out)
        render = {"cpu_s": 0.0, "wall_s": 0.0, "depth": 0}

        def time_shards(pool: Any) -> None:
            # With one worker, the pool renders a shard in this process before submit() or run()
            # returns: time the outermost of those calls (one may call the other).
            def timed(method: Callable[..., Any]) -> Callable[..., Any]:
                def call(*args: Any, **kwargs: Any) -> Any:
                    render["depth"] += 1
                    try:
                        with Clock() as c:
                            return method(*args, **kwargs)
                    finally:
                        render["depth"] -= 1
                        if render["depth"] == 0:
                            render["cpu_s"] += c.cpu_s
                            render["wall_s"] += c.wall_s

                return call

            for name in ("submit", "run"):
                if hasattr(pool, name):
                    setattr(pool, name, timed(getattr(pool, name)))

        try:
            with Clock() as c:
                result = build(plan, self.gen, catalog, workers=1, on_pool=time_shards)
        finally:
            catalog.close()
        if result.rendered_shards != len(plan.shards()):
            raise RuntimeError(f"expected a fresh build, got {result}")
        files = sum(1 for _ in (plan.out_dir).glob("shard-*/*"))
        if files != n:
            raise RuntimeError(f"{self.name}: {files} sample files written, expected {n}")
        with open(plan.out_dir / "metadata.jsonl", encoding="utf-8") as f:
            pixels = sum(row["width"] * row["height"] for row in map(json.loads, f))
        if render["cpu_s"] <= 0:
            raise RuntimeError("the shard loop was not timed: has ShardPool changed?")
        extra = {
            "render": Timing(n, render["cpu_s"], render["wall_s"]).to_json(),
            "mean_kpixels": round(pixels / n / 1000, 2),
            "finish_cpu_s": round(c.cpu_s - render["cpu_s"], 4),
            "dataset_mb": round(disk_usage(plan.out_dir) / 1e6, 2),
        }
        return Timing(n, c.cpu_s, c.wall_s), extra


# -- driver -----------------------------------------------------------------------------------
def _environment() -> dict[str, Any]:
    import numpy
    import PIL
    from PIL import features

    from synth.version import code_version

    return {
        "synth": code_version(),
        **machine(),
        "pillow": PIL.__version__,
        "numpy": numpy.__version__,
        "libjpeg_turbo": bool(features.check_feature("libjpeg_turbo")),
        "raqm": bool(features.check("raqm")),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }


def _best(runs: list[tuple[Timing, dict[str, Any]]]) -> dict[str, Any]:
    timings = [t for t, _ in runs]
    best_cpu = max(t.cpu_rate for t in timings)
    best_wall = max(t.wall_rate for t in timings)
    out: dict[str, Any] = {
        "images_per_cpu_s": round(best_cpu, 2),
        "images_per_wall_s": round(best_wall, 2),
        "ms_per_image_cpu": round(1000.0 / best_cpu, 3),
        "median_images_per_cpu_s": round(statistics.median(t.cpu_rate for t in timings), 2),
        "median_images_per_wall_s": round(statistics.median(t.wall_rate for t in timings), 2),
        "runs": [{**t.to_json(), **extra} for t, extra in runs],
    }
    sizes = [extra["mean_kpixels"] for _, extra in runs if "mean_kpixels" in extra]
    if sizes:
        out["mean_kpixels"] = round(sum(sizes) / len(sizes), 2)
    mbs = [extra["dataset_mb"] for _, extra in runs if "dataset_mb" in extra]
    if mbs:
        out["mean_kb_per_image"] = round(1000 * sum(mbs) / len(mbs) / timings[0].n, 2)
    renders = [extra["render"] for _, extra in runs if "render" in extra]
    if renders:
        out["render_images_per_cpu_s"] = max(r["images_per_cpu_s"] for r in renders)
        out["render_images_per_wall_s"] = max(r["images_per_wall_s"] for r in renders)
    return out


def _targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    checks = []
    base = results.get("baseline", {}).get("images_per_cpu_s")
    for preset, goal in TARGET_RATE.items():
        if preset in results:
            got = results[preset]["images_per_cpu_s"]
            checks.append(
                {
                    "target": f"{preset} >= {goal:g} images/s per core",
                    "value": got,
                    "pass": got >= goal,
                }
            )
    for preset, goal in TARGET_RATIO.items():
        if preset in results and base:
            got = results[preset]["images_per_cpu_s"] / base
            checks.append(
                {
                    "target": f"{preset} >= {goal:g}x baseline (per core)",
                    "value": round(got, 3),
                    "pass": got >= goal,
                }
            )
    return checks


def _table(results: dict[str, dict[str, Any]], checks: list[dict[str, Any]], args) -> str:
    base = results.get("baseline", {})
    lines = [
        f"OCR throughput, {args.n} images, best of {args.repeat} "
        f"(warm-up {args.warmup}); rates in images/s",
        "",
        f"{'subject':<10} {'per CPU-s':>10} {'per wall-s':>11} {'ms/img CPU':>11} "
        f"{'render CPU':>11} {'vs base CPU':>12} {'vs base wall':>13} {'kpx/img':>8} "
        f"{'KB/img':>7}",
    ]
    for name, r in results.items():
        render = r.get("render_images_per_cpu_s")
        cpu_ratio = wall_ratio = ""
        if name != "baseline" and base:
            cpu_ratio = f"{r['images_per_cpu_s'] / base['images_per_cpu_s']:.2f}x"
            wall_ratio = f"{r['images_per_wall_s'] / base['images_per_wall_s']:.2f}x"
        lines.append(
            f"{name:<10} {r['images_per_cpu_s']:>10.1f} {r['images_per_wall_s']:>11.1f} "
            f"{r['ms_per_image_cpu']:>11.3f} {'' if render is None else f'{render:.1f}':>11} "
            f"{cpu_ratio:>12} {wall_ratio:>13} {r.get('mean_kpixels', 0):>8.1f} "
            f"{r.get('mean_kb_per_image', 0):>7.1f}"
        )
    lines += [
        "",
        "per CPU-s / per wall-s: synth = whole build (render + assemble + card + catalog);",
        "render CPU: synth's shard loop alone (sample, render, write, sha256, manifest).",
        "kpx/img: mean image area in thousands of pixels; KB/img: disk use per image",
        "(synth's includes its manifests, metadata, recipes and card).",
        "",
    ]
    for c in checks:
        lines.append(f"{'PASS' if c['pass'] else 'FAIL'}  {c['target']}: {c['value']}")
    env = args.environment
    load = max((env.get("loadavg_start") or [0])[0], (env.get("loadavg_end") or [0])[0])
    if env.get("cpus") and load > 0.5 * env["cpus"]:
        lines.append(
            f"\nnote: load average {load:.1f} on {env['cpus']} CPUs: other processes competed; "
            "wall rates are unreliable and CPU rates may be pessimistic."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="images per timed run (default 2000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per subject; best is kept")
    ap.add_argument("--warmup", type=int, default=200, help="untimed images per subject first")
    ap.add_argument(
        "--presets", default="clean,default,document", help="comma-separated synth presets"
    )
    ap.add_argument("--no-baseline", action="store_true", help="skip the Pillow baseline")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument(
        "--scratch",
        help="where images are written (default: a temp dir on the RAM disk, see common.py)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = ap.parse_args(argv)
    if args.n < 1 or args.repeat < 1 or args.warmup < 0:
        ap.error("--n and --repeat must be >= 1, --warmup >= 0")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr if args.json else sys.stdout, flush=True)

    # Never touch a real catalog or send lineage events from a benchmark.
    for var in ("SYNTH_CATALOG_URL", "SYNTH_OPENLINEAGE_URL", "SYNTH_HOME"):
        os.environ.pop(var, None)
    env = _environment()
    log(f"setup: loading assets ({env['cpu']}, {env['cpus']} CPUs, load {env['loadavg_start']})")
    subjects: list[Any] = [] if args.no_baseline else [Baseline()]
    subjects += [SynthPreset(p.strip()) for p in args.presets.split(",") if p.strip()]

    for s in subjects:
        if hasattr(s, "preload"):
            s.preload()
    with scratch_dir("bench-ocr-", args.scratch) as scratch:
        env["scratch_filesystem"] = filesystem_of(scratch)
        log(f"setup: writing to {env['scratch_filesystem']} ({scratch})")
        runs = interleaved(
            subjects,
            args.n,
            args.repeat,
            args.warmup,
            args.seed,
            scratch,
            log,
            lambda t: f"{t.cpu_rate:7.1f} img/CPU-s {t.wall_rate:7.1f} img/wall-s",
        )
    results = {name: _best(r) for name, r in runs.items()}
    checks = _targets(results)
    args.environment = env
    print_report(args, env, results, checks, lambda: _table(results, checks, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
