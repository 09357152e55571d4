"""Line masks from cached glyph bitmaps must be Pillow's own pixels."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from synth.ocr import glyphs
from synth.ocr.fonts import load_font_pool, needs_shaping
from synth.ocr.glyphs import line_mask
from synth.ocr.layout import _line_bbox, _pens

ALPHABET = "abcdefghijklmnopqrstuvwxyzAVTWYLPfijlrty0123456789 .,;:'\"!?-()[]/_^`~@#%&*+=°éüßøç"


def _pillow(font: ImageFont.FreeTypeFont, text: str, bbox, pad: int = 5) -> np.ndarray:
    left, top, right, bottom = bbox
    image = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad - left, pad - top), text, fill=255, font=font, anchor="ls")
    return np.asarray(image)


def _ours(font: ImageFont.FreeTypeFont, text: str, kern: bool, pad: int = 5):
    pens, infos, length = _pens(text, font, kern)
    bbox = _line_bbox(pens, infos, length)
    mask = line_mask(font, text, pens, bbox)
    out = np.zeros((mask.shape[0] + 2 * pad, mask.shape[1] + 2 * pad), dtype=np.uint8)
    out[pad : pad + mask.shape[0], pad : pad + mask.shape[1]] = mask
    return out, bbox


def _lines(rnd: random.Random, font, count: int):
    for _ in range(count):
        text = "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 32)))
        if font.can_draw(text) and not needs_shaping(text):
            yield text


def test_line_masks_equal_pillows_drawing_for_every_embedded_font():
    rnd = random.Random(11)
    compared = 0
    for font in load_font_pool(None, None).fonts:
        for size in (13, 29, 47):
            ft = ImageFont.truetype(font.path, size, layout_engine=ImageFont.Layout.BASIC)
            for text in _lines(rnd, font, 12):
                ours, bbox = _ours(ft, text, font.kern_table)
                np.testing.assert_array_equal(ours, _pillow(ft, text, bbox), err_msg=text)
                compared += 1
    assert compared > 300


def test_overlapping_glyphs_blend_as_pillow_blends_them():
    """Italic and script faces overlap neighbouring glyphs: those pixels take Pillow's
    integer 'over' blend, not the larger or the later value."""
    from synth.ocr.layout import pixel

    pool = {f.id: f for f in load_font_pool(None, None).fonts}
    overlapping = 0
    for name in ("LiberationSans-Italic.ttf", "DancingScript-Regular.otf", "Kristi.ttf"):
        ft = ImageFont.truetype(pool[name].path, 44, layout_engine=ImageFont.Layout.BASIC)
        text = "ffffjjjj gyjpq Wavy fifty"
        ours, bbox = _ours(ft, text, pool[name].kern_table)
        np.testing.assert_array_equal(ours, _pillow(ft, text, bbox))
        pens, _, _ = _pens(text, ft, pool[name].kern_table)
        reach = None  # right edge of the ink so far
        for ch, pen in zip(text, pens, strict=True):
            g = glyphs.glyph(ft, ch)
            if g is None:
                continue
            x = pixel(pen) + g[1]
            overlapping += reach is not None and x < reach
            reach = max(reach or x, x + g[0].shape[1])
    assert overlapping > 0  # the blend above was really exercised


def test_the_glyph_cache_stays_within_its_budget(monkeypatch):
    monkeypatch.setattr(glyphs, "CACHE_BUDGET_BYTES", 20_000)
    monkeypatch.setattr(glyphs, "_held", 0)
    glyphs._CACHES.clear()
    font = next(f for f in load_font_pool(None, None).fonts if f.id == "DejaVuSans.ttf")
    rnd = random.Random(2)
    for size in (30, 40, 50, 56):
        ft = ImageFont.truetype(font.path, size, layout_engine=ImageFont.Layout.BASIC)
        for text in _lines(rnd, font, 10):
            ours, bbox = _ours(ft, text, font.kern_table)
            np.testing.assert_array_equal(ours, _pillow(ft, text, bbox))
            assert glyphs.cached_bytes() <= 20_000 + 56 * 56  # one glyph over, at most
    glyphs._CACHES.clear()


@pytest.mark.parametrize("preset", ["clean", "default"])
def test_rendered_samples_equal_drawing_with_pillow(preset, monkeypatch):
    """Whole samples (backgrounds, warps, effects) with the glyph path and with Pillow's
    ImageDraw.text for every line give the same bytes."""
    from synth.ocr import generator as gen_module
    from synth.ocr.generator import OcrGenerator
    from synth.ocr.spec import build_spec
    from synth.rng import sample_rng

    gen = OcrGenerator(build_spec(preset).model_dump(mode="json"))
    recipes = [gen.sample(i, sample_rng(21, i)) for i in range(40)]
    fast = [gen.render(r, f"s/{r['index']}").files for r in recipes]
    monkeypatch.setattr(gen_module, "_line_glyphs", lambda *a, **k: None)
    slow = [gen.render(r, f"s/{r['index']}").files for r in recipes]
    assert fast == slow


def test_a_font_drawn_differently_from_pillow_falls_back_to_pillow(tmp_path, monkeypatch):
    """Fonts from a user's folder are checked on their first line: if the cached glyphs would
    place ink where Pillow does not (simulated here by shifting every glyph a pixel), that font
    is drawn by Pillow from then on, so the images stay Pillow's own."""
    import shutil

    from synth.assets import embedded_dir
    from synth.ocr import generator as gen_module
    from synth.ocr.generator import OcrGenerator
    from synth.ocr.spec import build_spec
    from synth.rng import sample_rng

    fonts = tmp_path / "fonts"
    fonts.mkdir()
    shutil.copy(embedded_dir("fonts") / "DejaVuSans.ttf", fonts)
    spec = build_spec("clean", {"fonts": {"dir": str(fonts), "styles": None}})
    gen = OcrGenerator(spec.model_dump(mode="json"))
    recipes = [gen.sample(i, sample_rng(5, i)) for i in range(12)]
    real = glyphs.glyph

    def shifted(font, ch):
        g = real(font, ch)
        return None if g is None else (g[0], g[1] + 1, g[2])

    monkeypatch.setattr(glyphs, "glyph", shifted)
    glyphs._TRUSTED.clear()
    checked = [gen.render(r, f"s/{r['index']}").files for r in recipes]
    assert glyphs._TRUSTED and not any(glyphs._TRUSTED.values())  # every font object refused
    monkeypatch.setattr(gen_module, "_line_glyphs", lambda *a, **k: None)
    assert checked == [gen.render(r, f"s/{r['index']}").files for r in recipes]
    glyphs._TRUSTED.clear()


def test_a_font_drawn_as_pillow_draws_it_is_trusted():
    font = next(
        f for f in load_font_pool(None, None).fonts if f.id == "LiberationSerif-Regular.ttf"
    )
    ft = ImageFont.truetype(font.path, 33, layout_engine=ImageFont.Layout.BASIC)
    text = "Trusted, quickly (AVAWAY) 1234"
    pens, infos, length = _pens(text, ft, font.kern_table)
    assert glyphs.trusted(ft, text, pens, _line_bbox(pens, infos, length))
