"""A small real OCR dataset in a data root of the module's, and a training script to run on it.
Tests share the data root and tell their runs apart by id."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main
from synth.catalog import open_catalog

TRAIN = str(Path(__file__).resolve().parent / "data" / "train.py")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("runs-home")
    assert main(["ocr", "--count", "12", "--preset", "clean", "--home", str(home), "--json"]) == 0
    return home


@pytest.fixture(scope="module")
def dataset(home: Path):
    catalog = open_catalog(home)
    try:
        return catalog.list()[0]
    finally:
        catalog.close()
