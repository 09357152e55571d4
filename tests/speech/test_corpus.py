"""Clean corpora in four layouts, auto-detected; errors name the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synth.assets import manifest
from synth.errors import AssetError
from synth.hashing import sha256_file
from synth.speech.corpus import detect_layout, read_corpus
from tests.speech.helpers import speechlike, write


def _clips(root: Path, names: list[str]) -> None:
    for i, name in enumerate(names):
        write(root / name, speechlike(0.6, seed=i))


def _error(path) -> str:
    with pytest.raises(AssetError) as info:
        read_corpus(path)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_embedded_corpus_matches_the_asset_manifest():
    corpus = read_corpus(None)
    assert corpus.layout == "tsv" and len(corpus.items) == 34
    records = manifest()
    for it in corpus.items:
        assert records[f"speech/{it.path.name}"].sha256 == it.sha256
        assert it.id == it.path.stem and it.text and it.speaker.startswith(("cmu_arctic", "flite"))
    first = next(it for it in corpus.items if it.id == "arctic_awb_a0007")
    assert first.text == "And you always want to see it in the superlative degree."


def test_text_pairs(pairs_corpus):
    corpus = read_corpus(pairs_corpus)
    assert corpus.layout == "text_pairs" and corpus.manifest is None
    assert [(it.id, it.text) for it in corpus.items] == [
        ("utt0", "first clip"),
        ("utt1", "second clip here"),
        ("utt2", "the third one"),
    ]
    assert corpus.items[0].sha256 == sha256_file(pairs_corpus / "utt0.wav")


def test_a_clip_without_a_transcript_is_a_named_skip_in_every_layout(pairs_corpus):
    """One rule for a clip listed without a transcript, whatever the layout: it is left out of
    the items and named in ``skipped`` with its reason; the other clips read as before."""
    (pairs_corpus / "utt1.txt").unlink()
    (pairs_corpus / "utt2.txt").write_text("  \n")
    corpus = read_corpus(pairs_corpus)
    assert [it.id for it in corpus.items] == ["utt0"]
    assert [s.to_json() for s in corpus.skipped] == [
        {
            "file": str(pairs_corpus / "utt1.wav"),
            "reason": "no transcript: expected utt1.txt beside it",
        },
        {
            "file": str(pairs_corpus / "utt2.wav"),
            "reason": f"empty or missing transcript ({pairs_corpus / 'utt2.txt'})",
        },
    ]
    assert {s.problem for s in corpus.skipped} == {"clean_no_transcript"}

    folder = pairs_corpus.parent / "af"
    _clips(folder, ["a.wav", "b.wav", "c.wav"])
    rows = [
        {"file_name": "a.wav", "text": "alpha"},
        {"file_name": "b.wav", "text": ""},
        {"file_name": "c.wav", "words": "gamma"},
    ]
    meta = folder / "metadata.jsonl"
    meta.write_text("".join(json.dumps(r) + "\n" for r in rows))
    corpus = read_corpus(folder)
    assert [it.id for it in corpus.items] == ["a"]
    assert [s.to_json() for s in corpus.skipped] == [
        {"file": str(folder / "b.wav"), "reason": f"empty or missing transcript ({meta}:2)"},
        {
            "file": str(folder / "c.wav"),
            "reason": "no transcript field: expected one of text, transcription, transcript, "
            f"sentence (found: file_name, words; {meta}:3)",
        },
    ]

    nemo = folder / "m.jsonl"
    nemo.write_text(
        json.dumps({"audio_filepath": "a.wav", "text": "alpha"})
        + "\n"
        + json.dumps({"audio_filepath": "b.wav"})
        + "\n"
    )
    corpus = read_corpus(nemo)
    assert [it.id for it in corpus.items] == ["a"]
    assert corpus.skipped[0].to_json() == {
        "file": str(folder / "b.wav"),
        "reason": f"empty or missing transcript ({nemo}:2)",
    }

    tsv_root = pairs_corpus.parent / "tsv"
    _clips(tsv_root, ["a.wav", "b.wav"])
    (tsv_root / "transcripts.tsv").write_text("file\ttext\na.wav\thi\nb.wav\t \n")
    corpus = read_corpus(tsv_root)
    assert [it.id for it in corpus.items] == ["a"] and len(corpus.skipped) == 1


def test_a_corpus_where_no_clip_has_a_transcript_is_one_line_naming_why(pairs_corpus):
    for i in range(3):
        (pairs_corpus / f"utt{i}.txt").unlink()
    assert _error(pairs_corpus) == (
        f"{pairs_corpus}: no usable clean clip: all 3 skipped (3 without transcript); "
        "first: utt0.wav: no transcript: expected utt0.txt beside it"
    )


@pytest.mark.parametrize("column", ["text", "transcription"])
def test_audiofolder_jsonl(tmp_path, column):
    _clips(tmp_path / "data", ["a.wav", "sub/b.flac"])
    rows = [
        {"file_name": "data/a.wav", column: "alpha"},
        {"file_name": "data/sub/b.flac", column: "beta", "speaker": "s2"},
    ]
    (tmp_path / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    corpus = read_corpus(tmp_path)
    assert corpus.layout == "audiofolder"
    assert [(it.id, it.text, it.speaker) for it in corpus.items] == [
        ("data/a", "alpha", ""),
        ("data/sub/b", "beta", "s2"),
    ]


def test_audiofolder_csv(tmp_path):
    _clips(tmp_path, ["a.wav", "b.wav"])
    (tmp_path / "metadata.csv").write_text('file_name,text\na.wav,"hello, world"\nb.wav,bye\n')
    corpus = read_corpus(tmp_path / "metadata.csv")
    assert [it.text for it in corpus.items] == ["hello, world", "bye"]


def test_audiofolder_without_text_column(tmp_path):
    _clips(tmp_path, ["a.wav"])
    (tmp_path / "metadata.jsonl").write_text(json.dumps({"file_name": "a.wav", "label": 3}) + "\n")
    assert _error(tmp_path) == (
        f"{tmp_path / 'metadata.jsonl'}: no usable clean clip: all 1 skipped (1 without "
        "transcript); first: a.wav: no transcript field: expected one of text, transcription, "
        f"transcript, sentence (found: file_name, label; {tmp_path / 'metadata.jsonl'}:1)"
    )


def test_audiofolder_missing_audio(tmp_path):
    _clips(tmp_path, ["a.wav"])
    (tmp_path / "metadata.jsonl").write_text(
        json.dumps({"file_name": "a.wav", "text": "x"})
        + "\n"
        + json.dumps({"file_name": "gone.wav", "text": "y"})
        + "\n"
    )
    assert _error(tmp_path) == f"{tmp_path / 'metadata.jsonl'}:2: audio file not found: gone.wav"


def test_nemo_manifest(tmp_path):
    _clips(tmp_path / "wavs", ["a.wav", "b.wav"])
    lines = [
        {"audio_filepath": "wavs/a.wav", "duration": 0.6, "text": "one"},
        {"audio_filepath": str(tmp_path / "wavs" / "b.wav"), "duration": 0.6, "text": "two"},
    ]
    (tmp_path / "train_manifest.json").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert detect_layout(tmp_path)[0] == "nemo"
    corpus = read_corpus(tmp_path)
    assert [(it.id, it.text) for it in corpus.items] == [("wavs/a", "one"), ("wavs/b", "two")]


@pytest.mark.parametrize("outside", ["../escape.wav", "wavs/../../escape.wav", "ABSOLUTE"])
def test_nemo_manifest_paths_may_point_anywhere(tmp_path, outside):
    # NeMo's own tools write absolute paths; a manifest beside the data uses relative ones
    root = tmp_path / "corpus"
    _clips(root / "wavs", ["a.wav"])
    _clips(tmp_path, ["escape.wav"])
    value = str(tmp_path / "escape.wav") if outside == "ABSOLUTE" else outside
    manifest_path = root / "manifest.jsonl"
    manifest_path.write_text(json.dumps({"audio_filepath": value, "text": "x"}) + "\n")
    (item,) = read_corpus(manifest_path).items
    assert item.path == tmp_path / "escape.wav"
    assert item.id == (tmp_path / "escape").as_posix()  # outside the folder: absolute


@pytest.mark.parametrize("outside", ["../escape.wav", "/etc/passwd", "wavs/../../escape.wav"])
def test_audiofolder_paths_outside_the_folder_are_refused(tmp_path, outside):
    # Hugging Face's audiofolder reads file_name relative to its folder, never outside it
    root = tmp_path / "corpus"
    _clips(root / "wavs", ["a.wav"])
    _clips(tmp_path, ["escape.wav"])
    metadata = root / "metadata.jsonl"
    metadata.write_text(json.dumps({"file_name": outside, "text": "x"}) + "\n")
    msg = _error(root)
    assert msg.startswith(f"{metadata}:1: path '{outside}' points outside the corpus folder {root}")
    assert msg.endswith("; refused")


def test_nemo_missing_field_and_offset(tmp_path):
    _clips(tmp_path, ["a.wav"])
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"text": "a"}) + "\n")
    assert _error(m) == (
        f"{m}:1: missing field 'audio_filepath' (a NeMo manifest line needs audio_filepath, text)"
    )
    m.write_text(json.dumps({"audio_filepath": "a.wav", "text": "x", "offset": 1.5}) + "\n")
    assert "offset=1.5: segments of longer files are not supported" in _error(m)


def test_nemo_bad_json_line(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text('{"audio_filepath": "a.wav", "text": "x"}\n{oops\n')
    _clips(tmp_path, ["a.wav"])
    assert _error(m).startswith(f"{m}:2: not valid JSON (")


def test_tsv_missing_column_and_duplicate_ids(tmp_path):
    _clips(tmp_path, ["a.wav", "a.flac"])
    tsv = tmp_path / "transcripts.tsv"
    tsv.write_text("file\tsentence\na.wav\thi\n")
    assert _error(tmp_path) == f"{tsv}: missing column 'text' (expected file, text[, speaker])"
    tsv.write_text("file\ttext\na.wav\thi\na.flac\tho\n")
    assert "two clips share the id 'a'" in _error(tmp_path)


def test_unknown_folder_lists_the_expected_layouts(tmp_path):
    (tmp_path / "notes.md").write_text("nothing here")
    msg = _error(tmp_path)
    assert msg.startswith(f"{tmp_path}: no clean speech corpus found: expected transcripts.tsv")
    assert "Hugging Face audiofolder" in msg and "NeMo manifest" in msg
    assert _error(tmp_path / "missing") == f"{tmp_path / 'missing'}: clean speech corpus not found"


def test_clean_stats_flag_non_finite_clips_and_measure_the_rest(tmp_path):
    """Per-clip facts the sampler relies on: a NaN or an infinity anywhere marks the clip
    unusable; otherwise the peak, the whole-clip RMS and the active level are measured."""
    import math

    import numpy as np

    from synth.speech.level import active_level, rms
    from synth.speech.pools import clean_stats

    good = speechlike(2.0, seed=4)
    stats = clean_stats(str(write(tmp_path / "good.wav", good, subtype="FLOAT")), "a", 16000)
    assert stats.finite and stats.num_samples == good.size
    assert stats.peak == float(np.max(np.abs(good)))
    assert math.isclose(stats.rms, rms(good), rel_tol=1e-6)
    assert math.isclose(stats.active_level, active_level(good, 16000).level, rel_tol=1e-12)
    for name, value in (("nan", np.nan), ("inf", np.inf), ("neginf", -np.inf)):
        bad = good.copy()
        bad[777] = value
        path = write(tmp_path / f"{name}.wav", bad, subtype="FLOAT")
        assert clean_stats(str(path), name, 16000).finite is False, name


def test_audiofolder_csv_as_written_by_the_csv_module_and_by_excel(tmp_path):
    """Quoted fields may hold commas, quotes and line breaks; Excel's "CSV UTF-8" starts with a
    byte-order mark. Every transcript comes out exactly, paired with its own file."""
    import csv

    _clips(tmp_path, ["a.wav", "b.wav", "c.wav"])
    texts = {"a.wav": "first line\nsecond line", "b.wav": 'say "hi", then go', "c.wav": "plain"}
    with open(tmp_path / "metadata.csv", "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file_name", "transcription"])
        writer.writerows(texts.items())
    items = {it.path.name: it.text for it in read_corpus(tmp_path).items}
    assert items == {
        "a.wav": "first line second line",
        "b.wav": 'say "hi", then go',
        "c.wav": "plain",
    }


def test_audiofolder_csv_with_bad_quoting_or_extra_fields_is_named(tmp_path):
    _clips(tmp_path, ["a.wav", "b.wav", "c.wav"])
    meta = tmp_path / "metadata.csv"
    meta.write_text('file_name,text\na.wav,hello\nb.wav,"open quote\nc.wav,hello\n')
    assert _error(tmp_path) == f"{meta}:4: not valid CSV/TSV (unexpected end of data)"
    meta.write_text("file_name,text\na.wav,hello\nb.wav,hello,extra\n")
    assert _error(tmp_path) == f"{meta}:3: expected 2 comma-separated fields, got 3"


def test_jsonl_text_may_hold_unicode_line_separators_and_transcripts_lose_a_bom(tmp_path):
    _clips(tmp_path / "nemo", ["a.wav"])
    line = {"audio_filepath": "a.wav", "text": "one\u2028two\u2029three"}
    (tmp_path / "nemo" / "manifest.jsonl").write_text(
        json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (item,) = read_corpus(tmp_path / "nemo" / "manifest.jsonl").items
    assert item.text == "one two three"
    _clips(tmp_path / "pairs", ["b.wav"])
    (tmp_path / "pairs" / "b.txt").write_text("hello bom\n", encoding="utf-8-sig")
    (item,) = read_corpus(tmp_path / "pairs").items
    assert item.text == "hello bom"


def test_hidden_files_are_not_clips_and_split_audiofolders_are_named(tmp_path):
    _clips(tmp_path / "pairs", ["a.wav"])
    (tmp_path / "pairs" / "a.txt").write_text("hello", encoding="utf-8")
    (tmp_path / "pairs" / "._a.wav").write_bytes(b"\x00\x05\x16\x07 AppleDouble resource fork")
    _clips(tmp_path / "pairs" / ".trash", ["old.wav"])
    assert [it.id for it in read_corpus(tmp_path / "pairs").items] == ["a"]
    for split in ("train", "test"):
        _clips(tmp_path / "hf" / split, ["x.wav"])
        (tmp_path / "hf" / split / "metadata.jsonl").write_text(
            json.dumps({"file_name": "x.wav", "text": split}) + "\n"
        )
    assert _error(tmp_path / "hf") == (
        f"{tmp_path / 'hf'}: an audiofolder with splits (test, train) and no metadata file of "
        f"its own; pass one split folder, e.g. {tmp_path / 'hf' / 'test'}"
    )
    assert [it.text for it in read_corpus(tmp_path / "hf" / "train").items] == ["train"]


def test_a_nemo_manifest_with_a_bom_is_found_in_its_folder(tmp_path):
    _clips(tmp_path, ["a.wav"])
    line = json.dumps({"audio_filepath": "a.wav", "text": "hello"})
    (tmp_path / "train.jsonl").write_text(line + "\n", encoding="utf-8-sig")
    corpus = read_corpus(tmp_path)
    assert corpus.layout == "nemo" and [it.text for it in corpus.items] == ["hello"]


def test_a_transcript_that_is_not_text_is_named(tmp_path):
    _clips(tmp_path, ["a.wav"])
    (tmp_path / "metadata.jsonl").write_text(json.dumps({"file_name": "a.wav", "text": 12345}))
    assert _error(tmp_path) == (
        f"{tmp_path / 'metadata.jsonl'}:1: the transcript of a.wav is not text (12345): quote it"
    )
