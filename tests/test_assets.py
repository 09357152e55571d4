"""The embedded assets: every file listed with a matching sha256, size and a licence text."""

from __future__ import annotations

import csv

from synth.assets import asset_root, manifest
from synth.hashing import sha256_file


def test_every_data_file_is_in_the_manifest_with_its_hash():
    root = asset_root()
    listed = manifest()
    on_disk = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.parts[len(root.parts)] in ("fonts", "backgrounds", "speech", "words")
    }
    assert on_disk == set(listed) - {p for p in listed if p.startswith(("noise/", "LICENSES/"))}
    for rel, rec in listed.items():
        path = root / rel
        assert sha256_file(path) == rec.sha256, rel
        assert path.stat().st_size == rec.bytes, rel
        assert rec.licence and rec.source, rel


def test_variety_and_size_as_promised():
    root = asset_root()
    with open(root / "fonts" / "styles.tsv", encoding="utf-8") as f:
        styles = list(csv.DictReader(f, delimiter="\t"))
    assert len(styles) >= 15
    assert {"serif", "sans", "mono", "condensed", "handwriting"} <= {s["style"] for s in styles}
    scripts = {sc for s in styles for sc in s["scripts"].split(",")}
    assert len(scripts - {"latin"}) >= 2
    assert len(list((root / "backgrounds").iterdir())) >= 12
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert total < 50 * 2**20


def test_every_licence_has_its_text():
    texts = " ".join(p.name for p in (asset_root() / "LICENSES").iterdir())
    needed = {
        "OFL-1.1": "OFL-1.1",
        "Apache-2.0": "Apache-2.0",
        "CC0-1.0": "CC0-1.0",
        "LicenseRef-CMU-ARCTIC": "CMU-ARCTIC",
        "LicenseRef-CMU-Flite": "flite",
        "Bitstream-Vera": "dejavu",
        "CC-BY-SA-4.0": "CC-BY-SA-4.0",
    }
    used = {rec.licence for rec in manifest().values()}
    for licence, name in needed.items():
        if any(licence in u for u in used):
            assert name in texts, licence


def test_every_script_tag_is_true_of_the_fonts_character_map():
    """A font tagged for a script maps that script's core letters and draws them with ink
    (not as its missing-glyph box); a font is drawn in a script only when tagged for it."""
    from fontTools.ttLib import TTFont

    from synth.ocr.fonts import load_font_pool
    from synth.ocr.scripts import CORE_LETTERS, SCRIPTS

    root = asset_root()
    with open(root / "fonts" / "styles.tsv", encoding="utf-8") as f:
        rows = {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}
    pool = {f.id: f for f in load_font_pool(None, None).fonts}
    assert set(rows) == set(pool)
    for name, row in rows.items():
        tags = set(row["scripts"].split(","))
        assert tags <= set(SCRIPTS), name
        cmap = TTFont(root / "fonts" / name, lazy=True).getBestCmap()
        font = pool[name]
        assert font.scripts == tags, name
        for script in SCRIPTS:
            letters = CORE_LETTERS[script]
            if script in tags:
                assert all(ord(ch) in cmap for ch in letters), (name, script)
                drawn = [ch for ch in letters if not (font.small_caps_lowercase and ch.islower())]
                assert all(font.can_draw_char(ch) for ch in drawn), (name, script)
            else:  # whatever its cmap holds, none of the script's letters is drawn by it
                assert not any(font.can_draw_char(ch) for ch in letters), (name, script)
    # the case that was wrong: DejaVu Sans Mono maps Arabic letters but is not tagged for them
    mono = pool["DejaVuSansMono.ttf"]
    assert ord("ب") in mono.cmap and not mono.can_draw("باب")
