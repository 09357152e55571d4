"""``synth datasets verify`` and ``synth expand`` exit codes for the card seal, renderer versions
and imported datasets. In-process through ``flows.cli.main``: nothing here reaches Prefect."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

import synth.ocr.generator as ocr_generator
from flows.cli import main
from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.engine.importer import import_dataset
from synth.ocr.spec import build_spec


@pytest.fixture
def run(monkeypatch, capsys, tmp_path):
    """``run(*args)``: ``synth args`` in this process; returns (code, stdout, stderr)."""
    from flows.env import _DEFAULTS

    for key, value in _DEFAULTS.items():  # main() sets these; undo it after the test
        monkeypatch.setenv(key, os.environ.get(key, value))
    monkeypatch.delenv("SYNTH_HOME", raising=False)
    monkeypatch.delenv("SYNTH_CATALOG_URL", raising=False)
    monkeypatch.chdir(tmp_path)

    def call(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


@pytest.fixture
def built(tmp_path):
    home = tmp_path / "home"
    spec = build_spec("clean", {"shard_size": 5}).model_dump(mode="json")
    catalog = open_catalog(home)
    try:
        record = build(*prepare("ocr", spec, seed=1, count=6, name="v", home=home), catalog).record
    finally:
        catalog.close()
    return home, record


def _verify(run, home: Path, dataset_id: str, code: int) -> dict:
    got, out, err = run("datasets", "verify", dataset_id[:12], "--home", str(home), "--json")
    assert got == code, (out, err)
    return json.loads(out)


def test_an_edited_card_a_changed_picture_and_a_stray_file_fail_with_exit_1(run, built):
    home, record = built
    root = Path(record.path)
    assert _verify(run, home, record.id, 0)["ok"] is True
    (root / "README.md").write_text("# another card\n")
    Image.new("RGB", (4, 4)).save(root / "__synth__" / "preview.jpg")
    (root / "__synth__" / "stray.bin").write_bytes(b"x")
    report = _verify(run, home, record.id, 1)
    assert report["changed"] == [
        "README.md (the dataset card: edited since the build)",
        "__synth__/preview.jpg (written with the card: edited since the build)",
    ]
    assert report["extra"] == ["__synth__/stray.bin"]
    code, out, _ = run("datasets", "verify", record.id[:12], "--home", str(home))
    assert code == 1
    assert "changed: README.md (the dataset card: edited since the build)" in out.splitlines()
    assert "unexpected: __synth__/stray.bin (not in the dataset's manifests)" in out.splitlines()


def test_a_dataset_from_another_renderer_passes_with_exit_0_and_the_note(run, built, monkeypatch):
    home, record = built
    monkeypatch.setattr(ocr_generator, "RENDERER_VERSION", ocr_generator.RENDERER_VERSION + 1)
    report = _verify(run, home, record.id, 0)
    assert report["ok"] is True and report["rerendered"] == []
    assert report["notes"] == [
        f"built by renderer v{ocr_generator.RENDERER_VERSION - 1}, this code renders "
        f"v{ocr_generator.RENDERER_VERSION}: files and inputs checked, re-render skipped"
    ]
    code, out, _ = run("datasets", "verify", record.id[:12], "--home", str(home))
    assert code == 0
    assert f"note: {report['notes'][0]}" in out.splitlines()


def test_an_imported_dataset_edited_metadata_fails_and_expand_is_refused(run, tmp_path):
    data = tmp_path / "real"
    data.mkdir()
    Image.new("RGB", (30, 10)).save(data / "a.png")
    (data / "metadata.jsonl").write_text('{"file_name": "a.png", "text": "a"}\n')
    home = tmp_path / "home"
    catalog = open_catalog(home)
    try:
        record, _ = import_dataset(data, "ocr", catalog, home)
    finally:
        catalog.close()
    assert _verify(run, home, record.id, 0)["ok"] is True
    (data / "metadata.jsonl").write_text('{"file_name": "a.png", "text": "b"}\n')
    report = _verify(run, home, record.id, 1)
    assert report["changed"] == ["metadata.jsonl (labels: edited since the import)"]

    code, out, err = run("expand", record.id[:12], "--count", "2", "--home", str(home))
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{record.id[:12]}: imported datasets cannot be expanded" in err
