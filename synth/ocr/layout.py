"""Line layout: where each character and word lands, in the text layer's pixel coordinates.

Text is drawn with the ``"ls"`` anchor (left end of the baseline). For scripts drawn without
shaping (Latin, Greek, Cyrillic, CJK) each character gets an ink box: pen position from prefix
advances (kerning included), ink extent from the glyph's own bounding box. Shaped scripts
(Arabic, Indic, Thai) get word boxes only: a character there has no box of its own once glyphs
join or reorder. A right-to-left line mixed with left-to-right words gets a line box only.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from PIL import ImageFont

from synth.ocr.fonts import has_strong_ltr, is_rtl

Box = list[float]  # [x0, y0, x1, y1], pixels


@dataclass(frozen=True)
class LineLayout:
    width: int  # text layer size, px
    height: int
    origin: tuple[int, int]  # where the "ls" anchor goes in the text layer
    line_box: Box
    char_boxes: list[Box | None] | None  # one per character of the text; None for spaces
    word_boxes: list[Box] | None  # one per space-separated word
    boxes_note: str  # "chars+words", "words (shaped script)", "line only (mixed direction)"
    # Unshaped lines: each character's pen position (px from the anchor), from which
    # ``synth.ocr.glyphs`` draws the line.
    pens: tuple[float, ...] | None = None
    # A line in several fonts: where each font run starts (px from the anchor, its pen at the
    # run's first character); None for a line in one font.
    run_offsets: tuple[float, ...] | None = None

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """The line box relative to the anchor: the line's ``getbbox(anchor="ls")``."""
        (ox, oy), (x0, y0, x1, y1) = self.origin, self.line_box
        return int(x0 - ox), int(y0 - oy), int(x1 - ox), int(y1 - oy)


def _words(text: str) -> list[tuple[int, int]]:
    spans, start = [], None
    for i, ch in enumerate(text):
        if ch == " ":
            if start is not None:
                spans.append((start, i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        spans.append((start, len(text)))
    return spans


def _union(boxes: list[Box]) -> Box:
    x0, y0, x1, y1 = zip(*boxes, strict=True)
    return [min(x0), min(y0), max(x1), max(y1)]


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_KERNING_PROBES = ("AV", "To", "Wa", "LT", "Yo", "P.")


def _caches(font: ImageFont.FreeTypeFont, kerning: bool) -> tuple[dict, dict | None]:
    """Per font object: (advance, ink box) per character, and the length of character pairs,
    or None for pairs when the font is known not to kern.

    The pen position of character i is getlength(text[: i + 1]) - advance(text[i]); with the
    pair lengths it is built incrementally instead of measuring every prefix (quadratic).
    Pillow's basic layout kerns only with a TrueType 'kern' table; a font without one (the
    caller's ``kerning=False``) needs no pair lengths, as long as a few classic kerning pairs
    confirm that this FreeType build does not kern it another way.
    """
    cached = _CACHES.get(font)
    if cached is None:
        pairs: dict | None = {}
        if not kerning and all(
            font.getlength(p) == font.getlength(p[0]) + font.getlength(p[1])
            for p in _KERNING_PROBES
        ):
            pairs = None
        cached = _CACHES[font] = ({}, pairs)
    return cached


def _pens(
    text: str, font: ImageFont.FreeTypeFont, kerning: bool
) -> tuple[list[float], list[tuple[float, tuple[int, int, int, int]]], float]:
    """Basic (unshaped) layout of ``text``: each character's pen position (px from the line's
    start, kerning included), its (advance, ``getbbox(ch, anchor="ls")``), and the line's
    length (``font.getlength(text)``), all from per-font caches."""
    chars, pairs = _caches(font, kerning)
    pens: list[float] = []
    infos = []
    prefix = 0.0  # font.getlength(text[: i + 1]), built from cached pairs
    prev, prev_advance = "", 0.0
    for ch in text:
        info = chars.get(ch)
        if info is None:
            info = chars[ch] = (font.getlength(ch), font.getbbox(ch, anchor="ls"))
        advance = info[0]
        if pairs is None:  # no kerning: the pair's length is the sum of the advances
            prefix += advance
        elif prev:
            pair = prev + ch
            both = pairs.get(pair)
            if both is None:
                both = pairs[pair] = font.getlength(pair)
            # the pair's length less the first advance: this advance plus their kerning
            prefix += both - prev_advance
        else:
            prefix = advance
        prev, prev_advance = ch, advance
        pens.append(prefix - advance)
        infos.append(info)
    return pens, infos, prefix


def char_box(font: ImageFont.FreeTypeFont, ch: str) -> tuple[int, int, int, int]:
    """``font.getbbox(ch, anchor="ls")``, from the layout cache when the font has laid it out."""
    cached = _CACHES.get(font)
    info = cached[0].get(ch) if cached is not None else None
    return info[1] if info is not None else font.getbbox(ch, anchor="ls")


def pixel(length_px: float) -> int:
    """FreeType's PIXEL(): a 26.6 length rounded to whole pixels, halves up."""
    return (round(length_px * 64) + 32) >> 6


def _line_bbox(pens: list[float], infos: list, length: float) -> tuple[int, int, int, int] | None:
    """``font.getbbox(text, anchor="ls")`` of a basic layout, from its characters' boxes.

    Pillow's box is the union of the origin, the pen line (0 to each pen position, in whole
    pixels) and every glyph's pixel box shifted by its whole-pixel pen position. A character's
    own ``getbbox`` is its glyph box joined with its pen line, so: left, top and bottom come out
    exact; right is exact or one pixel wider (a pen line rounded on its own can end a pixel past
    the line's). None when a pen position is negative (left would not be exact): measure then.
    """
    left = top = right = bottom = 0
    for pen, (_, (x0, t, x1, b)) in zip(pens, infos, strict=True):
        px = pixel(pen)
        if px < 0:
            return None
        left, right = min(left, px + x0), max(right, px + x1)
        top, bottom = min(top, t), max(bottom, b)
    return left, top, max(right, pixel(length)), bottom


def layout_line(
    text: str, font: ImageFont.FreeTypeFont, shaped: bool, margin: int = 2, kerning: bool = True
) -> LineLayout:
    """Measure ``text`` in ``font`` and place it in a layer with ``margin`` px around the line.

    The layer's height spans the font's ascent and descent (and any ink beyond them), so lines of
    one font and size share a height whatever their letters. ``kerning=False`` says the font has
    no 'kern' table (see ``_caches``): the same boxes, fewer measurements. An unshaped line's
    box comes from its characters' cached boxes (``_line_bbox``) instead of a layout of its own.
    """
    ascent, descent = font.getmetrics()
    bbox = None
    pens: list[float] = []
    infos: list = []
    if not shaped and text:
        pens, infos, length = _pens(text, font, kerning)
        bbox = _line_bbox(pens, infos, length)
    left, ink_top, right, ink_bottom = bbox or font.getbbox(text, anchor="ls")
    top = min(ink_top, -ascent)
    bottom = max(ink_bottom, descent)
    ox, oy = margin - left, margin - top
    width = int(right - left) + 2 * margin
    height = int(bottom - top) + 2 * margin
    char_boxes: list[Box | None] | None = None
    word_boxes: list[Box] | None = None
    spans = _words(text)
    if not shaped:
        char_boxes = []
        box = char_boxes.append
        for ch, pen, (_, (x0, t, x1, b)) in zip(text, pens, infos, strict=True):
            if ch == " " or x1 <= x0 or b <= t:
                box(None)
                continue
            box([ox + pen + x0, oy + t, ox + pen + x1, oy + b])
        word_boxes = []
        for s, e in spans:
            inked = [b for b in char_boxes[s:e] if b is not None]
            word_boxes.append(_union(inked) if inked else [ox, oy, ox, oy])
        note = "chars+words"
    elif not (is_rtl(text) and has_strong_ltr(text)):
        total = font.getlength(text)
        word_boxes = []
        rtl = is_rtl(text)
        for s, e in spans:
            pen = total - font.getlength(text[:e]) if rtl else font.getlength(text[:s])
            x0, t, x1, b = font.getbbox(text[s:e], anchor="ls")
            word_boxes.append([ox + pen + x0, oy + t, ox + pen + x1, oy + b])
        note = "words (shaped script)"
    else:
        note = "line only (mixed direction)"
    line_box = [ox + left, oy + ink_top, ox + right, oy + ink_bottom]
    return LineLayout(
        width,
        height,
        (ox, oy),
        line_box,
        char_boxes,
        word_boxes,
        note,
        tuple(pens) if not shaped else None,
    )


def layout_runs(
    text: str,
    runs: list[tuple[ImageFont.FreeTypeFont, int, int, bool, str | None]],
    shaped: bool,
    margin: int = 2,
) -> LineLayout:
    """``layout_line`` for a line drawn in several fonts: ``runs`` are (font object, start,
    end, kerning, direction) in visual order (``synth.ocr.bidi.visual_runs``; direction None
    for a left-to-right line), laid left to right on one baseline, each run shaped on its own
    (in its direction) when ``shaped``. No kerning across a run boundary, as between two fonts.

    Unshaped: character boxes from each run's cached boxes, as ``layout_line``. Shaped: word
    boxes, a word that spans runs being the union of its pieces; a line with right-to-left
    runs gets its line box only.
    """
    offsets: list[float] = []
    pens: list[float] = []
    infos: list = []
    pieces: list[tuple[float, tuple[int, int, int, int]]] = []  # per run: offset, ink box
    ascent = descent = 0
    x = 0.0
    rtl = any(r[4] == "rtl" for r in runs)
    for font, start, end, kerning, direction in runs:
        a, d = font.getmetrics()
        ascent, descent = max(ascent, a), max(descent, d)
        piece = text[start:end]
        if shaped:  # a whole pixel: Pillow then draws the run at its measured box
            x = float(pixel(x))
        offsets.append(x)
        if shaped:
            length = font.getlength(piece, direction=direction)
            pieces.append((x, font.getbbox(piece, anchor="ls", direction=direction)))
        else:
            run_pens, run_infos, length = _pens(piece, font, kerning)
            pens += [x + p for p in run_pens]
            infos += run_infos
        x += length
    if shaped:
        left = min(min(0, pixel(o) + b[0]) for o, b in pieces)
        ink_top = min(b[1] for _, b in pieces)
        right = max(max(pixel(x), pixel(o) + b[2]) for o, b in pieces)
        ink_bottom = max(b[3] for _, b in pieces)
    else:
        left = top_ = right = bottom_ = 0
        for pen, (_, (x0, t, x1, b)) in zip(pens, infos, strict=True):
            px = pixel(pen)
            left, right = min(left, px + x0), max(right, px + x1)
            top_, bottom_ = min(top_, t), max(bottom_, b)
        right = max(right, pixel(x))
        ink_top, ink_bottom = top_, bottom_
    top = min(ink_top, -ascent)
    bottom = max(ink_bottom, descent)
    ox, oy = margin - left, margin - top
    width = int(right - left) + 2 * margin
    height = int(bottom - top) + 2 * margin
    spans = _words(text)
    char_boxes: list[Box | None] | None = None
    word_boxes: list[Box] | None = []
    if rtl:
        word_boxes = None
        note = "line only (right-to-left in several fonts)"
    elif not shaped:
        char_boxes = []
        for ch, pen, (_, (x0, t, x1, b)) in zip(text, pens, infos, strict=True):
            if ch == " " or x1 <= x0 or b <= t:
                char_boxes.append(None)
                continue
            char_boxes.append([ox + pen + x0, oy + t, ox + pen + x1, oy + b])
        for s, e in spans:
            inked = [b for b in char_boxes[s:e] if b is not None]
            word_boxes.append(_union(inked) if inked else [ox, oy, ox, oy])
        note = "chars+words"
    else:
        for s, e in spans:
            parts = []
            for (font, start, end, _, _), off in zip(runs, offsets, strict=True):
                a, b = max(s, start), min(e, end)
                if a >= b:
                    continue
                pen = off + font.getlength(text[start:a])
                x0, t, x1, bt = font.getbbox(text[a:b], anchor="ls")
                if x1 > x0 and bt > t:
                    parts.append([ox + pen + x0, oy + t, ox + pen + x1, oy + bt])
            word_boxes.append(_union(parts) if parts else [ox, oy, ox, oy])
        note = "words (shaped script)"
    line_box = [ox + left, oy + ink_top, ox + right, oy + ink_bottom]
    return LineLayout(
        width,
        height,
        (ox, oy),
        line_box,
        char_boxes,
        word_boxes,
        note,
        tuple(pens) if not shaped else None,
        tuple(offsets),
    )
