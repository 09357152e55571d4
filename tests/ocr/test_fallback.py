"""Font fallback: a line in a primary font with fallbacks for what it lacks, recorded per run,
with exact boxes, whole shaped clusters and byte-identical replay."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from synth.assets import embedded_dir
from synth.errors import TooManyRejections
from synth.ocr.fonts import clusters, describe_chars, load_font_pool
from synth.ocr.generator import OcrGenerator
from synth.ocr.scripts import script_of
from synth.ocr.spec import build_spec
from synth.rng import sample_rng


def _gen(preset: str, locale: str, **text) -> OcrGenerator:
    return OcrGenerator(build_spec(preset, overrides={"text": {"locales": [locale], **text}}))


def _runs(recipe):
    return [(r["id"], r["start"], r["end"]) for r in recipe["font_runs"]]


def test_chinese_clean_lines_draw_with_a_fallback_for_ascii():
    gen = _gen("clean", "zh_CN")
    recipes = [gen.sample(i, sample_rng(60, i)) for i in range(60)]
    chinese = [r for r in recipes if any(script_of(ch) == "cjk" for ch in r["text"])]
    assert len(chinese) == 60  # clean draws sentences only: every one is Chinese
    assert all(r["text"].endswith("。") for r in chinese)
    mixed = [r for r in recipes if len(r["font_runs"]) > 1]
    for r in mixed:
        assert r["font"]["id"] == "DroidSansFallbackFull.ttf"
        for fid, start, end in _runs(r):
            piece = r["text"][start:end]
            if fid == "DroidSansFallbackFull.ttf":
                continue
            # the fallback draws only what the CJK font lacks, and is a Latin-tagged font
            assert all(ord(ch) not in gen.font_by_id[r["font"]["id"]].cmap for ch in piece)
            assert "latin" in gen.font_by_id[fid].scripts


def test_default_chinese_keeps_sentences_and_addresses():
    gen = _gen("default", "zh_CN")
    kinds: dict[str, int] = {}
    rejected = 0
    for i in range(80):
        r = gen.sample(i, sample_rng(61, i))
        kind = r["text_source"]["faker_kind"]
        kinds[kind] = kinds.get(kind, 0) + 1
        rejected += sum(v for k, v in r["rejections"].items() if k.startswith("text:"))
    assert rejected == 0
    assert kinds.get("sentence", 0) > 0 and kinds.get("address", 0) > 0


def _fallback_recipes(gen, seed, n, want):
    out = []
    for i in range(n):
        r = gen.sample(i, sample_rng(seed, i))
        if len(r["font_runs"]) > 1:
            out.append(r)
        if len(out) >= want:
            break
    return out


@pytest.mark.parametrize(("preset", "locale"), [("clean", "zh_CN"), ("default", "th_TH")])
def test_a_fallback_line_replays_to_the_same_bytes(preset, locale):
    gen = _gen(preset, locale, faker_kinds=["address", "sentence", "number"])
    recipes = _fallback_recipes(gen, 62, 200, 6)
    assert len(recipes) >= 3
    first = [gen.render(r, "x").files for r in recipes]
    fresh = _gen(preset, locale, faker_kinds=["address", "sentence", "number"])
    again = [fresh.render(json.loads(json.dumps(r)), "x").files for r in reversed(recipes)]
    assert first == list(reversed(again))


def test_fallback_character_boxes_hold_all_the_ink_exactly():
    gen = _gen("clean", "ja_JP", faker_kinds=["address"])
    recipes = _fallback_recipes(gen, 63, 200, 8)
    assert len(recipes) >= 4
    for r in recipes:
        composed = gen.compose(r, want_mask=True)
        mask = np.asarray(composed.mask) > 0
        out = composed.outputs
        ys, xs = np.nonzero(mask)
        lx0, ly0, lx1, ly1 = out["line_box"]
        assert lx0 <= xs.min() and xs.max() < lx1 and ly0 <= ys.min() and ys.max() < ly1
        covered = np.zeros_like(mask)
        for i, box in enumerate(out["char_boxes"]):
            if box is None:
                assert r["text"][i] == " "
                continue
            x0, y0, x1, y1 = box
            covered[y0:y1, x0:x1] = True
            assert mask[y0:y1, x0:x1].any(), (r["text"], i)
        assert not (mask & ~covered).any(), r["text"]  # unwarped: no pixel of tolerance
        # a fallback character's box is its own glyph's, from its run's font at its pen
        for fid, start, end in _runs(r):
            if fid == r["font"]["id"]:
                continue
            obj = gen.font_by_id[fid].get(r["font_size_px"], "basic")
            for i in range(start, end):
                if r["text"][i] == " ":
                    continue
                x0, y0, x1, y1 = out["char_boxes"][i]
                gx0, gy0, gx1, gy1 = obj.getbbox(r["text"][i], anchor="ls")
                assert (x1 - x0, y1 - y0) in {(gx1 - gx0 + dx, gy1 - gy0) for dx in (0, 1)}, (
                    r["text"],
                    i,
                )


def test_thai_digits_come_from_a_fallback_and_clusters_stay_whole():
    pool = load_font_pool(None, ("sans",))
    text = "บ้านเลขที่ 12/3 ถนนสุขุมวิท"
    primary, runs = pool.plan(text, np.random.default_rng(0))
    assert primary.id == "NotoSansThai-Regular.ttf"
    bounds = {(s, e) for s, e in clusters(text)}
    starts = {s for s, _ in bounds} | {len(text)}
    for font, start, end in runs:
        assert start in starts and end in starts
        if font is not primary:
            assert set(text[start:end]) <= set("0123456789/ ")
    assert "12/3" in "".join(text[s:e] for f, s, e in runs if f is not primary)


def test_a_devanagari_conjunct_is_one_cluster():
    text = "क्षत्रिय राष्ट्र"
    spans = [text[s:e] for s, e in clusters(text)]
    assert spans[0] == "क्ष"  # consonant + virama + consonant
    assert "ष्ट्र" in spans  # two viramas: one cluster
    assert "".join(spans) == text


def test_a_right_to_left_line_takes_fallbacks_in_visual_order():
    from synth.ocr.bidi import levels, visual_runs

    pool = load_font_pool(None, None)
    text = "שלום 123 עולם."
    hebrew = [f for f in pool.fonts if f.id == "NotoSansHebrew-Regular.ttf"]
    primaries = set()
    for seed in range(40):
        primary, runs = pool.plan(text, np.random.default_rng(seed))
        primaries.add(primary.id)
        if primary.id == "NotoSansHebrew-Regular.ttf":  # it has no digits and no '.'
            drawn = {text[s:e] for f, s, e in runs if f is not primary}
            assert drawn == {"123", "."}
    assert hebrew and "NotoSansHebrew-Regular.ttf" in primaries
    assert levels(text) == [1] * 5 + [2] * 3 + [1] * 6
    order = visual_runs(text, [("H", 0, 5), ("D", 5, 8), ("H", 8, 13), ("D", 13, 14)])
    # left to right: the final '.', the second word, the number (left to right), the first
    assert [(text[s:e], d) for _, s, e, d in order] == [
        (".", "rtl"),
        (" עולם", "rtl"),
        ("123", "ltr"),
        ("שלום ", "rtl"),
    ]
    latin = "مرحبا John Smith 2024."
    order = visual_runs(latin, [("A", 0, 6), ("L", 6, 22)])
    # a number after a Latin word joins it (W7): one left-to-right run
    assert [latin[s:e] for _, s, e, _ in order] == [".", "John Smith 2024", "مرحبا "]


def test_a_right_to_left_fallback_line_replays_and_boxes_its_line():
    gen = _gen("clean", "he_IL", faker_kinds=["address", "sentence"])
    recipes = _fallback_recipes(gen, 64, 200, 4)
    assert len(recipes) >= 2
    first = [gen.render(r, "x").files for r in recipes]
    fresh = _gen("clean", "he_IL", faker_kinds=["address", "sentence"])
    assert first == [fresh.render(json.loads(json.dumps(r)), "x").files for r in recipes]
    for r in recipes:
        composed = gen.compose(r, want_mask=True)
        out = composed.outputs
        assert out["boxes_note"] == "line only (right-to-left in several fonts)"
        assert out["word_boxes"] is None and out["char_boxes"] is None
        ys, xs = np.nonzero(np.asarray(composed.mask) > 0)
        lx0, ly0, lx1, ly1 = out["line_box"]
        assert lx0 <= xs.min() and xs.max() < lx1 and ly0 <= ys.min() and ys.max() < ly1


def test_the_error_names_the_characters_no_font_draws(tmp_path):
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    shutil.copy(embedded_dir("fonts") / "DroidSansFallbackFull.ttf", fonts)
    texts = tmp_path / "lines.txt"
    texts.write_text("你好世界.\n", encoding="utf-8")
    gen = OcrGenerator(
        build_spec(
            "clean",
            {"text": {"source": "file", "path": str(texts)}, "fonts": {"dir": str(fonts)}},
        )
    )
    with pytest.raises(TooManyRejections) as err:
        gen.sample(0, sample_rng(1, 0))
    assert str(err.value).endswith("e.g. '你好世界.': no font draws U+002E '.'")
    assert describe_chars("。.") == "U+002E '.', U+3002 '。'"


def test_a_script_tag_the_character_map_does_not_back_fails_at_load():
    from synth.errors import AssetError
    from synth.ocr.fonts import load_font

    path = embedded_dir("fonts") / "DejaVuSansMono.ttf"
    with pytest.raises(AssetError) as err:
        load_font(path, "mono", "x", "", scripts=("latin", "hebrew"))
    message = str(err.value)
    assert str(path) in message
    assert (
        "tagged 'hebrew' but its character map lacks 27 of the script's core letters: " in message
    )
    assert "U+05D0 'א'" in message
    with pytest.raises(AssetError, match="unknown script tag 'klingon'"):
        load_font(path, "mono", "x", "", scripts=("klingon",))
    # a font from a user's folder (no tags) is tagged with the scripts it covers
    untagged = load_font(path, "unknown", "x", "")
    assert untagged.scripts == {"latin", "greek", "cyrillic", "arabic"}


def test_every_font_that_drew_a_run_is_an_input_of_the_dataset(tmp_path):
    from synth.catalog import open_catalog
    from synth.engine.build import build, prepare

    spec = build_spec("default", {"text": {"locales": ["zh_CN"]}, "shard_size": 20})
    home = tmp_path / "home"
    plan, gen = prepare("ocr", spec.model_dump(mode="json"), seed=5, count=40, name="zh", home=home)
    catalog = open_catalog(home)
    try:
        build(plan, gen, catalog)
    finally:
        catalog.close()
    rows = [json.loads(line) for line in (plan.out_dir / "recipes.jsonl").open()]
    drew = {run["id"] for row in rows for run in row["recipe"]["font_runs"]}
    assert len(drew) > 1  # the CJK font and at least one fallback for ASCII
    info = json.loads((plan.out_dir / "dataset.json").read_text(encoding="utf-8"))
    fonts = {i["name"]: i for i in info["inputs"] if i["role"] == "font"}
    assert set(fonts) == drew
    for name in drew:
        assert fonts[name]["sha256"] == gen.font_by_id[name].sha256
