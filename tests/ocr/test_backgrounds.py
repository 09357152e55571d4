"""Background photos of unusual modes load as a person sees them, and the background spec's
sources are checked."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from synth.errors import ConfigError
from synth.ocr.backgrounds import load_background_pool, load_photo
from synth.ocr.spec import build_spec


def test_a_16_bit_greyscale_png_is_scaled_to_8_bits_not_clipped_to_white(tmp_path):
    ramp = (np.arange(64, dtype=np.uint32)[None, :] * 1040).repeat(32, axis=0)  # 0 .. 65520
    path = tmp_path / "grey16.png"
    Image.fromarray(ramp.astype(np.uint16)).save(path)
    with Image.open(path) as im:
        assert im.mode == "I;16"  # a real 16-bit PNG, as Pillow reads it
        # Pillow's own conversion clips: every value above 255 (all but the first column) white
        assert (np.asarray(im.convert("RGB"))[:, 1:] == 255).all()
    rgb = np.asarray(load_photo(path).image)
    assert rgb.dtype == np.uint8 and rgb.shape == (32, 64, 3)
    expected = np.round(ramp / 257.0).astype(np.uint8)
    assert (rgb[..., 0] == expected).all()
    assert (rgb[..., 0] == rgb[..., 2]).all()
    assert rgb[0, 0, 0] == 0 and rgb[0, 32, 0] == 129 and rgb[0, 63, 0] == 255


def test_a_fully_transparent_png_is_white_not_its_hidden_colours(tmp_path):
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[..., :3] = (200, 10, 10)  # what a transparent pixel hides
    path = tmp_path / "clear.png"
    Image.fromarray(rgba, "RGBA").save(path)
    assert (np.asarray(load_photo(path).image) == 255).all()


def test_a_half_transparent_png_is_composited_over_white(tmp_path):
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[..., 2] = 255
    rgba[..., 3] = 128  # blue at half opacity
    rgba[:, 15:, 3] = 255  # opaque blue on the right
    path = tmp_path / "half.png"
    Image.fromarray(rgba, "RGBA").save(path)
    rgb = np.asarray(load_photo(path).image).astype(int)
    assert list(rgb[0, 0]) == [127, 127, 255]
    assert list(rgb[0, 20]) == [0, 0, 255]


def test_a_palette_png_with_a_transparent_index_is_composited(tmp_path):
    pal = Image.new("P", (16, 16), 0)
    pal.putpalette([0, 0, 0, 250, 0, 0] + [0] * 762)
    pal.paste(1, (8, 0, 16, 16))
    path = tmp_path / "pal.png"
    pal.save(path, transparency=0)
    rgb = np.asarray(load_photo(path).image)
    assert (rgb[:, :8] == 255).all()  # index 0 is transparent: white, not black
    assert (rgb[:, 8:] == [250, 0, 0]).all()


def test_a_folder_of_16_bit_pngs_is_usable(tmp_path):
    Image.fromarray(np.full((40, 40), 30000, dtype=np.uint16)).save(tmp_path / "a.png")
    pool = load_background_pool(str(tmp_path), needed=True)
    assert [p.id for p in pool.photos] == ["a.png"] and pool.skipped == []
    assert np.asarray(pool.photos[0].image)[0, 0, 0] == 117  # 30000 / 257


def test_document_prob_needs_document_kinds():
    with pytest.raises(ConfigError, match="document_prob > 0 needs at least one document kind"):
        build_spec("default", {"backgrounds": {"documents": []}})


def test_no_source_at_all_is_an_error():
    with pytest.raises(ConfigError, match="need at least one generated background kind"):
        build_spec("document", {"backgrounds": {"document_prob": 0.5}})


def test_an_unknown_document_kind_is_named():
    with pytest.raises(ConfigError, match="papyrus"):
        build_spec("default", {"backgrounds": {"documents": ["papyrus"]}})
