"""Derived label files and card pictures of a built speech dataset: the NeMo manifest, the Kaldi
data directory and the SNR histogram, checked against the written audio and metadata."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.speech.corpus import read_corpus
from synth.speech.generator import SpeechGenerator
from synth.speech.lhotse_manifests import LHOTSE_FILES
from synth.speech.manifests import (
    KALDI_FILES,
    NEMO_MANIFEST,
    ExternalSorter,
    kaldi_ids,
    kaldi_speaker,
    kaldi_wav_entry,
    write_kaldi_dir,
    write_nemo_and_kaldi,
)
from synth.speech.preview import HIST_SIZE, SnrCounts, histogram_bins, snr_histogram
from synth.speech.spec import build_spec
from tests.speech.helpers import speechlike, write

COUNT = 13


def _build(home: Path, **spec_values) -> Path:
    spec = build_spec({"shard_size": 5, **spec_values}).model_dump(mode="json")
    catalog = open_catalog(home)
    try:
        plan, gen = prepare("speech", spec, seed=4, count=COUNT, name="m", home=home)
        build(plan, gen, catalog, workers=1)
    finally:
        catalog.close()
    return plan.out_dir


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An engine-built dataset (embedded corpus, targets, Kaldi and Lhotse on) shared by the
    tests."""
    return _build(tmp_path_factory.mktemp("home"), kaldi=True, lhotse=True, with_targets=True)


def _rows(folder: Path) -> list[dict]:
    with open(folder / "metadata.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _table(path: Path) -> list[tuple[str, str]]:
    """(first field, rest of line) of each line of a Kaldi file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(line and line == line.strip() for line in lines)
    return [tuple(line.split(" ", 1)) for line in lines]  # type: ignore[misc]


def _c_sorted(keys: list[str]) -> bool:
    encoded = [k.encode("utf-8") for k in keys]  # LC_ALL=C sort compares bytes
    return encoded == sorted(encoded) and len(set(keys)) == len(keys)


def _check_kaldi_dir(folder: Path) -> dict[str, dict[str, str]]:
    """The Kaldi files as {file: {utt or spk: rest}}, after checking what
    ``utils/validate_data_dir.sh`` checks: sorted unique keys, same utterances everywhere, and
    ``spk2utt_to_utt2spk.pl spk2utt`` equal to ``utt2spk`` line for line."""
    tables = {name: _table(folder / name) for name in KALDI_FILES}
    for name, table in tables.items():
        assert _c_sorted([k for k, _ in table]), name
    utts = [k for k, _ in tables["utt2spk"]]
    for name in ("wav.scp", "text", "utt2dur", "reco2dur"):
        assert [k for k, _ in tables[name]] == utts, name
    back = [(utt, spk) for spk, rest in tables["spk2utt"] for utt in rest.split(" ")]
    assert back == tables["utt2spk"]
    for utt, spk in tables["utt2spk"]:
        assert utt == spk or utt.startswith(spk + "-")
    return {name: dict(table) for name, table in tables.items()}


# -- NeMo manifest ----------------------------------------------------------------------------
def test_nemo_manifest_matches_the_written_audio_and_metadata(built):
    rows = _rows(built)
    lines = [json.loads(x) for x in (built / NEMO_MANIFEST).read_text().splitlines()]
    assert len(lines) == len(rows) == COUNT
    for line, row in zip(lines, rows, strict=True):
        assert list(line)[:3] == ["audio_filepath", "duration", "text"]
        assert line["audio_filepath"] == row["file_name"]
        assert not os.path.isabs(line["audio_filepath"])
        info = sf.info(built / line["audio_filepath"])
        assert line["duration"] == info.frames / info.samplerate  # exact, not approximate
        assert line["text"] == row["text"] and line["text"].strip()
        assert line["speaker"] == row["speaker"]
        assert line["snr_db"] == row["snr_db"] and line["noise_kind"] == row["noise_kind"]
        assert line["target_filepath"] == row["target_file_name"]
        assert (built / line["target_filepath"]).is_file()
        assert (built / line["noise_filepath"]).is_file()


def test_nemo_manifest_reads_back_as_a_clean_corpus(built):
    corpus = read_corpus(built / NEMO_MANIFEST)
    rows = _rows(built)
    assert corpus.layout == "nemo" and len(corpus.items) == COUNT
    assert [it.text for it in corpus.items] == [r["text"] for r in rows]
    assert [it.path for it in corpus.items] == [built / r["file_name"] for r in rows]


def test_audiofolder_still_loads_the_built_folder(built):
    datasets = pytest.importorskip("datasets")
    if int(datasets.__version__.split(".")[0]) >= 4:  # 4+ decodes audio through torchcodec
        pytest.importorskip("torchcodec", reason="datasets 4+ needs torchcodec to decode audio")
    assert (built / NEMO_MANIFEST).is_file() and (built / "kaldi" / "wav.scp").is_file()
    ds = datasets.load_dataset(
        "audiofolder", data_dir=str(built), split="train", cache_dir=str(built.parent / ".hf")
    )
    rows = _rows(built)
    assert ds.num_rows == COUNT
    assert ds["text"] == [r["text"] for r in rows]
    assert ds["snr_db"] == [r["snr_db"] for r in rows]
    first = ds[0]["audio"]
    mix, rate = sf.read(built / rows[0]["file_name"], dtype="float32")
    assert first["sampling_rate"] == rate == 16000
    np.testing.assert_allclose(first["array"], mix, atol=1e-6)


# -- Kaldi data directory ---------------------------------------------------------------------
def test_kaldi_directory_is_sorted_consistent_and_matches_the_audio(built):
    tables = _check_kaldi_dir(built / "kaldi")
    rows = {Path(r["file_name"]).stem: r for r in _rows(built)}
    assert len(tables["utt2spk"]) == COUNT
    for utt, spk in tables["utt2spk"].items():
        row = rows[utt.rsplit("-", 1)[-1]]
        assert spk == kaldi_speaker(row["speaker"])
        assert tables["wav.scp"][utt] == row["file_name"]  # relative to the dataset folder
        info = sf.info(built / row["file_name"])
        assert float(tables["utt2dur"][utt]) == info.frames / info.samplerate
        assert tables["reco2dur"][utt] == tables["utt2dur"][utt]
        assert round(float(tables["reco2dur"][utt]) * info.samplerate) == info.frames
        assert tables["text"][utt] == row["text"]
    speakers = {r["speaker"] for r in rows.values()}
    assert len(tables["spk2utt"]) == len(speakers) > 1


def test_kaldi_is_off_by_default_and_flac_is_listed_as_a_pipe(tmp_path):
    plain = _build(tmp_path / "a")
    assert (plain / NEMO_MANIFEST).is_file() and not (plain / "kaldi").exists()
    flac = _build(tmp_path / "b", kaldi=True, format="flac")
    tables = _check_kaldi_dir(flac / "kaldi")
    for entry in tables["wav.scp"].values():
        assert re.fullmatch(r"flac -c -d -s shard-0000[0-9]/[0-9]{9}\.flac \|", entry)
    lines = [json.loads(x) for x in (flac / NEMO_MANIFEST).read_text().splitlines()]
    for line in lines:
        info = sf.info(flac / line["audio_filepath"])
        assert line["duration"] == info.frames / info.samplerate


def test_kaldi_ids_keep_speaker_order_for_awkward_names(tmp_path):
    # Names that break a naive "<speaker>-<utt>" scheme: separators and characters sorting
    # below "-", prefixes of each other, digits only, spaces, non-ASCII, no speaker at all.
    names = ["a", "a-0", "a+", "a b", "a_b", "ab", "A", "", "000000007", "Zoë", "x\ty", "_"]
    rnd = random.Random(0)
    rows = [
        {
            "file_name": f"shard-{i // 10:05d}/{i:09d}.wav",
            "speaker": rnd.choice(names),
            "text": f"utterance {i}",
            "duration_s": 1.0 + i / 8,
        }
        for i in range(200)
    ]
    with ExternalSorter(chunk=7) as sorter:  # several spilled runs merged
        for row in rows:
            utt, spk = kaldi_ids(row)
            sorter.add([utt, spk, f"/data/{utt}.wav", row["text"], row["duration_s"]])
        write_kaldi_dir(tmp_path / "kaldi", sorter.sorted())
    tables = _check_kaldi_dir(tmp_path / "kaldi")
    assert len(tables["utt2spk"]) == 200
    for spk in tables["spk2utt"]:
        assert re.fullmatch(r"[A-Za-z0-9_]+", spk)
    # Distinct names never merge; a mix without a speaker is its own speaker.
    by_name: dict[str, set[str]] = {}
    for row in rows:
        utt, spk = kaldi_ids(row)
        by_name.setdefault(row["speaker"], set()).add(spk)
    assert all(len(v) == 1 for k, v in by_name.items() if k)
    assert len(by_name[""]) == sum(1 for r in rows if not r["speaker"])
    assert len({next(iter(v)) for k, v in by_name.items() if k}) == len(names) - 1


def test_kaldi_writer_refuses_unsorted_or_duplicate_ids(tmp_path):
    good = [["a-1", "a", "/x.wav", "t", 1.0], ["b-1", "b", "/y.wav", "t", 1.0]]
    for bad, problem in ((good[::-1], "unsorted"), ([good[0], good[0]], "duplicate")):
        with pytest.raises(ValueError, match=problem):
            write_kaldi_dir(tmp_path / "k", bad)
    assert not (tmp_path / "k" / "wav.scp").exists()  # nothing half-written is left behind


def test_wav_entries_and_streaming_in_one_pass(tmp_path):
    assert kaldi_wav_entry("shard-00000/000000001.wav") == "shard-00000/000000001.wav"
    assert kaldi_wav_entry(Path("my data/x.wav")) == "cat 'my data/x.wav' |"
    assert kaldi_wav_entry("s/x.flac") == "flac -c -d -s s/x.flac |"
    seen = []

    def rows():
        for i in range(25):
            row = {"file_name": f"s/{i:09d}.wav", "text": f"t{i}", "duration_s": 0.5}
            seen.append(i)
            yield row | {"speaker": "s" if i % 2 else ""}

    write_nemo_and_kaldi(tmp_path, rows(), kaldi=True, sort_chunk=4)
    assert seen == list(range(25))  # a generator, read exactly once
    nemo = (tmp_path / NEMO_MANIFEST).read_text().splitlines()
    assert [json.loads(x)["text"] for x in nemo] == [f"t{i}" for i in range(25)]
    assert "speaker" not in json.loads(nemo[0]) and json.loads(nemo[1])["speaker"] == "s"
    tables = _check_kaldi_dir(tmp_path / "kaldi")
    assert len(tables["spk2utt"]) == 13 + 1  # 13 own-speaker mixes, one named speaker
    for utt, entry in tables["wav.scp"].items():
        assert entry == f"s/{utt.rsplit('-', 1)[-1]}.wav"
    assert not (tmp_path / "recordings.jsonl.gz").exists()  # Lhotse on request only


def _derived_bytes(folder: Path) -> dict[str, bytes]:
    names = [NEMO_MANIFEST, *LHOTSE_FILES, *(f"kaldi/{n}" for n in KALDI_FILES)]
    return {n: (folder / n).read_bytes() for n in names}


def test_a_moved_folder_keeps_its_manifests_and_verifies(built, tmp_path, monkeypatch):
    """No derived file holds the folder's own path: a copy elsewhere has the same bytes, which
    is what rewriting them there gives, verify passes on it, and Lhotse's Kaldi reader, run from
    the moved folder as Kaldi recipes run, finds every mix with its exact sample count (the
    durations come from reco2dur, not from flooring to a millisecond)."""
    import shutil

    from synth.engine.verify import verify_dataset

    moved = tmp_path / "elsewhere" / "moved dataset"
    shutil.copytree(built, moved)
    before = _derived_bytes(moved)
    assert before == _derived_bytes(built)
    written = write_nemo_and_kaldi(moved, _rows(moved), kaldi=True, lhotse=True, rate_hz=16000)
    assert {p.relative_to(moved).as_posix() for p in written} == set(before)
    assert _derived_bytes(moved) == before  # rewritten in the new place: the same bytes
    info = json.loads((moved / "dataset.json").read_text(encoding="utf-8"))
    assert verify_dataset(moved, info["id"], samples=2).ok
    for text in before.values():
        assert str(built).encode() not in text

    lhotse = pytest.importorskip("lhotse")
    monkeypatch.chdir(moved)
    recordings, supervisions, _ = lhotse.load_kaldi_data_dir("kaldi", sampling_rate=16000)
    rows = {Path(r["file_name"]).stem: r for r in _rows(moved)}
    assert len(recordings) == COUNT
    for rec in recordings:
        row = rows[rec.id.rsplit("-", 1)[-1]]
        frames = sf.info(row["file_name"]).frames
        assert rec.num_samples == frames and rec.duration == row["duration_s"]
    first = recordings[0]
    audio = first.load_audio()
    expected, _ = sf.read(rows[first.id.rsplit("-", 1)[-1]]["file_name"], dtype="float32")
    np.testing.assert_array_equal(audio[0], expected)
    assert {s.text for s in supervisions} == {r["text"] for r in rows.values()}


def test_lhotse_manifests_load_with_lhotse_and_match_the_metadata(built, tmp_path):
    lhotse = pytest.importorskip("lhotse")
    rows = _rows(built)
    recordings = lhotse.load_manifest(built / "recordings.jsonl.gz")
    supervisions = lhotse.load_manifest(built / "supervisions.jsonl.gz")
    cuts = lhotse.load_manifest(built / "cuts.jsonl.gz")
    assert isinstance(recordings, lhotse.RecordingSet)
    assert isinstance(supervisions, lhotse.SupervisionSet)
    assert isinstance(cuts, lhotse.CutSet)
    assert len(recordings) == len(supervisions) == len(cuts) == COUNT
    for rec, sup, cut, row in zip(recordings, supervisions, cuts, rows, strict=True):
        info = sf.info(built / row["file_name"])
        assert rec.id == sup.recording_id == cut.id == Path(row["file_name"]).stem
        assert rec.sources[0].source == row["file_name"]  # relative to the dataset folder
        assert rec.sampling_rate == info.samplerate == 16000
        assert rec.num_samples == info.frames and rec.duration == info.frames / 16000
        assert sup.duration == cut.duration == row["duration_s"] and sup.start == 0.0
        assert sup.text == row["text"] and sup.speaker == row["speaker"]
        assert sup.custom["snr_db"] == row["snr_db"]
        assert sup.custom["noise_kind"] == row["noise_kind"]
        assert sup.custom["clean_source_rate_hz"] == row["clean_source_rate_hz"] == 16000
        assert cut.supervisions[0].text == row["text"] and cut.num_samples == info.frames

    # Paths relative to the folder: Lhotse reads them once the folder is given as a prefix.
    cut = cuts.with_recording_path_prefix(str(built))[2]
    row = rows[2]
    mix, _ = sf.read(built / row["file_name"], dtype="float32")
    np.testing.assert_array_equal(cut.load_audio()[0], mix)
    target, _ = sf.read(built / row["target_file_name"], dtype="float32")
    assert cut.target_recording.sources[0].source == row["target_file_name"]
    target_rec = cut.target_recording.with_path_prefix(str(built))
    np.testing.assert_array_equal(target_rec.load_audio()[0], target)

    # Deterministic bytes: gzip without a time stamp or a file name, rewritten identically.
    before = {n: (built / n).read_bytes() for n in LHOTSE_FILES}
    for data in before.values():
        assert data[:2] == b"\x1f\x8b" and data[3] == 0 and data[4:8] == b"\0\0\0\0"
    again = tmp_path / "again"
    again.mkdir()
    write_nemo_and_kaldi(again, _rows(built), kaldi=False, lhotse=True, rate_hz=16000)
    assert {n: (again / n).read_bytes() for n in LHOTSE_FILES} == before


def test_lhotse_files_are_recorded_for_verify_and_on_request_only(built, tmp_path):
    index = json.loads((built / "__synth__" / "index.json").read_text(encoding="utf-8"))
    assert set(index["derived"]) == {
        NEMO_MANIFEST,
        *LHOTSE_FILES,
        *(f"kaldi/{n}" for n in KALDI_FILES),
    }
    for name in LHOTSE_FILES:
        assert index["derived"][name] == hashlib.sha256((built / name).read_bytes()).hexdigest()
    card = (built / "README.md").read_text(encoding="utf-8")
    assert "`recordings.jsonl.gz`, `supervisions.jsonl.gz` and `cuts.jsonl.gz` are Lhotse" in card
    plain = _build(tmp_path / "plain")
    assert not any((plain / n).exists() for n in LHOTSE_FILES)


# -- SNR histogram ----------------------------------------------------------------------------
def test_histogram_bins_count_every_value():
    rnd = np.random.default_rng(0)
    values = np.round(rnd.uniform(-3.0, 17.0, 500), 3)
    counts = SnrCounts()
    for v in [*values.tolist(), None, float("nan")]:
        counts.add(v)
    assert counts.total == 502 and counts.missing == 2 and counts.counted == 500
    width, first, bins = histogram_bins(counts)
    assert width == 0.5 and len(bins) <= 40  # 2 * ceil(sqrt(500)) = 46 -> capped at 40 bins
    edges = (first + np.arange(len(bins) + 1)) * width
    expected, _ = np.histogram(values, bins=edges)
    assert bins == expected.tolist() and sum(bins) == 500
    few = SnrCounts()
    for v in (10.0, 10.0, 10.0):
        few.add(v)
    assert histogram_bins(few) == (0.5, 20, [3])
    assert histogram_bins(SnrCounts()) == (1.0, 0, [])


def test_snr_histogram_picture():
    from PIL import Image

    counts = SnrCounts()
    for v in np.linspace(0, 20, 300).tolist():
        counts.add(v)
    for c in (counts, SnrCounts()):
        image = Image.open(io.BytesIO(snr_histogram(c, "active", (0.0, 20.0))))
        assert image.size == HIST_SIZE == (720, 240) and image.mode == "L"
    bars = np.asarray(Image.open(io.BytesIO(snr_histogram(counts, "active"))))
    assert (bars == 90).sum() > 20_000  # the bars' grey fill covers much of the plot


def test_card_gets_spectrograms_and_the_histogram_of_every_row(built):
    from PIL import Image

    made = dict((caption.split(" ")[0], rel) for rel, caption in _previews(built))
    assert made == {
        "spectrograms": "__synth__/preview.jpg",
        "achieved": "__synth__/snr_histogram.png",
    }
    hist = Image.open(built / made["achieved"])
    assert hist.size == HIST_SIZE
    card = (built / "README.md").read_text()
    assert "](__synth__/preview.jpg)" in card and "](__synth__/snr_histogram.png)" in card
    assert f"achieved SNR of all {COUNT} mixes" in card
    # the card says what the files are, from the spec this build had
    spec = json.loads((built / "dataset.json").read_text())["spec"]
    lo, hi = spec["snr_db_range"]
    assert (
        f"Audio: mono, {spec['sample_rate_hz']} Hz, 16-bit PCM {spec['format'].upper()}. SNR "
        f"drawn from {lo:g} to {hi:g} dB over active speech" in card
    )
    assert "`__target__/` and `__noise__/` hold each mix's clean target and noise" in card
    assert (
        "`kaldi/` is a Kaldi data directory (`wav.scp`, `text`, `utt2spk`, `spk2utt`, `utt2dur`, "
        "`reco2dur`) whose `wav.scp` paths are relative to this folder: run Kaldi from here" in card
    )
    assert "Every path in them is relative to this folder, so it can be moved." in card
    assert "boxes" not in card


def _previews(folder: Path) -> list[tuple[str, str]]:
    card = (folder / "README.md").read_text().splitlines()
    out = []
    for line in card:
        if line.startswith("![") and "](" in line:
            caption, rel = line[2:-1].split("](")
            out.append((rel, caption))
    return out


def test_histogram_streams_every_row_of_the_metadata(tmp_path):
    # 3 rendered mixes for the spectrograms; the metadata lists 100 rows (more than the 64 the
    # engine passes to preview), and the histogram counts all of them.
    gen = SpeechGenerator({})
    write(tmp_path / "shard-00000" / "000000000.wav", speechlike(1.0))
    first = {"file_name": "shard-00000/000000000.wav", "text": "t", "snr_reference": "active"}
    rows = [first | {"snr_db": float(i % 21)} for i in range(99)] + [first | {"snr_db": None}]
    (tmp_path / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    made = gen.preview(tmp_path, iter(rows[:64]))
    assert [rel for rel, _ in made] == ["__synth__/preview.jpg", "__synth__/snr_histogram.png"]
    assert made[1][1].startswith("achieved SNR of all 100 mixes (active reference")
    from PIL import Image

    assert Image.open(tmp_path / made[1][0]).size == HIST_SIZE


def test_cli_lhotse_flag_and_config_key_and_the_upsampling_warning(run_synth, tmp_path):
    """``--lhotse`` (or ``lhotse = true`` in a config) writes the three manifests; a corpus
    recorded at 8 kHz is warned about on stderr and in the JSON report."""
    clean = tmp_path / "clean"
    for i in range(2):
        write(clean / f"n{i}.wav", speechlike(1.2, rate=8000, seed=i), rate=8000)
        (clean / f"n{i}.txt").write_text(f"narrow {i}", encoding="utf-8")
    proc = run_synth("speech", "--count", "3", "--clean", str(clean), "--lhotse", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    root = Path(out["path"])
    assert all((root / n).is_file() for n in LHOTSE_FILES) and not (root / "kaldi").exists()
    line = (
        "3 of 3 mixes use clean speech recorded below 16000 Hz and upsampled, with nothing "
        "above half its own rate: 3 from 8000 Hz ("
    )
    assert out["input_warnings"][0].startswith(line)
    assert f"synth: warning: {out['input_warnings'][0]}\n" in proc.stderr

    config = tmp_path / "speech.toml"
    config.write_text("lhotse = true\nkaldi = true\n", encoding="utf-8")
    proc = run_synth("speech", "--count", "2", "--config", str(config), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    root = Path(out["path"])
    assert all((root / n).is_file() for n in LHOTSE_FILES)
    assert (root / "kaldi" / "reco2dur").is_file() and out["input_warnings"] == []
    spec = json.loads((root / "dataset.json").read_text(encoding="utf-8"))["spec"]
    assert spec["lhotse"] is True and spec["kaldi"] is True


def test_lhotse_entries_leave_out_what_is_not_known():
    from synth.speech.lhotse_manifests import lhotse_entries

    row = {
        "file_name": "shard-00001/000000007.wav",
        "text": "seven",
        "speaker": "",
        "snr_db": None,
        "noise_kind": "pink",
        "duration_s": 12345 / 16000,
    }
    recording, supervision, cut = lhotse_entries(row, 16000)
    assert recording == {
        "id": "000000007",
        "sources": [{"type": "file", "channels": [0], "source": "shard-00001/000000007.wav"}],
        "sampling_rate": 16000,
        "num_samples": 12345,
        "duration": 12345 / 16000,
        "channel_ids": [0],
    }
    assert "speaker" not in supervision and "language" not in supervision
    assert supervision["custom"] == {"noise_kind": "pink"}  # an unknown SNR is left out
    assert "custom" not in cut and cut["type"] == "MonoCut" and cut["recording"] == recording
    with pytest.raises(ValueError, match="rate_hz"):
        write_nemo_and_kaldi(Path("unused"), iter([]), kaldi=False, lhotse=True)
