"""The card's contact sheets: one per script and one per background kind, linked from README."""

from __future__ import annotations

import json

from PIL import Image

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.ocr.sheets import dominant_script
from synth.ocr.spec import build_spec


def test_dominant_script_counts_letters_only():
    assert dominant_script("Hello, world 42") == "Latin"
    assert dominant_script("ул. Ленина, 5 (RU)") == "Cyrillic"
    assert dominant_script("北京市 100000") == "Han"
    assert dominant_script("カタカナ") == "Japanese kana"
    assert dominant_script("مرحبا 12 abc") == "Arabic"
    assert dominant_script("नमस्ते") == "Devanagari"  # vowel signs are marks of the script
    assert dominant_script("12/05/1999 +44") == "Common"


def test_a_build_writes_and_links_a_sheet_per_script_and_background_kind(tmp_path):
    spec = build_spec("default", {"text": {"locales": ["en_US", "ru_RU"]}}).model_dump(mode="json")
    plan, gen = prepare("ocr", spec, seed=2, count=60, name="sheets", home=tmp_path)
    catalog = open_catalog(tmp_path)
    try:
        build(plan, gen, catalog, workers=1)
    finally:
        catalog.close()
    rows = [json.loads(x) for x in (plan.out_dir / "metadata.jsonl").read_text().splitlines()]
    scripts = {dominant_script(r["text"]) for r in rows}
    kinds = {r["background_kind"] for r in rows}
    assert {"Latin", "Cyrillic"} <= scripts and len(kinds) >= 5
    card = (plan.out_dir / "README.md").read_text()
    assert "### By script" in card and "### By background" in card
    expected = [f"sheet-script-{s.lower()}.jpg" for s in scripts] + [
        f"sheet-background-{k}.jpg" for k in kinds
    ]
    for name in expected:
        path = plan.out_dir / "__synth__" / name
        assert f"](__synth__/{name})" in card, name
        with Image.open(path) as im:
            assert im.format == "JPEG" and im.height >= 54
    made = sorted(p.name for p in (plan.out_dir / "__synth__").glob("sheet-*.jpg"))
    assert made == sorted(expected)
