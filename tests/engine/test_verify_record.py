"""dataset.json against the catalog's record: the id and each input's licence and personal-data
mark are compared; a value of the wrong shape is one line naming the file and the key; an
imported dataset is refused by expand, named as such."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.expand import check_parent_folder, prepare_expansion
from synth.engine.importer import import_dataset
from synth.engine.verify import verify_dataset
from synth.errors import SynthError
from synth.ocr.spec import build_spec

SPEC = build_spec("clean", {"shard_size": 5}).model_dump(mode="json")


@pytest.fixture
def built(tmp_path):
    catalog = open_catalog(tmp_path)
    try:
        plan, gen = prepare("ocr", SPEC, seed=3, count=6, name="c", home=tmp_path)
        record = build(plan, gen, catalog).record
    finally:
        catalog.close()
    return Path(record.path), record


def _edit(root: Path, change) -> None:
    path = root / "dataset.json"
    info = json.loads(path.read_text())
    change(info)
    path.write_text(json.dumps(info, indent=2))


def _problems(root: Path, record) -> list[str]:
    report = verify_dataset(root, record.id, samples=1, seed=0, record=record.to_json())
    assert not report.ok
    return report.problems


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda info: info.update(id="0" * 64), "id"),
        (lambda info: info["inputs"][0].update(licence="MIT"), "inputs"),
        (lambda info: info["inputs"][0].update(personal_data=True), "inputs"),
    ],
)
def test_the_id_and_each_inputs_licence_and_personal_data_are_compared(built, change, named):
    root, record = built
    _edit(root, change)
    assert f"dataset.json: {named} differ from the catalog's record (edited since the build?)" in (
        _problems(root, record)
    )


@pytest.mark.parametrize(
    ("key", "value", "line"),
    [
        ("parent", "abc", 'parent: expected null or an object with the parent\'s id, got "abc"'),
        ("parent", {"path": "/x"}, "parent: expected null or an object with the parent's id"),
        ("licences", "MIT", 'licences: expected a list of licence names, got "MIT"'),
        ("licences", [1, None], "licences: expected a list of licence names, got [1, null]"),
    ],
)
def test_a_malformed_parent_or_licences_is_one_line_naming_the_key(built, key, value, line):
    root, record = built
    _edit(root, lambda info: info.update({key: value}))
    for quick in (False, True):
        report = verify_dataset(root, record.id, samples=1, quick=quick, record=record.to_json())
        assert not report.ok
        named = [p for p in report.problems if p.startswith(f"{root / 'dataset.json'}: {key}:")]
        assert len(named) == 1 and line in named[0], report.problems
        assert all("\n" not in p for p in report.problems)
    with pytest.raises(SynthError, match=f"dataset.json: {key}: expected"):
        check_parent_folder(record)


def test_a_malformed_shards_list_is_named_not_a_traceback(built):
    root, record = built
    _edit(root, lambda info: info.update(shards=[{"number": "zero"}]))
    report = verify_dataset(root, record.id, samples=1, record=record.to_json())
    assert not report.ok
    assert any(": shards: expected a list of {number, start, stop}" in p for p in report.problems)


def test_expanding_an_imported_dataset_is_refused_naming_it(tmp_path):
    data = tmp_path / "real"
    data.mkdir()
    Image.new("RGB", (30, 10)).save(data / "a.png")
    (data / "metadata.jsonl").write_text('{"file_name": "a.png", "text": "a"}\n')
    catalog = open_catalog(tmp_path / "home")
    try:
        record, _ = import_dataset(data, "ocr", catalog, tmp_path / "home")
        with pytest.raises(SynthError) as err:
            prepare_expansion(record, 2, home=tmp_path / "home")
    finally:
        catalog.close()
    assert str(err.value).startswith(
        f"{record.id[:12]}: imported datasets cannot be expanded (its samples were not made by "
        "synth)"
    )
    assert "missing or incomplete" not in str(err.value)
