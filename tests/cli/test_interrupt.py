"""Long runs behave: Ctrl-C stops a build at once and the same command resumes it; the progress
bar's rate and time left; the config's [run] table."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from flows.cli import _Rate, _run_options
from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.errors import ConfigError
from synth.ocr.spec import build_spec
from tests.conftest import synth_cmd


def _group_alive(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _manifests(home: Path) -> list[Path]:
    return list(home.glob("datasets/*/__synth__/shards/*.jsonl"))


def _sigint_default() -> None:
    """In the child before exec: Ctrl-C as in a terminal. A test run started in the background
    (``cmd &``) inherits SIGINT ignored, and an ignored signal stays ignored across exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


COUNT = 8000  # clean images, 200 shards: a few seconds of rendering, long enough to interrupt


@pytest.mark.parametrize("workers", [2, 1])
def test_ctrl_c_stops_the_build_at_once_and_the_same_command_resumes_it(
    prefect_api, home, tmp_path, workers
):
    config = tmp_path / "shards.toml"
    config.write_text("shard_size = 40\n")
    args = [
        *synth_cmd(),
        "ocr",
        "--count",
        str(COUNT),
        "--seed",
        "12",
        "--preset",
        "clean",
        "--workers",
        str(workers),
        "--config",
        str(config),
        "--json",
        "--home",
        str(home),
    ]
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        preexec_fn=_sigint_default,
    )
    deadline = time.monotonic() + 120
    while not _manifests(home):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no shard finished in 120 s"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
    sent = time.monotonic()
    out, err = proc.communicate(timeout=60)
    stopped_after = time.monotonic() - sent
    assert proc.returncode == 130, err.decode()
    assert err.decode() == "synth: interrupted; run the same command again to resume\n"
    assert out == b""
    assert stopped_after < 15, f"took {stopped_after:.1f} s to stop"
    time.sleep(0.5)
    assert _group_alive(proc.pid) == []  # the workers are gone too
    done = len(_manifests(home))
    assert 1 <= done < COUNT // 40
    catalog = open_catalog(home)
    assert catalog.list() == []  # nothing registered
    assert catalog.builds()[0]["status"] == "failed"
    catalog.close()

    resumed = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["skipped_shards"] >= done
    assert result["rendered_shards"] + result["skipped_shards"] == COUNT // 40

    spec = build_spec("clean", {"shard_size": 40}).model_dump(mode="json")
    plan, gen = prepare("ocr", spec, seed=12, count=COUNT, name="ref", home=tmp_path / "ref")
    catalog = open_catalog(tmp_path / "ref")
    reference = build(plan, gen, catalog, workers=2)
    catalog.close()
    assert result["id"] == reference.record.id


def test_the_rate_is_samples_per_second_over_recent_time_and_gives_the_time_left():
    rate = _Rate(window=10)
    assert rate.update(0.0, 1000) is None  # shards found done on a resume: not a rate
    assert rate.update(0.5, 1100) is None  # under a second: too early
    assert rate.update(2.0, 1400) == pytest.approx(200.0)
    for t in range(3, 30):
        speed = rate.update(float(t), 1400 + 100 * (t - 2))
    assert speed == pytest.approx(100.0)  # the old, faster start has left the window
    assert _Rate.describe(speed, 45_000) == ("100 samples/s", "7:30 left")
    assert _Rate.describe(2.0, 9_000) == ("2 samples/s", "1:15:00 left")
    assert _Rate.describe(None, 10) == ("", "")


def _args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"runner": None, "dask_address": None, "config": "c.toml", **kw})


def test_the_run_table_of_a_config_chooses_the_runner_and_never_reaches_the_spec():
    spec, run = _run_options(_args(), {"shard_size": 10})
    assert spec == {"shard_size": 10} and run == {"runner": "process", "dask_address": None}

    cfg = {"shard_size": 10, "run": {"runner": "process", "dask_address": "tcp://h:8786"}}
    spec, run = _run_options(_args(), {"shard_size": 10, "run": {"runner": "process"}})
    assert spec == {"shard_size": 10} and run["runner"] == "process"
    with pytest.raises(ConfigError, match="only used with --runner dask"):
        _run_options(_args(), cfg)
    # the flag wins over the table, and drops the table's address with it
    assert _run_options(_args(runner="process"), {"run": {"dask_address": "tcp://h:1"}})[1] == {
        "runner": "process",
        "dask_address": None,
    }
    with pytest.raises(ConfigError, match=r"unknown key 'run.workers' \(known: dask_address"):
        _run_options(_args(), {"run": {"workers": 4}})
    with pytest.raises(ConfigError, match=r"run\.runner='ray': expected 'process' or 'dask'"):
        _run_options(_args(), {"run": {"runner": "ray"}})
    with pytest.raises(ConfigError, match="'run' must be a table"):
        _run_options(_args(), {"run": "dask"})
