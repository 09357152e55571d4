"""``synth expand --config``: new locations of the parent's inputs, relative to the config file,
and a ``[run]`` table; any other value that is not the parent's is a one-line error naming it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from flows.cli import main
from synth.assets import embedded_dir
from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.ocr.spec import build_spec


def _parent(root: Path, home: Path) -> str:
    """An OCR dataset whose fonts and texts sit in ``root/old``; returns its id."""
    fonts = root / "old" / "fonts"
    fonts.mkdir(parents=True)
    shutil.copy(embedded_dir("fonts") / "DejaVuSans.ttf", fonts)
    texts = root / "old" / "texts.txt"
    texts.write_text("a quiet morning\nseven paper boats\nthe last train\n", encoding="utf-8")
    spec = build_spec(
        "clean",
        {
            "shard_size": 8,
            "fonts": {"dir": str(fonts), "styles": None},
            "text": {"source": "file", "path": str(texts)},
        },
    ).model_dump(mode="json")
    catalog = open_catalog(home)
    try:
        plan, gen = prepare("ocr", spec, seed=3, count=6, name="moved", home=home)
        return build(plan, gen, catalog).record.id
    finally:
        catalog.close()


def _moved(root: Path, extra: str = "") -> Path:
    """Move the inputs to ``root/new``; a config there naming them by relative paths."""
    shutil.move(root / "old", root / "new")
    config = root / "new" / "expand.toml"
    config.write_text(f'fonts.dir = "fonts"\ntext.path = "texts.txt"\n{extra}', encoding="utf-8")
    return config


@pytest.fixture
def cli(monkeypatch, capsys, tmp_path):
    from flows.env import _DEFAULTS

    for key, value in _DEFAULTS.items():
        monkeypatch.setenv(key, os.environ.get(key, value))
    monkeypatch.delenv("SYNTH_CATALOG_URL", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_a_value_an_expansion_keeps_is_one_line_naming_the_key(cli, tmp_path):
    home = tmp_path / "home"
    parent = _parent(tmp_path, home)
    config = _moved(tmp_path, '[output]\nformat = "png"\n')
    code, out, err = cli("expand", parent[:8], "--count", "4", "--config", str(config),
                         "--home", str(home), "--json")  # fmt: skip
    message = (
        f'{config}: output.format="png" differs from the parent dataset {parent[:12]}\'s '
        '"jpeg": an expansion keeps its parent\'s spec (only where its inputs are, text.path, '
        "fonts.dir, backgrounds.dir, and the [run] table may change)"
    )
    assert code == 2
    assert err == f"synth: error: {message}\n"
    assert json.loads(out) == {"error": message, "exit_code": 2}
    assert len(list((home / "datasets").iterdir())) == 1  # nothing made beside the parent


def test_the_run_table_of_an_expansion_config_is_checked_like_a_build_s(cli, tmp_path):
    home = tmp_path / "home"
    parent = _parent(tmp_path, home)
    config = _moved(tmp_path, '[run]\nrunnr = "dask"\n')
    code, out, err = cli("expand", parent[:8], "--count", "4", "--config", str(config),
                         "--home", str(home))  # fmt: skip
    assert (code, out) == (2, "")
    assert err == f"synth: error: {config}: unknown key 'run.runnr' (known: dask_address, runner)\n"


@pytest.mark.slow
def test_an_expansion_finds_its_moved_inputs_through_the_config(run_synth, home, tmp_path):
    parent = _parent(tmp_path, home)
    config = _moved(tmp_path, '[run]\nrunner = "process"\n')
    gone = run_synth("expand", parent[:8], "--count", "5")
    assert gone.returncode == 2 and "Traceback" not in gone.stderr
    assert str(tmp_path / "old") in gone.stderr  # the missing location is named
    proc = run_synth("expand", parent[:8], "--count", "5", "--config", str(config), "--json",
                     cwd=tmp_path / "new" / "fonts")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["count"] == 11 and out["new"]
    info = json.loads((Path(out["path"]) / "dataset.json").read_text(encoding="utf-8"))
    assert info["parent"]["id"] == parent
    assert info["spec"]["fonts"]["dir"] == str(tmp_path / "new" / "fonts")
    assert info["spec"]["text"]["path"] == str(tmp_path / "new" / "texts.txt")
    rows = [json.loads(line) for line in open(Path(out["path"]) / "metadata.jsonl")]
    assert {r["text"] for r in rows} <= {"a quiet morning", "seven paper boats", "the last train"}
    verify = run_synth("datasets", "verify", out["id"], "--json")
    assert verify.returncode == 0, verify.stdout
