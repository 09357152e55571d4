"""Legibility measured on the final image: the WCAG contrast of each character against the
background right around it, after every effect (geometry, blur, noise, JPEG).

Under each character's box, the ink is the pixels the text covers (weighted by coverage
squared, so anti-aliased rims count little) and the background is the pixels it leaves
untouched, one pixel away from any ink (blur's halo belongs to neither). A textured background
counts against the text: its reference luminance is one standard deviation nearer the ink than
its mean, so brick behind a thin script scores lower than plain paper. The cost is a few
array passes over the line's pixels and one small slice sum per character.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synth.ocr.color import _lum_u8

# How many background standard deviations toward the ink the reference moves (see above).
TEXTURE_PENALTY_STD = 1.0


def _dilate1(mask: np.ndarray) -> np.ndarray:
    """A boolean mask grown by one pixel in the 8 directions."""
    out = mask.copy()
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    grown = out.copy()
    grown[:, 1:] |= out[:, :-1]
    grown[:, :-1] |= out[:, 1:]
    return grown


def char_contrasts(
    image: np.ndarray, coverage: np.ndarray, boxes: list[list[int]]
) -> list[float | None]:
    """The contrast ratio (1-21) of the ink in each box ``[x0, y0, x1, y1]`` (x1, y1 exclusive)
    of ``image`` (uint8 RGB, h x w x 3) against the background in the same box; ``coverage`` is
    the text's coverage (uint8, h x w, 255 = fully inked). None for a box without ink."""
    if not boxes:
        return []
    b = np.asarray(boxes, dtype=np.int64)
    # Work on the rows and columns the boxes span only.
    x0, y0 = int(b[:, 0].min()), int(b[:, 1].min())
    x1, y1 = int(b[:, 2].max()), int(b[:, 3].max())
    lum = _lum_u8(image[y0:y1, x0:x1])
    m = coverage[y0:y1, x0:x1].astype(np.float32) * np.float32(1.0 / 255.0)
    h, w = m.shape
    # Five planes summed under each box: ink weight, ink-weighted luminance, background weight,
    # background-weighted luminance and its square. A slice sum per box costs less than a
    # summed-area table for lines of a few dozen characters.
    planes = np.empty((5, h, w), dtype=np.float32)
    np.multiply(m, m, out=planes[0])
    np.multiply(planes[0], lum, out=planes[1])
    planes[2] = ~_dilate1(m > 0)
    np.multiply(planes[2], lum, out=planes[3])
    np.multiply(planes[3], lum, out=planes[4])
    sums = np.empty((len(b), 5), dtype=np.float64)
    for k, (bx0, by0, bx1, by1) in enumerate((b - (x0, y0, x0, y0)).tolist()):
        sums[k] = planes[:, by0:by1, bx0:bx1].sum(axis=(1, 2), dtype=np.float64)
    # A box with no background of its own (a fully inked cell) uses the line's background.
    no_bg = sums[:, 2] < 1.0
    if no_bg.any():
        sums[no_bg, 2:] = planes[2:].sum(axis=(1, 2), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ink = sums[:, 1] / sums[:, 0]
        bg = sums[:, 3] / sums[:, 2]
        var = np.maximum(sums[:, 4] / sums[:, 2] - bg * bg, 0.0)
    spread = TEXTURE_PENALTY_STD * np.sqrt(var)
    dark_ink = ink < bg
    ref = np.where(dark_ink, np.maximum(bg - spread, ink), np.minimum(bg + spread, ink))
    hi = np.maximum(ink, ref)
    lo = np.minimum(ink, ref)
    ratio = (hi + 0.05) / (lo + 0.05)
    has_ink = sums[:, 0] > 1e-9
    return [
        float(r) if ok and np.isfinite(r) else None for r, ok in zip(ratio, has_ink, strict=True)
    ]


def measure(image: np.ndarray, coverage: np.ndarray, outputs: dict[str, Any]) -> dict[str, Any]:
    """The worst character's contrast of a rendered line, with what was measured: character
    boxes where the layout has them, else word boxes, else the line box. A line with no
    measurable ink scores 1.0 (no contrast)."""
    for unit, key in (("char", "char_boxes"), ("word", "word_boxes"), ("line", "line_box")):
        found = outputs.get(key)
        if not found:
            continue
        boxes = [found] if key == "line_box" else found
        index = [
            i for i, bx in enumerate(boxes) if bx is not None and bx[2] > bx[0] and bx[3] > bx[1]
        ]
        if not index:
            continue
        values = char_contrasts(image, coverage, [boxes[i] for i in index])
        scored = [(v, i) for v, i in zip(values, index, strict=True) if v is not None]
        if not scored:
            break
        worst, at = min(scored)
        return {"min_contrast_ratio": round(worst, 3), "unit": unit, "worst_index": at}
    return {"min_contrast_ratio": 1.0, "unit": "none", "worst_index": None}
