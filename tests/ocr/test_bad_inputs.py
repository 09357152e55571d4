"""Bad OCR inputs: a one-line error naming the file or folder, or a skip that is counted and
recorded in ``dataset.json``; and a build that fails is never registered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synth.assets import embedded_dir
from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.errors import AssetError, ConfigError, TooManyRejections
from synth.hashing import sha256_file
from synth.ocr.backgrounds import load_background_pool
from synth.ocr.fonts import load_font_pool
from synth.ocr.spec import TextSpec, build_spec
from synth.ocr.text import TextSource
from synth.rng import sample_rng

GOOD_FONT = "DejaVuSans.ttf"
LATIN_ONLY_FONTS = ("Inconsolata.otf", "ComicNeue-Regular.otf")  # no Cyrillic in either
GOOD_PHOTO = "coffee.jpg"


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def _random_bytes(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


@pytest.fixture
def fonts_dir(tmp_path: Path) -> Path:
    """One good font, a corrupt .ttf (random bytes), an empty .otf and a stray text file."""
    d = tmp_path / "fonts"
    d.mkdir()
    shutil.copy(embedded_dir("fonts") / GOOD_FONT, d / GOOD_FONT)
    (d / "Corrupt.ttf").write_bytes(_random_bytes(4096))
    (d / "Empty.otf").write_bytes(b"")
    (d / "notes.txt").write_text("not a font")
    return d


@pytest.fixture
def backgrounds_dir(tmp_path: Path) -> Path:
    """One good photo, a truncated JPEG (its first 200 bytes), a text file named .png, a tiny
    image and a stray file."""
    d = tmp_path / "backgrounds"
    d.mkdir()
    real = (embedded_dir("backgrounds") / GOOD_PHOTO).read_bytes()
    (d / GOOD_PHOTO).write_bytes(real)
    (d / "cut.jpg").write_bytes(real[:200])
    (d / "fake.png").write_text("this is not a picture")
    Image.new("RGB", (8, 8), (1, 2, 3)).save(d / "tiny.png")
    (d / "readme.md").write_text("photos")
    return d


# -- fonts ---------------------------------------------------------------------------------------
def test_bad_font_files_are_skipped_with_their_reasons(fonts_dir):
    pool = load_font_pool(str(fonts_dir), None)
    assert [f.id for f in pool.fonts] == [GOOD_FONT]
    assert pool.fonts[0].sha256 == sha256_file(embedded_dir("fonts") / GOOD_FONT)
    assert [(Path(s["file"]).name, s["reason"]) for s in pool.skipped] == [
        ("Corrupt.ttf", "not a usable font (OSError: unknown file format)"),
        ("Empty.otf", "not a usable font (OSError: unknown file format)"),
        ("notes.txt", "not a font file (by extension)"),
    ]
    assert all(s["file"] == str(fonts_dir / Path(s["file"]).name) for s in pool.skipped)


def test_a_fonts_folder_with_no_usable_font_is_an_error_naming_it(fonts_dir):
    (fonts_dir / GOOD_FONT).unlink()
    with pytest.raises(AssetError) as err:
        load_font_pool(str(fonts_dir), None)
    assert _one_line(err) == (
        f"{fonts_dir}: no usable font in this folder (3 file(s) skipped; Corrupt.ttf: "
        "not a usable font (OSError: unknown file format))"
    )
    assert err.value.path == str(fonts_dir)


def test_an_empty_missing_or_non_folder_fonts_path_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AssetError) as err:
        load_font_pool(str(tmp_path / "empty"), None)
    assert _one_line(err) == f"{tmp_path / 'empty'}: no usable font in this folder (it is empty)"
    with pytest.raises(AssetError) as err:
        load_font_pool(str(tmp_path / "missing"), None)
    assert _one_line(err) == f"{tmp_path / 'missing'}: fonts folder not found"
    (tmp_path / "file.ttf").write_bytes(b"x")
    with pytest.raises(AssetError) as err:
        load_font_pool(str(tmp_path / "file.ttf"), None)
    assert _one_line(err) == (
        f"{tmp_path / 'file.ttf'}: not a folder (expected a folder of .ttf/.otf/.woff2 files)"
    )


# -- backgrounds ---------------------------------------------------------------------------------
def test_truncated_and_non_image_backgrounds_are_skipped_with_their_reasons(backgrounds_dir):
    pool = load_background_pool(str(backgrounds_dir), needed=True)
    assert [p.id for p in pool.photos] == [GOOD_PHOTO]
    reasons = {Path(s["file"]).name: s["reason"] for s in pool.skipped}
    assert reasons == {
        "cut.jpg": "not a readable image (Truncated File Read)",
        "fake.png": (
            f"not a readable image (cannot identify image file '{backgrounds_dir / 'fake.png'}')"
        ),
        "tiny.png": "image is 8x8 px, below 16 px",
        "readme.md": "not an image file (by extension)",
    }


def test_a_jpeg_cut_after_its_header_is_caught_when_decoded(tmp_path):
    real = (embedded_dir("backgrounds") / GOOD_PHOTO).read_bytes()
    d = tmp_path / "bg"
    d.mkdir()
    (d / "half.jpg").write_bytes(real[: len(real) // 2])
    shutil.copy(embedded_dir("backgrounds") / GOOD_PHOTO, d / GOOD_PHOTO)
    pool = load_background_pool(str(d), needed=True)
    [skip] = pool.skipped
    assert Path(skip["file"]).name == "half.jpg"
    assert skip["reason"].startswith("not a readable image (image file is truncated")


def test_a_backgrounds_folder_with_no_usable_image_is_an_error_naming_it(backgrounds_dir):
    (backgrounds_dir / GOOD_PHOTO).unlink()
    for needed in (True, False):  # a folder the user named is never silently ignored
        with pytest.raises(AssetError) as err:
            load_background_pool(str(backgrounds_dir), needed=needed)
        assert _one_line(err) == (
            f"{backgrounds_dir}: no usable background image in this folder (4 file(s) skipped; "
            "cut.jpg: not a readable image (Truncated File Read))"
        )


def test_missing_backgrounds_folder_is_named(tmp_path):
    with pytest.raises(AssetError) as err:
        load_background_pool(str(tmp_path / "nope"), needed=False)
    assert _one_line(err) == f"{tmp_path / 'nope'}: backgrounds folder not found"


# -- texts ---------------------------------------------------------------------------------------
def _texts(path: Path, **spec) -> TextSource:
    return TextSource(TextSpec(source="file", path=str(path), **spec))


@pytest.mark.parametrize(
    "content",
    ["", "\n\n   \n\t\n", "ab\nxy\n", "x" * 300 + "\n"],
    ids=["empty", "blank-lines", "too-short", "too-long"],
)
def test_a_texts_file_with_no_usable_line_is_an_error_naming_it(tmp_path, content):
    path = tmp_path / "lines.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AssetError) as err:
        _texts(path)
    assert _one_line(err) == (
        f"{path}: no line is usable: the file is empty or no line has 4-40 characters"
    )


def test_a_charset_that_removes_everything_says_so(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("hello world\n", encoding="utf-8")
    with pytest.raises(AssetError) as err:
        _texts(path, charset="0123456789")
    assert _one_line(err).endswith("no line has 4-40 characters after the charset filter")


def test_a_texts_file_that_is_not_utf8_missing_or_a_folder_is_named(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(AssetError) as err:
        _texts(path)
    assert _one_line(err) == f"{path}: not UTF-8 text (byte 3)"
    with pytest.raises(AssetError) as err:
        _texts(tmp_path / "missing.txt")
    assert _one_line(err) == f"{tmp_path / 'missing.txt'}: text file not found"
    with pytest.raises(AssetError) as err:
        _texts(tmp_path)
    assert _one_line(err) == (
        f"{tmp_path}: not a file (expected a UTF-8 text file, one text per line)"
    )


def test_a_byte_order_mark_is_not_part_of_the_first_text(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffHello world\nSecond line\n".encode())
    source = _texts(path)
    assert source.lines == ["Hello world", "Second line"]
    fonts = load_font_pool(None, None)
    source.require_drawable(fonts)  # "\ufeff" would have made line 1 undrawable


def test_texts_no_font_can_draw_are_an_error_naming_the_file(tmp_path):
    fonts = tmp_path / "latin-fonts"
    fonts.mkdir()
    for name in LATIN_ONLY_FONTS:
        shutil.copy(embedded_dir("fonts") / name, fonts / name)
    path = tmp_path / "cyrillic.txt"
    path.write_text("Привет мир\nДобрый день\n", encoding="utf-8")
    source = _texts(path)
    with pytest.raises(AssetError) as err:
        source.require_drawable(load_font_pool(str(fonts), None))
    assert _one_line(err) == (
        f"{path}: no line can be drawn by any font in {fonts} (2 line(s); "
        "e.g. 'Привет мир': no font draws U+041F 'П', U+0432 'в', U+0435 'е', "
        "U+0438 'и', U+043C 'м', U+0440 'р', U+0442 'т')"
    )
    # one drawable line is enough to pass; the others are rejected and counted per sample
    path.write_text("Привет мир\nGood morning\n", encoding="utf-8")
    _texts(path).require_drawable(load_font_pool(str(fonts), None))


def test_an_unknown_faker_locale_is_named():
    with pytest.raises(ConfigError) as err:
        TextSource(TextSpec(locales=("en_US", "xx_XX")))
    assert _one_line(err) == "text.locales: unknown Faker locale 'xx_XX'"


# -- builds with bad inputs ---------------------------------------------------------------------
def _prepare(home: Path, config: dict, count: int, seed: int = 1):
    spec = build_spec("default", config).model_dump(mode="json")
    return prepare("ocr", spec, seed=seed, count=count, name="bad-inputs", home=home)


def test_skipped_inputs_are_recorded_in_dataset_json(tmp_path, fonts_dir, backgrounds_dir):
    config = {
        "fonts": {"dir": str(fonts_dir)},
        "backgrounds": {"dir": str(backgrounds_dir), "photo_prob": 1.0},
        "shard_size": 4,
    }
    plan, gen = _prepare(tmp_path / "home", config, count=4)
    catalog = open_catalog(tmp_path / "home")
    try:
        result = build(plan, gen, catalog)
    finally:
        catalog.close()
    info = json.loads((plan.out_dir / "dataset.json").read_text(encoding="utf-8"))
    skipped = {Path(s["file"]).name: s["reason"] for s in info["skipped_inputs"]}
    assert sorted(skipped) == [
        "Corrupt.ttf",
        "Empty.otf",
        "cut.jpg",
        "fake.png",
        "notes.txt",
        "readme.md",
        "tiny.png",
    ]
    assert skipped["cut.jpg"] == "not a readable image (Truncated File Read)"
    used = {(i["role"], i["name"], i["sha256"]) for i in info["inputs"] if i["role"] != "texts"}
    assert used == {
        ("font", GOOD_FONT, sha256_file(fonts_dir / GOOD_FONT)),
        ("background", GOOD_PHOTO, sha256_file(backgrounds_dir / GOOD_PHOTO)),
    }
    assert result.record.count == 4
    assert info["statistics"]["counts"]["font"] == {GOOD_FONT: 4}
    assert info["statistics"]["counts"]["background"] == {GOOD_PHOTO: 4}


def _first_failure(gen, seed: int, count: int) -> int | None:
    for index in range(count):
        try:
            gen.sample(index, sample_rng(seed, index))
        except TooManyRejections:
            return index
    return None


def test_a_build_that_fails_half_way_registers_nothing(tmp_path):
    """Half the lines of the corpus cannot be drawn and there are no redraws, so some sample
    fails after earlier shards were written; the dataset must not be registered."""
    fonts = tmp_path / "latin-fonts"
    fonts.mkdir()
    shutil.copy(embedded_dir("fonts") / LATIN_ONLY_FONTS[0], fonts / LATIN_ONLY_FONTS[0])
    texts = tmp_path / "mixed.txt"
    texts.write_text("Good morning\nПривет мир\n" * 10, encoding="utf-8")
    config = {
        "fonts": {"dir": str(fonts)},
        "text": {"source": "file", "path": str(texts)},
        "max_retries": 1,
        "shard_size": 2,
    }
    home = tmp_path / "home"
    _, gen = _prepare(home, config, count=40)
    # a seed whose first failing sample comes after two whole shards
    seed, failing = next(
        (s, f) for s in range(500) if (f := _first_failure(gen, s, 40)) is not None and f >= 4
    )
    plan, gen = _prepare(home, config, count=40, seed=seed)
    catalog = open_catalog(home)
    try:
        with pytest.raises(TooManyRejections) as err:
            build(plan, gen, catalog)
        message = _one_line(err)
        assert message.startswith(f"{texts}: sample {failing}: no usable text in 1 draws ")
        assert message.endswith(
            "(no_font_can_draw_text=1); e.g. 'Привет мир': no font draws U+041F 'П', U+0432 'в', "
            "U+0435 'е', U+0438 'и', U+043C 'м', U+0440 'р', U+0442 'т'"
        )
        assert catalog.list() == []
        [record] = catalog.builds()
        assert record["status"] == "failed" and record["dataset_id"] is None
        assert record["error"] == message[:500]
    finally:
        catalog.close()
    # Two shards were done, yet nothing is registered, and the folder is removed: the same
    # spec would fail at the same sample again, so there is nothing to resume.
    assert not plan.out_dir.exists()
