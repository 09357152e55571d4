"""One real PostgreSQL server for the catalog tests, a fresh database per test, and ``place`` /
``catalog``: a fresh catalog on each backend, for the behaviours both must share.

The server is started the first time a test asks for it (``postgres_server``): ``initdb`` makes a
data folder in a private temporary folder, ``pg_ctl start`` runs it on 127.0.0.1 at a free port
with its unix socket in the same folder, and ``pg_ctl stop`` (then the postmaster's pid, if it
is still alive) ends it when the session ends. PostgreSQL refuses to run as root, so as root
both run as the ``postgres`` system user through ``runuser`` and the folder is handed to it.

Without the PostgreSQL binaries (or psycopg) the tests that need the server are skipped with the
reason, except when ``$CI`` is set: then they fail, since CI must run them
(``.ci/postgres-install`` installs the server).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

_USER = "synth"
_PASSWORD = "pa:ss@w/rd-42"  # needs percent-encoding in a URL, and must never be printed
_BINARIES = ("initdb", "pg_ctl", "postgres")


def _unavailable(reason: str) -> None:
    """Skip, or fail when CI is set (CI must run the PostgreSQL tests)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so the PostgreSQL tests must run", pytrace=False)
    pytest.skip(reason)


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path))


def find_bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: from PATH, else the usual install places."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for pattern in (
        "/usr/lib/postgresql/*/bin",
        "/usr/pgsql-*/bin",
        "/opt/homebrew/opt/postgresql*/bin",
    ):
        candidates += [Path(p) for p in sorted(glob.glob(pattern), key=_version_key, reverse=True)]
    candidates.append(Path("/usr/local/pgsql/bin"))
    for folder in candidates:
        if all(os.access(folder / b, os.X_OK) for b in _BINARIES):
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    bin_dir: Path
    port: int
    pid: int
    user: str = _USER
    password: str = _PASSWORD
    host: str = "127.0.0.1"

    def url(self, database: str, password: str | None = None, port: int | None = None) -> str:
        secret = quote(self.password if password is None else password, safe="")
        return f"postgresql://{self.user}:{secret}@{self.host}:{port or self.port}/{database}"

    def admin(self):
        import psycopg

        return psycopg.connect(self.url("postgres"), autocommit=True)

    def create_database(self, name: str) -> str:
        from psycopg import sql

        with self.admin() as db:
            db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self.admin() as db:
            db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            db.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def _as_server_user(folder: Path) -> list[str]:
    """The command prefix that runs PostgreSQL's programs as a user it accepts."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        account = None
    if runuser is None or account is None:
        _unavailable(
            "running as root, but there is no `postgres` user or no runuser to start PostgreSQL"
        )
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)
    return [runuser, "-u", "postgres", "--"]


def _tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie nobody has reaped yet is gone for our purposes
        return ") Z " not in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1 for the whole session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'psycopg[binary]')")
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _unavailable(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or under "
            "/usr/lib/postgresql/*/bin; install them with .ci/postgres-install"
        )
    # Our own folder rather than pytest's: pytest-of-<user> is private (0700), and the server
    # user must be able to reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="synth-pg-"))
    data, sockets, log = folder / "data", folder / "sock", folder / "server.log"
    sockets.mkdir()
    (folder / "pwfile").write_text(_PASSWORD + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    prefix: list[str] = []

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*prefix, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
        )

    try:
        prefix = _as_server_user(folder)
        init = run(
            str(bin_dir / "initdb"),
            *("-D", str(data), "-U", _USER, f"--pwfile={folder / 'pwfile'}"),
            *("--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"),
            "--no-sync",
        )
        if init.returncode != 0:
            pytest.fail(f"initdb failed:\n{init.stdout}\n{init.stderr}", pytrace=False)
        for _attempt in range(3):  # another program may take the free port before the server
            port = _free_port()
            options = (
                f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=60"
            )
            start = run(
                str(bin_dir / "pg_ctl"),
                *("-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"),
            )
            if start.returncode == 0 or "already in use" not in _tail(log):
                break
        if start.returncode != 0:
            pytest.fail(
                f"pg_ctl start failed:\n{start.stdout}\n{start.stderr}\n{_tail(log)}",
                pytrace=False,
            )
        pid = int((data / "postmaster.pid").read_text().split()[0])
        yield PostgresServer(bin_dir=bin_dir, port=port, pid=pid)
    finally:
        _stop(run, bin_dir, data)
        shutil.rmtree(folder, ignore_errors=True)


def _stop(run, bin_dir: Path, data: Path) -> None:
    """``pg_ctl stop``; then, if the postmaster is still there, signal it by pid."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return  # never started (or already gone)
    with contextlib.suppress(subprocess.TimeoutExpired):
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop")
    for sig in (signal.SIGQUIT, signal.SIGKILL):  # immediate shutdown, then kill
        if not _alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)


_numbers = itertools.count(1)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL (with user and password) of a fresh, empty database, dropped after the test."""
    name = f"synth_test_{os.getpid()}_{next(_numbers)}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@dataclass
class Place:
    """Where a test's catalog lives: a fresh SQLite file or a fresh PostgreSQL database."""

    backend: str  # "sqlite" or "postgres"
    target: str  # the file, or the URL with user and password
    where: str  # how messages name it: the file, or the URL without the password

    def open(self) -> Any:
        """Another connection to the same catalog."""
        if self.backend == "sqlite":
            from synth.catalog.sqlite import SqliteCatalog

            return SqliteCatalog(Path(self.target))
        from synth.catalog.postgres import PostgresCatalog

        return PostgresCatalog(self.target)


@pytest.fixture(params=["sqlite", "postgres"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    """A fresh, empty catalog place on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "catalog.db"
        return Place("sqlite", str(path), str(path))
    url = request.getfixturevalue("pg_url")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    database = url.rsplit("/", 1)[1]
    return Place(
        "postgres", url, f"postgresql://{server.user}@{server.host}:{server.port}/{database}"
    )


@pytest.fixture
def catalog(place: Place) -> Iterator[Any]:
    """An open catalog on each backend, closed after the test."""
    catalog = place.open()
    yield catalog
    catalog.close()
