"""A wheel built from the repository installs and runs outside the source tree, assets included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = out.glob("synth-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "synth/_assets/MANIFEST.tsv" in names
        assert "synth/_assets/fonts/DejaVuSans.ttf" in names
        assert "synth/_assets/LICENSES/OFL-1.1.txt" in names
        assert "flows/cli/__init__.py" in names
        assert not any(n.startswith("tests/") for n in names)
        site = out / "site"
        z.extractall(site)
    return site


def test_wheel_runs_outside_the_source_tree(unpacked_wheel, prefect_api, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(unpacked_wheel),
        "SYNTH_HOME": str(tmp_path / "h"),
        "PREFECT_API_URL": prefect_api,
    }
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import synth, flows, json; from synth.assets import asset_root, manifest;"
            "print(json.dumps([synth.__file__, flows.__file__, str(asset_root()),"
            " len(manifest())]))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert probe.returncode == 0, probe.stderr
    synth_file, flows_file, root, n = json.loads(probe.stdout)
    assert synth_file.startswith(str(unpacked_wheel))
    assert flows_file.startswith(str(unpacked_wheel))
    assert root == str(unpacked_wheel / "synth" / "_assets")
    assert n >= 60
    run = subprocess.run(
        [sys.executable, "-m", "flows.cli", "ocr", "--count", "12", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["count"] == 12
    assert Path(out["path"]).is_relative_to(tmp_path / "h")
    assert len(list(Path(out["path"]).glob("shard-*/*.jpg"))) == 12
