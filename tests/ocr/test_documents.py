"""Procedural document backgrounds: replay, exact patterns from degenerate parameters, shapes
and ranges for any size, and each kind wired into the generator and its presets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.ocr import documents as d
from synth.ocr.backgrounds import render_generated, sample_generated
from synth.ocr.generator import OcrGenerator
from synth.ocr.spec import DOCUMENT_KINDS, build_spec
from synth.rng import sample_rng


def _flat_paper(tone=(240, 240, 240)) -> dict:
    """Paper without grain, mottle or fibres: every pixel is the tone."""
    return {
        "kind": "paper",
        "tone_rgb": list(tone),
        "grain_std": 0.0,
        "grain_cell_px": 1.0,
        "mottle_std": 0.0,
        "mottle_cell_px": 20.0,
        "fibres_per_10k_px": 0.0,
        "fibre_alpha": 0.0,
        "seed": 1,
    }


def test_spec_kinds_are_the_module_kinds():
    assert DOCUMENT_KINDS == d.KINDS


@pytest.mark.parametrize("kind", d.KINDS)
def test_each_kind_replays_from_json_byte_for_byte(kind):
    for i in range(6):
        params = d.sample_document(kind, np.random.default_rng([7, i]))
        assert params["kind"] == kind
        replayed = json.loads(json.dumps(params))
        assert replayed == params  # JSON-ready: nothing is lost
        a = d.render_document(params, (300, 60))
        b = d.render_document(replayed, (300, 60))
        assert a.dtype == np.uint8 and a.shape == (60, 300, 3)
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("kind", d.KINDS)
def test_different_draws_differ_and_look_like_paper(kind):
    images = [
        d.render_document(d.sample_document(kind, np.random.default_rng([3, i])), (240, 50))
        for i in range(8)
    ]
    assert len({im.tobytes() for im in images}) == 8
    # Paper is light: the median pixel of most draws is brighter than mid grey (a photographed
    # page can be under-exposed or show the desk beyond its edge).
    bright = sum(float(np.median(im)) > 150 for im in images)
    assert bright >= 6, [float(np.median(im)) for im in images]


def test_plain_paper_with_no_texture_is_its_tone():
    img = d.render_paper(_flat_paper((250, 242, 224)), (40, 10))
    assert (img == np.array([250, 242, 224], dtype=np.uint8)).all()


def test_lined_paper_draws_rules_at_the_spacing_and_offset():
    params = {
        "kind": "lined",
        "paper": _flat_paper(),
        "spacing_px": 20.0,
        "offset_px": 5.5,  # rule centres at y = 5.5, 25.5, 45.5: rows 5, 25 and 45
        "thickness_px": 1.0,
        "color_rgb": [0, 0, 240],
        "alpha": 1.0,
        "margin": {"applied": False},
    }
    img = d.render_lined(params, (30, 50))
    ruled = [y for y in range(50) if (img[y] == [0, 0, 240]).all()]
    assert ruled == [5, 25, 45]
    blank = [y for y in range(50) if (img[y] == [240, 240, 240]).all()]
    assert len(blank) == 47


def test_a_margin_is_a_vertical_rule_at_its_fraction():
    params = {
        "kind": "lined",
        "paper": _flat_paper(),
        "spacing_px": 1000.0,
        "offset_px": 500.0,
        "thickness_px": 1.0,
        "color_rgb": [0, 0, 0],
        "alpha": 1.0,
        "margin": {"applied": True, "x_frac": 0.255, "thickness_px": 1.0, "color_rgb": [200, 0, 0]},
    }
    img = d.render_lined(params, (100, 10))
    cols = [x for x in range(100) if img[0, x, 1] < 100]
    assert cols == [25]  # centre at 25.5 px


def test_squared_paper_is_a_grid_in_both_directions():
    params = {
        "kind": "squared",
        "paper": _flat_paper(),
        "spacing_px": 10.0,
        "offset_px": [0.5, 0.5],
        "thickness_px": 1.0,
        "color_rgb": [0, 0, 0],
        "alpha": 1.0,
        "major_every": 0,
    }
    img = d.render_squared(params, (40, 30))
    dark = img[..., 0] == 0
    assert [x for x in range(40) if dark[:, x].all()] == [0, 10, 20, 30]
    assert [y for y in range(30) if dark[y].all()] == [0, 10, 20]


def test_a_form_draws_its_rules_and_boxes_in_its_ink():
    params = {
        "kind": "form",
        "paper": _flat_paper(),
        "ink_rgb": [0, 0, 0],
        "alpha": 1.0,
        "elements": [
            {"type": "rule", "y_frac": 0.5, "x_frac": [0.0, 1.0], "thickness_px": 1},
            {"type": "box", "box_frac": [0.1, 0.1, 0.9, 0.9], "thickness_px": 1},
        ],
    }
    img = d.render_form(params, (101, 51))
    assert (img[25, :, 0] == 0).all()  # the rule at y = 0.5 * (h - 1)
    assert (img[5, 10:91, 0] == 0).all() and (img[45, 10:91, 0] == 0).all()  # box top, bottom
    assert img[15, 50, 0] == 240  # inside the box: paper


def test_a_receipt_edge_shows_the_counter_beyond_it():
    params = d.sample_receipt(np.random.default_rng(0))
    params["edge"] = {
        "applied": True,
        "side": "right",
        "x_frac": 0.1,
        "surround_rgb": [40, 50, 60],
    }
    img = d.render_receipt(params, (200, 30))
    assert (img[:, 180:] == [40, 50, 60]).all()
    assert img[:, :170].mean() > 200  # thermal paper is bright


def test_a_photographed_page_with_its_edge_in_view_shows_the_desk():
    params = d.sample_photographed(np.random.default_rng(1))
    params.update(
        page=_flat_paper(),
        corner_shifts_frac=[[0.4, 0.0], [0.0, 0.0], [0.0, 0.0], [0.4, 0.0]],  # left edge at 40%
        edge="left",
        surround_rgb=[20, 90, 30],
        vignette=0.0,
        cast_gain_rgb=[1.0, 1.0, 1.0],
        exposure=1.0,
        shadow={"applied": False},
        noise_std=0.0,
    )
    img = d.render_photographed(params, (100, 20))
    assert (img[:, :38] == [20, 90, 30]).all()
    assert (img[:, 42:] == [240, 240, 240]).all()


def test_scan_artefacts_darken_where_they_say():
    params = d.sample_scan(np.random.default_rng(2))
    params.update(
        page=_flat_paper(),
        illumination={"applied": False},
        fold={"applied": False},
        halftone={"applied": False},
        scanner={"applied": False},
        shadow={"applied": True, "side": "left", "width_frac": 0.1, "depth": 0.5},
    )
    img = d.render_scan(params, (200, 20)).astype(int)
    assert img[10, 0, 0] < 140  # half as bright at the left edge
    assert img[10, 199, 0] >= 239  # untouched far from it
    assert (np.diff(img[10, :, 0]) >= 0).all()  # brightening away from the edge


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(d.KINDS),
    seed=st.integers(0, 2**31 - 1),
    w=st.integers(1, 260),
    h=st.integers(1, 90),
)
def test_any_size_renders_in_range(kind, seed, w, h):
    img = d.render_document(d.sample_document(kind, np.random.default_rng(seed)), (w, h))
    assert img.shape == (h, w, 3) and img.dtype == np.uint8


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown document background kind 'papyrus'.*paper"):
        d.sample_document("papyrus", np.random.default_rng(0))


def test_backgrounds_dispatches_document_kinds():
    params = sample_generated("receipt", np.random.default_rng(4))
    assert params["kind"] == "receipt"
    img = render_generated(params, (120, 40))
    assert img.mode == "RGB" and img.size == (120, 40)
    assert np.asarray(img).tobytes() == d.render_document(params, (120, 40)).tobytes()


def test_the_document_preset_draws_documents_only_and_replays():
    spec = build_spec("document")
    assert spec.backgrounds.photo_prob == 0.0 and spec.backgrounds.document_prob == 1.0
    gen = OcrGenerator(spec)
    kinds = []
    for i in range(30):
        recipe = gen.sample(i, sample_rng(9, i))
        kinds.append(recipe["background"]["kind"])
        if i < 8:
            first = gen.render(recipe, f"s/{i}")
            again = OcrGenerator(build_spec("document")).render(
                json.loads(json.dumps(recipe)), f"s/{i}"
            )
            assert again.files == first.files
            assert first.row["background_kind"] == recipe["background"]["kind"]
    assert set(kinds) <= set(d.KINDS)
    assert len(set(kinds)) >= 5  # a mix, not one kind
    assert gen.inputs() and all(ref.role != "background" for ref in gen.inputs())


def test_the_default_preset_mixes_documents_photos_and_fills():
    gen = OcrGenerator(build_spec("default"))
    kinds = [gen.sample(i, sample_rng(4, i))["background"]["kind"] for i in range(120)]
    docs = sum(k in d.KINDS for k in kinds)
    photos = kinds.count("photo")
    fills = sum(k in ("flat", "gradient", "noise") for k in kinds)
    assert docs + photos + fills == 120
    assert docs >= 40 and photos >= 10 and fills >= 10, (docs, photos, fills)


def test_the_clean_preset_draws_no_documents():
    gen = OcrGenerator(build_spec("clean"))
    kinds = {gen.sample(i, sample_rng(4, i))["background"]["kind"] for i in range(30)}
    assert kinds <= {"flat", "gradient"}
