"""The OCR generator: replay, determinism, glyph coverage, boxes around the ink, contrast."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from synth.ocr.generator import OcrGenerator
from synth.ocr.spec import build_spec
from synth.rng import sample_rng


@pytest.fixture(scope="module")
def default_gen() -> OcrGenerator:
    return OcrGenerator(build_spec("default"))


@pytest.fixture(scope="module")
def clean_gen() -> OcrGenerator:
    return OcrGenerator(build_spec("clean"))


def _warped_gen(**geometry) -> OcrGenerator:
    geo = {
        "prob": 1.0,
        "rotation_deg_range": [-8, 8],
        "skew_deg_range": [-15, 15],
        "perspective_frac_range": [0.05, 0.2],
    } | geometry
    return OcrGenerator(build_spec("default", {"geometry": geo}))


def test_same_seed_and_index_give_the_same_recipe(default_gen):
    a = default_gen.sample(7, sample_rng(42, 7))
    b = default_gen.sample(7, sample_rng(42, 7))
    c = default_gen.sample(8, sample_rng(42, 8))
    assert a == b
    assert a != c


def test_recipe_round_trips_through_json_and_replays_byte_for_byte(default_gen):
    for i in range(20):
        recipe = default_gen.sample(i, sample_rng(3, i))
        first = default_gen.render(recipe, f"s/{i}")
        replayed_recipe = json.loads(json.dumps(recipe))
        fresh = OcrGenerator(build_spec("default"))  # no memo, no warm caches
        again = fresh.render(replayed_recipe, f"s/{i}")
        assert again.files == first.files
        assert again.outputs == first.outputs
        assert again.row == first.row


def test_degenerate_ranges_draw_their_value():
    gen = OcrGenerator(
        build_spec(
            "default",
            {
                "fonts": {"size_px_range": [30, 30]},
                "geometry": {
                    "prob": 1.0,
                    "rotation_deg_range": [5, 5],
                    "skew_deg_range": [0, 0],
                    "perspective_frac_range": [0, 0],
                    "padding_px_range": [3, 3],
                },
                "effects": {
                    "jpeg_quality_range": [77, 77],
                    "blur_prob": 1.0,
                    "blur_radius_px_range": [0.5, 0.5],
                },
            },
        )
    )
    for i in range(10):
        r = gen.sample(i, sample_rng(0, i))
        assert r["font_size_px"] == 30
        assert r["geometry"]["rotation_deg"] == 5.0
        assert r["geometry"]["skew_deg"] == 0.0
        assert r["padding_px"] == [3, 3, 3, 3]
        assert r["effects"]["jpeg_quality"] == 77
        assert r["effects"]["blur"] == {"applied": True, "radius_px": 0.5}


def test_not_applied_is_recorded_explicitly(clean_gen):
    r = clean_gen.sample(0, sample_rng(0, 0))
    assert r["geometry"] == {"applied": False}
    assert r["effects"]["blur"] == {"applied": False}
    assert r["effects"]["noise"] == {"applied": False}


def test_contrast_meets_the_minimum_and_is_recorded(default_gen, clean_gen):
    for gen, minimum in ((default_gen, 3.0), (clean_gen, 7.0)):
        for i in range(60):
            r = gen.sample(i, sample_rng(11, i))
            assert r["text_color"]["contrast_ratio"] >= minimum


def test_image_matches_canvas_and_format(default_gen):
    for i in range(10):
        recipe = default_gen.sample(i, sample_rng(5, i))
        rendered = default_gen.render(recipe, f"x/{i}")
        ((name, data),) = rendered.files.items()
        assert name == f"x/{i}.jpg"
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "JPEG"
            assert list(im.size) == recipe["canvas_px"]
            assert im.mode == "RGB"
        assert rendered.row["text"] == recipe["text"]


def _ink(mask: Image.Image) -> np.ndarray:
    return np.asarray(mask) > 64


def _check_boxes(gen: OcrGenerator, recipe: dict) -> None:
    composed = gen.compose(recipe, want_mask=True)
    out = composed.outputs
    w, h = recipe["canvas_px"]
    ink = _ink(composed.mask)
    assert ink.any(), "text left no ink"
    ys, xs = np.nonzero(ink)
    boxes = [b for b in (out["char_boxes"] or out["word_boxes"] or []) if b is not None]
    if out["char_boxes"] is not None:
        assert len(out["char_boxes"]) == len(recipe["text"])
        for ch, b in zip(recipe["text"], out["char_boxes"], strict=True):
            assert (b is None) == (ch == " "), (ch, b)
    assert boxes, out["boxes_note"]
    covered = np.zeros_like(ink)
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (recipe["text"], [x0, y0, x1, y1])
        # each box holds ink of its own
        assert ink[y0:y1, x0:x1].any(), (recipe["text"], [x0, y0, x1, y1])
        covered[max(0, y0 - 1) : y1 + 1, max(0, x0 - 1) : x1 + 1] = True
    # every inked pixel lies in some box (1 px for anti-aliasing)
    outside = ink & ~covered
    assert outside.sum() <= max(2, 0.002 * ink.sum()), (recipe["text"], int(outside.sum()))
    lx0, ly0, lx1, ly1 = out["line_box"]
    assert lx0 <= xs.min() + 1 and xs.max() - 1 < lx1 and ly0 <= ys.min() + 1 and ys.max() - 1 < ly1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), index=st.integers(0, 10**6))
def test_boxes_lie_inside_the_image_and_around_the_ink(seed, index):
    gen = _GENS["default"]
    _check_boxes(gen, gen.sample(index, sample_rng(seed, index)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), index=st.integers(0, 10**6))
def test_boxes_stay_exact_after_rotation_skew_and_perspective(seed, index):
    gen = _GENS["warped"]
    recipe = gen.sample(index, sample_rng(seed, index))
    assert recipe["geometry"]["applied"]
    _check_boxes(gen, recipe)
    out = gen.compose(recipe).outputs
    assert len(out["word_quads"]) == len(out["word_boxes"])


_GENS: dict[str, OcrGenerator] = {}


@pytest.fixture(autouse=True, scope="module")
def _gens():
    _GENS["default"] = OcrGenerator(build_spec("default"))
    _GENS["warped"] = _warped_gen()
    yield
    _GENS.clear()


@pytest.mark.parametrize(
    ("locale", "script_font"),
    [("ar_AA", "Arabic"), ("he_IL", "Hebrew"), ("th_TH", "Thai"), ("hi_IN", None)],
)
def test_complex_scripts_are_shaped_with_word_boxes(locale, script_font):
    gen = OcrGenerator(
        build_spec("clean", {"text": {"locales": [locale], "faker_kinds": ["name"]}})
    )
    for i in range(8):
        r = gen.sample(i, sample_rng(1, i))
        composed = gen.compose(r, want_mask=True)
        if r["layout"] == "raqm":
            assert composed.outputs["char_boxes"] is None
            if composed.outputs["word_boxes"] is not None:
                _check_boxes(gen, r)
        else:
            _check_boxes(gen, r)
        font = gen.font_by_id[r["font"]["id"]]
        assert font.can_draw(r["text"])


def test_box_mapping_of_a_plain_translation_equals_the_general_path():
    """Unwarped lines take a shortcut in box mapping; it must give the very same boxes as the
    homogeneous-coordinates path the warped lines take."""
    from synth.ocr import geometry as geo
    from synth.ocr.generator import _map_boxes

    rng = np.random.default_rng(5)
    for _ in range(200):
        x0, y0 = rng.uniform(-20, 300, size=2)
        boxes = [
            [float(x0), float(y0), float(x0 + w), float(y0 + h)]
            for w, h in rng.uniform(0, 60, size=(int(rng.integers(1, 40)), 2))
        ]
        m = geo.translation(float(rng.uniform(0, 30)), float(rng.uniform(0, 30)))
        canvas = (int(rng.integers(50, 400)), int(rng.integers(20, 120)))
        fast, no_quads = _map_boxes(m, boxes, canvas, quad=False)
        general, _ = _map_boxes(m, boxes, canvas, quad=True)
        assert no_quads is None
        assert fast == general
        assert all(type(v) is int for box in fast for v in box)


def test_kern_table_is_read_from_the_font_file():
    from synth.assets import embedded_dir
    from synth.ocr.fonts import load_font

    fonts = embedded_dir("fonts")
    assert load_font(fonts / "DejaVuSans.ttf", "sans", "x", "x").kern_table is True
    assert load_font(fonts / "Inconsolata.otf", "mono", "x", "x").kern_table is False


@pytest.mark.parametrize("name", ["Inconsolata.otf", "NotoSans-Bold.ttf", "ComicNeue-Regular.otf"])
def test_layout_without_pair_lengths_equals_the_measured_layout(name):
    """A font without a 'kern' table is laid out from single advances: the same numbers as
    measuring every pair (and as Pillow's own prefix lengths)."""
    from PIL import ImageFont

    from synth.assets import embedded_dir
    from synth.ocr.layout import layout_line

    path = str(embedded_dir("fonts") / name)
    text = "AVATAR To Wa, LT Yo P. fjord quick(brown) fox: 12.50%"
    for size in (17, 28, 41):
        measured = layout_line(text, ImageFont.truetype(path, size), shaped=False, kerning=True)
        fresh = ImageFont.truetype(path, size)
        shortcut = layout_line(text, fresh, shaped=False, kerning=False)
        assert shortcut == measured
        inked = [i for i, b in enumerate(shortcut.char_boxes) if b is not None]
        last = inked[-1]
        pen = fresh.getlength(text[: last + 1]) - fresh.getlength(text[last])
        x0 = fresh.getbbox(text[last], anchor="ls")[0]
        assert shortcut.char_boxes[last][0] == shortcut.origin[0] + pen + x0


def test_layout_of_a_kerning_font_still_measures_pairs():
    """DejaVu Sans kerns 'AV': its pen positions must include the pair adjustment."""
    from PIL import ImageFont

    from synth.assets import embedded_dir
    from synth.ocr.layout import layout_line

    font = ImageFont.truetype(str(embedded_dir("fonts") / "DejaVuSans.ttf"), 40)
    assert font.getlength("AV") != font.getlength("A") + font.getlength("V")
    lay = layout_line("AV", font, shaped=False, kerning=True)
    pen_v = font.getlength("AV") - font.getlength("V")
    assert lay.char_boxes[1][0] == lay.origin[0] + pen_v + font.getbbox("V", anchor="ls")[0]


def test_line_box_from_character_boxes_matches_pillows_own():
    """An unshaped line's box is put together from its characters' cached boxes; against
    ``font.getbbox(text, anchor="ls")`` left, top and bottom are exact and right is exact or one
    pixel wider (so the text never touches the layer's edge), for every embedded font."""
    import random

    from PIL import ImageFont

    from synth.ocr.fonts import load_font_pool
    from synth.ocr.layout import _line_bbox, _pens

    rnd = random.Random(3)
    alphabet = "abcdefghijklmnopqrstuvwxyzAVTWYLPjfgq0123456789 .,;:'\"!?-()[]/_^`~@#%&*+=°éüßøç"
    exact = total = 0
    for font in load_font_pool(None, None).fonts:
        for size in (11, 23, 40):
            ft = ImageFont.truetype(font.path, size, layout_engine=ImageFont.Layout.BASIC)
            for _ in range(25):
                text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 30)))
                if not font.can_draw(text):
                    continue
                made = _line_bbox(*_pens(text, ft, font.kern_table))
                left, top, right, bottom = ft.getbbox(text, anchor="ls")
                assert made is not None
                assert (made[0], made[1], made[3]) == (left, top, bottom), (font.id, size, text)
                assert right <= made[2] <= right + 1, (font.id, size, text)
                exact += made[2] == right
                total += 1
    assert total > 500 and exact / total > 0.99
