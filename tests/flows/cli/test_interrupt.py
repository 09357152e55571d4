"""Long runs behave: Ctrl-C stops a build at once and the same command resumes it; the progress
bar's rate and time left; the config's [run] table."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from flows.cli.config import _run_options
from flows.cli.output import _Rate
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


def _ocr_args(home: Path, tmp_path: Path, workers: int) -> list[str]:
    """A clean-preset OCR build of COUNT images in shards of 40, long enough to interrupt."""
    config = tmp_path / "shards.toml"
    config.write_text("shard_size = 40\n")
    return [
        *synth_cmd(),
        *("ocr", "--count", str(COUNT), "--seed", "12", "--preset", "clean"),
        *("--workers", str(workers), "--config", str(config), "--json", "--home", str(home)),
    ]


def _start_in_terminal(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """The command as typed in a terminal: a process group of its own, SIGINT at its default."""
    return subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        preexec_fn=_sigint_default,
    )


def _wait_for_shards(
    proc: subprocess.Popen, home: Path, more_than: int = 0, timeout: float = 120
) -> None:
    """Until more than ``more_than`` shard manifests exist (the build is under way)."""
    deadline = time.monotonic() + timeout
    while len(_manifests(home)) <= more_than:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, f"no shard finished in {timeout:g} s"
        time.sleep(0.02)


@pytest.mark.parametrize("workers", [2, 1])
def test_ctrl_c_stops_the_build_at_once_and_the_same_command_resumes_it(
    prefect_api, home, tmp_path, workers
):
    args = _ocr_args(home, tmp_path, workers)
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    proc = _start_in_terminal(args, env)
    _wait_for_shards(proc, home, timeout=120)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
    sent = time.monotonic()
    out, err = proc.communicate(timeout=60)
    stopped_after = time.monotonic() - sent
    assert proc.returncode == 130, err.decode()
    assert err.decode() == "synth: interrupted; run the same command again to resume\n"
    assert json.loads(out) == {"error": "interrupted", "exit_code": 130}  # --json
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


def _prefect_processes(prefect_home: Path) -> list[int]:
    """Live processes whose environment sets PREFECT_HOME to ``prefect_home`` and that are
    not the command or its workers: a Prefect server started on its behalf, if there is one."""
    needle = b"\0PREFECT_HOME=" + str(prefect_home).encode() + b"\0"
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            data = b"\0" + environ.read_bytes() + b"\0"
            state = (environ.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in data and state != "Z":
            found.append(int(environ.parent.name))
    return found


def _gone_within(seconds: float, alive: Callable[[], list[int]]) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := alive()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_without_a_server_no_server_starts_ctrl_c_stops_at_once_and_kill_9_resumes(
    prefect_env, home, tmp_path
):
    """No PREFECT_API_URL (the README's commands): the build runs here without Prefect, so no
    temporary Prefect server starts at all. A Ctrl-C to the terminal's process group stops it
    at once with the one-line message; the same command resumes it, also after kill -9, to the
    dataset id of an uninterrupted build."""
    prefect_home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {**prefect_env, "PREFECT_HOME": str(prefect_home)}
    args = _ocr_args(home, tmp_path, workers=2)

    def start() -> subprocess.Popen:
        procs.append(proc := _start_in_terminal(args, env))
        return proc

    def others(proc: subprocess.Popen) -> list[int]:
        return [p for p in _prefect_processes(prefect_home) if p not in _group_alive(proc.pid)]

    procs: list[subprocess.Popen] = []
    try:
        proc = start()
        _wait_for_shards(proc, home, timeout=120)
        assert others(proc) == []  # the command and its workers, no server
        assert not prefect_home.exists()  # Prefect never ran: it makes its home when it does
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal
        sent = time.monotonic()
        out, err = proc.communicate(timeout=60)
        stopped_after = time.monotonic() - sent
        assert proc.returncode == 130, err.decode()
        assert err.decode() == "synth: interrupted; run the same command again to resume\n"
        assert json.loads(out) == {"error": "interrupted", "exit_code": 130}  # --json
        assert stopped_after < 15, f"took {stopped_after:.1f} s to stop"
        assert _gone_within(10, lambda: _group_alive(proc.pid)) == []  # the workers too
        catalog = open_catalog(home)
        assert catalog.list() == []  # nothing registered
        assert catalog.builds()[0]["status"] == "failed"
        catalog.close()

        done = len(_manifests(home))
        assert 1 <= done < COUNT // 40
        proc = start()  # resumes; then killed outright
        _wait_for_shards(proc, home, more_than=done, timeout=120)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)  # not communicate(): the orphaned workers hold the pipes open
        assert _gone_within(15, lambda: _group_alive(proc.pid)) == []  # they go on their own
        killed_at = len(_manifests(home))
        assert done < killed_at < COUNT // 40
    finally:  # whatever failed: no process of this test outlives it
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.stdout.close()
            p.stderr.close()

    resumed = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["skipped_shards"] >= killed_at - 1  # a shard may land as the kill arrives
    assert result["rendered_shards"] + result["skipped_shards"] == COUNT // 40
    info = json.loads((Path(result["path"]) / "dataset.json").read_text())
    assert info["run"]["orchestrator"] == "local"
    assert not prefect_home.exists()

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
