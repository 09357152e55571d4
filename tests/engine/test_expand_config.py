"""An expansion's config may move its inputs (the same files elsewhere) and change nothing else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from synth.assets import embedded_dir
from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.expand import prepare_expansion
from synth.engine.expand_config import expansion_spec
from synth.errors import ConfigError, SynthError
from synth.ocr.spec import build_spec


def _inputs(root: Path) -> tuple[Path, Path]:
    fonts = root / "fonts"
    fonts.mkdir(parents=True)
    for name in ("DejaVuSans.ttf", "Inconsolata.otf"):
        shutil.copy(embedded_dir("fonts") / name, fonts / name)
    texts = root / "texts.txt"
    texts.write_text("a quiet morning\nseven paper boats\nthe last train\n", encoding="utf-8")
    return fonts, texts


@pytest.fixture
def parent(tmp_path):
    """An OCR dataset whose fonts and texts sit in ``tmp_path/old``, and its catalog."""
    fonts, texts = _inputs(tmp_path / "old")
    spec = build_spec(
        "clean",
        {
            "shard_size": 8,
            "fonts": {"dir": str(fonts), "styles": None},
            "text": {"source": "file", "path": str(texts)},
        },
    ).model_dump(mode="json")
    catalog = open_catalog(tmp_path / "home")
    plan, gen = prepare("ocr", spec, seed=5, count=10, name="moved", home=tmp_path / "home")
    record = build(plan, gen, catalog).record
    yield catalog, record
    catalog.close()


def _move(tmp_path: Path) -> dict:
    """Move the inputs to ``tmp_path/new``; the config that says where they are now."""
    shutil.move(tmp_path / "old", tmp_path / "new")
    new = tmp_path / "new"
    return {"fonts": {"dir": str(new / "fonts")}, "text": {"path": str(new / "texts.txt")}}


def test_moved_inputs_give_the_samples_the_unmoved_ones_give(parent, tmp_path):
    catalog, rec = parent
    ref_catalog = open_catalog(tmp_path / "ref")  # expanded before the move, elsewhere
    parent_info = json.loads((Path(rec.path) / "dataset.json").read_text(encoding="utf-8"))
    ref_catalog.register(parent_info, rec.path)
    ref = build(*prepare_expansion(rec, 6, home=tmp_path / "ref"), ref_catalog).record
    ref_catalog.close()
    config = _move(tmp_path)
    with pytest.raises(SynthError):  # without the config the old locations are gone
        prepare_expansion(rec, 6, home=tmp_path / "home")
    plan, gen = prepare_expansion(rec, 6, home=tmp_path / "home", config=config, source="c.toml")
    child = build(plan, gen, catalog).record
    assert child.id == ref.id  # the same files and labels: the same content id
    assert child.parent_id == rec.id and child.count == 16
    assert child.spec["fonts"]["dir"] == str(tmp_path / "new" / "fonts")
    assert child.spec["text"]["path"] == str(tmp_path / "new" / "texts.txt")
    assert {k: v for k, v in child.spec.items() if k not in ("fonts", "text")} == {
        k: v for k, v in rec.spec.items() if k not in ("fonts", "text")
    }
    info = json.loads((Path(child.path) / "dataset.json").read_text(encoding="utf-8"))
    fonts = sorted(i["uri"] for i in info["inputs"] if i["role"] == "font")
    assert fonts == [
        (tmp_path / "new" / "fonts" / n).as_uri() for n in ("DejaVuSans.ttf", "Inconsolata.otf")
    ]


def test_a_value_an_expansion_keeps_is_named_with_both_values(parent):
    _, rec = parent
    with pytest.raises(ConfigError) as err:
        prepare_expansion(rec, 4, config={"output": {"format": "png"}}, source="c.toml")
    assert str(err.value) == (
        f'c.toml: output.format="png" differs from the parent dataset {rec.id[:12]}\'s '
        '"jpeg": an expansion keeps its parent\'s spec (only where its inputs are, text.path, '
        "fonts.dir, backgrounds.dir, and the [run] table may change)"
    )
    with pytest.raises(ConfigError, match=r"c\.toml: fonts\.size_px_range=\[10, 12\] differs"):
        prepare_expansion(rec, 4, config={"fonts": {"size_px_range": [10, 12]}}, source="c.toml")
    with pytest.raises(ConfigError, match=r"c\.toml: unknown key 'fontz' "):
        prepare_expansion(rec, 4, config={"fontz": {"dir": "x"}}, source="c.toml")
    with pytest.raises(ConfigError, match=r"c\.toml: fonts\.dir=3: expected a path"):
        prepare_expansion(rec, 4, config={"fonts": {"dir": 3}}, source="c.toml")


def test_a_value_equal_to_the_parent_s_is_allowed(parent, tmp_path):
    _, rec = parent
    same = {"shard_size": 8, "output": {"format": "jpeg"}, "fonts": {"size_px_range": [28, 48]}}
    plan, _ = prepare_expansion(rec, 4, home=tmp_path / "home", config=same)
    assert plan.spec == rec.spec


@pytest.mark.parametrize("change", ["edited", "removed", "added"])
def test_a_moved_input_must_hold_the_same_files(parent, tmp_path, change):
    _, rec = parent
    config = _move(tmp_path)
    new = tmp_path / "new"
    if change == "edited":
        (new / "texts.txt").write_text("a quiet morning\nsix paper boats\n", encoding="utf-8")
        message = (
            f"text.path: {(new / 'texts.txt').as_uri()} (texts 'texts.txt') differs from the "
            f"parent dataset {rec.id[:12]}'s (sha256 "
        )
    elif change == "removed":
        (new / "fonts" / "Inconsolata.otf").unlink()
        message = (
            f"fonts.dir: font 'Inconsolata.otf' of the parent dataset {rec.id[:12]} "
            f"({(tmp_path / 'old' / 'fonts' / 'Inconsolata.otf').as_uri()}) is not at the new "
            "location: a moved input must hold the same files"
        )
    else:
        shutil.copy(embedded_dir("fonts") / "DejaVuSerif-Bold.ttf", new / "fonts")
        message = (
            f"fonts.dir: {(new / 'fonts' / 'DejaVuSerif-Bold.ttf').as_uri()} (font "
            f"'DejaVuSerif-Bold.ttf') is not among the parent dataset {rec.id[:12]}'s inputs"
        )
    with pytest.raises(SynthError) as err:
        prepare_expansion(rec, 4, home=tmp_path / "home", config=config)
    assert str(err.value).startswith(message)
    assert len(list((tmp_path / "home" / "datasets").iterdir())) == 1  # the parent only


def test_a_location_read_from_a_catalog_dataset_cannot_move():
    parent_spec = {
        "text": {"source": "file", "path": "/data/a/labels.txt", "dataset_id": "ab" * 32}
    }
    with pytest.raises(ConfigError) as err:
        expansion_spec(parent_spec, "ocr", {"text": {"path": "/b.txt"}}, "c.toml", "cd" * 32)
    assert str(err.value) == (
        "c.toml: text.path is the folder of dataset abababababab, which the parent dataset "
        "cdcdcdcdcdcd read (text.dataset_id), not a location to change"
    )
    speech = {"clean": "/data/ds", "clean_dataset_id": "ef" * 32, "noise_dir": None}
    assert expansion_spec(speech, "speech", {"noise_dir": "/n"}, "c", "cd" * 32)["noise_dir"] == (
        "/n"
    )
    with pytest.raises(ConfigError, match="clean is the folder of dataset efefefefefef"):
        expansion_spec(speech, "speech", {"clean": "/elsewhere"}, "c", "cd" * 32)


def test_a_moved_speech_corpus_and_noise_folder_give_the_same_mixes(tmp_path):
    import numpy as np
    import soundfile as sf

    from synth.speech.spec import build_spec as build_speech_spec

    shutil.copytree(embedded_dir("speech"), tmp_path / "old" / "clean")
    (tmp_path / "old" / "noise").mkdir()
    rng = np.random.default_rng(0)
    hum = (0.1 * rng.standard_normal(16000 * 2)).astype("float32")
    sf.write(tmp_path / "old" / "noise" / "hum.wav", hum, 16000)
    spec = build_speech_spec(
        {"clean": str(tmp_path / "old" / "clean"), "noise_dir": str(tmp_path / "old" / "noise")}
    ).model_dump(mode="json")
    catalog = open_catalog(tmp_path / "home")
    plan, gen = prepare("speech", spec, seed=1, count=4, name="s", home=tmp_path / "home")
    rec = build(plan, gen, catalog).record
    ref_catalog = open_catalog(tmp_path / "ref")
    parent_info = json.loads((Path(rec.path) / "dataset.json").read_text(encoding="utf-8"))
    ref_catalog.register(parent_info, rec.path)
    ref = build(*prepare_expansion(rec, 3, home=tmp_path / "ref"), ref_catalog).record
    ref_catalog.close()
    shutil.move(tmp_path / "old", tmp_path / "new")
    config = {
        "clean": str(tmp_path / "new" / "clean"),
        "noise_dir": str(tmp_path / "new" / "noise"),
    }
    child = build(*prepare_expansion(rec, 3, home=tmp_path / "home", config=config), catalog)
    assert child.record.id == ref.id
    # the parent drew from the whole corpus and folder: a clip added there is not the parent's
    sf.write(tmp_path / "new" / "noise" / "more.wav", hum[::-1].copy(), 16000)
    with pytest.raises(SynthError, match=r"^noise_dir: file://.*/more\.wav \(noise 'more\.wav'\) "
                       "is not among the parent dataset"):  # fmt: skip
        prepare_expansion(rec, 3, home=tmp_path / "home", config=config)
    catalog.close()


def test_without_the_parent_s_plan_the_inputs_its_samples_used_are_checked():
    from synth.engine.expand_config import check_relocated_inputs

    used = {"role": "font", "name": "A.ttf", "uri": "file:///old/A.ttf", "sha256": "1" * 64}
    parent = {"id": "ab" * 32, "inputs": [used]}
    extra = {"role": "font", "name": "B.ttf", "uri": "file:///new/B.ttf", "sha256": "2" * 64}
    moved = used | {"uri": "file:///new/A.ttf"}
    check_relocated_inputs(parent, [moved, extra])  # B may have been in the pool: not told
    with pytest.raises(SynthError, match=r"fonts\.dir: file:///new/A\.ttf \(font 'A\.ttf'\) "
                       r"differs from the parent dataset abababababab's \(sha256 333333333333, "
                       r"recorded 111111111111\)"):  # fmt: skip
        check_relocated_inputs(parent, [moved | {"sha256": "3" * 64}])
    with pytest.raises(SynthError, match=r"font 'B\.ttf' of the parent dataset"):
        check_relocated_inputs(parent, [moved], planned=[used, extra])
