"""A data root with a small real OCR dataset to grow, a training script whose errors are known
functions of the dataset's size, and ``synth`` run as a real process against that root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.ocr.spec import build_spec
from tests.conftest import synth_cmd

TRAIN = str(Path(__file__).resolve().parent / "data" / "train.py")
PY = sys.executable
SPEC = build_spec("clean", {"shard_size": 10}).model_dump(mode="json")
START = 10  # samples in the dataset every loop starts from


def make_dataset(home: Path, count: int = START, seed: int = 5, name: str = "lines") -> str:
    """A small OCR dataset built without Prefect; returns its id."""
    catalog = open_catalog(home)
    try:
        plan, gen = prepare("ocr", SPEC, seed=seed, count=count, name=name, home=home)
        return build(plan, gen, catalog).record.id
    finally:
        catalog.close()


@pytest.fixture
def start(home: Path) -> str:
    return make_dataset(home)


@pytest.fixture
def config(tmp_path: Path) -> str:
    """Expansion sized by the rule of thumb alone: no minimum of 100 new samples."""
    path = tmp_path / "improve.toml"
    path.write_text("[expansion]\nmin_count = 1\n")
    return str(path)


def train(*options: str) -> list[str]:
    """The training command: ``train.py`` with its options (see its docstring)."""
    return [PY, TRAIN, *options]


@pytest.fixture
def synth(home: Path):
    """``synth ARGS`` in a real process on ``home``, with no Prefect server configured."""

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "SYNTH_HOME": str(home)}
        env.pop("PREFECT_API_URL", None)
        proc = subprocess.run(
            [*synth_cmd(), *args], capture_output=True, text=True, env=env, timeout=300
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    return run


@pytest.fixture
def improve(synth, start: str, config: str):
    """``synth improve START --json --config CONFIG ARGS -- train.py OPTIONS``: the exit code and
    the JSON object."""

    def run(*args: str, options: tuple[str, ...] = ()) -> tuple[int, dict, str]:
        proc = synth("improve", start, "--json", "--config", config, *args, "--", *train(*options))
        return proc.returncode, json.loads(proc.stdout), proc.stderr

    return run


def catalog_state(home: Path) -> tuple[list, list]:
    """Every dataset and every run in ``home``'s catalog."""
    catalog = open_catalog(home)
    try:
        return catalog.list(), catalog.list_runs()
    finally:
        catalog.close()
