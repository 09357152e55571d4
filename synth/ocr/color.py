"""Text colour chosen against the actual background for a minimum WCAG contrast ratio.

Contrast is taken against the background's worst case under the text: the 10th luminance
percentile for dark text, the 90th for light text, so a textured photo cannot hide the text.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

_LOW_PCT, _HIGH_PCT = 10, 90


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = c / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lin(c: float) -> float:
    c = c / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


_LIN_INT = [_lin(float(v)) for v in range(256)]  # the same values, looked up for 8-bit input


def relative_luminance(rgb: Any) -> float:
    """WCAG relative luminance of one sRGB colour (0-255 components), in [0, 1]."""
    r, g, b = rgb
    lin = [
        _LIN_INT[v] if isinstance(v, int) and 0 <= v <= 255 else _lin(float(v)) for v in (r, g, b)
    ]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(l1: float, l2: float) -> float:
    hi, lo = max(l1, l2), min(l1, l2)
    return (hi + 0.05) / (lo + 0.05)


# Per-channel luminance contributions of each 8-bit value: table look-ups and elementwise sums
# give the same float32 result for any array shape and any BLAS build (a matrix product did not).
_LIN8 = srgb_to_linear(np.arange(256, dtype=np.float32)).astype(np.float32)
_LUM_R = (_LIN8 * np.float32(0.2126)).astype(np.float32)
_LUM_G = (_LIN8 * np.float32(0.7152)).astype(np.float32)
_LUM_B = (_LIN8 * np.float32(0.0722)).astype(np.float32)


def _percentile_pair(values: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """numpy's default (linear) percentiles ``low`` and ``high`` with one partial sort."""
    n = values.size
    spots = []
    for q in (low, high):
        v = (n - 1) * (q / 100.0)
        k = math.floor(v)
        spots.append((k, v - k))
    part = np.partition(values, sorted({i for k, _ in spots for i in (k, min(k + 1, n - 1))}))
    out = []
    for k, g in spots:
        a, b = part[k], part[min(k + 1, n - 1)]
        diff = float(np.float32(b) - np.float32(a))
        out.append(float(b) - diff * (1 - g) if g >= 0.5 else float(a) + diff * g)
    return out[0], out[1]


def luminance_stats(region: Image.Image) -> dict[str, float]:
    """Luminance percentiles of a background region (sampled on a 2-px grid for speed)."""
    lum = _lum_u8(np.asarray(region)[::2, ::2].reshape(-1, 3))
    lo, hi = _percentile_pair(lum, _LOW_PCT, _HIGH_PCT)
    return {"p10": round(lo, 5), "p90": round(hi, 5)}


# R's and G's contributions summed for every (R, G) pair: two look-ups a pixel instead of three,
# with the same float32 sums in the same order, so the same results.
_LUM_RG = (_LUM_R[:, None] + _LUM_G[None, :]).astype(np.float32).reshape(-1)


def _lum_u8(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of uint8 RGB pixels (float32, the shape without its last axis)."""
    pair = rgb[..., 0].astype(np.uint16) << 8
    pair |= rgb[..., 1]
    out = _LUM_RG[pair]
    out += _LUM_B[rgb[..., 2]]
    return out


def _percentile_of_repeated(sorted_values: np.ndarray, repeat: int, q: float) -> float:
    """numpy's linear percentile of ``sorted_values`` with each value repeated ``repeat`` times."""
    n = sorted_values.size * repeat
    v = (n - 1) * (q / 100.0)
    k = math.floor(v)
    g = v - k
    a = sorted_values[k // repeat]
    b = sorted_values[min(k + 1, n - 1) // repeat]
    diff = float(np.float32(b) - np.float32(a))
    return float(b) - diff * (1 - g) if g >= 0.5 else float(a) + diff * g


def generated_luminance_stats(
    params: dict[str, Any], canvas: tuple[int, int], box: tuple[int, int, int, int]
) -> dict[str, float]:
    """``luminance_stats`` of a flat or gradient background's region, computed from its colours
    without drawing it (the same numbers: one row or column holds every value)."""
    from synth.ocr.backgrounds import gradient_line

    x0, y0, x1, y1 = box
    if params["kind"] == "flat":
        r, g, b = params["color"]
        v = float((_LUM_R[r] + _LUM_G[g]) + _LUM_B[b])  # float32 scalars: as ``_lum_u8``
        return {"p10": round(v, 5), "p90": round(v, 5)}
    line = gradient_line(params, canvas)
    if params["vertical"]:
        values, repeat = line[y0:y1:2], len(range(x0, x1, 2))
    else:
        values, repeat = line[x0:x1:2], len(range(y0, y1, 2))
    ordered = np.sort(_lum_u8(values))
    lo = _percentile_of_repeated(ordered, repeat, _LOW_PCT)
    hi = _percentile_of_repeated(ordered, repeat, _HIGH_PCT)
    return {"p10": round(lo, 5), "p90": round(hi, 5)}


def _mix(base: list[int], target: float, towards: float) -> list[int]:
    """Blend ``base`` toward black (0) or white (255) until its luminance is ``target``.

    Bisection on the blend fraction; each step takes the luminance of the rounded 8-bit colour
    from the table, with the same arithmetic as ``relative_luminance``.
    """
    lo, hi = 0.0, 1.0
    r, g, b = (float(v) for v in base)
    lin = _LIN_INT
    darken = towards == 0.0
    for _ in range(20):
        t = (lo + hi) / 2
        s = 1 - t
        lum = (
            0.2126 * lin[round(r * s + towards * t)]
            + 0.7152 * lin[round(g * s + towards * t)]
            + 0.0722 * lin[round(b * s + towards * t)]
        )
        if (lum > target) == darken:
            lo = t
        else:
            hi = t
    return [round(v * (1 - hi) + towards * hi) for v in (r, g, b)]


# Pen and print inks (sRGB): black, carbon grey, blue-black, ballpoint blue, royal blue, red,
# green; each drawn with a little spread.
INKS = (
    (20, 20, 22),
    (70, 70, 74),
    (28, 36, 72),
    (20, 40, 140),
    (40, 70, 190),
    (180, 30, 40),
    (30, 110, 60),
)


def sample_text_color(
    stats: dict[str, float], min_ratio: float, rng: np.random.Generator, ink: bool = False
) -> dict[str, Any] | None:
    """Draw a text colour whose contrast with the background's worst case is >= ``min_ratio``.

    The base colour is any sRGB colour, or with ``ink`` a pen or print ink (``INKS``, spread by
    up to 12 levels a channel) as on paper; either is then darkened or lightened as needed.
    Returns None when neither dark nor light text can reach it on this background.
    """
    dark_max = (stats["p10"] + 0.05) / min_ratio - 0.05  # luminance ceiling for dark text
    light_min = min_ratio * (stats["p90"] + 0.05) - 0.05  # luminance floor for light text
    options = []
    if dark_max >= 0.0:
        options.append("dark")
    if light_min <= 1.0:
        options.append("light")
    if not options:
        return None
    ink = ink and "dark" in options
    if ink:
        polarity = "dark"  # inks are dark: light text on paper is not ink
        tone = INKS[int(rng.integers(len(INKS)))]
        spread = rng.integers(-12, 13, size=3)
        base = [int(min(255, max(0, c + int(d)))) for c, d in zip(tone, spread, strict=True)]
    else:
        polarity = options[int(rng.integers(len(options)))]
        base = rng.integers(0, 256, size=3).tolist()  # ints: luminance from the 8-bit table
    if polarity == "dark":
        target = float(rng.uniform(0.0, dark_max))
        rgb = (
            _mix(base, target, 0.0) if relative_luminance(base) > target else [int(v) for v in base]
        )
        ratio = contrast_ratio(relative_luminance(rgb), stats["p10"])
    else:
        target = float(rng.uniform(light_min, 1.0))
        rgb = (
            _mix(base, target, 255.0)
            if relative_luminance(base) < target
            else [int(v) for v in base]
        )
        ratio = contrast_ratio(relative_luminance(rgb), stats["p90"])
    if ratio < min_ratio:  # rounding to 8-bit can cost a hair: fall back to the extreme
        rgb = [0, 0, 0] if polarity == "dark" else [255, 255, 255]
        ref = stats["p10"] if polarity == "dark" else stats["p90"]
        ratio = contrast_ratio(relative_luminance(rgb), ref)
    return {"rgb": rgb, "polarity": polarity, "contrast_ratio": round(ratio, 3), "ink": ink}
