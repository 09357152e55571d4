"""Line masks from cached glyph bitmaps, with the pixels of Pillow's ``ImageDraw.text``.

Pillow draws a line by loading (and hinting) every glyph four times with its basic layout and
rasterising it twice. The bitmap of a glyph does not depend on where it lands (the pen is at a
whole pixel), so each glyph of a font object is rasterised once here, and a line's mask is put
together from the cached bitmaps at the line's pen positions, blended where they overlap with
Pillow's own integer formula (``out = s + t * (255 - s) / 255``, rounded as ``MULDIV255``), and
clipped to the line's box as Pillow clips it. Unshaped (basic layout) lines only.

The result equals ``ImageDraw.text`` pixel for pixel for every embedded font (tested on
thousands of random lines). A font from a user's folder is checked on its first line
(``checked_line_mask``) and drawn by Pillow if that line differs.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from synth.ocr.layout import char_box, pixel

Glyph = tuple[np.ndarray, int, int] | None  # ink (rows, cols), offset from the pen on the baseline

_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PAD = 4
CACHE_BUDGET_BYTES = 32 << 20
"""Glyph bitmaps kept per process, all fonts together (a Latin font at 56 px holds ~1 KB a
glyph; a CJK text source can touch thousands of glyphs at every size). Past it every cache
is dropped and refilled as lines need them: memory stays bounded, output is unchanged."""
_held = 0  # bytes of ink in the caches


def glyph(font: ImageFont.FreeTypeFont, ch: str) -> Glyph:
    """The ink of ``ch`` as Pillow draws it alone (uint8 coverage, trimmed to the ink) and the
    offset of its top-left pixel from the pen position on the baseline; None for no ink."""
    global _held
    cache = _CACHES.get(font)
    if cache is None:
        cache = _CACHES[font] = {}
    if ch in cache:
        return cache[ch]
    if _held > CACHE_BUDGET_BYTES:
        _CACHES.clear()
        _held = 0
        cache = _CACHES[font] = {}
    left, top, right, bottom = char_box(font, ch)
    size = (right - left + 2 * _PAD, bottom - top + 2 * _PAD)
    image = Image.new("L", size, 0)
    ImageDraw.Draw(image).text((_PAD - left, _PAD - top), ch, fill=255, font=font, anchor="ls")
    box = image.getbbox()
    out: Glyph = None
    if box is not None:
        ink = np.array(image.crop(box), dtype=np.uint8)
        out = (ink, box[0] - (_PAD - left), box[1] - (_PAD - top))
        _held += ink.nbytes
    cache[ch] = out
    return out


_TRUSTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def trusted(
    font: ImageFont.FreeTypeFont, text: str, pens: Sequence[float], bbox: tuple[int, int, int, int]
) -> bool:
    """Whether ``line_mask`` draws ``font`` as Pillow does (see ``checked_line_mask``)."""
    return checked_line_mask(font, text, pens, bbox) is not None


def checked_line_mask(
    font: ImageFont.FreeTypeFont, text: str, pens: Sequence[float], bbox: tuple[int, int, int, int]
) -> np.ndarray | None:
    """``line_mask``, or None for a font that ``line_mask`` does not draw as Pillow does.

    The verdict comes from the first line asked: it is drawn both ways and compared (about
    0.2 ms once per font object). For fonts from outside the embedded set, whose FreeType
    bitmaps were never compared here; a font that differs is drawn by Pillow from then on.
    """
    verdict = _TRUSTED.get(font)
    if verdict is False:
        return None
    mask = line_mask(font, text, pens, bbox)
    if verdict is None:
        left, top, right, bottom = bbox
        reference = Image.new("L", (right - left, bottom - top), 0)
        ImageDraw.Draw(reference).text((-left, -top), text, fill=255, font=font, anchor="ls")
        verdict = _TRUSTED[font] = bool(np.array_equal(np.asarray(reference), mask))
    return mask if verdict else None


def line_mask(
    font: ImageFont.FreeTypeFont,
    text: str,
    pens: Sequence[float],
    bbox: tuple[int, int, int, int],
    fonts: Sequence[ImageFont.FreeTypeFont] | None = None,
) -> np.ndarray:
    """The coverage mask of ``text`` over ``bbox`` (``font.getbbox(text, anchor="ls")``): what
    ``ImageDraw.text`` blends into an image, its top-left at the anchor plus (left, top).

    ``pens`` are the characters' pen positions in pixels (``synth.ocr.layout``); ``fonts``,
    when given, the font object of each character (a line in a primary font and fallbacks),
    blended as one line.
    """
    left, top, right, bottom = bbox
    width, height = right - left, bottom - top
    mask = np.zeros((height, width), dtype=np.uint8)
    filled = 0  # columns at and right of this are still blank
    for k, (ch, pen) in enumerate(zip(text, pens, strict=True)):
        g = glyph(fonts[k] if fonts is not None else font, ch)
        if g is None:
            continue
        ink, dx, dy = g
        x, y = pixel(pen) + dx - left, dy - top
        h, w = ink.shape
        x0, x1, y0, y1 = max(0, x), min(width, x + w), max(0, y), min(height, y + h)
        if x1 <= x0 or y1 <= y0:
            continue
        src = ink[y0 - y : y1 - y, x0 - x : x1 - x]
        split = min(max(filled, x0), x1)
        if split > x0:  # over ink already drawn: Pillow's blend
            s = src[:, : split - x0].astype(np.uint16)
            t = mask[y0:y1, x0:split].astype(np.uint16)
            tmp = t * (255 - s) + 128
            mask[y0:y1, x0:split] = np.minimum(s + (((tmp >> 8) + tmp) >> 8), 255)
        if x1 > split:
            mask[y0:y1, split:x1] = src[:, split - x0 :]
        filled = max(filled, x1)
    return mask


def cached_bytes() -> int:
    """Bytes of glyph ink held in this process's caches."""
    return _held
