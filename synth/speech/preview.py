"""Preview pictures for the dataset card: spectrograms of the first mixes with their labels, and
a histogram of the achieved SNR over every mix (drawn with Pillow)."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageDraw, ImageFont

from synth.speech.audio_io import read_audio, to_mono

N_FFT = 512
HOP_S = 0.01
RANGE_DB = 60.0
"""The spectrogram shows the loudest 60 dB of each clip."""
_WIDTH, _HEIGHT, _CAPTION = 720, 128, 16


def spectrogram_db(x: np.ndarray, rate_hz: int) -> np.ndarray:
    """Power spectrogram in dB (frequency bins x 10 ms frames, Hann window of 512 samples)."""
    hop = max(1, round(HOP_S * rate_hz))
    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    # In float64: numpy's float32 FFT takes about six times as long.
    frames = sliding_window_view(x.astype(np.float64, copy=False), N_FFT)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(N_FFT), axis=1)) ** 2
    return 10.0 * np.log10(power.T + 1e-12)


def _panel(x: np.ndarray, rate_hz: int) -> Image.Image:
    db = spectrogram_db(x, rate_hz)
    top = float(db.max())
    grey = np.clip((db - (top - RANGE_DB)) / RANGE_DB, 0.0, 1.0)
    pixels = (255 * (1.0 - grey[::-1])).astype(
        np.uint8
    )  # low frequencies at the bottom, dark = loud
    return Image.fromarray(pixels, mode="L").resize((_WIDTH, _HEIGHT), Image.Resampling.BILINEAR)


def contact_sheet(out_dir: Path, rows: Iterable[dict[str, Any]], count: int = 6) -> bytes:
    """JPEG bytes: for each of the first ``count`` rows, a caption and the mix's spectrogram."""
    font = ImageFont.load_default()
    panels: list[tuple[str, Image.Image]] = []
    for row in rows:
        if len(panels) == count:
            break
        data, rate = read_audio(out_dir / row["file_name"])
        snr = row.get("snr_db")
        caption = (
            f"{row['file_name']} | {row.get('noise_kind', '?')} | SNR "
            f"{'n/a' if snr is None else f'{snr:.1f}'} dB ({row.get('snr_reference', '?')}) | "
            f"{row.get('text', '')}"
        )
        panels.append((caption[:110], _panel(to_mono(data), rate)))
    sheet = Image.new("L", (_WIDTH, max(1, len(panels)) * (_HEIGHT + _CAPTION)), 255)
    draw = ImageDraw.Draw(sheet)
    for i, (caption, panel) in enumerate(panels):
        y = i * (_HEIGHT + _CAPTION)
        draw.text((2, y + 2), caption, fill=0, font=font)
        sheet.paste(panel, (0, y + _CAPTION))
    buf = io.BytesIO()
    # JPEG, as the OCR contact sheet: a spectrogram is photo-like (a PNG of it is 2.5 times
    # the size and takes ten times as long to encode).
    sheet.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


HIST_SIZE = (720, 240)
"""Width and height of the SNR histogram in pixels."""
_BUCKET_DB = 0.1
_BIN_WIDTHS_DB = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
_MAX_BINS = 40
_MIN_BINS = 10


class SnrCounts:
    """Achieved SNR values counted in 0.1 dB buckets (memory bounded by the range, not the
    number of mixes); ``missing`` counts mixes without a finite SNR."""

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.missing = 0
        self.total = 0

    def add(self, value: float | None) -> None:
        self.total += 1
        if value is None or not math.isfinite(value):
            self.missing += 1
            return
        k = math.floor(round(float(value) / _BUCKET_DB, 6))
        self.buckets[k] = self.buckets.get(k, 0) + 1

    @property
    def counted(self) -> int:
        return self.total - self.missing


def histogram_bins(counts: SnrCounts) -> tuple[float, int, list[int]]:
    """The display bins of ``counts``: (width in dB, index of the first bin, counts per bin),
    the width being the smallest of 0.5, 1, 2, 5, 10, 20, 50 dB that needs at most
    ``clip(2 * ceil(sqrt(n)), 10, 40)`` bins for ``n`` values.
    Bin ``i`` covers ``[(first + i) * width, (first + i + 1) * width)``."""
    if not counts.buckets:
        return 1.0, 0, []
    lo, hi = min(counts.buckets), max(counts.buckets)
    most = min(_MAX_BINS, max(_MIN_BINS, 2 * math.ceil(math.sqrt(counts.counted))))
    for width in _BIN_WIDTHS_DB:
        per = round(width / _BUCKET_DB)
        first, last = lo // per, hi // per
        if last - first + 1 <= most:
            break
    bins = [0] * (last - first + 1)
    for k, n in counts.buckets.items():
        bins[k // per - first] += n
    return width, first, bins


def _fmt_db(value: float) -> str:
    return f"{value:g}"


def snr_histogram(
    counts: SnrCounts, reference: str = "", requested: tuple[float, float] | None = None
) -> bytes:
    """PNG bytes (``HIST_SIZE``): the histogram of the achieved SNR, with the requested range
    marked by dotted lines when given."""
    width_px, height_px = HIST_SIZE
    font = ImageFont.load_default()
    image = Image.new("L", HIST_SIZE, 255)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 48, width_px - 12, 22, height_px - 30
    ref = f" ({reference})" if reference else ""
    title = f"achieved SNR{ref}, dB: {counts.counted} mixes"
    if counts.missing:
        title += f", {counts.missing} without a finite SNR"
    draw.text((left, 4), title, fill=0, font=font)
    draw.line([(left, bottom), (right, bottom)], fill=0)
    draw.line([(left, top), (left, bottom)], fill=0)
    width, first, bins = histogram_bins(counts)
    if bins:
        lo_db, hi_db = first * width, (first + len(bins)) * width
        if requested is not None:  # widen the axis to show the requested range too
            lo_db = min(lo_db, math.floor(requested[0] / width) * width)
            hi_db = max(hi_db, math.ceil(requested[1] / width) * width)
            if hi_db - lo_db < width:
                hi_db = lo_db + width
        span = hi_db - lo_db

        def x_of(db: float) -> int:
            return left + round((db - lo_db) / span * (right - left))

        peak = max(bins)
        for i, n in enumerate(bins):
            if n == 0:
                continue
            x0, x1 = x_of((first + i) * width), x_of((first + i + 1) * width)
            y = min(bottom - 1, bottom - round(n / peak * (bottom - top)))  # tiny bins: 1 px
            draw.rectangle([(x0 + 1, y), (max(x0 + 1, x1 - 1), bottom - 1)], fill=90, outline=0)
        draw.text((4, top - 4), str(peak), fill=0, font=font)
        draw.text((4, bottom - 10), "0", fill=0, font=font)
        step = width * max(1, -(-round(span / width) // 8))  # at most ~8 tick labels
        tick = math.ceil(lo_db / step) * step
        while tick <= hi_db + 1e-9:
            x = x_of(tick)
            draw.line([(x, bottom), (x, bottom + 4)], fill=0)
            label = _fmt_db(round(float(tick), 6))
            draw.text((x - 3 * len(label), bottom + 6), label, fill=0, font=font)
            tick += step
        if requested is not None:
            for db in requested:
                x = x_of(db)
                for y in range(top, bottom, 6):
                    draw.line([(x, y), (x, y + 2)], fill=0)
    else:
        draw.text((left + 8, (top + bottom) // 2), "no finite SNR to show", fill=0, font=font)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
