"""Shared fixtures: an isolated data root, and one real Prefect server for the whole session.

The Prefect server is started on 127.0.0.1 at a free port the first time a test asks for it
(``prefect_api``) and stopped by pid at the end. Tests that only call ``synth`` never start it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Child processes (the `synth` script, spawned workers) import this checkout's code, the code
# under test, even where the installed package is another checkout's editable install.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def prefect_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for Prefect in tests: a private PREFECT_HOME, no analytics, quiet logs."""
    home = tmp_path_factory.mktemp("prefect-home")
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
    }
    return env


@pytest.fixture(scope="session")
def prefect_api(prefect_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """A real ``prefect server start`` on 127.0.0.1; yields its API URL and sets PREFECT_API_URL
    for this process and its children."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = tmp_path_factory.mktemp("prefect-log") / "server.log"
    env = {**os.environ, **prefect_env}
    env.pop("PREFECT_API_URL", None)
    prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prefect server exited early:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"prefect server did not start in 120 s:\n{log.read_text()[-2000:]}")
    saved = {k: os.environ.get(k) for k in (*prefect_env, "PREFECT_API_URL")}
    os.environ.update(prefect_env)
    os.environ["PREFECT_API_URL"] = url
    try:
        yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh data root for one test."""
    h = tmp_path / "synth-home"
    h.mkdir()
    return h


def synth_cmd() -> list[str]:
    exe = shutil.which("synth", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "flows.cli"]


@pytest.fixture
def run_synth(prefect_api: str, home: Path):
    """Run the ``synth`` command in a subprocess against the session's Prefect server."""

    def run(
        *args: str, check: bool = False, timeout: float = 300, **kw
    ) -> subprocess.CompletedProcess:
        env = {**os.environ, "SYNTH_HOME": str(home), "PREFECT_API_URL": prefect_api}
        proc = subprocess.run(
            [*synth_cmd(), *args], capture_output=True, text=True, env=env, timeout=timeout, **kw
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"synth {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    return run
