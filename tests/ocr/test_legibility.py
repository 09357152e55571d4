"""Legibility: per-character contrast measured on the final image, and the floor that redraws
(and counts) a line under it."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.errors import TooManyRejections
from synth.ocr.color import contrast_ratio, relative_luminance
from synth.ocr.generator import OcrGenerator
from synth.ocr.legibility import char_contrasts, measure
from synth.ocr.spec import build_spec
from synth.rng import sample_rng


def _lum(v: int) -> float:
    return relative_luminance((v, v, v))


def test_solid_ink_on_flat_paper_is_the_wcag_ratio_of_the_two_colours():
    img = np.full((20, 40, 3), 200, dtype=np.uint8)
    cov = np.zeros((20, 40), dtype=np.uint8)
    img[5:15, 5:10] = 0
    cov[5:15, 5:10] = 255
    img[5:15, 25:30] = 120
    cov[5:15, 25:30] = 255
    got = char_contrasts(img, cov, [[2, 2, 13, 18], [22, 2, 33, 18]])
    assert got[0] == pytest.approx(contrast_ratio(_lum(200), _lum(0)), rel=1e-5)
    assert got[1] == pytest.approx(contrast_ratio(_lum(200), _lum(120)), rel=1e-5)


def test_a_textured_background_counts_one_standard_deviation_against_the_ink():
    img = np.zeros((20, 40, 3), dtype=np.uint8)
    img[:, ::2] = 250  # columns alternate 250 and 150 around the ink
    img[:, 1::2] = 150
    cov = np.zeros((20, 40), dtype=np.uint8)
    img[8:12, 18:22] = 0
    cov[8:12, 18:22] = 255
    (got,) = char_contrasts(img, cov, [[10, 0, 30, 20]])
    lums = np.array([_lum(250), _lum(150)])
    ref = lums.mean() - lums.std()  # equal counts of each column outside the ink's halo
    assert got == pytest.approx(contrast_ratio(ref, _lum(0)), rel=1e-4)
    assert got < contrast_ratio(lums.mean(), _lum(0))


def test_ink_as_light_as_the_background_has_no_contrast():
    img = np.full((10, 10, 3), 90, dtype=np.uint8)
    cov = np.zeros((10, 10), dtype=np.uint8)
    cov[3:7, 3:7] = 255
    assert char_contrasts(img, cov, [[0, 0, 10, 10]]) == [pytest.approx(1.0)]


def test_a_box_without_ink_is_not_measured_and_the_worst_box_is_named():
    img = np.full((10, 30, 3), 255, dtype=np.uint8)
    cov = np.zeros((10, 30), dtype=np.uint8)
    img[2:8, 2:6] = 0
    cov[2:8, 2:6] = 255
    img[2:8, 22:26] = 160
    cov[2:8, 22:26] = 255
    boxes = [[0, 0, 8, 10], [10, 0, 18, 10], [20, 0, 28, 10]]
    got = char_contrasts(img, cov, boxes)
    assert got[1] is None
    leg = measure(img, cov, {"char_boxes": [boxes[0], None, boxes[1], boxes[2]]})
    assert leg["unit"] == "char" and leg["worst_index"] == 3
    assert leg["min_contrast_ratio"] == round(got[2], 3)
    # no character boxes (a shaped line): its word boxes, then its line box
    assert measure(img, cov, {"char_boxes": None, "line_box": [0, 0, 30, 10]})["unit"] == "line"


def _low_contrast_gen(floor: float, **more) -> OcrGenerator:
    """Flat backgrounds and a text colour allowed any contrast (ratio >= 1): many lines come
    out unreadable, so the floor must redraw them."""
    config = {
        "backgrounds": {"photo_prob": 0.0, "document_prob": 0.0, "generated": ["flat"]},
        "color": {"min_contrast_ratio": 1.0, "min_char_contrast_ratio": floor},
        "geometry": {"prob": 0.0},
        "effects": {"blur_prob": 0.0, "noise_prob": 0.0, "jpeg_quality_range": [90, 90]},
        "max_retries": 200,
    } | more
    return OcrGenerator(build_spec("default", config))


def _remeasure(gen: OcrGenerator, recipe: dict) -> float:
    """The worst contrast measured again on the file as written (decoded JPEG)."""
    rendered = gen.render(recipe, "x")
    (data,) = rendered.files.values()
    with Image.open(io.BytesIO(data)) as im:
        final = np.asarray(im.convert("RGB"))
    mask = np.asarray(gen.compose(recipe, want_mask=True).mask)
    return measure(final, mask, rendered.outputs)["min_contrast_ratio"]


def test_without_a_floor_low_contrast_lines_are_measured_and_kept():
    gen = _low_contrast_gen(1.0)
    recipes = [gen.sample(i, sample_rng(1, i)) for i in range(40)]
    measured = [r["legibility"]["min_contrast_ratio"] for r in recipes]
    assert min(measured) < 2.0  # the degenerate spec does make illegible lines
    assert all("illegible" not in r["rejections"] for r in recipes)


def test_a_line_under_the_floor_is_redrawn_counted_and_never_emitted():
    gen = _low_contrast_gen(3.0)
    redrawn = 0
    for i in range(40):
        recipe = gen.sample(i, sample_rng(1, i))
        leg = recipe["legibility"]
        assert leg["min_contrast_ratio"] >= 3.0
        redrawn += recipe["rejections"].get("illegible", 0)
        if i < 10:
            # what is recorded is what the written file measures
            assert _remeasure(gen, recipe) == leg["min_contrast_ratio"]
            fresh = _low_contrast_gen(3.0)  # replay: the same bytes without the sample's memo
            again = fresh.render(json.loads(json.dumps(recipe)), "x")
            assert again.files == gen.render(recipe, "x").files
    assert redrawn >= 10


def test_a_floor_no_draw_can_reach_fails_with_the_field_named():
    gen = _low_contrast_gen(21.0, max_retries=5)
    with pytest.raises(
        TooManyRejections,
        match=r"no draw was legible in 5 tries.*"
        r"color.min_char_contrast_ratio 21.0",
    ):
        gen.sample(0, sample_rng(0, 0))


def test_blur_and_jpeg_count_against_a_line(tmp_path):
    """The same line measured sharp and after a heavy blur and a low JPEG quality."""
    base = _low_contrast_gen(1.0, color={"min_contrast_ratio": 4.5})
    sharp = base.sample(3, sample_rng(2, 3))
    blurred = json.loads(json.dumps(sharp))
    blurred["effects"]["blur"] = {"applied": True, "radius_px": 2.5}
    blurred["effects"]["jpeg_quality"] = 20
    _, _, after = base._render_measured(blurred)
    assert after["min_contrast_ratio"] < sharp["legibility"]["min_contrast_ratio"]


def test_a_default_build_records_kind_and_contrast_and_counts_redraws(tmp_path):
    spec = build_spec("default", {"shard_size": 20}).model_dump(mode="json")
    plan, gen = prepare("ocr", spec, seed=3, count=40, name="legible", home=tmp_path)
    catalog = open_catalog(tmp_path)
    try:
        result = build(plan, gen, catalog, workers=1)
    finally:
        catalog.close()
    rows = [json.loads(x) for x in (plan.out_dir / "metadata.jsonl").read_text().splitlines()]
    assert len(rows) == 40
    assert all(r["min_char_contrast_ratio"] >= 1.7 for r in rows)
    kinds = {r["background_kind"] for r in rows}
    assert kinds & {"paper", "lined", "squared", "form", "receipt", "scan", "photographed"}
    stats = result.record.statistics
    assert stats["rejections"].get("illegible", 0) > 0
    assert stats["numbers"]["min_char_contrast_ratio"]["min"] >= 1.7
    assert set(stats["counts"]["background_kind"]) == kinds
