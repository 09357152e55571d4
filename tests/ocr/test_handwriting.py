"""Handwriting effects: drawn into the recipe, replayed byte-exactly, boxes kept exact."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.verify import verify_dataset
from synth.errors import ConfigError
from synth.ocr import handwriting
from synth.ocr.generator import OcrGenerator
from synth.ocr.spec import build_spec

# every handwriting effect on every line, on plain fills, no geometry: boxes are exact
ALL_ON = {
    "text": {"source": "file"},
    "backgrounds": {"document_prob": 0.0, "generated": ["flat"]},
    "geometry": {"prob": 0.0},
    "effects": {
        "blur_prob": 0.0,
        "noise_prob": 0.0,
        "stroke_prob": 1.0,
        "stroke_radius_frac_range": [0.04, 0.08],
        "elastic_prob": 1.0,
        "elastic_alpha_frac_range": [0.08, 0.12],
        "pen_prob": 1.0,
        "pen_color_jitter_range": [30.0, 40.0],
        "pen_pressure_range": [0.3, 0.4],
    },
    "output": {"format": "png"},
}


def _texts(tmp_path, lines=("8", "1 2 3 4", "90 57 6", "Ha nd", "5 6 7")):
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _gen(tmp_path, overrides=None, preset="handwriting"):
    config = json.loads(json.dumps(ALL_ON))
    config["text"]["path"] = _texts(tmp_path)
    for key, value in (overrides or {}).items():
        config.setdefault(key, {}).update(value)
    return OcrGenerator(build_spec(preset, config))


def test_the_effects_are_recorded_and_drawn_from_the_sample_rng(tmp_path):
    gen = _gen(tmp_path)
    a = gen.sample(3, np.random.default_rng(11))
    b = _gen(tmp_path).sample(3, np.random.default_rng(11))
    assert a == b
    hand = a["effects"]["handwriting"]
    assert hand["stroke"]["applied"] and hand["stroke"]["radius_px"] >= 1
    assert hand["elastic"]["applied"] and hand["elastic"]["alpha_px"] > 0
    assert hand["pen"]["applied"] and 0.3 <= hand["pen"]["pressure"] <= 0.4
    assert hand["margin_px"] == (
        hand["stroke"]["radius_px"] + int(np.ceil(hand["elastic"]["alpha_px"])) + 1
    )
    c = gen.sample(3, np.random.default_rng(12))
    assert c["effects"]["handwriting"] != hand


def test_a_recipe_replays_to_the_same_bytes_in_a_new_generator(tmp_path):
    gen = _gen(tmp_path)
    recipes = [gen.sample(i, np.random.default_rng(100 + i)) for i in range(6)]
    first = [gen.render(r, f"s{i}").files for i, r in enumerate(recipes)]
    fresh = _gen(tmp_path)
    again = {i: fresh.render(recipes[i], f"s{i}").files for i in reversed(range(6))}
    assert first == [again[i] for i in range(6)]


def test_each_effect_changes_the_ink(tmp_path):
    gen = _gen(tmp_path)
    recipe = gen.sample(0, np.random.default_rng(5))
    base = np.asarray(gen.compose(recipe, want_mask=True).mask)
    for kind in ("stroke", "elastic", "pen"):
        other = json.loads(json.dumps(recipe))
        other["effects"]["handwriting"][kind] = {"applied": False}
        mask = np.asarray(gen.compose(other, want_mask=True).mask)
        assert mask.shape == base.shape
        assert int(np.abs(mask.astype(int) - base.astype(int)).sum()) > 0, kind
    thin = json.loads(json.dumps(recipe))
    thin["effects"]["handwriting"]["stroke"] = {"applied": False}
    thin["effects"]["handwriting"]["pen"] = {"applied": False}
    thick = json.loads(json.dumps(thin))
    thick["effects"]["handwriting"]["stroke"] = {"applied": True, "radius_px": 2}
    area = [int((np.asarray(gen.compose(r, want_mask=True).mask) > 0).sum()) for r in (thin, thick)]
    assert area[1] > area[0]


@pytest.mark.parametrize("seed", range(8))
def test_every_character_box_holds_its_ink_and_is_tight(tmp_path, seed):
    gen = _gen(tmp_path)
    recipe = gen.sample(seed, np.random.default_rng(seed))
    composed = gen.compose(recipe, want_mask=True)
    ink = np.asarray(composed.mask) > 0
    boxes = [b for b in composed.outputs["char_boxes"] if b is not None]
    assert boxes
    inside = np.zeros_like(ink)
    for x0, y0, x1, y1 in boxes:
        inside[y0:y1, x0:x1] = True
        part = ink[y0:y1, x0:x1]
        # tight: ink on every edge of the box
        assert part[0].any() and part[-1].any() and part[:, 0].any() and part[:, -1].any()
    assert not (ink & ~inside).any()  # no ink outside the character boxes
    # characters written apart: each blob of ink lies within one character's box
    apart = all(len(word) == 1 for word in recipe["text"].split())
    labels, _ = ndimage.label(ink)
    for blob in ndimage.find_objects(labels) if apart else []:
        y, x = blob
        assert any(
            x0 <= x.start and x.stop <= x1 and y0 <= y.start and y.stop <= y1
            for x0, y0, x1, y1 in boxes
        ), (blob, boxes)
    lx0, ly0, lx1, ly1 = composed.outputs["line_box"]
    ys, xs = np.nonzero(ink)
    assert (lx0, ly0, lx1, ly1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_a_single_character_box_is_its_ink_box_exactly(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("8\n", encoding="utf-8")
    gen = _gen(tmp_path, {"text": {"path": str(path), "length_chars_range": [1, 5]}})
    for seed in range(5):
        composed = gen.compose(gen.sample(0, np.random.default_rng(seed)), want_mask=True)
        ys, xs = np.nonzero(np.asarray(composed.mask) > 0)
        box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
        assert composed.outputs["char_boxes"] == [box]


def test_boxes_hold_the_ink_under_geometry_too(tmp_path):
    gen = _gen(tmp_path, {"geometry": {"prob": 1.0, "skew_deg_range": [-14.0, 14.0]}})
    for seed in range(4):
        composed = gen.compose(gen.sample(seed, np.random.default_rng(seed)), want_mask=True)
        ink = np.asarray(composed.mask) > 0
        inside = np.zeros_like(ink)
        for b in composed.outputs["char_boxes"]:
            if b is not None:
                inside[b[1] : b[3], b[0] : b[2]] = True
        assert not (ink & ~inside).any()


def test_a_pen_width_brings_bold_and_fine_strokes_together():
    layer = np.zeros((60, 80), dtype=np.uint8)
    layer[10:50, 10:14] = 255  # a stroke 4 px wide
    layer[10:50, 40:42] = 255
    assert 2.5 < handwriting.stroke_width(layer) < 4.0
    stroke = {"applied": True, "width_px": 8.0, "max_radius_px": 5}
    assert handwriting._stroke_radius(stroke, layer) == 3
    assert handwriting._stroke_radius({**stroke, "width_px": 1.0}, layer) == -1


def test_the_dataset_verifies_by_re_rendering_every_sample(tmp_path):
    config = json.loads(json.dumps(ALL_ON))
    config["text"]["path"] = _texts(tmp_path)
    config["shard_size"] = 6
    spec = build_spec("handwriting", config).model_dump(mode="json")
    catalog = open_catalog(tmp_path)
    rec = build(*prepare("ocr", spec, seed=4, count=12, name="hw", home=tmp_path), catalog).record
    catalog.close()
    report = verify_dataset(rec.path, rec.id, samples=12, seed=0)
    assert report.ok, report.to_json()
    assert report.rerendered == list(range(12))
    rows = [json.loads(x) for x in (tmp_path / rec.path / "recipes.jsonl").read_text().splitlines()]
    assert all(r["recipe"]["effects"]["handwriting"]["elastic"]["applied"] for r in rows)


def test_presets_without_the_effects_record_none_and_draw_the_same():
    spec = build_spec("default")
    assert not handwriting.enabled(spec.effects)
    gen = OcrGenerator(spec)
    recipe = gen.sample(0, np.random.default_rng(1))
    assert "handwriting" not in recipe["effects"]
    assert handwriting.enabled(build_spec("handwriting").effects)


@pytest.mark.parametrize(
    ("effects", "message"),
    [
        ({"elastic_prob": 1.5}, "effects.elastic_prob=1.5: Input should be less than or equal"),
        ({"stroke_radius_frac_range": [0.1, 0.0]}, "low 0.1 is above high 0.0"),
        ({"pen_pressure_range": [0.0, 2.0]}, "must be <= 1.0"),
        ({"elastic_wobble": 1}, "effects.elastic_wobble"),
    ],
)
def test_bad_effect_values_are_one_line_errors(effects, message):
    with pytest.raises(ConfigError) as err:
        build_spec("handwriting", {"effects": effects}, source="c.json")
    text = str(err.value)
    assert "\n" not in text and message in text and text.startswith("c.json")
