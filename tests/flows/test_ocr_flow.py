"""The ocr_dataset flow on a real Prefect server, and resume after ``kill -9``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.ocr.spec import build_spec
from synth.speech.spec import build_spec as build_speech_spec
from tests.conftest import synth_cmd


def test_flow_registers_with_its_flow_run_and_manual_trigger(prefect_api, home):
    from flows.ocr import ocr_dataset

    result = ocr_dataset(
        count=30, seed=3, workers=2, preset="clean", home=str(home), config={"shard_size": 10}
    )
    rec = result["record"]
    assert result["created"] and result["rendered_shards"] == 3
    assert rec["count"] == 30 and rec["trigger"] == {"type": "manual"}
    assert rec["flow_run_id"] and len(rec["flow_run_id"]) == 36
    catalog = open_catalog(home)
    stored = catalog.get(rec["id"][:8])
    assert stored.flow_run_id == rec["flow_run_id"]
    fonts = {i["name"] for i in stored.inputs if i["role"] == "font"}
    assert fonts and fonts <= set(stored.statistics["counts"]["font"])
    catalog.close()

    # the same build again registers nothing new and renders nothing
    again = ocr_dataset(
        count=30, seed=3, workers=1, preset="clean", home=str(home), config={"shard_size": 10}
    )
    assert again["record"]["id"] == rec["id"]
    assert not again["created"] and again["rendered_shards"] == 0


def _shard_manifests(home: Path) -> list[Path]:
    return list(home.glob("datasets/*/__synth__/shards/*.jsonl"))


KILL_CASES = {
    # kind: (count, shard size); speech mixes are ~20x faster, so it gets more shards
    "ocr": (400, 25),
    "speech": (6000, 100),
}


@pytest.mark.parametrize("kind", sorted(KILL_CASES))
def test_a_build_killed_with_sigkill_resumes_to_the_same_id(prefect_api, home, tmp_path, kind):
    count, shard_size = KILL_CASES[kind]
    shards = count // shard_size
    config = tmp_path / "small-shards.toml"
    config.write_text(f"shard_size = {shard_size}\n")
    args = [
        *synth_cmd(),
        kind,
        "--count",
        str(count),
        "--seed",
        "9",
        "--config",
        str(config),
        "--json",
        "--home",
        str(home),
    ]
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while len(_shard_manifests(home)) < 2:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no shard finished in 120 s"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(_shard_manifests(home))
    assert done_before < shards, "the build finished before it could be killed"
    catalog = open_catalog(home)
    assert catalog.list() == []  # nothing registered by the killed run
    catalog.close()

    resumed = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert out["skipped_shards"] >= done_before - 1  # a shard may land as the kill arrives
    assert out["rendered_shards"] + out["skipped_shards"] == shards

    if kind == "ocr":
        spec = build_spec("default", {"shard_size": shard_size}).model_dump(mode="json")
    else:
        spec = build_speech_spec({"shard_size": shard_size}).model_dump(mode="json")
    plan, gen = prepare(kind, spec, seed=9, count=count, name="ref", home=tmp_path / "ref")
    catalog = open_catalog(tmp_path / "ref")
    reference = build(plan, gen, catalog, workers=2)
    catalog.close()
    assert out["id"] == reference.record.id
