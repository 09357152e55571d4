"""Where tuning jobs are kept: one Optuna study per job in a SQLite file beside the catalog,
``<data root>/tune/studies.sqlite3`` (``optuna-dashboard sqlite:///<that file>`` opens it),
and a folder per job, ``<data root>/tune/<job>/`` (its picture and config).

With a PostgreSQL catalog (``SYNTH_CATALOG_URL=postgresql://...``) the studies are in that
database instead, in a schema of their own (``synth_tune``).

SQLite answers "database is locked" when writers meet and a connection does not wait: the file is
put in WAL mode once (readers, such as the dashboard, then never block a writer), and each
connection waits up to ``BUSY_TIMEOUT_S`` for the lock. Within one job the trials' threads take
turns at the study (``StudyLock``), so the only writers that meet are other processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synth.catalog.base import data_home
from synth.errors import SynthError

STUDIES = "studies.sqlite3"
BUSY_TIMEOUT_S = 60.0


def tune_dir(home: str | Path | None) -> Path:
    return data_home(str(home) if home else None) / "tune"


def storage_path(home: str | Path | None) -> Path:
    return tune_dir(home) / STUDIES


def storage_url(home: str | Path | None) -> str:
    return f"sqlite:///{storage_path(home)}"


def job_dir(home: str | Path | None, job: str) -> Path:
    return tune_dir(home) / job


def _wal(path: Path) -> None:
    """Put the file in WAL mode (kept in the file); another process doing it at once may answer
    'locked' without waiting, so it is tried again."""
    for attempt in range(50):
        try:
            con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
            try:
                con.execute("PRAGMA journal_mode=WAL")
            finally:
                con.close()
            return
        except sqlite3.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.05 * (attempt + 1))


PG_SCHEMA = "synth_tune"  # the studies' tables in a PostgreSQL catalog's database
_PG_LOCK = 0x73796E74  # the advisory lock key under which the schema is created ("synt")


def _postgres_url() -> str | None:
    url = os.environ.get("SYNTH_CATALOG_URL") or ""
    if url.startswith(("postgresql://", "postgres://")):
        return url
    return None


def _open_postgres(url: str) -> Any:
    """The studies in schema ``synth_tune`` of the PostgreSQL catalog's own database (its
    tables apart from the catalog's)."""
    import optuna
    import psycopg

    rest = url.split("://", 1)[1]
    try:
        with psycopg.connect(url, autocommit=True) as db:
            # Two processes creating the schema or Optuna's tables at once collide (PostgreSQL's
            # IF NOT EXISTS is no lock): they take turns under an advisory lock.
            db.execute("SELECT pg_advisory_lock(%s)", (_PG_LOCK,))
            try:
                db.execute(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
                return optuna.storages.RDBStorage(
                    f"postgresql+psycopg://{rest}",
                    engine_kwargs={"connect_args": {"options": f"-c search_path={PG_SCHEMA}"}},
                )
            finally:
                db.execute("SELECT pg_advisory_unlock(%s)", (_PG_LOCK,))
    except psycopg.Error as err:
        from synth.catalog.urls import redact_url

        raise SynthError(
            f"SYNTH_CATALOG_URL={redact_url(url)}: cannot open the tuning schema ({err})"
        ) from None


def describe(home: str | Path | None) -> str:
    """Where the studies are, for people (a PostgreSQL URL without its password)."""
    url = _postgres_url()
    if url:
        from synth.catalog.urls import redact_url

        return f"{redact_url(url)} (schema {PG_SCHEMA})"
    return storage_url(home)


def open_storage(home: str | Path | None, create: bool = True) -> Any:
    """The Optuna storage of the data root's tuning jobs: the SQLite file under the data root,
    or, with a PostgreSQL catalog (``SYNTH_CATALOG_URL``), that database."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if url := _postgres_url():
        return _open_postgres(url)
    path = storage_path(home)
    if not path.exists():
        if not create:
            return None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SynthError(
                f"{path.parent}: cannot create the tuning folder ({err.strerror})"
            ) from None
    # Two processes opening a new file at once would both create Optuna's tables (one fails on
    # a duplicate schema version): opening takes turns.
    fd = os.open(path.parent / ".storage.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _wal(path)
        return optuna.storages.RDBStorage(
            storage_url(home),
            engine_kwargs={"connect_args": {"timeout": BUSY_TIMEOUT_S}},
        )
    finally:
        os.close(fd)


class StudyLock:
    """One thread at a time at a job's study (ask, report, tell)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


@contextlib.contextmanager
def job_lock(home: str | Path | None, job: str) -> Iterator[None]:
    """Held while a job runs: a second ``synth tune`` of the same job is a one-line error, and a
    trial found running when the lock is taken was left by a process that died."""
    folder = job_dir(home, job)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SynthError(
                f"tuning job '{job}' is running in another process (wait for it, or stop it)"
            ) from None
        yield
    finally:
        os.close(fd)
