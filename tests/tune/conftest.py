"""Tuning jobs on real tiny OCR datasets and a real training command (data/train.py), whose
val_error is a known function of the datasets' JPEG quality and a learning rate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.catalog.conftest import pg_url, postgres_server  # noqa: F401 (fixtures)

TRAIN = str(Path(__file__).resolve().parent / "data" / "train.py")
QUALITIES = [50, 60, 70, 80, 90]


def job_config(name: str, **over: Any) -> dict[str, Any]:
    """A job over the JPEG quality (categorical pairs [q, q]) and hp.lr (log scale)."""
    steps = over.pop("steps", 1)
    sleep = over.pop("sleep", 0)
    cfg: dict[str, Any] = {
        "name": name,
        "strategy": "random",
        "max_trials": 4,
        "build": {"kind": "ocr", "preset": "clean", "count": 2, "seed": 0},
        "training": {
            "command": [sys.executable, TRAIN, "{path}", "{hp.lr}", str(steps), str(sleep)],
            "metrics": {"val_error": r"val_error=(\S+)"},
        },
        "objective": {"metric": "val_error", "direction": "minimize"},
        "ranges": [
            {
                "target": "effects.jpeg_quality_range",
                "type": "categorical",
                "values": [[q, q] for q in QUALITIES],
            },
            {"target": "hp.lr", "type": "continuous", "low": 1e-4, "high": 1.0},
        ],
    }
    for key, value in over.items():
        cfg[key] = value
    return cfg


def expected(q: int, lr: float) -> float:
    import math

    return ((q - 70) / 10) ** 2 + (math.log10(lr) + 2) ** 2 + 1


def write(folder: Path, cfg: dict[str, Any], name: str | None = None) -> Path:
    path = folder / f"{name or cfg.get('name') or 'job'}.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data root per module: datasets of the same fingerprint are reused across its jobs."""
    return tmp_path_factory.mktemp("tune-home")
