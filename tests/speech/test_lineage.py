"""Lineage and verification of speech datasets: transcripts, corpus datasets and their
licences, recipes and the derived NeMo and Kaldi files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.verify import verify_dataset
from synth.speech.spec import build_spec as build_speech_spec


def test_a_text_pairs_corpus_records_each_transcript_and_verify_sees_it_change(
    tmp_path, pairs_corpus
):
    spec = build_speech_spec({"clean": str(pairs_corpus)}).model_dump(mode="json")
    catalog = open_catalog(tmp_path / "home")
    plan, gen = prepare("speech", spec, seed=1, count=4, name="pairs", home=tmp_path / "home")
    rec = build(plan, gen, catalog, workers=1).record
    catalog.close()
    used = {json.loads(line)["clean_id"] for line in (Path(rec.path) / "metadata.jsonl").open()}
    texts = {i["name"]: i for i in rec.inputs if i["role"] == "clean_transcript"}
    assert set(texts) == used and used  # the .txt of exactly the clips drawn
    for name, item in texts.items():
        txt = pairs_corpus / f"{name}.txt"
        assert item["uri"] == txt.resolve().as_uri()
        assert item["sha256"] == hashlib.sha256(txt.read_bytes()).hexdigest()
    assert verify_dataset(rec.path, rec.id, samples=0).ok

    edited = sorted(used)[0]
    (pairs_corpus / f"{edited}.txt").write_text("totally different words\n", encoding="utf-8")
    report = verify_dataset(rec.path, rec.id, samples=0)
    assert not report.ok
    assert report.problems == [
        f"input {(pairs_corpus / f'{edited}.txt').resolve().as_uri()}: content changed since "
        "the build"
    ]
    again, _ = prepare("speech", spec, seed=1, count=4, name="pairs", home=tmp_path / "home")
    assert again.fingerprint != plan.fingerprint  # a new label set is a new build


def test_clean_from_a_catalog_dataset_records_it_and_carries_its_licences(run_synth):
    first = json.loads(run_synth("speech", "--count", "6", "--json", check=True).stdout)
    source = json.loads((Path(first["path"]) / "dataset.json").read_text(encoding="utf-8"))
    proc = run_synth("speech", "--count", "4", "--clean", first["id"][:12], "--json", check=True)
    made = json.loads(proc.stdout)
    info = json.loads((Path(made["path"]) / "dataset.json").read_text(encoding="utf-8"))
    licence = " AND ".join(source["licences"])
    assert info["spec"]["clean_dataset_id"] == first["id"]
    assert info["spec"]["clean"] == first["path"]
    (corpus,) = [i for i in info["inputs"] if i["role"] == "clean_corpus"]
    assert corpus["uri"] == f"dataset:{first['id']}" and corpus["licence"] == licence
    clips = [i for i in info["inputs"] if i["role"] == "clean_speech"]
    assert clips and {i["licence"] for i in clips} == {licence}
    assert "unknown" not in info["licences"]
    lineage = json.loads(run_synth("datasets", "lineage", made["id"], "--json", check=True).stdout)
    assert [(a["id"], a["relation"]) for a in lineage["ancestors"]] == [(first["id"], "input")]


@pytest.mark.parametrize("quick", [False, True])
def test_verify_names_an_edited_recipe_and_edited_or_deleted_derived_files(tmp_path, quick):
    spec = build_speech_spec({"kaldi": True, "lhotse": True}).model_dump(mode="json")
    catalog = open_catalog(tmp_path / "home")
    plan, gen = prepare("speech", spec, seed=2, count=5, name="v", home=tmp_path / "home")
    rec = build(plan, gen, catalog, workers=1).record
    catalog.close()
    root = Path(rec.path)
    assert verify_dataset(root, rec.id, samples=5, quick=quick).ok

    recipes = (root / "recipes.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    line = json.loads(recipes[3])
    line["recipe"]["snr_db"] += 1.0  # the requested SNR on record, no audio touched
    recipes[3] = json.dumps(line) + "\n"
    (root / "recipes.jsonl").write_text("".join(recipes), encoding="utf-8")
    with open(root / "manifest.nemo.jsonl", "a", encoding="utf-8") as f:
        f.write('{"audio_filepath": "junk.wav", "duration": 1.0, "text": "junk"}\n')
    (root / "kaldi" / "utt2spk").unlink()
    (root / "kaldi" / "reco2dur").write_text("000000000 1.0\n", encoding="utf-8")
    (root / "supervisions.jsonl.gz").unlink()
    cuts = (root / "cuts.jsonl.gz").read_bytes()
    (root / "cuts.jsonl.gz").write_bytes(cuts[:-1] + bytes([cuts[-1] ^ 1]))

    report = verify_dataset(root, rec.id, samples=0, quick=quick)
    assert not report.ok
    assert sorted(report.changed) == [
        "cuts.jsonl.gz (derived from metadata.jsonl: edited since the build)",
        "kaldi/reco2dur (derived from metadata.jsonl: edited since the build)",
        "manifest.nemo.jsonl (derived from metadata.jsonl: edited since the build)",
        "recipes.jsonl (recipes differ from the shard manifests)",
    ]
    assert sorted(report.missing) == ["kaldi/utt2spk", "supervisions.jsonl.gz"]


def test_unusable_clips_give_the_same_dataset_whatever_the_workers(tmp_path):
    """Zero-length, truncated, NaN and untranscribed clean clips are left out before any draw:
    no rejection is counted for them at render time, the skipped inputs name each with its
    reason, and all of it, the dataset id included, is the same with 1 and 2 workers."""
    import numpy as np

    from tests.speech.helpers import speechlike, write

    clean = tmp_path / "clean"
    full = write(tmp_path / "full.wav", speechlike(1.0)).read_bytes()
    clean.mkdir()
    (clean / "cut.wav").write_bytes(full[: len(full) // 2])
    (clean / "cut.txt").write_text("cut", encoding="utf-8")
    write(clean / "empty.wav", np.zeros(0, np.float32))
    (clean / "empty.txt").write_text("empty", encoding="utf-8")
    nan = speechlike(1.0, seed=8)
    nan[7] = np.nan
    write(clean / "nan.wav", nan, subtype="FLOAT")
    (clean / "nan.txt").write_text("nan", encoding="utf-8")
    write(clean / "untold.wav", speechlike(1.0, seed=9))
    for i in range(2):
        write(clean / f"good{i}.wav", speechlike(1.2, seed=3 + i))
        (clean / f"good{i}.txt").write_text(f"good {i}", encoding="utf-8")
    spec = build_speech_spec({"clean": str(clean), "shard_size": 3}).model_dump(mode="json")
    seen = []
    for workers in (1, 2):
        home = tmp_path / f"home{workers}"
        catalog = open_catalog(home)
        plan, gen = prepare("speech", spec, seed=0, count=12, name="bad", home=home)
        rec = build(plan, gen, catalog, workers=workers).record
        catalog.close()
        info = json.loads((Path(rec.path) / "dataset.json").read_text(encoding="utf-8"))
        rejections = info["statistics"]["rejections"]
        assert not any(reason.startswith("clean_") for reason in rejections)
        assert [(s["file"], s["reason"]) for s in info["skipped_inputs"]] == [
            (str(clean / "untold.wav"), "no transcript: expected untold.txt beside it"),
            (str(clean / "cut.wav"), info["skipped_inputs"][1]["reason"]),
            (str(clean / "empty.wav"), "audio file has no samples (zero length)"),
            (str(clean / "nan.wav"), "NaN or infinite samples"),
        ]
        assert info["skipped_inputs"][1]["reason"].startswith("truncated audio file (")
        rows = [json.loads(line) for line in (Path(rec.path) / "metadata.jsonl").open()]
        assert {r["clean_id"] for r in rows} <= {"good0", "good1"} and len(rows) == 12
        seen.append((rec.id, info["skipped_inputs"], rejections))
    assert seen[0] == seen[1]


def test_a_corpus_without_a_readable_clip_fails_before_any_folder_is_made(tmp_path):
    """Every clip is judged when the build is prepared: a corpus with none usable is a
    one-line error naming why, and nothing is written or registered."""
    from synth.errors import AssetError
    from tests.speech.helpers import speechlike, write

    clean = tmp_path / "clean"
    full = write(tmp_path / "full.wav", speechlike(1.0)).read_bytes()
    clean.mkdir()
    (clean / "cut.wav").write_bytes(full[: len(full) // 2])
    (clean / "cut.txt").write_text("cut", encoding="utf-8")
    (clean / "empty.wav").write_bytes(b"")
    (clean / "empty.txt").write_text("empty", encoding="utf-8")
    spec = build_speech_spec({"clean": str(clean), "shard_size": 3}).model_dump(mode="json")
    home = tmp_path / "home"
    with pytest.raises(AssetError) as info:
        prepare("speech", spec, seed=0, count=12, name="bad", home=home)
    assert str(info.value).startswith(
        f"{clean}: no usable clean clip: all 2 skipped (2 unreadable); first: cut.wav: truncated"
    )
    assert not (home / "datasets").exists()


def test_a_folder_assembled_before_recipes_and_derived_files_were_hashed_still_verifies(tmp_path):
    spec = build_speech_spec({}).model_dump(mode="json")
    catalog = open_catalog(tmp_path / "home")
    plan, gen = prepare("speech", spec, seed=2, count=3, name="old", home=tmp_path / "home")
    rec = build(plan, gen, catalog, workers=1).record
    catalog.close()
    index_path = Path(rec.path) / "__synth__" / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    assert set(index["derived"]) == {"manifest.nemo.jsonl"} and index["recipes_sha256"]
    del index["derived"], index["recipes_sha256"]  # as an older synth wrote it
    del index["sealed"], index["dataset_json_sha256"]
    index_path.write_text(json.dumps(index) + "\n", encoding="utf-8")
    info_path = Path(rec.path) / "dataset.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    del info["statistics"]["index_sha256"]  # nor did it seal the folder
    info_path.write_text(json.dumps(info), encoding="utf-8")
    for quick in (False, True):
        assert verify_dataset(rec.path, rec.id, samples=3, quick=quick).ok


def test_a_clean_clip_gone_after_hashing_fails_the_build_and_is_not_skipped(tmp_path):
    """A clip missing when decoded is not a bad clip to skip: the corpus changed under the
    fingerprint, so the build stops naming the file instead of making other bytes. (The
    workers read the corpus themselves; the preparing process read every clip already.)"""
    from synth.errors import AssetError
    from tests.speech.helpers import speechlike, write

    clean = tmp_path / "clean"
    rows = []
    for i in range(3):
        write(clean / f"c{i}.wav", speechlike(1.2, seed=i))
        rows.append(json.dumps({"file_name": f"c{i}.wav", "text": f"clip {i}"}) + "\n")
    (clean / "metadata.jsonl").write_text("".join(rows), encoding="utf-8")
    spec = build_speech_spec({"clean": str(clean)}).model_dump(mode="json")
    catalog = open_catalog(tmp_path / "home")
    plan, gen = prepare("speech", spec, seed=0, count=12, name="gone", home=tmp_path / "home")
    (clean / "c1.wav").rename(tmp_path / "elsewhere.wav")
    with pytest.raises(AssetError, match=r"metadata\.jsonl:2: audio file not found: c1\.wav"):
        build(plan, gen, catalog, workers=2)
    assert catalog.list() == []
    catalog.close()


def test_clean_clips_below_the_output_rate_are_recorded_and_warned_about(tmp_path):
    """An 8 kHz clip mixed at 16 kHz is upsampled (nothing above 4 kHz): its source rate is in
    the recipe, in metadata.jsonl's flat column and in the statistics, and the build's warning
    counts the mixes and clips per rate; the card says so too."""
    from tests.speech.helpers import speechlike, write

    clean = tmp_path / "clean"
    write(clean / "narrow.wav", speechlike(1.5, rate=8000, seed=1), rate=8000)
    write(clean / "narrow2.wav", speechlike(1.5, rate=8000, seed=2), rate=8000)
    write(clean / "wide.wav", speechlike(1.5, seed=3))
    for name in ("narrow", "narrow2", "wide"):
        (clean / f"{name}.txt").write_text(name, encoding="utf-8")
    spec = build_speech_spec({"clean": str(clean), "noise_weights": {"pink": 1}}).model_dump(
        mode="json"
    )
    home = tmp_path / "home"
    catalog = open_catalog(home)
    plan, gen = prepare("speech", spec, seed=5, count=12, name="rates", home=home)
    rec = build(plan, gen, catalog, workers=1).record
    catalog.close()
    root = Path(rec.path)
    rows = [json.loads(line) for line in (root / "metadata.jsonl").open(encoding="utf-8")]
    recipes = [json.loads(line) for line in (root / "recipes.jsonl").open(encoding="utf-8")]
    expected = {"narrow": 8000, "narrow2": 8000, "wide": 16000}
    for row, recipe in zip(rows, recipes, strict=True):
        assert row["clean_source_rate_hz"] == expected[row["clean_id"]]
        assert recipe["recipe"]["clean"]["source_rate_hz"] == expected[row["clean_id"]]
    low = [r for r in rows if r["clean_source_rate_hz"] == 8000]
    clips = {r["clean_id"] for r in low}
    assert low and len(low) < len(rows)
    info = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    by_rate = info["statistics"]["counts"]["clean_source_rate_hz"]
    assert by_rate == {"16000": len(rows) - len(low), "8000": len(low)}
    plural = "s" if len(clips) != 1 else ""
    assert info["input_warnings"] == [
        f"{len(low)} of 12 mixes use clean speech recorded below 16000 Hz and upsampled, with "
        f"nothing above half its own rate: {len(low)} from 8000 Hz ({len(clips)} clip{plural}) "
        "(clean_source_rate_hz in metadata.jsonl)"
    ]
    card = (root / "README.md").read_text(encoding="utf-8")
    assert "2 of the 3 usable clean clips were recorded below 16000 Hz (2 at 8000 Hz)" in card
    assert verify_dataset(rec.path, rec.id, samples=2).ok

    wide = build_speech_spec({"noise_weights": {"pink": 1}}).model_dump(mode="json")
    catalog = open_catalog(home)
    plan, gen = prepare("speech", wide, seed=5, count=3, name="native", home=home)
    rec = build(plan, gen, catalog, workers=1).record
    catalog.close()
    info = json.loads((Path(rec.path) / "dataset.json").read_text(encoding="utf-8"))
    assert info["input_warnings"] == []  # the embedded clips are 16 kHz
