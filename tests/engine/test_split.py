"""Leak-free splits: whole groups per split for speech (clean clip) and OCR (text), hard links,
Hugging Face loading of the three splits, determinism, stratification, imports with their own
splits, bad input refused with nothing recorded, and verify catching a leak made by hand."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.expand import check_parent_folder
from synth.engine.importer import import_dataset
from synth.engine.split import SYNTHETIC_WARNING, make_split, split_dir
from synth.engine.split_assign import SPLITS, assign
from synth.engine.split_verify import verify_split
from synth.engine.verify import verify_import
from synth.errors import NotFound, SynthError
from synth.lineage.openlineage import events_path
from synth.lineage.trace import trace
from synth.ocr.spec import build_spec as build_ocr_spec
from synth.speech.spec import build_spec as build_speech_spec
from tests.lineage import test_openlineage

ol_validate = test_openlineage.validate  # the OpenLineage schema check, a fixture

SPLIT_KEYS = {
    "seed",
    "ratios",
    "group_by",
    "stratify_by",
    "counts",
    "balance",
    "balance_by",
    "shared_groups",
    "groups",
}


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in open(folder / "metadata.jsonl", encoding="utf-8")]


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """A speech dataset of 40 mixes drawn from the bundled clean clips (several mixes share a
    clip) and its catalog."""
    home = tmp_path_factory.mktemp("speech") / "home"
    spec = build_speech_spec({"shard_size": 16, "kaldi": True}).model_dump(mode="json")
    catalog = open_catalog(home)
    record = build(*prepare("speech", spec, seed=3, count=40, name="mix", home=home), catalog)
    catalog.close()
    return home, record.record


@pytest.fixture(scope="module")
def ocr(tmp_path_factory):
    """An OCR dataset of 40 lines drawn from 10 texts (each text drawn in several fonts)."""
    root = tmp_path_factory.mktemp("ocr")
    home = root / "home"
    texts = root / "texts.txt"
    texts.write_text("\n".join(f"line {c}" for c in "abcdefghij") + "\n", encoding="utf-8")
    spec = build_ocr_spec(
        "clean", {"shard_size": 16, "text": {"source": "file", "path": str(texts)}}
    ).model_dump(mode="json")
    catalog = open_catalog(home)
    record = build(*prepare("ocr", spec, seed=2, count=40, name="lines", home=home), catalog)
    catalog.close()
    return home, record.record


def _split(home: Path, ref: str, **kw):
    catalog = open_catalog(home)
    try:
        return make_split(catalog, home, ref, kw.pop("ratios", [70, 15, 15]), **kw)
    finally:
        catalog.close()


def _groups(record, field: str) -> dict[str, set]:
    return {s: {r[field] for r in _rows(split_dir(record, s))} for s in SPLITS}


def _assert_disjoint(groups: dict[str, set]) -> None:
    for a in SPLITS:
        for b in SPLITS:
            if a < b:
                assert not groups[a] & groups[b], (a, b, groups[a] & groups[b])


def test_speech_split_keeps_every_clean_clip_in_one_split(speech):
    home, parent = speech
    per_clip = Counter(r["clean_id"] for r in _rows(Path(parent.path)))
    assert max(per_clip.values()) > 1  # some clip is mixed more than once: a leak is possible
    result = _split(home, parent.id, seed=5)
    rec = result.record
    s = rec.statistics["splits"]
    assert set(s) == SPLIT_KEYS
    assert rec.parent_id == parent.id and rec.trigger["type"] == "split"
    assert s["group_by"] == ["clean_id"] and s["seed"] == 5 and s["ratios"] == [70, 15, 15]
    assert s["shared_groups"] == 0 and sum(s["counts"].values()) == 40 == rec.count
    groups = _groups(rec, "clean_id")
    _assert_disjoint(groups)
    assert {k: len(v) for k, v in groups.items()} == s["groups"]
    assert {k: len(_rows(split_dir(rec, k))) for k in SPLITS} == s["counts"]
    assert sum(len(g) for g in groups.values()) == len(per_clip)
    assert result.warnings == [SYNTHETIC_WARNING]
    # hard links, not copies
    row = _rows(split_dir(rec, "train"))[0]
    linked = split_dir(rec, "train") / row["file_name"]
    assert linked.stat().st_ino == (Path(parent.path) / row["file_name"]).stat().st_ino
    assert result.copied == 0 and result.linked == 40
    # each split has its own NeMo manifest and Kaldi folder, as the parent has at its top
    for split in SPLITS:
        nemo = (split_dir(rec, split) / "manifest.nemo.jsonl").read_text().splitlines()
        wav_scp = (split_dir(rec, split) / "kaldi" / "wav.scp").read_text().splitlines()
        assert len(nemo) == len(wav_scp) == s["counts"][split]
        assert {json.loads(x)["audio_filepath"] for x in nemo} == {
            r["file_name"] for r in _rows(split_dir(rec, split))
        }
    report = verify_split(rec.path, rec.to_json())
    assert report.ok, report.to_json()
    assert report.checked_files == 40 + 3 * 7  # the mixes, and a manifest and 6 Kaldi files each
    groups = ", ".join(f"{k} {s['groups'][k]} groups" for k in SPLITS)
    assert f"leak check: no group of clean_id in more than one split ({groups})" in report.notes
    # lineage: the parent's descendant is a split; licences and inputs pass on
    catalog = open_catalog(home)
    try:
        down = trace(catalog, parent.id)["descendants"]
    finally:
        catalog.close()
    assert {(d["id"], d["relation"]) for d in down} >= {(rec.id, "split")}
    assert rec.licences == parent.licences and rec.inputs == parent.inputs


def test_ocr_split_keeps_every_text_in_one_split(ocr):
    home, parent = ocr
    rec = _split(home, parent.id, ratios=[60, 20, 20]).record
    s = rec.statistics["splits"]
    assert s["group_by"] == ["text"] and s["shared_groups"] == 0
    groups = _groups(rec, "text")
    _assert_disjoint(groups)
    assert sum(len(g) for g in groups.values()) == 10
    # ten texts, few enough to count: the balance is over the text, per split
    assert s["balance_by"] == "text"
    for split in SPLITS:
        assert sum(s["balance"][split].values()) == s["counts"][split]
    assert "## Splits" in (Path(rec.path) / "README.md").read_text()
    assert verify_split(rec.path, rec.to_json()).ok


def test_hugging_face_loads_the_three_splits(speech, ocr, tmp_path):
    datasets = pytest.importorskip("datasets")
    for (home, parent), loader in ((speech, "audiofolder"), (ocr, "imagefolder")):
        rec = _split(home, parent.id, seed=1, ratios=[50, 25, 25]).record
        ds = datasets.load_dataset(loader, data_dir=rec.path, cache_dir=str(tmp_path / loader))
        assert set(ds) == set(SPLITS)
        counts = rec.statistics["splits"]["counts"]
        assert {k: ds[k].num_rows for k in SPLITS} == counts
        assert all(n > 0 for n in counts.values())
        key = "clean_id" if loader == "audiofolder" else "text"
        _assert_disjoint({k: set(ds[k][key]) for k in SPLITS})


def test_the_same_seed_gives_the_same_content_id(speech, tmp_path):
    home, parent = speech
    first = _split(home, parent.id, seed=11, ratios=[60, 20, 20])
    again = _split(home, parent.id, seed=11, ratios=[60, 20, 20])
    assert again.record.id == first.record.id and not again.created
    # the same dataset built and split afresh under another data root: the same id
    other = tmp_path / "other"
    catalog = open_catalog(other)
    try:
        spec = build_speech_spec({"shard_size": 16, "kaldi": True}).model_dump(mode="json")
        rebuilt = build(*prepare("speech", spec, seed=3, count=40, name="mix", home=other), catalog)
        assert rebuilt.record.id == parent.id
        fresh = make_split(catalog, other, parent.id, [60, 20, 20], seed=11)
    finally:
        catalog.close()
    assert fresh.created and fresh.record.path.startswith(str(other))
    assert fresh.record.id == first.record.id
    assert _split(home, parent.id, seed=12, ratios=[60, 20, 20]).record.id != first.record.id


def test_arguments_that_draw_the_same_splits_give_the_first_version(tmp_path):
    data, home = tmp_path / "real", tmp_path / "home"
    _real_images(data, {".": 12})  # three texts: every ratio near a third draws one each
    catalog = open_catalog(home)
    try:
        rec, _ = import_dataset(data, "ocr", catalog, home)
        first = make_split(catalog, home, rec.id, [34, 33, 33])
        second = make_split(catalog, home, rec.id, [40, 30, 30])
        assert second.record.id == first.record.id and not second.created
        assert len(catalog.list()) == 2
    finally:
        catalog.close()
    assert [p.name for p in (home / "datasets").iterdir()] == [Path(first.record.path).name]


def _stratified_rows() -> list[dict]:
    """200 rows in 100 groups of two; 20 groups labelled "b", 80 "a"."""
    return [
        {"file_name": f"{g}-{k}.png", "g": g, "label": "b" if g % 5 == 0 else "a"}
        for g in range(100)
        for k in range(2)
    ]


def test_stratification_keeps_the_label_balance_per_split():
    rows = _stratified_rows()
    got = assign(rows, [60, 20, 20], ["g"], "label", seed=0)
    for k, want in enumerate((120, 40, 40)):
        members = got.members(k)
        assert len(members) == want
        share_b = sum(rows[i]["label"] == "b" for i in members) / len(members)
        assert share_b == pytest.approx(0.2, abs=0.03), (SPLITS[k], share_b)
    # groups stay whole, and the same seed draws the same assignment
    for key, split in got.groups.items():
        assert {got.split_of[i] for i, r in enumerate(rows) if json.dumps([r["g"]]) == key} in (
            {split},
            set(),
        )
    assert assign(rows, [60, 20, 20], ["g"], "label", seed=0) == got


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=3, max_size=40),
    labels=st.lists(st.sampled_from("abc"), min_size=40, max_size=40),
    train=st.integers(1, 98),
    validation=st.integers(1, 98),
    seed=st.integers(0, 2**63 - 1),
    stratified=st.booleans(),
)
def test_groups_never_cross_and_every_row_is_assigned(
    sizes, labels, train, validation, seed, stratified
):
    assume(train + validation < 100)
    ratios = [train, validation, 100 - train - validation]
    rows = [{"g": g, "y": labels[g]} for g, n in enumerate(sizes) for _ in range(n)]
    stratify = "y" if stratified else None
    try:
        got = assign(rows, ratios, ["g"], stratify, seed)
    except SynthError as err:  # too few groups: a split would be empty, and the error says so
        assert "would be empty" in str(err)
        return
    assert len(got.split_of) == len(rows)
    assert all(got.members(k) for k in range(3))
    for g in range(len(sizes)):
        assert len({got.split_of[i] for i, r in enumerate(rows) if r["g"] == g}) == 1
    assert assign(rows, ratios, ["g"], stratify, seed) == got


def test_stratify_by_records_the_field_and_its_balance(ocr):
    home, parent = ocr
    rec = _split(home, parent.id, ratios=[50, 25, 25], stratify_by="background_kind").record
    s = rec.statistics["splits"]
    assert s["stratify_by"] == "background_kind" == s["balance_by"]
    rows = {k: _rows(split_dir(rec, k)) for k in SPLITS}
    for k in SPLITS:
        assert s["balance"][k] == dict(Counter(r["background_kind"] for r in rows[k]))


def _real_images(root: Path, layout: dict[str, int]) -> None:
    for folder, n in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        with open(root / folder / "metadata.jsonl", "w", encoding="utf-8") as f:
            for i in range(n):
                color = (i * 25, 40 * len(folder), 7)
                Image.new("RGB", (16, 8), color).save(root / folder / f"{i}.png")
                f.write(json.dumps({"file_name": f"{i}.png", "text": str(i % 3)}) + "\n")


def test_import_keeps_a_real_datasets_own_splits(tmp_path):
    datasets = pytest.importorskip("datasets")
    data, home = tmp_path / "digits", tmp_path / "home"
    _real_images(data, {"train": 6, "val": 3, "test": 3})
    catalog = open_catalog(home)
    try:
        rec, created = import_dataset(data, "ocr", catalog, home, licence="CC0-1.0")
    finally:
        catalog.close()
    s = rec.statistics["splits"]
    assert created and rec.count == 12
    assert set(s) >= SPLIT_KEYS
    assert s["counts"] == {"train": 6, "validation": 3, "test": 3}
    assert s["ratios"] == [50, 25, 25] and s["shared_groups"] == 0
    assert s["balance"]["train"] == {"0": 2, "1": 2, "2": 2}
    assert split_dir(rec, "validation") == data / "val"
    with pytest.raises(NotFound, match="no split 'dev'"):
        split_dir(rec, "dev")
    ds = datasets.load_dataset("imagefolder", data_dir=str(data), cache_dir=str(tmp_path / "c"))
    assert {k: ds[k].num_rows for k in ds} == s["counts"]
    report = verify_import(home, data, rec.id, record=rec.to_json())
    assert report.ok
    assert "leak check: 0 file(s) in more than one of its splits (the import recorded 0)" in (
        report.notes
    )
    # the same bytes in train and test is a leak verify names
    shutil.copyfile(data / "train" / "0.png", data / "test" / "1.png")
    report = verify_import(home, data, rec.id, record=rec.to_json())
    assert not report.ok and "test/1.png" in report.changed
    assert "leak: test/1.png and train/0.png are the same bytes" in report.problems[0]


def test_an_imported_dataset_without_splits_can_be_split_without_the_warning(tmp_path):
    data, home = tmp_path / "real", tmp_path / "home"
    _real_images(data, {".": 12})
    catalog = open_catalog(home)
    try:
        rec, _ = import_dataset(data, "ocr", catalog, home)
        result = make_split(catalog, home, rec.id, [34, 33, 33])
    finally:
        catalog.close()
    assert result.warnings == []
    s = result.record.statistics["splits"]
    assert s["group_by"] == ["text"] and s["groups"] == {"train": 1, "validation": 1, "test": 1}
    assert verify_split(result.record.path, result.record.to_json()).ok


def _nothing_new(home: Path, before: tuple[int, list[str]]) -> None:
    catalog = open_catalog(home)
    try:
        assert len(catalog.list()) == before[0]
    finally:
        catalog.close()
    assert sorted(p.name for p in (home / "datasets").iterdir()) == before[1]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"ratios": [70, 20, 20]}, r"--ratios 70 20 20: the percentages sum to 110, not 100"),
        ({"ratios": [98, 1, 1]}, r"the validation and test split would be empty: 10 group"),
        ({"ratios": [0, 50, 50]}, r"each split needs at least 1 percent"),
        ({"group_by": ["speaker"]}, r"--group-by speaker: no row of .* has a field 'speaker'"),
        ({"stratify_by": "nope"}, r"--stratify-by nope: no row of .* has a field 'nope'"),
        ({"ref": "ffffffff"}, r"dataset id 'ffffffff': no such dataset"),
    ],
)
def test_bad_input_is_one_line_and_records_nothing(ocr, kw, message):
    home, parent = ocr
    catalog = open_catalog(home)
    before = (len(catalog.list()), sorted(p.name for p in (home / "datasets").iterdir()))
    catalog.close()
    ref = kw.pop("ref", parent.id)
    with pytest.raises(SynthError, match=message) as err:
        _split(home, ref, **kw)
    assert "\n" not in str(err.value)
    _nothing_new(home, before)


def test_a_split_version_is_neither_split_again_nor_expanded(ocr):
    home, parent = ocr
    rec = _split(home, parent.id, seed=21).record
    with pytest.raises(
        SynthError,
        match=f"already has train/validation/test splits; split its parent {parent.id[:12]}",
    ):
        _split(home, rec.id)
    with pytest.raises(SynthError, match="a split version cannot be expanded"):
        check_parent_folder(rec)
    with pytest.raises(NotFound, match="has no splits"):
        split_dir(parent, "train")
    with pytest.raises(NotFound, match=f"dataset {rec.id[:12]}: no split 'val' "):
        split_dir(rec, "val")
    shutil.rmtree(Path(rec.path) / "test")
    with pytest.raises(SynthError, match=r"the test folder of dataset .* is missing"):
        split_dir(rec, "test")


def test_verify_catches_a_leak_made_by_hand(speech, tmp_path):
    home, parent = speech
    rec = _split(home, parent.id, seed=31).record
    root = Path(rec.path)
    # move one test sample, file and row, into train: its clip is now in both
    test_rows = _rows(root / "test")
    by_clip = Counter(r["clean_id"] for r in test_rows)
    moved = (
        next(r for r in test_rows if by_clip[r["clean_id"]] > 1)
        if max(by_clip.values()) > 1
        else None
    )
    if moved is None:  # every test clip is mixed once: give a train row a test clip instead
        train_rows = _rows(root / "train")
        train_rows[0]["clean_id"] = test_rows[0]["clean_id"]
        (root / "train" / "metadata.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in train_rows)
        )
        clip = test_rows[0]["clean_id"]
    else:
        clip = moved["clean_id"]
        dst = root / "train" / moved["file_name"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        (root / "test" / moved["file_name"]).rename(dst)
        with open(root / "train" / "metadata.jsonl", "a") as f:
            f.write(json.dumps(moved) + "\n")
        (root / "test" / "metadata.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in test_rows if r is not moved)
        )
    report = verify_split(rec.path, rec.to_json())
    assert not report.ok
    assert f'leak: group ["{clip}"] of clean_id is in train and test' in report.problems
    assert any(p.startswith("leak check: 1 group(s)") for p in report.problems)
    assert report.actual_id != rec.id


def test_verify_names_an_edited_card_and_a_stray_file(ocr):
    home, parent = ocr
    rec = _split(home, parent.id, seed=41).record
    root = Path(rec.path)
    card = root / "README.md"
    card.write_text(card.read_text() + "\nedited\n")
    (root / "validation" / "stray.png").write_bytes(b"x")
    report = verify_split(rec.path, rec.to_json())
    assert "README.md (the dataset card: edited since the split)" in report.changed
    assert report.extra == ["validation/stray.png"]


def test_verify_names_an_edited_split_manifest(speech):
    home, parent = speech
    rec = _split(home, parent.id, seed=51).record
    nemo = Path(rec.path) / "test" / "manifest.nemo.jsonl"
    nemo.write_text(nemo.read_text().replace('"text": "', '"text": "x', 1))
    report = verify_split(rec.path, rec.to_json())
    assert report.changed == [
        "test/manifest.nemo.jsonl (derived from metadata.jsonl: edited since the split)"
    ]
    assert report.actual_id == rec.id and not report.ok


def test_files_are_copied_where_a_link_cannot_cross_devices(tmp_path):
    """A real dataset on another file system (tmpfs) than the data root: its split copies."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system to link across")
    data = Path(tempfile.mkdtemp(prefix="synth-split-", dir=shm))
    try:
        _real_images(data, {".": 12})
        home = tmp_path / "home"
        catalog = open_catalog(home)
        try:
            rec, _ = import_dataset(data, "ocr", catalog, home)
            result = make_split(catalog, home, rec.id, [34, 33, 33])
        finally:
            catalog.close()
        assert (result.linked, result.copied) == (0, 12)
        split = result.record
        assert (
            json.loads((Path(split.path) / "dataset.json").read_text())["run"]["files_copied"] == 12
        )
        assert verify_split(split.path, split.to_json()).ok
    finally:
        shutil.rmtree(data)


def test_verify_names_a_broken_file_manifest_once(ocr):
    home, parent = ocr
    rec = _split(home, parent.id, seed=61).record
    with open(Path(rec.path) / "__synth__" / "files.tsv", "a") as f:
        f.write("not a manifest line\n")
    report = verify_split(rec.path, rec.to_json())
    assert report.problems == ["__synth__/files.tsv: missing or malformed"]
    assert report.extra == [] and report.changed == [] and report.actual_id == rec.id


def test_a_split_emits_valid_openlineage_events_with_its_parent_as_input(tmp_path, ol_validate):
    data, home = tmp_path / "real", tmp_path / "home"
    _real_images(data, {".": 12})
    catalog = open_catalog(home)
    try:
        parent, _ = import_dataset(data, "ocr", catalog, home)
        rec = make_split(catalog, home, parent.id, [34, 33, 33], seed=4).record
    finally:
        catalog.close()
    events = [json.loads(x) for x in events_path(home).read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        ol_validate(event)
    complete = events[1]
    (source,) = complete["inputs"]
    assert source["name"] == parent.path
    assert source["facets"]["version"]["datasetVersion"] == parent.id
    out = complete["outputs"][0]
    assert out["name"] == rec.path and out["facets"]["version"]["datasetVersion"] == rec.id
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == 12
    assert complete["run"]["facets"]["synth"]["trigger"] == rec.trigger
    info = json.loads((Path(rec.path) / "dataset.json").read_text())
    assert info["run"]["openlineage_run_id"] == complete["run"]["runId"]


def test_a_sample_path_outside_the_parent_is_refused_and_nothing_is_left(tmp_path):
    home = tmp_path / "home"
    spec = build_ocr_spec("clean", {"shard_size": 8}).model_dump(mode="json")
    catalog = open_catalog(home)
    try:
        parent = build(*prepare("ocr", spec, seed=1, count=8, name="p", home=home), catalog).record
        manifest = Path(parent.path) / "__synth__" / "shards" / "00000.jsonl"
        lines = manifest.read_text().splitlines()
        rec = json.loads(lines[0])
        rec["files"][0][0] = "../../escaped.jpg"
        manifest.write_text("\n".join([json.dumps(rec), *lines[1:]]) + "\n")
        with pytest.raises(
            SynthError, match=re.escape("'../../escaped.jpg' points outside the dataset")
        ):
            make_split(catalog, home, parent.id, [50, 25, 25])
        assert len(catalog.list()) == 1
    finally:
        catalog.close()
    assert [p.name for p in (home / "datasets").iterdir()] == [Path(parent.path).name]
    assert not (tmp_path / "escaped.jpg").exists()
