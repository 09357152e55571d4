"""Paths in a --config file are read from the config file's folder and recorded absolute."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flows.cli import build_parser, main
from flows.cli.config import _ocr_config, _speech_config


def _args(*argv: str):
    return build_parser().parse_args(list(argv))


def test_speech_config_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "s.toml"
    config.write_text('clean = "../corpus"\nnoise_dir = "noise"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory plays no part
    data = _speech_config(_args("speech", "--count", "1", "--config", str(config)))
    assert data["clean"] == str(tmp_path / "corpus")
    assert data["noise_dir"] == str(tmp_path / "conf" / "noise")


def test_ocr_config_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    config = tmp_path / "o.yaml"
    config.write_text(
        "text: {source: file, path: lines.txt}\nfonts: {dir: fonts}\n"
        "backgrounds: {dir: /abs/photos}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(Path("/"))
    data = _ocr_config(_args("ocr", "--count", "1", "--config", str(config)))
    assert data["text"] == {"source": "file", "path": str(tmp_path / "lines.txt")}
    assert data["fonts"]["dir"] == str(tmp_path / "fonts")
    assert data["backgrounds"]["dir"] == "/abs/photos"  # absolute paths stay as written


@pytest.mark.parametrize(
    ("command", "text", "key", "flag"),
    [
        ("speech", 'clean_dataset_id = "2ceec"\n', "clean_dataset_id", "--clean ID"),
        ("ocr", '[text]\ndataset_id = "2ceec"\n', "text.dataset_id", "--texts-from ID"),
    ],
)
def test_catalog_links_are_not_config_keys(tmp_path, capsys, monkeypatch, command, text, key, flag):
    # Set by hand, they would record a dataset as an input that the build never read.
    from flows.env import _DEFAULTS

    for name, value in _DEFAULTS.items():  # main() sets these; undo it after the test
        monkeypatch.setenv(name, os.environ.get(name, value))
    config = tmp_path / "c.toml"
    config.write_text(text, encoding="utf-8")
    home = tmp_path / "home"
    code = main([command, "--count", "1", "--config", str(config), "--home", str(home), "--json"])
    out, err = capsys.readouterr()
    message = (
        f"{config}: {key} is set by {flag} (from the catalog's record of that dataset), "
        "not in a config file"
    )
    assert code == 2
    assert err == f"synth: error: {message}\n"
    assert json.loads(out) == {"error": message, "exit_code": 2}
    assert not (home / "datasets").exists()  # stopped before any folder was made
