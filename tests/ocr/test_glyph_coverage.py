"""No label may hold a character that was drawn as a box or drawn with no ink."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from fontTools.ttLib.tables._g_l_y_f import Glyph

from synth.assets import embedded_dir
from synth.errors import TooManyRejections
from synth.ocr.fonts import load_font, load_font_pool
from synth.ocr.generator import OcrGenerator
from synth.ocr.scripts import script_of
from synth.ocr.spec import build_spec
from synth.rng import sample_rng


def _doctored_font(tmp_path: Path) -> Path:
    """DejaVu Sans with 'A' drawn empty and 'B' drawn as the .notdef box, both in the cmap."""
    font = TTFont(embedded_dir("fonts") / "DejaVuSans.ttf")
    cmap = font.getBestCmap()
    glyf, hmtx = font["glyf"], font["hmtx"]
    glyf[cmap[ord("A")]] = Glyph()  # no contours: the cmap says yes, the ink says no
    glyf[cmap[ord("B")]] = copy.deepcopy(glyf[".notdef"])  # the tofu box under B's code point
    hmtx[cmap[ord("B")]] = hmtx[".notdef"]
    path = tmp_path / "Doctored.ttf"
    font.save(path)
    return path


def test_cmap_alone_is_not_trusted(tmp_path):
    font = load_font(_doctored_font(tmp_path), "sans", "test", "")
    assert ord("A") in font.cmap and ord("B") in font.cmap
    assert not font.can_draw_char("A")  # empty glyph
    assert not font.can_draw_char("B")  # .notdef box
    assert font.can_draw_char("C")
    assert font.can_draw_char(" ")
    assert not font.can_draw("ABC")
    assert font.can_draw("CDE fgh")


def test_a_text_no_font_can_draw_is_rejected_and_counted(tmp_path):
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    shutil.copy(_doctored_font(tmp_path), fonts / "Doctored.ttf")
    texts = tmp_path / "texts.txt"
    texts.write_text("CAB cab\nCDE cde\n", encoding="utf-8")
    gen = OcrGenerator(
        build_spec(
            "clean",
            {
                "fonts": {"dir": str(fonts), "styles": None},
                "text": {"source": "file", "path": str(texts)},
            },
        )
    )
    drawn = [gen.sample(i, sample_rng(0, i)) for i in range(30)]
    assert {r["text"] for r in drawn} == {"CDE cde"}
    assert sum(r["rejections"].get("no_font_can_draw_text", 0) for r in drawn) > 0


def test_every_label_character_is_drawable_in_its_font():
    gen = OcrGenerator(
        build_spec(
            "default",
            {
                "text": {
                    "locales": [
                        "en_US",
                        "de_DE",
                        "ru_RU",
                        "ar_AA",
                        "he_IL",
                        "th_TH",
                        "hi_IN",
                        "ja_JP",
                    ],
                    "faker_kinds": ["name", "sentence", "address"],
                }
            },
        )
    )
    pool = load_font_pool(None, None)
    reference = {f.id: f for f in pool.fonts}  # fresh caches: an independent check
    scripts = set()
    fallbacks = 0
    for i in range(150):
        r = gen.sample(i, sample_rng(9, i))
        runs = r["font_runs"]
        # the runs cover the text once, in order
        assert [(a["start"], a["end"]) for a in runs] == list(
            zip([0] + [a["end"] for a in runs[:-1]], [a["end"] for a in runs], strict=True)
        )
        assert runs[-1]["end"] == len(r["text"])
        fallbacks += len(runs) > 1
        for run in runs:
            font = reference[run["id"]]
            assert run["sha256"] == font.sha256
            for ch in r["text"][run["start"] : run["end"]]:
                assert font.can_draw_char(ch), (r["text"], ch, font.id)
                script = script_of(ch)
                assert script == "common" or script in font.scripts, (r["text"], ch, font.id)
        scripts.add(r["text_source"]["locale"])
    assert len(scripts) >= 6
    assert fallbacks > 0  # Japanese addresses' digits, Thai's digits and punctuation


def test_a_font_that_draws_lower_case_as_small_capitals_gets_only_lines_without_it(tmp_path):
    # Humor Sans draws "a" as a small "A": an image of it under the label "a" is a wrong label.
    pool = load_font_pool(None, None)
    fonts = {f.id: f for f in pool.fonts}
    humor = fonts["Humor-Sans.ttf"]
    assert humor.small_caps_lowercase
    assert humor.can_draw("HELLO, WORLD 42!") and not humor.can_draw("Hello")
    assert not any(f.small_caps_lowercase for name, f in fonts.items() if name != humor.id)
    assert fonts["DejaVuSans.ttf"].can_draw("Hello")
    texts = tmp_path / "texts.txt"
    texts.write_text("HELLO WORLD\nhello world\n", encoding="utf-8")
    gen = OcrGenerator(
        build_spec(
            "default",
            {
                "fonts": {"styles": ["handwriting"]},  # Comic Neue, Humor Sans, Caveat, ...
                "text": {"source": "file", "path": str(texts)},
            },
        )
    )
    used: dict[str, set[str]] = {"HELLO WORLD": set(), "hello world": set()}
    for i in range(80):
        recipe = gen.sample(i, sample_rng(3, i))
        used[recipe["text"]].add(recipe["font"]["id"])
    assert "Humor-Sans.ttf" in used["HELLO WORLD"]  # still drawn, where it draws right
    assert "Humor-Sans.ttf" not in used["hello world"]
    # every other handwriting font draws the lower-case line
    hands = {f.id for f in pool.fonts if f.style == "handwriting"} - {humor.id}
    assert len(hands) == 13
    assert used["hello world"] == hands


def test_only_undrawable_texts_fail_with_the_file_and_characters_named(tmp_path):
    texts = tmp_path / "cyrillic.txt"
    texts.write_text("Привет мир\n", encoding="utf-8")
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    shutil.copy(embedded_dir("fonts") / "Inconsolata.otf", fonts)
    gen = OcrGenerator(
        build_spec(
            "clean",
            {
                "fonts": {"dir": str(fonts), "styles": None},
                "text": {"source": "file", "path": str(texts)},
            },
        )
    )
    with pytest.raises(TooManyRejections) as err:
        gen.sample(0, sample_rng(0, 0))
    msg = str(err.value)
    assert str(texts) in msg and "no font draws" in msg and "П" in msg
    assert "\n" not in msg
