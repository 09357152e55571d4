"""``synth datasets split`` as a user runs it, in real subprocesses: the JSON object and its
warnings, verify's exit codes on a split version, bad input (one line, exit 2, nothing
recorded), expand refused, and import keeping a dataset's own splits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.ocr.spec import build_spec
from tests.conftest import REPO


@pytest.fixture(scope="module")
def parent(tmp_path_factory) -> tuple[Path, str]:
    """A data root with one OCR dataset of 30 lines drawn from 6 texts."""
    root = tmp_path_factory.mktemp("cli-split")
    home = root / "home"
    texts = root / "texts.txt"
    texts.write_text("\n".join(f"word {i}" for i in range(6)) + "\n", encoding="utf-8")
    spec = build_spec(
        "clean", {"shard_size": 10, "text": {"source": "file", "path": str(texts)}}
    ).model_dump(mode="json")
    catalog = open_catalog(home)
    try:
        rec = build(*prepare("ocr", spec, seed=0, count=30, name="words", home=home), catalog)
    finally:
        catalog.close()
    return home, rec.record.id


def synth(home: Path, *args: str) -> subprocess.CompletedProcess:
    """``synth ARGS`` in a subprocess running this checkout's code (from the repository root)."""
    env = {**os.environ, "SYNTH_HOME": str(home)}
    env.pop("SYNTH_CATALOG_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


def _count(home: Path) -> int:
    out = synth(home, "datasets", "list", "--json")
    return len(json.loads(out.stdout)["datasets"])


def test_split_json_warns_and_verify_checks_the_leak(parent):
    home, pid = parent
    got = synth(home, "datasets", "split", pid[:12], "--ratios", "50", "25", "25", "--json")
    assert got.returncode == 0, got.stderr
    obj = json.loads(got.stdout)
    assert obj["parent_id"] == pid and obj["new"] is True and obj["count"] == 30
    s = obj["splits"]
    assert s["group_by"] == ["text"] and s["shared_groups"] == 0 and s["ratios"] == [50, 25, 25]
    assert sum(s["counts"].values()) == 30 and sum(s["groups"].values()) == 6
    assert len(obj["warnings"]) == 1
    assert obj["warnings"][0].startswith("validation and test are synthetic here")
    assert got.stderr.startswith("synth: warning: validation and test are synthetic")
    shown = json.loads(synth(home, "datasets", "show", obj["id"][:12], "--json").stdout)
    assert shown["trigger"]["type"] == "split" and shown["statistics"]["splits"] == s

    ok = synth(home, "datasets", "verify", obj["id"][:12])
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.splitlines()[-1].startswith(f"ok: {obj['id'][:12]}")
    # give a validation row a train row's text: that group is now in both
    root = Path(obj["path"])
    train = [json.loads(x) for x in (root / "train" / "metadata.jsonl").read_text().splitlines()]
    val = [json.loads(x) for x in (root / "validation" / "metadata.jsonl").read_text().splitlines()]
    val[0]["text"] = train[0]["text"]
    (root / "validation" / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in val))
    bad = synth(home, "datasets", "verify", obj["id"][:12], "--json")
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert not report["ok"]
    leak = f'leak: group ["{train[0]["text"]}"] of text is in train and validation'
    assert leak in report["problems"]

    again = synth(home, "datasets", "split", pid[:12], "--ratios", "50", "25", "25")
    assert again.returncode == 0 and "already in the catalog" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ratios", "70", "20", "20"], "--ratios 70 20 20: the percentages sum to 110, not 100"),
        (["--ratios", "96", "2", "2"], "--ratios 96 2 2: the validation and test split would"),
        (["--group-by", "nope"], "--group-by nope: no row of"),
        (["--stratify-by", "nope"], "--stratify-by nope: no row of"),
        (["--ratios", "70", "30"], "argument --ratios: expected 3 arguments"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_records_nothing(parent, args, message):
    home, pid = parent
    before = _count(home)
    got = synth(home, "datasets", "split", pid[:12], *args)
    assert got.returncode == 2
    assert len(got.stderr.strip().splitlines()) == 1 and message in got.stderr
    assert "Traceback" not in got.stderr and got.stdout == ""
    assert _count(home) == before


def test_an_unknown_dataset_is_one_line_exit_2(parent):
    home, _ = parent
    got = synth(home, "datasets", "split", "deadbeef", "--json")
    assert got.returncode == 2
    assert got.stderr.strip() == (
        f"synth: error: dataset id 'deadbeef': no such dataset in {home / 'catalog.db'}"
    )
    assert json.loads(got.stdout)["exit_code"] == 2


def test_expand_refuses_a_split_version(parent):
    home, pid = parent
    made = json.loads(synth(home, "datasets", "split", pid[:12], "--seed", "9", "--json").stdout)
    got = synth(home, "expand", made["id"][:12], "--count", "5")
    assert got.returncode == 2
    assert "a split version cannot be expanded" in got.stderr
    assert f"expand its parent {pid[:12]}" in got.stderr


def test_import_keeps_the_datasets_own_splits(tmp_path):
    data, home = tmp_path / "real", tmp_path / "home"
    for folder, n in (("train", 4), ("dev", 2), ("test", 2)):
        (data / folder).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (12, 6), (i * 40, len(folder) * 30, 1)).save(
                data / folder / f"{i}.png"
            )
            (data / folder / f"{i}.txt").write_text(f"{i % 2}\n")
    got = synth(home, "datasets", "import", str(data), "--kind", "ocr", "--json")
    assert got.returncode == 0, got.stderr
    obj = json.loads(got.stdout)
    assert obj["splits"]["counts"] == {"train": 4, "validation": 2, "test": 2}
    assert obj["splits"]["folders"]["validation"] == "dev" and obj["warnings"] == []
    assert synth(home, "datasets", "verify", obj["id"][:12]).returncode == 0
    again = synth(home, "datasets", "split", obj["id"][:12])
    assert again.returncode == 2
    assert "already has train/validation/test splits; they were kept at import" in again.stderr
