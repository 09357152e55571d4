"""The speech command and flow: exact SNR on the written files, ids across worker counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.speech.level import snr_db
from synth.speech.spec import build_spec as build_speech_spec


@pytest.mark.parametrize("reference", ["active", "whole"])
def test_cli_degenerate_snr_is_met_on_the_written_files(run_synth, reference):
    proc = run_synth(
        "speech",
        "--count",
        "12",
        "--snr-db",
        "10",
        "10",
        "--snr-reference",
        reference,
        "--with-targets",
        "--json",
        check=True,
    )
    out = json.loads(proc.stdout)
    root = Path(out["path"])
    rows = [json.loads(line) for line in (root / "metadata.jsonl").open()]
    assert len(rows) == 12
    for row in rows:
        mix, sr = sf.read(root / row["file_name"], dtype="int16")
        target, _ = sf.read(root / row["target_file_name"], dtype="int16")
        noise, _ = sf.read(root / row["noise_file_name"], dtype="int16")
        assert sr == 16000 and row["snr_reference"] == reference
        assert np.array_equal(mix.astype(np.int32), target.astype(np.int32) + noise)
        measured = snr_db(
            target.astype(np.float32) / 32768, noise.astype(np.float32) / 32768, sr, reference
        )
        assert abs(measured - 10.0) <= 0.1, (row["file_name"], measured)
        assert abs(row["snr_db"] - measured) <= 0.01
        assert row["text"]
        peak_limit = 10 ** (-0.1 / 20) * 32768  # the default peak_limit_dbfs
        for part in (mix, target, noise):
            assert np.max(np.abs(part.astype(np.int32))) <= peak_limit + 1


def test_same_id_for_one_and_two_workers(tmp_path):
    spec = build_speech_spec(
        {"shard_size": 15, "reverb_prob": 0.3, "noises_per_mix_range": [1, 2]}
    ).model_dump(mode="json")
    ids = []
    for workers in (1, 2):
        home = tmp_path / f"w{workers}"
        catalog = open_catalog(home)
        plan, gen = prepare("speech", spec, seed=3, count=40, name="s", home=home)
        ids.append(build(plan, gen, catalog, workers=workers).record.id)
        catalog.close()
    assert ids[0] == ids[1]


def test_speech_flow_records_inputs_and_trigger(prefect_api, home):
    from flows.speech import speech_dataset

    result = speech_dataset(count=10, seed=1, home=str(home), config={"snr_db_range": [5, 15]})
    rec = result["record"]
    assert rec["kind"] == "speech" and rec["count"] == 10 and rec["flow_run_id"]
    assert rec["trigger"] == {"type": "manual"}
    roles = {i["role"] for i in rec["inputs"]}
    assert {"clean_speech", "noise"} <= roles, roles
    for item in rec["inputs"]:
        assert item["licence"] and item["sha256"]
    # Every noise source a mix drew is an input, and every clean clip drawn.
    drawn_kinds = set(rec["statistics"]["counts"]["noise_kind"])
    noise_uris = {i["uri"] for i in rec["inputs"] if i["role"] == "noise"}
    assert {f"procedural:{k}" for k in drawn_kinds} <= noise_uris, (drawn_kinds, noise_uris)
    clips = {i["name"] for i in rec["inputs"] if i["role"] == "clean_speech"}
    assert set(rec["statistics"]["counts"]["clean_speech"]) == clips
    snr = rec["statistics"]["numbers"]["snr_db"]
    assert 5 <= snr["min"] <= snr["max"] <= 15


def test_a_built_folder_loads_as_an_audiofolder_as_it_is(tmp_path):
    """The whole folder of a real build (recipes, dataset.json, NeMo and Kaldi files, card,
    ``__synth__``) loads with ``load_dataset("audiofolder")``: only the mixes become rows."""
    datasets = pytest.importorskip("datasets")
    if int(datasets.__version__.split(".")[0]) >= 4:  # 4+ decodes audio through torchcodec
        pytest.importorskip("torchcodec", reason="datasets 4+ needs torchcodec to decode audio")
    spec = build_speech_spec(
        {"with_targets": True, "kaldi": True, "format": "flac", "shard_size": 4}
    ).model_dump(mode="json")
    catalog = open_catalog(tmp_path / "home")
    plan, gen = prepare("speech", spec, seed=4, count=6, name="hf", home=tmp_path / "home")
    rec = build(plan, gen, catalog, workers=1).record
    catalog.close()
    root = Path(rec.path)
    rows = [json.loads(line) for line in (root / "metadata.jsonl").open(encoding="utf-8")]
    ds = datasets.load_dataset(
        "audiofolder", data_dir=str(root), split="train", cache_dir=str(tmp_path / ".cache")
    )
    assert ds.num_rows == 6
    assert {"audio", "target", "noise", "text", "snr_db", "snr_reference"} <= set(ds.column_names)
    assert ds["text"] == [r["text"] for r in rows]
    assert ds["snr_db"] == [r["snr_db"] for r in rows]
    assert set(ds["snr_reference"]) == {"active"}
    for i, row in enumerate(rows):
        item = ds[i]
        assert Path(item["audio"]["path"]).name == Path(row["file_name"]).name
        mix, parts = item["audio"]["array"], item["target"]["array"] + item["noise"]["array"]
        assert item["audio"]["sampling_rate"] == 16000
        assert np.max(np.abs(mix - parts)) <= 1.5 / 32768  # mix = target + noise, to 16-bit


def test_cli_an_empty_clean_clip_is_skipped_and_named(run_synth, home, tmp_path):
    from tests.speech.helpers import speechlike, write

    clean = tmp_path / "clean"
    clean.mkdir()
    write(clean / "empty.wav", np.zeros(0, np.float32))
    (clean / "empty.txt").write_text("nothing here", encoding="utf-8")
    for name, seed in (("good", 3), ("good2", 4)):  # babble needs two usable clips
        write(clean / f"{name}.wav", speechlike(1.2, seed=seed))
        (clean / f"{name}.txt").write_text(name, encoding="utf-8")
    proc = run_synth("speech", "--count", "8", "--clean", str(clean), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    reason = "audio file has no samples (zero length)"
    assert out["skipped_inputs"] == [{"file": str(clean / "empty.wav"), "reason": reason}]
    assert "clean_unreadable" not in out["rejections"]  # left out before drawing
    assert f"synth: warning: skipped {clean / 'empty.wav'}: {reason}" in proc.stderr
    rows = [json.loads(line) for line in (Path(out["path"]) / "metadata.jsonl").open()]
    assert {r["clean_id"] for r in rows} == {"good", "good2"} and len(rows) == 8

    write(clean / "good.wav", np.zeros(0, np.float32))  # no readable clip left
    write(clean / "good2.wav", np.zeros(0, np.float32))
    proc = run_synth("speech", "--count", "8", "--clean", str(clean), "--json")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert json.loads(proc.stdout) == {"error": proc.stderr[14:-1], "exit_code": 2}
    assert proc.stderr == (
        f"synth: error: {clean}: no usable clean clip: all 3 skipped (3 unreadable); "
        f"first: empty.wav: {reason}\n"
    )
    assert len(list((home / "datasets").glob("speech-*"))) == 1  # the first build's only


def test_cli_reports_its_own_build_when_another_spec_made_the_same_content(run_synth, tmp_path):
    """A licence changes the spec, not one byte of the output: the content id is the one
    registered earlier. The report names this build's folder, fingerprint and rejections, the
    registered record's folder, and warns that the catalog keeps the earlier lineage."""
    first = json.loads(run_synth("speech", "--count", "4", "--json", check=True).stdout)
    config = tmp_path / "licence.toml"
    config.write_text('clean_licence = "CC-BY-4.0"\n', encoding="utf-8")
    proc = run_synth("speech", "--count", "4", "--config", str(config), "--json", check=True)
    second = json.loads(proc.stdout)
    assert second["id"] == first["id"] and second["new"] is False
    assert second["fingerprint"] != first["fingerprint"] and second["path"] != first["path"]
    assert (second["registered_path"], second["registered_fingerprint"]) == (
        first["path"],
        first["fingerprint"],
    )
    info = json.loads((Path(second["path"]) / "dataset.json").read_text(encoding="utf-8"))
    assert info["fingerprint"] == second["fingerprint"] and info["spec"]["clean_licence"] == (
        "CC-BY-4.0"
    )
    assert second["rejections"] == info["statistics"]["rejections"]
    assert f"the same files and labels as {first['id'][:12]}" in proc.stderr
