"""Expansion: parent samples linked not re-rendered, indices continue, same args -> same id."""

from __future__ import annotations

import json
import os

import pytest

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.expand import prepare_expansion
from synth.engine.verify import verify_files
from synth.errors import SynthError
from synth.ocr.spec import build_spec

SPEC = build_spec("clean", {"shard_size": 16}).model_dump(mode="json")


@pytest.fixture
def parent(tmp_path):
    catalog = open_catalog(tmp_path)
    plan, gen = prepare("ocr", SPEC, seed=4, count=40, name="lines", home=tmp_path)
    record = build(plan, gen, catalog).record
    yield catalog, record
    catalog.close()


def _rows(path):
    return [json.loads(line) for line in open(os.path.join(path, "metadata.jsonl"))]


def test_expansion_links_parent_samples_and_continues_indices(parent, tmp_path):
    catalog, rec = parent
    plan, gen = prepare_expansion(rec, 25, home=tmp_path)
    result = build(plan, gen, catalog)
    child = result.record
    assert child.count == 65 and child.parent_id == rec.id and child.seed == rec.seed
    # new shards of 16 continue the indices, numbered after the parent's shards 0-2
    assert [(s.number, s.start, s.stop) for s in plan.shards()] == [(3, 40, 56), (4, 56, 65)]
    assert result.rendered_shards == 2
    parent_rows, child_rows = _rows(rec.path), _rows(child.path)
    assert child_rows[:40] == parent_rows
    recipes = [json.loads(line) for line in open(os.path.join(child.path, "recipes.jsonl"))]
    assert [r["index"] for r in recipes] == list(range(65))
    new_texts = {r["text"] for r in child_rows[40:]}
    assert len(new_texts) > 20
    # the parent's files are hard links, not copies
    first = parent_rows[0]["file_name"]
    assert (
        os.stat(os.path.join(rec.path, first)).st_ino
        == os.stat(os.path.join(child.path, first)).st_ino
    )
    assert verify_files(child.path, child.id).ok
    info = json.loads(open(os.path.join(child.path, "dataset.json")).read())
    assert info["parent"]["id"] == rec.id


def test_new_samples_match_what_a_direct_build_draws_at_those_indices(parent, tmp_path):
    catalog, rec = parent
    plan, gen = prepare_expansion(rec, 10, home=tmp_path)
    child = build(plan, gen, catalog).record
    ref_plan, ref_gen = prepare("ocr", SPEC, seed=4, count=50, name="r", home=tmp_path / "ref")
    ref_catalog = open_catalog(tmp_path / "ref")
    ref = build(ref_plan, ref_gen, ref_catalog).record
    ref_catalog.close()
    texts = [r["text"] for r in _rows(child.path)]
    assert texts == [r["text"] for r in _rows(ref.path)]


def test_expanding_twice_with_the_same_arguments_gives_the_same_id(parent, tmp_path):
    catalog, rec = parent
    a = build(*prepare_expansion(rec, 5, home=tmp_path), catalog)
    b = build(*prepare_expansion(rec, 5, home=tmp_path), catalog)
    assert a.record.id == b.record.id and a.created and not b.created
    c = build(*prepare_expansion(rec, 6, home=tmp_path), catalog)
    assert c.record.id != a.record.id


def test_an_expansion_of_an_expansion_numbers_its_shards_after_all_of_them(parent, tmp_path):
    catalog, rec = parent
    child = build(*prepare_expansion(rec, 10, home=tmp_path), catalog).record
    plan, gen = prepare_expansion(child, 10, home=tmp_path)
    assert [(s.number, s.start, s.stop) for s in plan.shards()] == [(4, 50, 60)]
    grand = build(plan, gen, catalog).record
    assert grand.count == 60 and grand.parent_id == child.id
    assert verify_files(grand.path, grand.id).ok
    rows = _rows(grand.path)
    assert rows[:50] == _rows(child.path)


def test_expanding_a_dataset_whose_folder_is_gone_names_the_folder(parent, tmp_path):
    _catalog, rec = parent
    os.rename(rec.path, rec.path + ".moved")
    with pytest.raises(SynthError, match="parent dataset's folder is missing"):
        prepare_expansion(rec, 5, home=tmp_path)


def test_expanding_a_parent_whose_file_changed_or_went_names_it_and_registers_nothing(
    parent, tmp_path
):
    """A linked parent file is checked against the sha256 its manifest records: a flipped byte
    (same size) or a deleted file stops the expansion, naming the file, instead of registering
    the recorded hash over other bytes."""
    catalog, rec = parent
    name = _rows(rec.path)[10]["file_name"]
    target = os.path.join(rec.path, name)
    data = bytearray(open(target, "rb").read())
    data[len(data) // 2] ^= 0xFF
    with open(target, "wb") as f:
        f.write(data)
    plan, gen = prepare_expansion(rec, 5, home=tmp_path)
    with pytest.raises(SynthError) as info:
        build(plan, gen, catalog)
    assert str(info.value) == (
        f"{target}: changed since the parent dataset {rec.id[:12]} was built; "
        f"run `synth datasets verify {rec.id[:12]}`"
    )
    assert [r.id for r in catalog.list()] == [rec.id]  # nothing new registered

    os.remove(target)
    plan, gen = prepare_expansion(rec, 5, home=tmp_path)
    with pytest.raises(SynthError, match=f"{target}: missing from the parent dataset"):
        build(plan, gen, catalog)
    assert [r.id for r in catalog.list()] == [rec.id]


def test_expanding_after_an_input_changed_names_it_and_builds_nothing(tmp_path):
    """New samples drawn from an edited texts file would sit beside the parent's samples drawn
    from the old one: the expansion stops before any folder is made, naming the file."""
    texts = tmp_path / "lines.txt"
    texts.write_text("alpha beta\ngamma delta\n", encoding="utf-8")
    spec = build_spec("clean", {"shard_size": 8, "text": {"source": "file", "path": str(texts)}})
    catalog = open_catalog(tmp_path)
    plan, gen = prepare(
        "ocr", spec.model_dump(mode="json"), seed=1, count=8, name="t", home=tmp_path
    )
    rec = build(plan, gen, catalog).record
    recorded = {i["uri"]: i["sha256"] for i in plan.inputs}[texts.as_uri()]
    assert prepare_expansion(rec, 4, home=tmp_path)  # unchanged: fine
    texts.write_text("alpha beta\nepsilon zeta\n", encoding="utf-8")
    with pytest.raises(SynthError) as info:
        prepare_expansion(rec, 4, home=tmp_path)
    from synth.hashing import sha256_file

    assert str(info.value) == (
        f"{texts}: changed since the parent dataset {rec.id[:12]} was built (sha256 "
        f"{sha256_file(texts)[:12]}, recorded {recorded[:12]}); expanding would label samples "
        f"from both versions: restore it, or build a new dataset (`synth datasets verify "
        f"{rec.id[:12]}` lists every change)"
    )
    assert [r.id for r in catalog.list()] == [rec.id]
    assert len(list((tmp_path / "datasets").iterdir())) == 1  # no folder for the expansion
    catalog.close()


def test_an_input_the_code_makes_differently_now_is_named_as_such():
    from synth.engine.expand import check_inputs_unchanged

    parent = {
        "id": "ab" * 32,
        "code_version": "0.1.0",
        "inputs": [{"uri": "procedural:pink", "sha256": "1" * 64}],
    }
    with pytest.raises(SynthError) as info:
        check_inputs_unchanged(parent, [{"uri": "procedural:pink", "sha256": "2" * 64}])
    assert str(info.value) == (
        "procedural:pink: this code version makes it differently from the one that built the "
        "parent dataset abababababab (0.1.0): sha256 222222222222, recorded 111111111111; "
        "expanding would mix samples from both: build a new dataset instead"
    )
    check_inputs_unchanged(parent, [{"uri": "procedural:pink", "sha256": "1" * 64}])  # same
