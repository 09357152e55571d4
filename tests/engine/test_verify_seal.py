"""Verify misses no byte: the card, its pictures, dataset.json and everything under __synth__/
are hashed against the seal the catalog keeps; an imported dataset's label files and stray
files are checked too. Each change is named, one line per file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synth.catalog import open_catalog
from synth.engine.assemble import SEAL
from synth.engine.build import build, prepare
from synth.engine.importer import import_dataset
from synth.engine.verify import verify_dataset, verify_import
from synth.hashing import sha256_bytes
from synth.ocr.spec import build_spec

SPEC = build_spec("clean", {"shard_size": 5}).model_dump(mode="json")
CARD_NOTE = (
    "the card (README.md) and the files under __synth__/ were not hashed when this dataset was "
    "built (an older synth): they are not checked"
)


def _build(home: Path, kind: str = "ocr", spec: dict | None = None, count: int = 8):
    catalog = open_catalog(home)
    try:
        plan, gen = prepare(kind, spec or SPEC, seed=2, count=count, name="s", home=home)
        return build(plan, gen, catalog).record.to_json()
    finally:
        catalog.close()


@pytest.fixture
def built(tmp_path):
    record = _build(tmp_path)
    return Path(record["path"]), record


def _verify(root: Path, record: dict, quick: bool) -> object:
    return verify_dataset(root, record["id"], samples=2, seed=0, quick=quick, record=record)


@pytest.mark.parametrize("quick", [False, True])
def test_an_intact_folder_passes_with_every_own_file_hashed(built, quick):
    root, record = built
    report = _verify(root, record, quick)
    assert report.ok, report.to_json()
    assert report.notes == []
    index = json.loads((root / "__synth__" / "index.json").read_bytes())
    sheets = sorted(p.relative_to(root).as_posix() for p in root.glob("__synth__/sheet-*.jpg"))
    assert "__synth__/sheet-script-latin.jpg" in sheets  # the card's contact sheets are sealed
    assert sorted(index["sealed"]) == sorted(
        [
            "README.md",
            "__synth__/preview.jpg",
            *sheets,
            "__synth__/shards/00000.stats.json",
            "__synth__/shards/00001.stats.json",
        ]
    )
    # the catalog keeps the seal: the hash of the index as it lies in the folder
    assert record["statistics"][SEAL] == sha256_bytes((root / "__synth__/index.json").read_bytes())
    assert report.own_files == len(index["sealed"]) + 2  # and dataset.json, plan.json


@pytest.mark.parametrize("quick", [False, True])
def test_an_edited_card_is_named(built, quick):
    root, record = built
    card = root / "README.md"
    card.write_text(card.read_text().replace("Licences of the inputs used", "Licence: MIT"))
    report = _verify(root, record, quick)
    assert not report.ok
    assert report.changed == ["README.md (the dataset card: edited since the build)"]
    assert report.missing == report.extra == report.problems == []


@pytest.mark.parametrize("quick", [False, True])
def test_an_edited_card_picture_is_named(built, quick):
    root, record = built
    picture = root / "__synth__" / "preview.jpg"
    Image.new("RGB", (10, 10), (255, 0, 0)).save(picture)
    report = _verify(root, record, quick)
    assert not report.ok
    assert report.changed == [
        "__synth__/preview.jpg (written with the card: edited since the build)"
    ]


@pytest.mark.parametrize("quick", [False, True])
def test_a_stray_file_anywhere_is_named_unexpected(built, quick):
    root, record = built
    (root / "__synth__" / "notes.txt").write_text("x")
    (root / "__synth__" / "shards" / "00007.jsonl").write_text("{}\n")
    (root / "more").mkdir()
    (root / "more" / "x.jpg").write_bytes(b"x")
    (root / "shard-00000" / "copy.jpg").write_bytes(b"x")
    report = _verify(root, record, quick)
    assert not report.ok
    assert sorted(report.extra) == [
        "__synth__/notes.txt",
        "__synth__/shards/00007.jsonl",
        "more/x.jpg",
        "shard-00000/copy.jpg",
    ]
    assert report.changed == report.missing == []


def test_an_edited_dataset_json_or_index_is_named(built):
    root, record = built
    info_path = root / "dataset.json"
    info = json.loads(info_path.read_text())
    info["shard_size"] = 6  # a key the catalog does not hold
    info_path.write_text(json.dumps(info))
    report = _verify(root, record, quick=False)
    assert report.changed == ["dataset.json (edited since the build)"]
    # the index rewritten to vouch for an edited card: the catalog's seal names it
    info["shard_size"] = 5
    info_path.write_text(json.dumps(info))
    card = root / "README.md"
    card.write_text(card.read_text() + "\nMIT\n")
    index_path = root / "__synth__" / "index.json"
    index = json.loads(index_path.read_text())
    index["sealed"]["README.md"] = sha256_bytes(card.read_bytes())
    index_path.write_text(json.dumps(index) + "\n")
    report = _verify(root, record, quick=True)
    assert report.changed == [
        "__synth__/index.json (edited since the build: the hashes it holds are not the ones sealed)"
    ]


def test_a_rebuild_in_the_same_folder_keeps_the_seal(tmp_path):
    first = _build(tmp_path)
    catalog = open_catalog(tmp_path)
    try:  # an idempotent rerun by another trigger: reassembles and rewrites the card
        plan, gen = prepare(
            "ocr", SPEC, seed=2, count=8, name="s", home=tmp_path, trigger={"type": "schedule"}
        )
        again = build(plan, gen, catalog).record.to_json()
    finally:
        catalog.close()
    assert again == first  # the catalog keeps the first registration
    info = json.loads((Path(first["path"]) / "dataset.json").read_text())
    assert info["trigger"] == {"type": "manual"}  # and the folder keeps describing it
    assert verify_dataset(first["path"], first["id"], samples=2, record=first).ok


def test_an_edited_plan_is_named(built):
    root, record = built
    path = root / "__synth__" / "plan.json"
    plan = json.loads(path.read_text())
    plan["seed"] += 1
    path.write_text(json.dumps(plan))
    report = _verify(root, record, quick=True)
    assert report.changed == [
        "__synth__/plan.json (edited since the build: not the dataset's plan)"
    ]


def test_a_folder_assembled_before_the_seal_passes_with_a_note(built):
    root, record = built
    for path in (root / "dataset.json", root / "__synth__" / "index.json"):
        data = json.loads(path.read_text())
        data.get("statistics", {}).pop(SEAL, None)
        data.pop("sealed", None)
        data.pop("dataset_json_sha256", None)
        path.write_text(json.dumps(data, indent=2))
    old = {**record, "statistics": {k: v for k, v in record["statistics"].items() if k != SEAL}}
    (root / "README.md").write_text("edited, but never hashed")
    for quick in (False, True):
        report = _verify(root, old, quick)
        assert report.ok, report.to_json()
        assert report.notes == [CARD_NOTE]


@pytest.mark.parametrize("quick", [False, True])
def test_a_deleted_speech_card_picture_is_named_missing(tmp_path, quick):
    from synth.speech.spec import build_spec as speech_spec

    spec = speech_spec({"shard_size": 5}).model_dump(mode="json")
    record = _build(tmp_path, "speech", spec, count=4)
    root = Path(record["path"])
    assert _verify(root, record, quick).ok
    (root / "__synth__" / "snr_histogram.png").unlink()
    spectrograms = root / "__synth__" / "preview.jpg"
    spectrograms.write_bytes(spectrograms.read_bytes()[:-10])
    report = _verify(root, record, quick)
    assert not report.ok
    assert report.missing == ["__synth__/snr_histogram.png"]
    assert report.changed == [
        "__synth__/preview.jpg (written with the card: edited since the build)"
    ]


# -- imported datasets -----------------------------------------------------------------------
def _imagefolder(folder: Path, texts: list[str]) -> None:
    folder.mkdir(parents=True)
    rows = []
    for i, text in enumerate(texts):
        pixels = np.full((12, 40, 3), i * 40, dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i}.png")
        rows.append(json.dumps({"file_name": f"img{i}.png", "text": text, "split": "train"}))
    (folder / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    (folder / "LICENSE").write_text("CC-BY-4.0\n")


@pytest.fixture
def imported(tmp_path):
    data = tmp_path / "real"
    _imagefolder(data, ["one", "two", "three"])
    catalog = open_catalog(tmp_path / "home")
    try:
        record, _ = import_dataset(data, "ocr", catalog, tmp_path / "home", licence="CC-BY-4.0")
    finally:
        catalog.close()
    return tmp_path / "home", data, record.to_json()


def _verify_import(imported):
    home, data, record = imported
    return verify_import(home, data, record["id"], record=record)


def test_an_intact_import_passes(imported):
    report = _verify_import(imported)
    assert report.ok, report.to_json()
    assert report.notes == []
    assert report.own_files == 2  # metadata.jsonl and LICENSE


def test_an_edited_import_metadata_is_named(imported):
    _, data, _ = imported
    meta = data / "metadata.jsonl"
    meta.write_text(meta.read_text().replace('"two"', '"TWO"'))
    report = _verify_import(imported)
    assert not report.ok
    assert report.changed == ["metadata.jsonl (labels: edited since the import)"]
    # a column that is not a label is part of the file too
    meta.write_text(meta.read_text().replace('"TWO"', '"two"').replace('"train"', '"test"', 1))
    assert _verify_import(imported).changed == ["metadata.jsonl (labels: edited since the import)"]


def test_an_import_without_the_folder_record_still_reads_its_labels_again(imported):
    home, data, record = imported
    old = {**record, "statistics": {k: v for k, v in record["statistics"].items() if k != SEAL}}
    assert verify_import(home, data, record["id"], record=old).ok
    meta = data / "metadata.jsonl"
    meta.write_text(meta.read_text().replace('"two"', '"TWO"'))
    report = verify_import(home, data, record["id"], record=old)
    assert not report.ok
    assert report.changed == [
        "labels (labels of 1 sample(s) differ from the import's, first img1.png)"
    ]
    assert report.notes and "not recorded when this dataset was imported" in report.notes[0]


def test_a_stray_or_changed_file_beside_an_import_is_named(imported):
    _, data, _ = imported
    (data / "img9.png").write_bytes(b"not listed")
    (data / "LICENSE").write_text("MIT\n")
    report = _verify_import(imported)
    assert not report.ok
    assert report.extra == ["img9.png"]
    assert report.changed == ["LICENSE (beside the samples: edited since the import)"]
