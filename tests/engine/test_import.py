"""Importing real datasets: layouts, hashes, refusal of outside paths, idempotence, use."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.importer import import_dataset, labels_file
from synth.engine.verify import verify_import
from synth.errors import AssetError
from synth.ocr.spec import build_spec


def _images(folder, texts):
    folder.mkdir(parents=True, exist_ok=True)
    for i, _ in enumerate(texts):
        Image.new("RGB", (40, 12), (i * 20, 0, 0)).save(folder / f"img{i}.png")


@pytest.fixture
def catalog(tmp_path):
    c = open_catalog(tmp_path / "home")
    yield c
    c.close()


def test_imagefolder_import_hashes_files_and_is_idempotent(tmp_path, catalog):
    data = tmp_path / "real"
    texts = ["first line", "second line", "third"]
    _images(data, texts)
    with open(data / "metadata.jsonl", "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"file_name": f"img{i}.png", "text": t}) + "\n")
    rec, created = import_dataset(
        data,
        "ocr",
        catalog,
        tmp_path / "home",
        name="real",
        licence="CC-BY-4.0",
        personal_data=True,
    )
    assert created and rec.count == 3 and rec.kind == "ocr" and rec.trigger["type"] == "import"
    assert rec.licences == ["CC-BY-4.0"] and rec.personal_data
    again, created_again = import_dataset(data, "ocr", catalog, tmp_path / "home")
    assert again.id == rec.id and not created_again
    assert verify_import(tmp_path / "home", data, rec.id).ok
    (data / "img1.png").write_bytes(b"changed")
    report = verify_import(tmp_path / "home", data, rec.id)
    assert report.changed == ["img1.png"] and not report.ok
    assert labels_file(rec, tmp_path / "home").read_text().splitlines() == texts


def test_text_pairs_and_the_same_files_give_the_same_id(tmp_path, catalog):
    a = tmp_path / "a"
    _images(a, ["x", "y"])
    (a / "img0.txt").write_text("hello\n")
    (a / "img1.txt").write_text("world\n")
    rec, _ = import_dataset(a, "ocr", catalog, tmp_path / "home")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    for p in b.glob("*.txt"):
        p.unlink()
    with open(b / "metadata.csv", "w") as f:
        f.write("file_name,text\nimg0.png,hello\nimg1.png,world\n")
    rec_b, created = import_dataset(b, "ocr", catalog, tmp_path / "home")
    assert rec_b.id == rec.id and not created


def test_nemo_manifest_import_for_speech(tmp_path, catalog):
    data = tmp_path / "nemo"
    data.mkdir()
    sr = 16000
    tone = (0.1 * np.sin(np.arange(sr) * 2 * np.pi * 220 / sr)).astype(np.float32)
    sf.write(data / "a.wav", tone, sr)
    with open(data / "train.jsonl", "w") as f:
        f.write(json.dumps({"audio_filepath": "a.wav", "text": "a tone", "duration": 1.0}) + "\n")
    rec, _ = import_dataset(data, "speech", catalog, tmp_path / "home")
    assert rec.count == 1 and rec.kind == "speech"


@pytest.mark.parametrize("bad", ["../outside.png", "/etc/passwd.png", "sub/../../x.png"])
def test_paths_outside_the_folder_are_refused(tmp_path, catalog, bad):
    data = tmp_path / "real"
    _images(data, ["a"])
    (data / "metadata.jsonl").write_text(json.dumps({"file_name": bad, "text": "x"}) + "\n")
    with pytest.raises(AssetError, match="points outside the dataset folder"):
        import_dataset(data, "ocr", catalog, tmp_path / "home")
    assert catalog.list() == []


def test_a_missing_label_is_named(tmp_path, catalog):
    data = tmp_path / "pairs"
    _images(data, ["a", "b"])
    (data / "img0.txt").write_text("a")
    with pytest.raises(AssetError, match=r"img1.png: no label file img1.txt"):
        import_dataset(data, "ocr", catalog, tmp_path / "home")


def test_synthetic_ocr_can_draw_its_texts_from_an_imported_dataset(tmp_path, catalog):
    data = tmp_path / "real"
    texts = ["Invoice 2041", "Total due 17.50"]
    _images(data, texts)
    with open(data / "metadata.jsonl", "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"file_name": f"img{i}.png", "text": t}) + "\n")
    rec, _ = import_dataset(data, "ocr", catalog, tmp_path / "home")
    spec = build_spec(
        "clean",
        {
            "text": {
                "source": "file",
                "dataset_id": rec.id,
                "path": str(labels_file(rec, tmp_path / "home")),
            }
        },
    )
    plan, gen = prepare(
        "ocr", spec.model_dump(mode="json"), seed=0, count=10, name="s", home=tmp_path / "home"
    )
    built = build(plan, gen, catalog).record
    rows = [json.loads(line) for line in open(f"{built.path}/metadata.jsonl")]
    assert {r["text"] for r in rows} <= set(texts)
    texts_inputs = [i for i in built.inputs if i["role"] == "texts"]
    assert texts_inputs[0]["uri"] == f"dataset:{rec.id}" and texts_inputs[0]["sha256"] == rec.id


def test_a_build_from_personal_data_is_marked_and_inherits_licences(tmp_path, catalog):
    data = tmp_path / "real"
    _images(data, ["a"])
    (data / "metadata.jsonl").write_text(json.dumps({"file_name": "img0.png", "text": "Jane Roe"}))
    rec, _ = import_dataset(
        data, "ocr", catalog, tmp_path / "home", licence="CC-BY-4.0", personal_data=True
    )
    spec = build_spec(
        "clean",
        {
            "text": {
                "source": "file",
                "dataset_id": rec.id,
                "path": str(labels_file(rec, tmp_path / "home")),
            }
        },
    )
    plan, gen = prepare(
        "ocr", spec.model_dump(mode="json"), seed=0, count=3, name="p", home=tmp_path / "home"
    )
    built = build(plan, gen, catalog).record
    assert built.personal_data
    assert "CC-BY-4.0" in built.licences
    assert {r.id for r in catalog.list(licence="CC-BY-4.0")} == {rec.id, built.id}
    faker_only = build(
        *prepare(
            "ocr",
            build_spec("clean").model_dump(mode="json"),
            seed=0,
            count=3,
            name="f",
            home=tmp_path / "home",
        ),
        catalog,
    ).record
    assert not faker_only.personal_data
