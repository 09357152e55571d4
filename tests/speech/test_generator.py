"""The ``speech`` kind end to end: inputs, determinism, replay, exact SNR on the written files,
bad inputs, and a dataset folder that Hugging Face's audiofolder loader reads."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from synth.engine.generator import make_generator
from synth.errors import AssetError, ConfigError
from synth.rng import sample_rng
from synth.speech.generator import SpeechGenerator
from synth.speech.level import snr_db
from tests.speech.helpers import noise, speechlike, write

RATE = 16000


def _read(data: bytes, dtype: str = "float32") -> np.ndarray:
    x, rate = sf.read(io.BytesIO(data), dtype=dtype)
    assert rate == RATE
    return x


def _plain_json(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_registered_kind_and_inputs():
    gen = make_generator("speech", {})
    assert isinstance(gen, SpeechGenerator) and gen.kind == "speech"
    refs = gen.inputs()
    roles = [r.role for r in refs]
    assert roles.count("transcripts") == 1 and roles.count("clean_speech") == 34
    assert {r.name for r in refs if r.role == "noise"} == {
        f"procedural:{k}" for k in ("white", "pink", "brown", "hum", "babble")
    }
    assert roles.count("babble_speech") >= 3
    for r in refs:
        assert len(r.sha256) == 64 and r.licence
        if r.role in ("clean_speech", "babble_speech", "transcripts"):
            assert r.uri.startswith("asset:speech/") and r.attribution
        else:
            assert r.uri == r.name and r.licence == "CC0-1.0"
    arctic = next(r for r in refs if r.name == "arctic_awb_a0007")
    assert arctic.licence == "LicenseRef-CMU-ARCTIC" and arctic.role == "clean_speech"


def test_sample_is_deterministic_per_seed_and_index_and_round_trips_json():
    a, b = SpeechGenerator({}), SpeechGenerator({})
    for index in (0, 1, 57):
        r1 = a.sample(index, sample_rng(7, index))
        r2 = b.sample(index, sample_rng(7, index))
        assert r1 == r2
        assert _plain_json(r1)
        assert json.loads(json.dumps(r1)) == r1
        assert set(r1) >= {
            "clean",
            "noises",
            "snr_db",
            "snr_reference",
            "level_dbfs",
            "peak_scale",
            "reverb",
            "rejections",
        }
        assert set(r1["clean"]) == {"id", "sha256", "text", "speaker", "source_rate_hz"}
        assert set(r1["noises"][0]) >= {
            "id",
            "sha256",
            "offset_samples",
            "loop",
            "gain",
            "weight_db",
        }
    assert a.sample(1, sample_rng(7, 1)) != a.sample(2, sample_rng(7, 2))
    assert a.sample(1, sample_rng(7, 1)) != a.sample(1, sample_rng(8, 1))


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_same_recipe_same_bytes(fmt):
    spec = {"format": fmt, "with_targets": True, "reverb_prob": 0.5, "noises_per_mix_range": [1, 2]}
    gen = SpeechGenerator(spec)
    for index in range(4):
        recipe = gen.sample(index, sample_rng(3, index))
        first = gen.render(recipe, f"shard-00000/{index:09d}")
        again = SpeechGenerator(spec).render(
            json.loads(json.dumps(recipe)), f"shard-00000/{index:09d}"
        )
        assert (
            first.files == again.files and first.row == again.row and first.outputs == again.outputs
        )


def test_the_noise_kind_of_several_noises_is_one_category_whatever_their_order():
    gen = SpeechGenerator(
        {"noises_per_mix_range": [2, 3], "noise_weights": {"white": 1, "pink": 1}}
    )
    orders, kinds = set(), set()
    for index in range(12):
        recipe = gen.sample(index, sample_rng(5, index))
        drawn = [u["kind"] for u in recipe["noises"]]
        orders.add(tuple(drawn))
        row = gen.render(recipe, f"shard-00000/{index:09d}").row
        assert row["noise_kind"] == "+".join(sorted(drawn))
        assert gen.describe(recipe, {})["noise_kind"] == row["noise_kind"]
        kinds.add(row["noise_kind"])
    assert ("white", "pink") in orders and ("pink", "white") in orders  # both orders drawn
    assert "pink+white" in kinds and "white+pink" not in kinds


@pytest.mark.parametrize("reference", ["active", "whole"])
@pytest.mark.parametrize("kind", ["white", "pink", "brown", "hum", "babble"])
def test_degenerate_snr_is_exact_in_the_written_files(reference, kind):
    # Loud mixes (-3..0 dBFS RMS): the peak limit scales most of them, and the SNR must hold.
    gen = SpeechGenerator(
        {
            "snr_db_range": [10, 10],
            "snr_reference": reference,
            "noise_weights": {kind: 1},
            "level_dbfs_range": [-3, 0],
            "with_targets": True,
        }
    )
    limit = 10 ** (gen.spec.peak_limit_dbfs / 20) * 32768
    scales = []
    for index in range(3):
        recipe = gen.sample(index, sample_rng(11, index))
        out = gen.render(recipe, f"s/{index}")
        mix = _read(out.files[f"s/{index}.wav"], "int16")
        target = _read(out.files[f"__target__/s/{index}.wav"], "int16")
        noise_part = _read(out.files[f"__noise__/s/{index}.wav"], "int16")
        np.testing.assert_array_equal(mix.astype(np.int32), target.astype(np.int32) + noise_part)
        t, n = (
            _read(out.files[f"__target__/s/{index}.wav"]),
            _read(out.files[f"__noise__/s/{index}.wav"]),
        )
        measured = snr_db(t, n, RATE, reference)
        assert measured == pytest.approx(10.0, abs=0.1)
        assert out.row["snr_db"] == pytest.approx(measured, abs=1e-3)
        assert out.outputs["snr_db"] == pytest.approx(measured, abs=1e-6)
        for part in (mix, target, noise_part):  # nothing clipped: every peak within the limit
            assert np.max(np.abs(part.astype(np.int32))) <= limit + 1
        scales.append(recipe["peak_scale"])
    assert min(scales) < 1.0  # the limiter did act


def test_rows_outputs_and_describe():
    gen = SpeechGenerator({"with_targets": True})
    recipe = gen.sample(5, sample_rng(1, 5))
    out = gen.render(recipe, "shard-00001/000000005")
    assert set(out.files) == {
        "shard-00001/000000005.wav",
        "__target__/shard-00001/000000005.wav",
        "__noise__/shard-00001/000000005.wav",
    }
    row = out.row
    assert row["file_name"] == "shard-00001/000000005.wav"
    assert row["text"] == recipe["clean"]["text"] and row["snr_reference"] == "active"
    assert row["target_file_name"] == "__target__/shard-00001/000000005.wav"
    assert row["noise_file_name"] == "__noise__/shard-00001/000000005.wav"
    assert _plain_json(row) and _plain_json(out.outputs)
    stats = gen.describe(recipe, out.outputs)
    assert all(isinstance(v, str | bool | int | float) for v in stats.values())
    assert stats["clean_speech"] == recipe["clean"]["id"]
    assert stats["noise"] == recipe["noises"][0]["uri"]
    assert stats["snr_error_db"] == pytest.approx(out.outputs["snr_db"] - recipe["snr_db"])
    plain = SpeechGenerator({}).render(recipe, "x/1")
    assert set(plain.files) == {"x/1.wav"} and "target_file_name" not in plain.row


def test_user_corpus_and_noise_folder_at_other_rates(tmp_path):
    clean = tmp_path / "clean"
    write(clean / "narrow.wav", speechlike(1.5, 8000, seed=1), 8000)
    write(clean / "wide.flac", speechlike(2.0, 44100, seed=2), 44100, fmt="FLAC")
    for name in ("narrow", "wide"):
        (clean / f"{name}.txt").write_text(f"the {name} clip")
    noises = tmp_path / "noise"
    stereo = np.stack([noise(3.0, 48000, seed=5), noise(3.0, 48000, seed=6)], axis=1)
    write(noises / "stereo48k.wav", stereo, 48000, "PCM_24")
    write(noises / "short.ogg", noise(0.4, 22050, seed=7), 22050, "VORBIS", fmt="OGG")
    spec = {
        "clean": str(clean),
        "noise_dir": str(noises),
        "noise_weights": {"folder": 1, "babble": 1},
        "snr_db_range": [10, 10],
        "with_targets": True,
        "clean_licence": "CC-BY-4.0",
        "noise_licence": "CC0-1.0",
    }
    gen = SpeechGenerator(spec)
    files = {r.name: r for r in gen.inputs() if r.role == "noise" and r.uri.startswith("file://")}
    assert set(files) == {"stereo48k.wav", "short.ogg"} and files["short.ogg"].licence == "CC0-1.0"
    assert files["short.ogg"].uri == (noises / "short.ogg").resolve().as_uri()
    assert {r.licence for r in gen.inputs() if r.role == "clean_speech"} == {"CC-BY-4.0"}
    policies = set()
    for index in range(12):
        recipe = gen.sample(index, sample_rng(2, index))
        out = gen.render(recipe, f"s/{index}")
        policies.add(recipe["noises"][0]["loop"]["policy"])
        t, n = (
            _read(out.files[f"__target__/s/{index}.wav"]),
            _read(out.files[f"__noise__/s/{index}.wav"]),
        )
        assert snr_db(t, n, RATE, "active") == pytest.approx(10.0, abs=0.1)
        duration = {"narrow": 1.9, "wide": 2.4}[recipe["clean"]["id"]]
        assert t.size == round(duration * RATE)
    assert policies == {"crop", "loop_crossfade"}


def test_unusable_clean_clips_are_left_out_before_any_draw(tmp_path):
    """Clips with NaN, silence, too little audio or no transcript are found when the generator
    is made: the draw never meets them (no rejection is counted for them), and they are named
    in the skipped inputs with their reasons, transcripts first, then audio in corpus order."""
    clean = tmp_path / "clean"
    good = speechlike(1.0)
    bad = good.copy()
    bad[300] = np.nan
    write(clean / "good.wav", good)
    write(clean / "nan.wav", bad, subtype="FLOAT")
    write(clean / "silent.wav", np.zeros(RATE, np.float32))
    write(clean / "short.wav", speechlike(0.05, pad_s=0.0))
    write(clean / "untold.wav", speechlike(1.0, seed=5))  # no untold.txt
    for name in ("good", "nan", "silent", "short"):
        (clean / f"{name}.txt").write_text(name)
    gen = SpeechGenerator(
        {"clean": str(clean), "noise_weights": {"pink": 1}, "min_duration_s": 0.5}
    )
    assert [it.id for it in gen.pools.clean] == ["good"]
    for index in range(10):
        recipe = gen.sample(index, sample_rng(0, index))
        assert recipe["clean"]["id"] == "good"
        assert recipe["rejections"] == {}
    assert gen.skipped_inputs() == [
        {
            "file": str(clean / "untold.wav"),
            "reason": "no transcript: expected untold.txt beside it",
        },
        {"file": str(clean / "nan.wav"), "reason": "NaN or infinite samples"},
        {
            "file": str(clean / "short.wav"),
            "reason": "0.050 s long, shorter than min_duration_s=0.5",
        },
        {
            "file": str(clean / "silent.wav"),
            "reason": "silent (active speech level below -70 dBFS)",
        },
    ]

    (clean / "good.wav").unlink()
    (clean / "good.txt").unlink()
    with pytest.raises(AssetError) as info:
        SpeechGenerator({"clean": str(clean), "noise_weights": {"pink": 1}})
    assert str(info.value) == (
        f"{clean}: no usable clean clip: all 4 skipped (1 not finite, 1 too short, 1 silent, "
        "1 without transcript); first: untold.wav: no transcript: expected untold.txt beside it"
    )


def test_an_unreadable_clean_clip_is_a_named_skip_and_no_readable_clip_an_error(tmp_path):
    """A truncated or empty clip is found when the generator is made: left out of the draw,
    named in the skipped inputs; a corpus with no readable clip is a one-line error naming why
    (not babble's need for two clips, which comes after)."""
    clean = tmp_path / "clean"
    full = write(tmp_path / "full.wav", speechlike(1.0)).read_bytes()
    clean.mkdir()
    write(clean / "empty.wav", np.zeros(0, np.float32))
    (clean / "empty.txt").write_text("empty")
    with pytest.raises(AssetError) as info:
        SpeechGenerator({"clean": str(clean)})  # babble on by default
    assert str(info.value) == (
        f"{clean}: no usable clean clip: all 1 skipped (1 unreadable); first: empty.wav: audio "
        "file has no samples (zero length)"
    )
    (clean / "cut.wav").write_bytes(full[: len(full) // 2])
    (clean / "cut.txt").write_text("cut")
    with pytest.raises(AssetError) as info:
        SpeechGenerator({"clean": str(clean), "noise_weights": {"white": 1}})
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(
        f"{clean}: no usable clean clip: all 2 skipped (2 unreadable); first: cut.wav: "
        "truncated audio file (the header declares"
    )

    write(clean / "good.wav", speechlike(1.2, seed=4))
    (clean / "good.txt").write_text("good")
    with pytest.raises(ConfigError) as info:
        SpeechGenerator({"clean": str(clean)})
    assert str(info.value) == (
        "noise_weights.babble=1.0: babble needs at least 2 usable clean clips, the corpus has 1 "
        "(2 skipped); set noise_weights.babble to 0"
    )
    gen = SpeechGenerator({"clean": str(clean), "noise_weights": {"white": 1}})
    for index in range(8):
        recipe = gen.sample(index, sample_rng(0, index))
        assert recipe["clean"]["id"] == "good" and recipe["rejections"] == {}
    skipped = gen.skipped_inputs()
    assert [item["file"] for item in skipped] == [str(clean / "cut.wav"), str(clean / "empty.wav")]
    assert skipped[0]["reason"].startswith("truncated audio file (the header declares")
    assert skipped[1]["reason"] == "audio file has no samples (zero length)"


def test_noise_folder_without_usable_clip_fails_at_construction(tmp_path):
    folder = tmp_path / "noise"
    write(folder / "silent.wav", np.zeros(RATE, np.float32))
    with pytest.raises(AssetError) as info:
        SpeechGenerator({"noise_dir": str(folder)})
    assert str(info.value) == (
        f"{folder}: no usable noise clip: 1 rejected (1 silent); first: silent.wav: "
        "silent: RMS below -100 dBFS (DC offset removed)"
    )
    write(folder / "ok.wav", noise(1.0))
    gen = SpeechGenerator({"noise_dir": str(folder), "noise_weights": {"folder": 1}})
    reason = "silent: RMS below -100 dBFS (DC offset removed)"
    assert gen.skipped_inputs() == [{"file": str(folder / "silent.wav"), "reason": reason}]
    assert SpeechGenerator({}).skipped_inputs() == []


def test_babble_needs_two_clips_and_spec_errors_are_config_errors(tmp_path):
    clean = tmp_path / "clean"
    write(clean / "only.wav", speechlike(1.0))
    (clean / "only.txt").write_text("only")
    with pytest.raises(
        ConfigError,
        match=r"noise_weights.babble=1.0: babble needs at least 2 usable clean clips, the "
        r"corpus has 1; set",
    ):
        SpeechGenerator({"clean": str(clean)})
    with pytest.raises(ConfigError, match="speech spec: unknown key 'snr'"):
        SpeechGenerator({"snr": 3})


def test_recipes_refuse_changed_inputs_and_other_rates(pairs_corpus):
    gen = SpeechGenerator({"clean": str(pairs_corpus), "noise_weights": {"white": 1}})
    recipe = gen.sample(0, sample_rng(0, 0))
    changed = json.loads(json.dumps(recipe))
    changed["clean"]["sha256"] = "0" * 64
    with pytest.raises(AssetError, match="content changed since the recipe was drawn"):
        gen.render(changed, "x/0")
    other = SpeechGenerator(
        {"clean": str(pairs_corpus), "noise_weights": {"white": 1}, "sample_rate_hz": 8000}
    )
    with pytest.raises(ConfigError, match="sample_rate_hz=8000: the recipe was drawn at 16000 Hz"):
        other.render(recipe, "x/0")
    out = other.render(other.sample(0, sample_rng(0, 0)), "x/0")
    assert sf.info(io.BytesIO(out.files["x/0.wav"])).samplerate == 8000


def _write_dataset(root: Path, count: int) -> list[dict]:
    gen = SpeechGenerator({"with_targets": True})
    rows = []
    for index in range(count):
        out = gen.render(gen.sample(index, sample_rng(0, index)), f"shard-00000/{index:09d}")
        for rel, data in out.files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        rows.append(out.row)
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_audiofolder_sees_only_the_mixes_as_data_files(tmp_path):
    pytest.importorskip("datasets")
    from datasets.data_files import DataFilesDict, get_data_patterns

    _write_dataset(tmp_path, 3)
    files = DataFilesDict.from_patterns(get_data_patterns(str(tmp_path)), str(tmp_path))
    names = sorted(Path(f).relative_to(tmp_path).as_posix() for f in files["train"])
    assert names == ["metadata.jsonl", *[f"shard-00000/{i:09d}.wav" for i in range(3)]]


def test_audiofolder_loads_the_metadata(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = _write_dataset(tmp_path, 3)
    features = datasets.Features(
        {
            k: datasets.Value("string")
            if isinstance(v, str)
            else datasets.Value("bool" if isinstance(v, bool) else "float64")
            for k, v in rows[0].items()
        }
    )
    ds = datasets.load_dataset(
        "audiofolder",
        data_dir=str(tmp_path),
        split="train",
        features=features,
        cache_dir=str(tmp_path / ".cache"),
    )
    assert ds.num_rows == 3 and ds["text"] == [r["text"] for r in rows]


def test_audiofolder_decodes_mix_target_and_noise(tmp_path):
    datasets = pytest.importorskip("datasets")
    if int(datasets.__version__.split(".")[0]) >= 4:  # 4+ decodes audio through torchcodec
        pytest.importorskip("torchcodec", reason="datasets 4+ needs torchcodec to decode audio")
    rows = _write_dataset(tmp_path, 2)
    ds = datasets.load_dataset(
        "audiofolder", data_dir=str(tmp_path), split="train", cache_dir=str(tmp_path / ".cache")
    )
    assert ds.num_rows == 2 and {"audio", "target", "noise", "text", "snr_db"} <= set(
        ds.column_names
    )
    assert ds["text"] == [r["text"] for r in rows]
    for i in range(2):
        mix = ds[i]["audio"]["array"]
        parts = ds[i]["target"]["array"] + ds[i]["noise"]["array"]
        assert ds[i]["audio"]["sampling_rate"] == 16000
        assert np.max(np.abs(mix - parts)) <= 1.5 / 32768  # mix = target + noise, to 16-bit


def test_preview_pictures_for_the_card(tmp_path):
    from PIL import Image

    from synth.speech.preview import HIST_SIZE

    rows = _write_dataset(tmp_path, 3)
    made = SpeechGenerator({}).preview(tmp_path, iter(rows))
    (rel, caption), (hist_rel, hist_caption) = made
    assert caption == "spectrograms of the first mixes"
    assert rel == "__synth__/preview.jpg"
    image = Image.open(tmp_path / rel)
    assert image.format == "JPEG" and image.size == (720, 3 * (128 + 16))
    pixels = np.asarray(image)
    assert pixels.min() < 64 and pixels.max() > 192  # loud and quiet regions are drawn
    assert hist_rel == "__synth__/snr_histogram.png"
    assert hist_caption.startswith("achieved SNR of all 3 mixes (active reference")
    assert Image.open(tmp_path / hist_rel).size == HIST_SIZE


def test_babble_leaves_out_nan_and_silent_talkers(tmp_path):
    """Unusable clips are left out of babble as they are of the draw: a NaN talker would spread
    NaN through every mix, an all-silent babble would divide by zero."""
    clean = tmp_path / "clean"
    for i in range(3):
        write(clean / f"good{i}.wav", speechlike(1.5, seed=i))
        (clean / f"good{i}.txt").write_text(f"good {i}", encoding="utf-8")
    nan = speechlike(1.5, seed=9)
    nan[100] = np.nan
    write(clean / "nan.wav", nan, subtype="FLOAT")
    (clean / "nan.txt").write_text("nan", encoding="utf-8")
    for i in range(12):
        write(clean / f"silent{i}.wav", np.zeros(24000, np.float32))
        (clean / f"silent{i}.txt").write_text("silent", encoding="utf-8")
    gen = SpeechGenerator(
        {
            "clean": str(clean),
            "noise_weights": {"babble": 1},
            "procedural_variants": 8,
            "babble_talkers_range": [1, 2],
            "snr_db_range": [5, 5],
            "max_attempts": 200,
        }
    )
    for index in range(20):
        recipe = gen.sample(index, sample_rng(3, index))
        assert set(recipe["rejections"]) <= {"babble_contains_clean"}
        out = gen.render(recipe, f"s/{index}")
        assert out.outputs["snr_db"] == pytest.approx(5.0, abs=0.1)
        assert recipe["clean"]["id"].startswith("good")
    variants = gen.pools.noises["babble"]
    usable = {"good0", "good1", "good2"}
    assert all(v.excludes and set(v.excludes) <= usable for v in variants)
    for v in variants:
        assert gen.pools.noise_audio(v).any()
    assert all(np.isfinite(gen.pools.noise_audio(v)).all() for v in variants)
