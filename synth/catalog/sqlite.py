"""The embedded SQLite catalog: WAL, a busy timeout, a schema version in ``PRAGMA user_version``.

The tables, queries and their behaviour are ``synth.catalog.sql``'s; this module connects and
says how SQLite does what differs.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from synth.catalog.sql import SCHEMA_VERSION, Dialect, SqlCatalog, marks
from synth.errors import NoCatalog, SynthError

__all__ = ["SCHEMA_VERSION", "SqliteCatalog", "SqliteDialect"]

_BUSY_TIMEOUT_MS = 30_000


class SqliteDialect(Dialect):
    """SQLite's column types, ``INSERT OR IGNORE``, ``BEGIN IMMEDIATE`` and ``user_version``."""

    types: ClassVar[Mapping[str, str]] = {
        "key": "TEXT",
        "int64": "INTEGER",
        "json": "TEXT",
        # the rowid: numbered in order of insertion (rows of the append-only audit never go)
        "serial": "INTEGER PRIMARY KEY",
    }

    def insert_new(self, table: str, columns: str, n: int) -> str:
        return f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks(n)})"  # noqa: S608

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock at once: a writer waits (busy timeout) at BEGIN rather
        # than failing when it later finds another writer holding the lock.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def set_schema_version(self, version: int) -> None:
        self.db.execute(f"PRAGMA user_version = {int(version)}")


def _wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, waiting for other processes as the busy timeout does. The switch needs the
    file to itself, and SQLite may answer "database is locked" at once, without calling its busy
    handler, while another process opens or migrates the same new catalog: retry until the busy
    timeout has passed."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


class SqliteCatalog(SqlCatalog):
    """The catalog in one SQLite file (created with its folder on first use)."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise NoCatalog(
                f"{self.path}: no catalog here: nothing has been built or imported under this "
                "data root (--home DIR or SYNTH_HOME picks another)"
            )
        try:
            # One user's catalog: a data root made here is the user's alone (0700)
            if not self.path.parent.exists():
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(self.path.parent, 0o700)  # whatever the umask
        except OSError as err:
            raise SynthError(
                f"{self.path.parent}: cannot create the data folder ({err.strerror or err})"
            ) from None
        if self.path.exists() and not self.path.is_file():
            raise SynthError(f"{self.path}: cannot open the catalog (not a file)")
        _create_private(self.path)
        try:
            db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as err:
            raise SynthError(f"{self.path}: cannot open the catalog ({err})") from None
        try:
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            _wal(db)
            db.execute("PRAGMA foreign_keys = ON")
            super().__init__(SqliteDialect(db, self.path))
        except sqlite3.DatabaseError as err:
            # A file that is not an SQLite database, a read-only folder, a full disk.
            db.close()
            raise SynthError(f"{self.path}: cannot open the catalog ({err})") from None
        except BaseException:
            db.close()
            raise


def _create_private(path: Path) -> None:
    """Create the catalog file readable and writable by its user alone (0600), before SQLite
    opens it (its -wal and -shm files take the same mode); an existing file is left as it is."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as err:
        raise SynthError(f"{path}: cannot create the catalog ({err.strerror or err})") from None
    os.close(fd)
