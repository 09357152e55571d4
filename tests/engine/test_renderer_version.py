"""Rendering versions: every recipe and the record carry the kind's RENDERER_VERSION; verify of a
dataset from another renderer skips the re-render with a note; expand refuses to mix them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import synth.ocr.generator as ocr_generator
import synth.speech.generator as speech_generator
from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.expand import prepare_expansion
from synth.engine.plan import BuildPlan
from synth.engine.verify import verify_dataset
from synth.errors import SynthError
from synth.ocr.spec import build_spec

SPEC = build_spec("clean", {"shard_size": 5}).model_dump(mode="json")


def _build(home: Path, kind: str = "ocr", spec: dict | None = None, count: int = 6):
    catalog = open_catalog(home)
    try:
        plan, gen = prepare(kind, spec or SPEC, seed=1, count=count, name="r", home=home)
        return build(plan, gen, catalog).record
    finally:
        catalog.close()


def _recipes(path: str) -> list[dict]:
    return [json.loads(line)["recipe"] for line in open(Path(path) / "recipes.jsonl")]


def _bump(monkeypatch, module, cls, version: int) -> None:
    """What a change to the rendering does: bump the module's constant (the class follows it)."""
    monkeypatch.setattr(module, "RENDERER_VERSION", version)
    monkeypatch.setattr(cls, "renderer_version", version)


def test_the_version_is_in_every_recipe_and_the_record(tmp_path):
    from synth.speech.spec import build_spec as speech_spec

    assert isinstance(ocr_generator.RENDERER_VERSION, int)
    assert isinstance(speech_generator.RENDERER_VERSION, int)
    for kind, spec, module in (
        ("ocr", SPEC, ocr_generator),
        ("speech", speech_spec({"shard_size": 5}).model_dump(mode="json"), speech_generator),
    ):
        record = _build(tmp_path / kind, kind, spec, count=4)
        recipes = _recipes(record.path)
        assert len(recipes) == 4
        assert {r["renderer_version"] for r in recipes} == {module.RENDERER_VERSION}
        info = json.loads((Path(record.path) / "dataset.json").read_text())
        assert info["renderer_version"] == module.RENDERER_VERSION
        assert record.statistics["renderer_version"] == module.RENDERER_VERSION  # the catalog


def test_the_renderer_version_is_part_of_the_fingerprint():
    plan = BuildPlan("ocr", "n", SPEC, 1, 10, 5, "/tmp/h", [], code_version="1", libraries={})
    v1 = BuildPlan(**{**plan.__dict__, "renderer_version": 1})
    v2 = BuildPlan(**{**plan.__dict__, "renderer_version": 2})
    assert len({plan.fingerprint, v1.fingerprint, v2.fingerprint}) == 3
    assert BuildPlan.from_json(v2.to_json()).fingerprint == v2.fingerprint


@pytest.mark.parametrize("quick", [False, True])
def test_verify_of_an_older_rendering_skips_the_re_render_and_passes(tmp_path, monkeypatch, quick):
    record = _build(tmp_path)
    _bump(
        monkeypatch, ocr_generator, ocr_generator.OcrGenerator, ocr_generator.RENDERER_VERSION + 1
    )
    report = verify_dataset(
        record.path, record.id, samples=3, seed=0, quick=quick, record=record.to_json()
    )
    assert report.ok, report.to_json()
    assert report.rerendered == []
    built, now = ocr_generator.RENDERER_VERSION - 1, ocr_generator.RENDERER_VERSION
    assert report.notes == [
        f"built by renderer v{built}, this code renders v{now}: files and inputs checked, "
        "re-render skipped"
    ]
    assert report.checked_inputs > 0


def test_a_dataset_without_versions_counts_as_v0(tmp_path):
    record = _build(tmp_path)
    root = Path(record.path)
    info = json.loads((root / "dataset.json").read_text())
    del info["renderer_version"]
    del info["statistics"]["renderer_version"]
    (root / "dataset.json").write_text(json.dumps(info))
    report = verify_dataset(root, record.id, samples=3, seed=0)
    assert report.rerendered == []
    assert report.notes[-1] == (
        f"built by renderer v0, this code renders v{ocr_generator.RENDERER_VERSION}: files and "
        "inputs checked, re-render skipped (v0: built before renderer versions were recorded)"
    )
    # the expansion refuses too: the parent's rendering is not known to be this one
    catalog = open_catalog(tmp_path)
    try:
        parent = catalog.get(record.id)
        parent.statistics.pop("renderer_version")
        with pytest.raises(SynthError, match=r"built by ocr renderer v0, this code renders v1;"):
            prepare_expansion(parent, 3, home=tmp_path)
    finally:
        catalog.close()


def test_a_recipe_whose_version_differs_from_the_dataset_is_named(tmp_path):
    record = _build(tmp_path)
    root = Path(record.path)
    lines = (root / "recipes.jsonl").read_text().splitlines()
    lines[2] = lines[2].replace('"renderer_version":1', '"renderer_version":7', 1)
    (root / "recipes.jsonl").write_text("\n".join(lines) + "\n")
    report = verify_dataset(root, record.id, samples=6, seed=0)
    assert "shard-00000/000000002.jpg (its recipe says renderer v7, the dataset v1)" in (
        report.changed
    )


def test_expand_refuses_to_mix_renderer_versions(tmp_path, monkeypatch):
    record = _build(tmp_path)
    _bump(monkeypatch, ocr_generator, ocr_generator.OcrGenerator, 2)
    catalog = open_catalog(tmp_path)
    try:
        parent = catalog.get(record.id)
        with pytest.raises(SynthError) as err:
            prepare_expansion(parent, 3, home=tmp_path)
    finally:
        catalog.close()
    assert str(err.value) == (
        f"{record.id[:12]}: built by ocr renderer v1, this code renders v2; expanding would mix "
        "both renderings in one dataset: build a new dataset instead"
    )
    assert "\n" not in str(err.value)


def test_expand_with_the_same_renderer_still_works(tmp_path):
    record = _build(tmp_path)
    catalog = open_catalog(tmp_path)
    try:
        plan, gen = prepare_expansion(catalog.get(record.id), 3, home=tmp_path)
        child = build(plan, gen, catalog).record
    finally:
        catalog.close()
    assert child.statistics["renderer_version"] == ocr_generator.RENDERER_VERSION
    assert verify_dataset(child.path, child.id, samples=9, seed=0, record=child.to_json()).ok
