"""Contrast maths and luminance statistics."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.ocr.backgrounds import render_generated, sample_generated
from synth.ocr.color import (
    contrast_ratio,
    generated_luminance_stats,
    luminance_stats,
    relative_luminance,
    sample_text_color,
)


def test_wcag_reference_values():
    assert relative_luminance([255, 255, 255]) == 1.0
    assert relative_luminance([0, 0, 0]) == 0.0
    assert round(contrast_ratio(1.0, 0.0), 6) == 21.0
    assert round(relative_luminance([128, 128, 128]), 4) == 0.2159


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    kind=st.sampled_from(["flat", "gradient"]),
    w=st.integers(4, 500),
    h=st.integers(4, 120),
    data=st.data(),
)
def test_generated_stats_equal_the_rendered_ones(seed, kind, w, h, data):
    params = sample_generated(kind, np.random.default_rng(seed))
    x0 = data.draw(st.integers(0, w - 1))
    y0 = data.draw(st.integers(0, h - 1))
    x1 = data.draw(st.integers(x0 + 1, w))
    y1 = data.draw(st.integers(y0 + 1, h))
    rendered = luminance_stats(render_generated(params, (w, h)).crop((x0, y0, x1, y1)))
    assert generated_luminance_stats(params, (w, h), (x0, y0, x1, y1)) == rendered


def test_luminance_stats_do_not_depend_on_the_region_shape():
    rng = np.random.default_rng(1)
    from PIL import Image

    pixels = rng.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
    a = luminance_stats(Image.fromarray(pixels))
    b = luminance_stats(Image.fromarray(np.ascontiguousarray(pixels.copy())))
    assert a == b


@settings(max_examples=200, deadline=None)
@given(p10=st.floats(0, 1), spread=st.floats(0, 1), ratio=st.floats(1, 21), seed=st.integers(0, 99))
def test_a_drawn_colour_meets_the_ratio_against_the_worst_case(p10, spread, ratio, seed):
    stats = {"p10": p10, "p90": min(1.0, p10 + spread)}
    color = sample_text_color(stats, ratio, np.random.default_rng(seed))
    if color is None:  # neither dark nor light text can reach the ratio on this background
        assert (stats["p10"] + 0.05) / ratio - 0.05 < 0
        assert ratio * (stats["p90"] + 0.05) - 0.05 > 1
        return
    lum = relative_luminance(color["rgb"])
    ref = stats["p10"] if color["polarity"] == "dark" else stats["p90"]
    assert contrast_ratio(lum, ref) >= ratio - 1e-9
    assert abs(color["contrast_ratio"] - contrast_ratio(lum, ref)) < 1e-3


def test_flat_and_gradient_luminance_match_the_drawn_background():
    from synth.ocr.backgrounds import render_generated
    from synth.ocr.color import generated_luminance_stats, luminance_stats

    canvas, box = (203, 57), (9, 5, 190, 50)
    for params in (
        {"kind": "flat", "color": [200, 17, 99]},
        {"kind": "gradient", "color_from": [3, 250, 40], "color_to": [255, 0, 128], "vertical": 0},
        {"kind": "gradient", "color_from": [90, 9, 200], "color_to": [10, 240, 2], "vertical": 1},
    ):
        drawn = luminance_stats(render_generated(params, canvas).crop(box))
        assert generated_luminance_stats(params, canvas, box) == drawn


def test_ink_text_on_paper_is_a_dark_pen_colour_with_the_contrast():
    from synth.ocr.color import INKS

    stats = {"p10": 0.8, "p90": 0.85}  # light paper
    for seed in range(30):
        color = sample_text_color(stats, 4.5, np.random.default_rng(seed), ink=True)
        assert color["ink"] is True and color["polarity"] == "dark"
        assert color["contrast_ratio"] >= 4.5
        # one of the inks (spread up to 12 a channel), or that ink darkened towards black
        assert any(
            all(c <= t + 12 for c, t in zip(color["rgb"], tone, strict=True)) for tone in INKS
        )
        assert relative_luminance(color["rgb"]) <= relative_luminance((192, 82, 202))
    dark_paper = {"p10": 0.01, "p90": 0.02}  # no dark ink can reach 4.5 here: light text, not ink
    color = sample_text_color(dark_paper, 4.5, np.random.default_rng(0), ink=True)
    assert color["polarity"] == "light" and color["ink"] is False
