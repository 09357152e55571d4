"""Fixtures of the speech tests; the audio helpers live in ``helpers``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.speech.helpers import speechlike, write


@pytest.fixture
def pairs_corpus(tmp_path: Path) -> Path:
    """A text-pairs corpus of three 1.5-3 s clips at 16 kHz."""
    root = tmp_path / "clean"
    for i, text in enumerate(["first clip", "second clip here", "the third one"]):
        write(root / f"utt{i}.wav", speechlike(1.5 + 0.7 * i, seed=i))
        (root / f"utt{i}.txt").write_text(text + "\n", encoding="utf-8")
    return root
