"""Procedural paper and document backgrounds: plain paper, lined and squared paper, forms,
thermal receipts, scanned pages and photographed pages.

Each kind is a ``sample_<kind>(rng) -> params`` (every drawn value, JSON-ready, positions as
fractions of the canvas so one recipe fits any size, lengths in px) and a pure
``render_<kind>(params, size) -> uint8 array (h, w, 3)``. Texture noise (grain, fibres, sensor
noise) comes from the ``seed`` in the params, so a recipe replays to the same bytes. All maths
is vectorised numpy on float32 grey levels 0-255; lines and boxes are drawn by Pillow on a mask.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from synth.ocr import geometry as geo

KINDS = ("paper", "lined", "squared", "form", "receipt", "scan", "photographed")
# What a scan or a photograph is of.
SCAN_PAGES = ("paper", "lined", "squared", "form")
PHOTO_PAGES = ("paper", "lined", "squared", "form", "receipt")

Params = dict[str, Any]
Size = tuple[int, int]

# Paper tones (sRGB): office white, cream, recycled grey, aged/yellowed, newsprint, blue-white.
_PAPER_TONES = (
    (250, 250, 247),
    (248, 242, 224),
    (229, 229, 224),
    (238, 226, 194),
    (222, 218, 204),
    (243, 246, 251),
)


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _jitter(rgb: tuple[int, ...], spread: int, rng: np.random.Generator) -> list[int]:
    d = rng.integers(-spread, spread + 1, size=3)
    return [int(min(255, max(0, c + int(v)))) for c, v in zip(rgb, d, strict=True)]


# -- the paper itself ---------------------------------------------------------------------------
def sample_paper(rng: np.random.Generator) -> Params:
    """Paper tone, fine grain (std in grey levels, cell in px), mottle (large soft blotches) and
    fibres (short faint strokes per 10,000 px)."""
    tone = _PAPER_TONES[int(rng.integers(len(_PAPER_TONES)))]
    return {
        "kind": "paper",
        "tone_rgb": _jitter(tone, 4, rng),
        "grain_std": _r(rng.uniform(1.0, 5.0), 3),
        "grain_cell_px": _r(rng.uniform(1.0, 2.5), 3),
        "mottle_std": _r(rng.uniform(1.0, 6.0), 3),
        "mottle_cell_px": _r(rng.uniform(12.0, 60.0), 3),
        "fibres_per_10k_px": _r(rng.uniform(0.0, 6.0), 3),
        "fibre_alpha": _r(rng.uniform(0.05, 0.25), 3),
        "seed": _seed(rng),
    }


def _smooth(noise: np.random.Generator, h: int, w: int, cell_px: float) -> np.ndarray:
    """Unit-variance-ish noise varying over ``cell_px``: a coarse grid upscaled bilinearly."""
    gh = max(2, math.ceil(h / cell_px) + 1)
    gw = max(2, math.ceil(w / cell_px) + 1)
    grid = noise.standard_normal((gh, gw), dtype=np.float32)
    if cell_px <= 1.0:
        return grid[:h, :w]
    up = Image.fromarray(grid).resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(up, dtype=np.float32)


def render_paper(params: Params, size: Size) -> np.ndarray:
    return _to_u8(_paper(params, size))


def _paper(p: Params, size: Size) -> np.ndarray:
    """The paper as float32 (h, w, 3) grey levels, not yet clipped."""
    w, h = size
    noise = np.random.default_rng(p["seed"])
    shade = _smooth(noise, h, w, p["grain_cell_px"]) * np.float32(p["grain_std"])
    shade += _smooth(noise, h, w, p["mottle_cell_px"]) * np.float32(p["mottle_std"])
    n_fibres = int(w * h * p["fibres_per_10k_px"] / 10_000)
    if n_fibres:
        layer = Image.new("L", size, 0)
        draw = ImageDraw.Draw(layer)
        pts = noise.random((n_fibres, 4))
        for x, y, angle, length in pts.tolist():
            x0, y0 = x * w, y * h
            a = angle * math.pi
            n = 4 + length * 14  # 4-18 px long
            draw.line([(x0, y0), (x0 + n * math.cos(a), y0 + n * math.sin(a))], fill=255)
        shade -= np.asarray(layer, dtype=np.float32) * np.float32(p["fibre_alpha"] * 0.25)
    img = np.empty((h, w, 3), dtype=np.float32)
    img[...] = np.asarray(p["tone_rgb"], dtype=np.float32)
    img += shade[:, :, None]
    return img


def _to_u8(img: np.ndarray) -> np.ndarray:
    """Clip to 0-255 and round half up to uint8 (``img`` is consumed)."""
    np.clip(img, 0.0, 255.0, out=img)
    img += np.float32(0.5)
    return img.astype(np.uint8)


def _blend(img: np.ndarray, cover: np.ndarray, rgb: list[int], alpha: float) -> None:
    """Paint ``rgb`` over ``img`` in place with coverage ``cover`` (0-1, broadcastable)."""
    a = (cover * np.float32(alpha))[..., None] if cover.ndim == img.ndim - 1 else cover * alpha
    img *= 1.0 - a
    img += a * np.asarray(rgb, dtype=np.float32)


def _rule_profile(n: int, spacing: float, offset: float, thickness: float) -> np.ndarray:
    """Anti-aliased coverage (0-1) of rules every ``spacing`` px along one axis of ``n`` px."""
    pos = np.arange(n, dtype=np.float32) + np.float32(0.5 - offset)
    d = np.mod(pos, np.float32(spacing))
    dist = np.minimum(d, np.float32(spacing) - d)
    return np.clip(np.float32(thickness / 2 + 0.5) - dist, 0.0, 1.0)


# -- ruled paper --------------------------------------------------------------------------------
def sample_lined(rng: np.random.Generator) -> Params:
    """Ruled paper: rules every ``spacing_px`` (blue or grey), maybe a red margin line."""
    blue = bool(rng.random() < 0.7)
    margin: Params = {"applied": False}
    if rng.random() < 0.35:
        margin = {
            "applied": True,
            "x_frac": _r(rng.uniform(0.03, 0.4)),
            "thickness_px": _r(rng.uniform(1.0, 2.0), 3),
            "color_rgb": _jitter((214, 92, 108), 20, rng),
        }
    return {
        "kind": "lined",
        "paper": sample_paper(rng),
        "spacing_px": _r(rng.uniform(14.0, 40.0), 3),
        "offset_px": _r(rng.uniform(0.0, 40.0), 3),
        "thickness_px": _r(rng.uniform(0.8, 2.0), 3),
        "color_rgb": _jitter((128, 168, 220) if blue else (150, 150, 150), 20, rng),
        "alpha": _r(rng.uniform(0.35, 0.85), 3),
        "margin": margin,
    }


def render_lined(params: Params, size: Size) -> np.ndarray:
    return _to_u8(_lined(params, size))


def _lined(p: Params, size: Size) -> np.ndarray:
    w, h = size
    img = _paper(p["paper"], size)
    rows = _rule_profile(h, p["spacing_px"], p["offset_px"], p["thickness_px"])
    _blend(img, np.broadcast_to(rows[:, None], (h, w)), p["color_rgb"], p["alpha"])
    m = p["margin"]
    if m["applied"]:
        cols = _rule_profile(w, 10 * w + 1, m["x_frac"] * w, m["thickness_px"])
        _blend(img, np.broadcast_to(cols[None, :], (h, w)), m["color_rgb"], 0.8)
    return img


def sample_squared(rng: np.random.Generator) -> Params:
    """Squared (graph) paper: a grid every ``spacing_px``; engineering paper darkens every
    ``major_every``-th line."""
    major = int(rng.choice([0, 5, 10])) if rng.random() < 0.4 else 0
    return {
        "kind": "squared",
        "paper": sample_paper(rng),
        "spacing_px": _r(rng.uniform(8.0, 28.0), 3),
        "offset_px": [_r(rng.uniform(0.0, 28.0), 3), _r(rng.uniform(0.0, 28.0), 3)],
        "thickness_px": _r(rng.uniform(0.6, 1.4), 3),
        "color_rgb": _jitter(
            ((120, 160, 205), (120, 175, 140), (150, 150, 150))[int(rng.integers(3))], 20, rng
        ),
        "alpha": _r(rng.uniform(0.25, 0.7), 3),
        "major_every": major,
    }


def render_squared(params: Params, size: Size) -> np.ndarray:
    return _to_u8(_squared(params, size))


def _squared(p: Params, size: Size) -> np.ndarray:
    w, h = size
    img = _paper(p["paper"], size)
    s, t = p["spacing_px"], p["thickness_px"]
    ox, oy = p["offset_px"]
    cols = _rule_profile(w, s, ox, t)
    rows = _rule_profile(h, s, oy, t)
    if p["major_every"]:
        big = s * p["major_every"]
        cols = np.maximum(cols * 0.6, _rule_profile(w, big, ox, t + 0.8))
        rows = np.maximum(rows * 0.6, _rule_profile(h, big, oy, t + 0.8))
    cover = np.maximum(rows[:, None], cols[None, :])
    _blend(img, cover, p["color_rgb"], p["alpha"])
    return img


# -- forms ----------------------------------------------------------------------------------------
def sample_form(rng: np.random.Generator) -> Params:
    """A printed form: rules, field boxes (which may run off the crop), character combs, a
    shaded band and dotted leaders, in one ink (black, grey or a drop-out colour)."""
    ink = ((30, 30, 30), (110, 110, 110), (200, 60, 60), (60, 140, 90), (60, 90, 170))
    elements: list[Params] = []
    for _ in range(int(rng.integers(1, 4))):
        x0 = float(rng.uniform(-0.1, 0.5))
        elements.append(
            {
                "type": "rule",
                "y_frac": _r(rng.uniform(0.05, 0.98)),
                "x_frac": [_r(x0), _r(rng.uniform(x0 + 0.3, 1.2))],
                "thickness_px": int(rng.integers(1, 3)),
            }
        )
    for _ in range(int(rng.integers(0, 3))):
        x0, y0 = float(rng.uniform(-0.2, 0.7)), float(rng.uniform(-0.4, 0.3))
        elements.append(
            {
                "type": "box",
                "box_frac": [
                    _r(x0),
                    _r(y0),
                    _r(rng.uniform(x0 + 0.15, 1.3)),
                    _r(rng.uniform(max(y0 + 0.3, 0.7), 1.4)),
                ],
                "thickness_px": int(rng.integers(1, 3)),
            }
        )
    if rng.random() < 0.35:
        elements.append(
            {
                "type": "comb",
                "y_frac": _r(rng.uniform(0.7, 0.97)),
                "x_frac": _r(rng.uniform(0.0, 0.4)),
                "cell_px": _r(rng.uniform(14.0, 34.0), 3),
                "tick_frac": _r(rng.uniform(0.15, 0.45)),
            }
        )
    if rng.random() < 0.3:
        y0 = float(rng.uniform(-0.2, 0.6))
        elements.append(
            {
                "type": "shade",
                "box_frac": [
                    _r(rng.uniform(-0.2, 0.5)),
                    _r(y0),
                    _r(rng.uniform(0.6, 1.2)),
                    _r(rng.uniform(y0 + 0.3, 1.3)),
                ],
                "alpha": _r(rng.uniform(0.06, 0.2), 3),
            }
        )
    if rng.random() < 0.3:
        elements.append(
            {
                "type": "dots",
                "y_frac": _r(rng.uniform(0.6, 0.97)),
                "spacing_px": int(rng.integers(3, 7)),
            }
        )
    return {
        "kind": "form",
        "paper": sample_paper(rng),
        "ink_rgb": _jitter(ink[int(rng.integers(len(ink)))], 15, rng),
        "alpha": _r(rng.uniform(0.5, 0.95), 3),
        "elements": elements,
    }


def render_form(params: Params, size: Size) -> np.ndarray:
    return _to_u8(_form(params, size))


def _form(p: Params, size: Size) -> np.ndarray:
    w, h = size
    img = _paper(p["paper"], size)
    lines = Image.new("L", size, 0)
    shade = Image.new("L", size, 0)
    draw, sdraw = ImageDraw.Draw(lines), ImageDraw.Draw(shade)
    for e in p["elements"]:
        t = e["type"]
        if t == "rule":
            y = e["y_frac"] * (h - 1)
            draw.line(
                [(e["x_frac"][0] * w, y), (e["x_frac"][1] * w, y)],
                fill=255,
                width=e["thickness_px"],
            )
        elif t == "box":
            x0, y0, x1, y1 = e["box_frac"]
            draw.rectangle([x0 * w, y0 * h, x1 * w, y1 * h], outline=255, width=e["thickness_px"])
        elif t == "comb":
            y = e["y_frac"] * (h - 1)
            top = y - e["tick_frac"] * h
            draw.line([(e["x_frac"] * w, y), (w, y)], fill=255, width=1)
            x = e["x_frac"] * w
            while x <= w:
                draw.line([(x, top), (x, y)], fill=255, width=1)
                x += e["cell_px"]
        elif t == "shade":
            x0, y0, x1, y1 = e["box_frac"]
            sdraw.rectangle([x0 * w, y0 * h, x1 * w, y1 * h], fill=round(255 * e["alpha"]))
        elif t == "dots":
            y = round(e["y_frac"] * (h - 1))
            row = np.asarray(lines)[y].copy()
            row[:: e["spacing_px"]] = 255
            lines.paste(Image.fromarray(row[None, :]), (0, y))
    ink = p["ink_rgb"]
    _blend(img, np.asarray(shade, dtype=np.float32) / 255.0, ink, 1.0)
    _blend(img, np.asarray(lines, dtype=np.float32) / 255.0, ink, p["alpha"])
    return img


# -- receipts -----------------------------------------------------------------------------------
def sample_receipt(rng: np.random.Generator) -> Params:
    """Thermal paper: bright cool white, little grain, print-head streaks along the feed
    (column-wise darkening, grey levels), a fade across the strip, dashed or dotted separators,
    and sometimes the strip's edge with the counter beyond it."""
    paper = sample_paper(rng)
    paper["tone_rgb"] = _jitter((246, 247, 249), 3, rng)
    paper["grain_std"] = _r(rng.uniform(0.5, 2.0), 3)
    paper["mottle_std"] = _r(rng.uniform(0.5, 2.5), 3)
    paper["fibres_per_10k_px"] = 0.0
    separators = [
        {
            "y_frac": _r(rng.uniform(0.0, 1.0)),
            "style": ("dash", "dots", "double")[int(rng.integers(3))],
            "period_px": int(rng.integers(4, 10)),
        }
        for _ in range(int(rng.integers(0, 3)))
    ]
    edge: Params = {"applied": False}
    if rng.random() < 0.3:
        edge = {
            "applied": True,
            "side": ("left", "right")[int(rng.integers(2))],
            "x_frac": _r(rng.uniform(0.01, 0.12)),
            "surround_rgb": [int(v) for v in rng.integers(30, 150, size=3)],
        }
    return {
        "kind": "receipt",
        "paper": paper,
        "streak_std": _r(rng.uniform(0.5, 4.0), 3),
        "streak_cell_px": _r(rng.uniform(1.0, 8.0), 3),
        "fade": _r(rng.uniform(0.0, 0.08), 4),
        "fade_vertical": bool(rng.random() < 0.5),
        "ink_rgb": _jitter((60, 60, 66), 20, rng),
        "separators": separators,
        "edge": edge,
    }


def render_receipt(params: Params, size: Size) -> np.ndarray:
    return _to_u8(_receipt(params, size))


def _receipt(p: Params, size: Size) -> np.ndarray:
    w, h = size
    img = _paper(p["paper"], size)
    noise = np.random.default_rng(p["paper"]["seed"] + 1)
    streak = _smooth(noise, 1, w, p["streak_cell_px"])[0] * np.float32(p["streak_std"])
    img -= np.abs(streak)[None, :, None]
    n = h if p["fade_vertical"] else w
    ramp = 1.0 - np.linspace(0.0, p["fade"], n, dtype=np.float32)
    img *= ramp[:, None, None] if p["fade_vertical"] else ramp[None, :, None]
    for s in p["separators"]:
        y = round(s["y_frac"] * (h - 1))
        cover = np.zeros((h, w), dtype=np.float32)
        x = np.arange(w)
        if s["style"] == "dash":
            cover[y] = (x % s["period_px"]) < s["period_px"] * 0.6
        elif s["style"] == "dots":
            cover[y] = (x % s["period_px"]) == 0
        else:
            cover[y] = 1.0
            cover[min(h - 1, y + 3)] = 1.0
        _blend(img, cover, p["ink_rgb"], 0.85)
    e = p["edge"]
    if e["applied"]:
        cut = round(e["x_frac"] * w)
        outside = slice(0, cut) if e["side"] == "left" else slice(w - cut, w)
        img[:, outside] = np.asarray(e["surround_rgb"], dtype=np.float32)
        rim = cut if e["side"] == "left" else w - cut - 1
        if 0 <= rim < w:
            img[:, rim] *= 0.8  # the strip's edge casts a hairline shadow
    return img


# -- pages ------------------------------------------------------------------------------------
_PAGE_RENDER: dict[str, Callable[[Params, Size], np.ndarray]] = {}


def _sample_page(kinds: tuple[str, ...], rng: np.random.Generator) -> Params:
    return _SAMPLERS[kinds[int(rng.integers(len(kinds)))]](rng)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates as fractions of the canvas (column and row vectors)."""
    ys = (np.arange(h, dtype=np.float32) + 0.5) / np.float32(h)
    xs = (np.arange(w, dtype=np.float32) + 0.5) / np.float32(w)
    return ys[:, None], xs[None, :]


def sample_scan(rng: np.random.Generator) -> Params:
    """A scanned page: uneven illumination (gain falling off from a bright spot), an edge or
    gutter shadow, a fold, a halftone screen over a printed tint, and scanner noise with
    CCD streaks and dust. Each artefact is drawn independently and recorded applied or not."""
    page = _sample_page(SCAN_PAGES, rng)

    def maybe(prob: float, make: Callable[[], Params]) -> Params:
        return {"applied": True, **make()} if rng.random() < prob else {"applied": False}

    illumination = maybe(
        0.8,
        lambda: {
            "centre_frac": [_r(rng.uniform(-0.5, 1.5)), _r(rng.uniform(-2.0, 3.0))],
            "falloff": _r(rng.uniform(0.03, 0.2), 4),
        },
    )
    shadow = maybe(
        0.4,
        lambda: {
            "side": ("left", "right", "top", "bottom")[int(rng.integers(4))],
            "width_frac": _r(rng.uniform(0.05, 0.35)),
            "depth": _r(rng.uniform(0.15, 0.5), 3),
        },
    )
    fold = maybe(
        0.3,
        lambda: {
            "angle_deg": _r(rng.uniform(-20.0, 20.0) + (90.0 if rng.random() < 0.5 else 0.0)),
            "pos_frac": _r(rng.uniform(0.1, 0.9)),
            "width_px": _r(rng.uniform(0.8, 3.0), 3),
            "depth": _r(rng.uniform(0.05, 0.2), 3),
            "step": _r(rng.uniform(-0.06, 0.06), 3),
        },
    )
    halftone = maybe(
        0.3,
        lambda: {
            "cell_px": _r(rng.uniform(3.0, 6.0), 3),
            "angle_deg": _r(rng.choice([15.0, 45.0, 75.0]) + rng.uniform(-3, 3)),
            "tint": _r(rng.uniform(0.04, 0.22), 3),
            "tint_cell_px": _r(rng.uniform(30.0, 120.0), 3),
            "ink_rgb": _jitter(
                ((40, 40, 40), (40, 110, 170), (180, 60, 110))[int(rng.integers(3))], 15, rng
            ),
        },
    )
    scanner = maybe(
        0.85,
        lambda: {
            "std": _r(rng.uniform(1.0, 5.0), 3),
            "streaks": int(rng.integers(0, 4)),
            "streak_level": _r(rng.uniform(-25.0, 15.0), 3),
            "dust": int(rng.integers(0, 6)),
            "seed": _seed(rng),
        },
    )
    return {
        "kind": "scan",
        "page": page,
        "illumination": illumination,
        "shadow": shadow,
        "fold": fold,
        "halftone": halftone,
        "scanner": scanner,
    }


def render_scan(params: Params, size: Size) -> np.ndarray:
    return _to_u8(_scan(params, size))


def _edge_distance(side: str, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    return {"left": xs, "right": 1.0 - xs, "top": ys, "bottom": 1.0 - ys}[side]


def _scan(p: Params, size: Size) -> np.ndarray:
    w, h = size
    img = _PAGE_RENDER[p["page"]["kind"]](p["page"], size)
    ys, xs = _grid(h, w)
    gain = np.ones((h, w), dtype=np.float32)
    il = p["illumination"]
    if il["applied"]:
        cx, cy = il["centre_frac"]
        # distances in units of the canvas width on both axes: a line crop is a slice of a page
        dy = (ys - np.float32(cy)) * np.float32(h / w)
        gain -= np.float32(il["falloff"]) * ((xs - np.float32(cx)) ** 2 + dy**2)
    sh = p["shadow"]
    if sh["applied"]:
        d = _edge_distance(sh["side"], ys, xs)
        gain *= 1.0 - np.float32(sh["depth"]) * np.exp(-d / np.float32(sh["width_frac"]))
    fo = p["fold"]
    if fo["applied"]:
        a = math.radians(fo["angle_deg"])
        # signed distance in px from a line through (pos, 0.5) of the canvas at angle a
        px, py = xs * w - fo["pos_frac"] * w, ys * h - 0.5 * h
        dist = px * np.float32(math.cos(a)) + py * np.float32(math.sin(a))
        crease = np.exp(-((dist / np.float32(fo["width_px"])) ** 2))
        gain *= 1.0 - np.float32(fo["depth"]) * crease
        gain *= 1.0 + np.float32(fo["step"]) * np.tanh(dist / np.float32(4 * fo["width_px"]))
    img *= gain[:, :, None]
    ht = p["halftone"]
    if ht["applied"]:
        a = math.radians(ht["angle_deg"])
        u = (xs * w) * np.float32(math.cos(a)) + (ys * h) * np.float32(math.sin(a))
        v = (ys * h) * np.float32(math.cos(a)) - (xs * w) * np.float32(math.sin(a))
        k = np.float32(2 * math.pi / ht["cell_px"])
        screen = (np.cos(u * k) + np.cos(v * k)) * np.float32(0.25) + np.float32(0.5)  # 0-1
        noise = np.random.default_rng(p["page"].get("paper", p["page"]).get("seed", 0) + 2)
        tint = np.clip(
            np.float32(ht["tint"]) * (1.0 + 0.5 * _smooth(noise, h, w, ht["tint_cell_px"])),
            0.0,
            0.9,
        )
        dots = np.clip((tint - (1.0 - screen)) * 4.0 + 0.5, 0.0, 1.0)  # dot area follows tint
        _blend(img, dots, ht["ink_rgb"], 0.9)
    sc = p["scanner"]
    if sc["applied"]:
        noise = np.random.default_rng(sc["seed"])
        img += noise.standard_normal((h, w, 1), dtype=np.float32) * np.float32(sc["std"])
        for x in noise.integers(0, w, size=sc["streaks"]).tolist():
            img[:, x] += np.float32(sc["streak_level"])
        for x, y, r in noise.random((sc["dust"], 3)).tolist():
            cx, cy, rad = int(x * w), int(y * h), 1 + int(r * 2)
            img[max(0, cy - rad) : cy + rad, max(0, cx - rad) : cx + rad] *= 0.35
    return img


def sample_photographed(rng: np.random.Generator) -> Params:
    """A photo of a page: perspective (the page's corners moved by fractions of the canvas,
    sometimes with its edge and the desk beyond in view), vignetting, a white-balance cast and
    exposure, a soft shadow and sensor noise (defocus is the effects' blur)."""
    page = _sample_page(PHOTO_PAGES, rng)
    # Corners move outward (the page overfills the crop; its rules converge) unless one side's
    # edge is in view.
    shifts = rng.uniform(0.0, 0.12, size=(4, 2)) * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])
    edge = None
    if rng.random() < 0.35:
        edge = ("left", "right", "top", "bottom")[int(rng.integers(4))]
        inset = float(rng.uniform(0.05, 0.35))
        # move that side's two corners (order: top-left, top-right, bottom-right, bottom-left)
        idx, axis, sign = {
            "left": ((0, 3), 0, 1),
            "right": ((1, 2), 0, -1),
            "top": ((0, 1), 1, 1),
            "bottom": ((2, 3), 1, -1),
        }[edge]
        for i in idx:
            shifts[i, axis] = sign * (inset + float(rng.uniform(0.0, 0.1)))
    shadow: Params = {"applied": False}
    if rng.random() < 0.3:
        shadow = {
            "applied": True,
            "centre_frac": [_r(rng.uniform(-0.5, 1.5)), _r(rng.uniform(-1.0, 2.0))],
            "radius_frac": _r(rng.uniform(0.3, 1.0)),
            "depth": _r(rng.uniform(0.1, 0.35), 3),
        }
    warm = float(rng.uniform(-0.08, 0.08))
    return {
        "kind": "photographed",
        "page": page,
        "corner_shifts_frac": [[_r(x), _r(y)] for x, y in shifts],
        "edge": edge,
        "surround_rgb": [int(v) for v in rng.integers(20, 160, size=3)],
        "vignette": _r(rng.uniform(0.0, 0.35), 3),
        "vignette_centre_frac": [_r(rng.uniform(0.2, 0.8)), _r(rng.uniform(-1.0, 2.0))],
        "cast_gain_rgb": [_r(1.0 + warm), 1.0, _r(1.0 - warm)],
        "exposure": _r(rng.uniform(0.8, 1.05), 3),
        "shadow": shadow,
        "noise_std": _r(rng.uniform(0.5, 4.0), 3),
        "seed": _seed(rng),
    }


def render_photographed(params: Params, size: Size) -> np.ndarray:
    return _to_u8(_photographed(params, size))


def _photographed(p: Params, size: Size) -> np.ndarray:
    w, h = size
    page = Image.fromarray(_to_u8(_PAGE_RENDER[p["page"]["kind"]](p["page"], size)), "RGB")
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    dst = src + np.asarray(p["corner_shifts_frac"], dtype=np.float64) * np.array([w, h])
    back = geo.homography_from_points(dst, src)  # output pixel -> page pixel
    back = back / back[2, 2]
    warped = page.transform(
        size,
        Image.Transform.PERSPECTIVE,
        tuple(float(v) for v in back.reshape(-1)[:8]),
        Image.Resampling.BILINEAR,
        fillcolor=tuple(p["surround_rgb"]),
    )
    img = np.asarray(warped, dtype=np.float32)
    ys, xs = _grid(h, w)
    cx, cy = p["vignette_centre_frac"]
    r2 = (xs - np.float32(cx)) ** 2 + ((ys - np.float32(cy)) * np.float32(h / w)) ** 2
    gain = np.float32(p["exposure"]) * (1.0 - np.float32(p["vignette"]) * np.minimum(r2, 1.0))
    sh = p["shadow"]
    if sh["applied"]:
        sx, sy = sh["centre_frac"]
        d2 = (xs - np.float32(sx)) ** 2 + ((ys - np.float32(sy)) * np.float32(h / w)) ** 2
        gain = gain * (
            1.0 - np.float32(sh["depth"]) * np.exp(-d2 / np.float32(sh["radius_frac"] ** 2))
        )
    img = img * gain[:, :, None]
    img *= np.asarray(p["cast_gain_rgb"], dtype=np.float32)
    noise = np.random.default_rng(p["seed"])
    img += noise.standard_normal((h, w, 1), dtype=np.float32) * np.float32(p["noise_std"])
    return img


_SAMPLERS: dict[str, Callable[[np.random.Generator], Params]] = {
    "paper": sample_paper,
    "lined": sample_lined,
    "squared": sample_squared,
    "form": sample_form,
    "receipt": sample_receipt,
    "scan": sample_scan,
    "photographed": sample_photographed,
}
_PAGE_RENDER.update(
    {
        "paper": _paper,
        "lined": _lined,
        "squared": _squared,
        "form": _form,
        "receipt": _receipt,
        "scan": _scan,
        "photographed": _photographed,
    }
)


def sample_document(kind: str, rng: np.random.Generator) -> Params:
    """Draw the parameters of one document background of ``kind`` (one of ``KINDS``)."""
    if kind not in _SAMPLERS:
        raise ValueError(f"unknown document background kind {kind!r} (known: {', '.join(KINDS)})")
    return _SAMPLERS[kind](rng)


def render_document(params: Params, size: Size) -> np.ndarray:
    """The background of ``params`` at ``size`` (w, h) px: uint8 RGB, shape (h, w, 3)."""
    kind = params["kind"]
    if kind not in _PAGE_RENDER:
        raise ValueError(f"unknown document background kind {kind!r} (known: {', '.join(KINDS)})")
    return _to_u8(_PAGE_RENDER[kind](params, size))
