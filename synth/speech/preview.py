"""A preview picture for the dataset card: spectrograms of the first mixes with their labels."""

from __future__ import annotations

import io
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
    frames = sliding_window_view(x.astype(np.float32, copy=False), N_FFT)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(N_FFT).astype(np.float32), axis=1)) ** 2
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
    """PNG bytes: for each of the first ``count`` rows, a caption and the mix's spectrogram."""
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
    sheet.save(buf, format="PNG")
    return buf.getvalue()
