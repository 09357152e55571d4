"""Bad tuning configs: one line naming the key, exit 2, nothing recorded."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from flows.cli import main
from tests.tune.conftest import job_config, write


def _bad(tmp_path: Path, capsys: pytest.CaptureFixture[str], cfg: dict) -> str:
    path = write(tmp_path, cfg, "bad")
    home = tmp_path / "home"
    assert main(["tune", "--config", str(path), "--home", str(home)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("synth: error: ")
    assert not (home / "tune").exists()  # nothing recorded
    return err


def _range(cfg: dict, i: int, **values) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg["ranges"][i] = {**cfg["ranges"][i], **values}
    return cfg


BASE = job_config("bad")
LR = {"target": "hp.lr", "type": "continuous", "low": 1e-4, "high": 1.0}


@pytest.mark.parametrize(
    ("cfg", "needle"),
    [
        ({**BASE, "max_trails": 3}, "unknown key 'max_trails'"),
        ({**BASE, "build": {**BASE["build"], "colour": 1}}, "unknown key 'build.colour'"),
        (_range(BASE, 1, low=0.5, high=0.1), "ranges[1] (hp.lr): low=0.5 > high=0.1"),
        (_range(BASE, 1, low=0.0, scaling="logarithmic"), "ranges[1] (hp.lr).low=0: logarithmic"),
        (
            _range(BASE, 1, low=0.1, high=1.0, scaling="reverse_logarithmic"),
            "ranges[1] (hp.lr): reverse_logarithmic scaling needs 0 <= low <= high < 1",
        ),
        (
            _range(BASE, 1, type="integer", low=1, high=5, scaling="reverse_logarithmic"),
            "ranges[1] (hp.lr).scaling: reverse_logarithmic is not for integer ranges",
        ),
        (
            _range(BASE, 1, type="integer", low=1.5, high=5),
            "ranges[1] (hp.lr).low=1.5: an integer range takes whole numbers",
        ),
        (
            {**BASE, "strategy": "grid"},
            "ranges[1] (hp.lr).type: grid search takes integer and categorical ranges",
        ),
        (
            _range(BASE, 0, values=None, type="continuous", low=0, high=1, target="effects.blurr"),
            "ranges[0] (effects.blurr): no such field in the ocr spec (known here: blur_prob",
        ),
        (
            {
                **BASE,
                "ranges": [
                    {**LR},
                    {"target": "effects.blur_prob", "type": "continuous", "low": 0.0, "high": 1.5},
                ],
            },
            "ranges[1] (effects.blur_prob).high=1.5:",
        ),
        (
            {**BASE, "ranges": [LR, LR]},
            "ranges[1] (hp.lr): target also searched by ranges[0]",
        ),
        (
            {**BASE, "strategy": "hyperband", "early_stopping": "auto"},
            "early_stopping='auto': hyperband stops trials itself",
        ),
        ({**BASE, "objective": {"metric": "acc"}}, "objective.metric='acc': not one of"),
        ({**BASE, "warm_start": ["a", "b", "c", "d", "e", "f"]}, "warm_start"),
        (_range(BASE, 0, values=[]), "ranges[0] (effects.jpeg_quality_range).values: a categ"),
        (_range(BASE, 1, target="lr"), "training.command: {hp.lr} but no range targets hp.lr"),
        (
            {**BASE, "training": {**BASE["training"], "command": ["x", "{hp.momentum}"]}},
            "training.command: {hp.momentum} but no range targets hp.momentum",
        ),
        (
            {**BASE, "training": {**BASE["training"], "command": ["x", "{val_path}"]}},
            "training.command: {val_path} but no training.val is given",
        ),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path, capsys, cfg, needle):
    err = _bad(tmp_path, capsys, cfg)
    assert needle in err, err
    assert "bad.json" in err


def test_too_many_warm_start_parents(tmp_path, capsys):
    path = write(tmp_path, BASE, "bad")
    args = ["tune", "--config", str(path), "--home", str(tmp_path / "h"), "--warm-start"]
    assert main([*args, "a", "b", "c", "d", "e", "f"]) == 2
    assert "--warm-start: at most 5 parent jobs, got 6" in capsys.readouterr().err
