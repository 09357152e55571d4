"""Deep verify: re-rendered samples match their files; changed inputs are named."""

from __future__ import annotations

import shutil

from synth.assets import embedded_dir
from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.verify import verify_dataset
from synth.ocr.spec import build_spec


def _build(tmp_path, config):
    spec = build_spec("default", {"shard_size": 10, **config}).model_dump(mode="json")
    catalog = open_catalog(tmp_path)
    rec = build(*prepare("ocr", spec, seed=8, count=25, name="v", home=tmp_path), catalog).record
    catalog.close()
    return rec


def test_every_sample_re_renders_to_the_same_bytes(tmp_path):
    rec = _build(tmp_path, {})
    report = verify_dataset(rec.path, rec.id, samples=25, seed=0)
    assert report.ok, report.to_json()
    assert report.rerendered == list(range(25))
    assert report.checked_inputs >= 10


def test_a_sample_whose_recipe_no_longer_renders_the_same_is_named(tmp_path):
    rec = _build(tmp_path, {})
    recipes = tmp_path / rec.path / "recipes.jsonl"
    lines = recipes.read_text().splitlines()
    lines[3] = lines[3].replace('"rgb":[', '"rgb":[1,1,1],"was":[', 1)  # another colour
    lines[5] = lines[5].replace('"font_size_px":', '"font_size_px":1', 1)  # another canvas
    recipes.write_text("\n".join(lines) + "\n")
    report = verify_dataset(rec.path, rec.id, samples=25, seed=0)
    assert not report.ok
    assert report.changed[0] == "recipes.jsonl (recipes differ from the shard manifests)"
    assert report.changed[1] == "shard-00000/000000003.jpg (re-rendered from its recipe: differs)"
    assert report.changed[2].startswith("shard-00000/000000005.jpg (its recipe does not render:")
    assert len(report.changed) == 3


def test_a_deleted_recipes_file_is_named_missing_once_not_a_crash(tmp_path):
    rec = _build(tmp_path, {})
    (tmp_path / rec.path / "recipes.jsonl").unlink()
    for quick in (False, True):
        report = verify_dataset(rec.path, rec.id, samples=5, seed=0, quick=quick)
        assert not report.ok
        assert report.missing == ["recipes.jsonl"], quick
        assert report.rerendered == []


def test_an_input_that_changed_since_the_build_is_named(tmp_path):
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    for name in ("DejaVuSans.ttf", "LiberationSerif-Regular.ttf"):
        shutil.copy(embedded_dir("fonts") / name, fonts / name)
    rec = _build(tmp_path / "home", {"fonts": {"dir": str(fonts), "styles": None}})
    assert verify_dataset(rec.path, rec.id, samples=0).ok
    with open(fonts / "DejaVuSans.ttf", "ab") as f:
        f.write(b"\0")
    report = verify_dataset(rec.path, rec.id, samples=0)
    assert report.problems == [
        f"input file://{fonts / 'DejaVuSans.ttf'}: content changed since the build"
    ]
