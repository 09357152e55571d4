"""The clean preset's promise: an OCR engine (Tesseract) reads its lines back exactly."""

from __future__ import annotations

import io
import os
import shutil
import subprocess

import pytest
from PIL import Image

from synth.ocr.generator import OcrGenerator
from synth.ocr.spec import build_spec
from synth.rng import sample_rng

TESSERACT = shutil.which("tesseract")


@pytest.mark.skipif(
    TESSERACT is None and not os.environ.get("CI"),
    reason="tesseract is not installed (CI installs it)",
)
def test_tesseract_reads_clean_lines_back_exactly(tmp_path):
    assert TESSERACT, "tesseract missing on CI"
    gen = OcrGenerator(build_spec("clean"))
    misread = []
    n = 60
    for i in range(n):
        recipe = gen.sample(i, sample_rng(2024, i))
        (data,) = gen.render(recipe, "x").files.values()
        path = tmp_path / f"{i}.png"
        Image.open(io.BytesIO(data)).save(path)
        read = subprocess.run(
            [TESSERACT, str(path), "stdout", "--psm", "7"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        ).stdout.strip()
        if read != recipe["text"]:
            misread.append((recipe["text"], read, recipe["font"]["id"]))
    # Tesseract confuses a few glyph pairs in some print fonts (l/I, 0/O); allow 1 in 60.
    assert len(misread) <= 1, misread
