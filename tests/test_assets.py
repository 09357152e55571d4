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
        if p.is_file() and p.parts[len(root.parts)] in ("fonts", "backgrounds", "speech")
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
    }
    used = {rec.licence for rec in manifest().values()}
    for licence, name in needed.items():
        if any(licence in u for u in used):
            assert name in texts, licence
