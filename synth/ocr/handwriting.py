"""Handwriting-like effects on the text layer: stroke width, elastic distortion, pen ink.

Drawn by ``sample`` into the recipe (``effects.handwriting``) and applied by ``apply`` to the
text layer (its coverage, L, 0..255) before the layer's geometry, so a replay of the recipe
gives the same bytes. Every random field comes from a seed recorded in the recipe.

- **stroke**: the ink dilated (a positive ``radius_px``) or eroded (negative) by a disk of that
  radius, as a wider or finer pen draws the same letters; or, given a pen ``width_px``, by the
  radius that brings the font's own stroke width (measured on the layer) nearest to it, so
  that bold and fine fonts come out written with one pen.
- **elastic**: a smooth random displacement field (uniform noise smoothed by a Gaussian of
  ``sigma_px``, scaled so that its largest shift is ``alpha_px``) resamples the layer, as a
  hand wobbles (Simard et al., 2003).
- **pen**: the ink's lightness varies smoothly by up to ``color_jitter`` 8-bit levels and its
  opacity by up to ``pressure`` (a fraction), as a pen's flow and pressure do along a line.

The layer is first padded by ``margin_px`` on each side so that no shifted or widened ink is
cut. Boxes stay exact: each character, word and line box is recomputed as the box of the final
ink whose source pixels (through the displacement, bilinear) lie in its own box widened by the
stroke radius, which holds all of that character's ink and nothing from outside that box.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from synth.ocr.layout import Box, LineLayout

KINDS = ("stroke", "elastic", "pen")


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


def enabled(effects: Any) -> bool:
    """True when the spec's effects draw any handwriting effect (``EffectsSpec``)."""
    return effects.stroke_prob > 0 or effects.elastic_prob > 0 or effects.pen_prob > 0


def sample(effects: Any, size_px: int, rng: np.random.Generator) -> dict[str, Any]:
    """Draw the handwriting effects of one line in a font of ``size_px`` (the ranges in the
    spec are fractions of it), with their seeds and the layer margin they need."""
    stroke: dict[str, Any] = {"applied": False}
    if effects.stroke_prob > 0 and rng.random() < effects.stroke_prob:
        if effects.stroke_width_frac_range is not None:  # a pen of this width
            width = float(rng.uniform(*effects.stroke_width_frac_range)) * size_px
            stroke = {
                "applied": True,
                "width_px": _r(width, 3),
                "max_radius_px": math.ceil(width / 2) + 1,
            }
        else:
            radius = round(float(rng.uniform(*effects.stroke_radius_frac_range)) * size_px)
            if radius != 0:
                stroke = {"applied": True, "radius_px": int(radius)}
    elastic: dict[str, Any] = {"applied": False}
    if effects.elastic_prob > 0 and rng.random() < effects.elastic_prob:
        alpha = float(rng.uniform(*effects.elastic_alpha_frac_range)) * size_px
        sigma = float(rng.uniform(*effects.elastic_sigma_frac_range)) * size_px
        if alpha > 0 and sigma > 0:
            elastic = {
                "applied": True,
                "alpha_px": _r(alpha, 3),
                "sigma_px": _r(sigma, 3),
                "seed": int(rng.integers(0, 2**31 - 1)),
            }
    pen: dict[str, Any] = {"applied": False}
    if effects.pen_prob > 0 and rng.random() < effects.pen_prob:
        pen = {
            "applied": True,
            "color_jitter": _r(rng.uniform(*effects.pen_color_jitter_range), 3),
            "pressure": _r(rng.uniform(*effects.pen_pressure_range), 3),
            "sigma_px": _r(max(1.0, 0.5 * size_px), 3),
            "seed": int(rng.integers(0, 2**31 - 1)),
        }
    grow = max(0, stroke.get("radius_px", stroke.get("max_radius_px", 0)))
    shift = math.ceil(elastic["alpha_px"]) if elastic["applied"] else 0
    return {
        "margin_px": grow + shift + (1 if shift else 0),
        "stroke": stroke,
        "elastic": elastic,
        "pen": pen,
    }


def is_applied(params: dict[str, Any] | None) -> bool:
    return bool(params) and any(params[k]["applied"] for k in KINDS)


def padded(lay: LineLayout, margin: int) -> LineLayout:
    """The layout in a layer ``margin`` px larger on every side (boxes and origin moved)."""
    if margin == 0:
        return lay

    def move(b: Box) -> Box:
        return [b[0] + margin, b[1] + margin, b[2] + margin, b[3] + margin]

    return replace(
        lay,
        width=lay.width + 2 * margin,
        height=lay.height + 2 * margin,
        origin=(lay.origin[0] + margin, lay.origin[1] + margin),
        line_box=move(lay.line_box),
        char_boxes=(
            [move(b) if b is not None else None for b in lay.char_boxes]
            if lay.char_boxes is not None
            else None
        ),
        word_boxes=[move(b) for b in lay.word_boxes] if lay.word_boxes is not None else None,
    )


def _disk(radius: int) -> np.ndarray:
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (x * x + y * y) <= radius * radius + radius  # a rounder disk at small radii


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Uniform noise in [-1, 1] smoothed by a Gaussian of ``sigma`` px, scaled to a largest
    magnitude of 1 (float64)."""
    field = ndimage.gaussian_filter(rng.uniform(-1.0, 1.0, size=shape), sigma, mode="reflect")
    peak = float(np.abs(field).max())
    return field / peak if peak > 0 else field


def _source_coords(params: dict[str, Any], shape: tuple[int, int]):
    """Where each output pixel samples the layer: (rows, cols) float64 arrays."""
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    e = params["elastic"]
    if e["applied"]:
        rng = np.random.default_rng(e["seed"])
        dy = _smooth_field(rng, shape, e["sigma_px"]) * e["alpha_px"]
        dx = _smooth_field(rng, shape, e["sigma_px"]) * e["alpha_px"]
        rows, cols = rows + dy, cols + dx
    return rows, cols


def apply(
    layer: Image.Image, lay: LineLayout, params: dict[str, Any], color: tuple[int, int, int]
) -> tuple[Image.Image, Image.Image | None, LineLayout]:
    """Apply the recorded effects to ``layer`` (L, the size of the padded ``lay``): the new
    coverage, the ink's colour layer (RGB, or None for a flat colour ``color``) and the layout
    with its boxes recomputed from the final ink."""
    ink = np.asarray(layer, dtype=np.uint8)
    radius = _stroke_radius(params["stroke"], ink)
    if radius > 0:
        ink = ndimage.grey_dilation(ink, footprint=_disk(radius), mode="constant", cval=0)
    elif radius < 0:
        ink = ndimage.grey_erosion(ink, footprint=_disk(-radius), mode="constant", cval=0)
    rows = cols = None
    if params["elastic"]["applied"]:
        rows, cols = _source_coords(params, ink.shape)
        warped = ndimage.map_coordinates(
            ink.astype(np.float64), [rows, cols], order=1, mode="constant", cval=0.0
        )
        ink = np.clip(np.rint(warped), 0, 255).astype(np.uint8)
    new_lay = _refit_boxes(lay, ink, rows, cols, max(radius, 0))
    colour = None
    pen = params["pen"]
    if pen["applied"]:
        rng = np.random.default_rng(pen["seed"])
        shade = _smooth_field(rng, ink.shape, pen["sigma_px"])
        flow = _smooth_field(rng, ink.shape, pen["sigma_px"])
        if pen["pressure"] > 0:
            opacity = 1.0 - pen["pressure"] * 0.5 * (flow + 1.0)
            ink = np.clip(np.rint(ink * opacity), 0, 255).astype(np.uint8)
        if pen["color_jitter"] > 0:
            rgb = (
                np.asarray(color, dtype=np.float64)[None, None, :]
                + (pen["color_jitter"] * shade)[:, :, None]
            )
            colour = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")
    return Image.fromarray(ink, "L"), colour, new_lay


def stroke_width(ink: np.ndarray) -> float:
    """The mean stroke width of coverage ``ink`` (px): twice the inked area over the count of
    inked pixels on its edge (a stroke of width w and length L has area wL and 2L edge
    pixels); 0 without ink."""
    on = ink >= 128
    area = int(on.sum())
    if area == 0:
        return 0.0
    inner = ndimage.binary_erosion(on, structure=ndimage.generate_binary_structure(2, 1))
    edge = area - int(inner.sum())
    return 2.0 * area / max(edge, 1)


def _stroke_radius(stroke: dict[str, Any], ink: np.ndarray) -> int:
    """The dilation (positive) or erosion (negative) radius of a recorded stroke: its own, or
    for a pen width the radius that brings the layer's stroke width nearest to it."""
    if not stroke["applied"]:
        return 0
    if "radius_px" in stroke:
        return int(stroke["radius_px"])
    limit = int(stroke["max_radius_px"])
    radius = round((stroke["width_px"] - stroke_width(ink)) / 2)
    return int(max(-limit, min(limit, radius)))


def _refit_boxes(
    lay: LineLayout,
    ink: np.ndarray,
    rows: np.ndarray | None,
    cols: np.ndarray | None,
    grow: int,
) -> LineLayout:
    """The layout with every box replaced by the box of the final ink that comes from it."""
    h, w = ink.shape
    inked = ink > 0
    if rows is None:  # no displacement: each pixel samples itself
        rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)

    def refit(box: Box) -> Box:
        x0 = math.floor(box[0]) - grow
        y0 = math.floor(box[1]) - grow
        x1 = math.ceil(box[2]) + grow
        y1 = math.ceil(box[3]) + grow
        # bilinear sampling at s touches pixel j with a non-zero weight when |s - j| < 1
        src = (cols > x0 - 1) & (cols < x1) & (rows > y0 - 1) & (rows < y1)
        ys, xs = np.nonzero(src & inked)
        if len(xs) == 0:  # no ink left (a fine character eroded away): the area it maps to
            ys, xs = np.nonzero(src)
            if len(xs) == 0:
                return [float(max(0, x0)), float(max(0, y0)), float(max(0, x0)), float(max(0, y0))]
        return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]

    chars = lay.char_boxes
    new_chars = [refit(b) if b is not None else None for b in chars] if chars is not None else None
    return replace(
        lay,
        line_box=refit(lay.line_box),
        char_boxes=new_chars,
        word_boxes=[refit(b) for b in lay.word_boxes] if lay.word_boxes is not None else None,
    )
