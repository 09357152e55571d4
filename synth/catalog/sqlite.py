"""The embedded SQLite catalog: WAL, a busy timeout, a schema version in ``PRAGMA user_version``."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth.catalog.base import DatasetRecord, id_prefix, list_filters, prefix_match
from synth.catalog.rows import DATASET_COLUMNS, INPUT_COLUMNS, dataset_row, input_rows, record
from synth.errors import NoCatalog, SynthError

SCHEMA_VERSION = 1

_MIGRATIONS = {
    1: """
    CREATE TABLE datasets (
        id TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL,
        created TEXT NOT NULL,
        count INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        spec_json TEXT NOT NULL,
        code_version TEXT NOT NULL,
        statistics_json TEXT NOT NULL,
        trigger_type TEXT NOT NULL,
        trigger_json TEXT NOT NULL,
        flow_run_id TEXT,
        parent_id TEXT REFERENCES datasets(id),
        licences_json TEXT NOT NULL,
        personal_data INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX datasets_name ON datasets(name);
    CREATE INDEX datasets_fingerprint ON datasets(fingerprint);
    CREATE TABLE dataset_inputs (
        dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        name TEXT NOT NULL,
        uri TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        licence TEXT NOT NULL,
        attribution TEXT NOT NULL DEFAULT '',
        personal_data INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (dataset_id, role, uri)
    );
    CREATE TABLE builds (
        fingerprint TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT,
        dataset_id TEXT,
        error TEXT
    );
    """,
}

_BUSY_TIMEOUT_MS = 30_000
_MAX_INTEGER = 2**63 - 1  # SQLite's INTEGER is a signed 64-bit number


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SqliteCatalog:
    """The catalog in one SQLite file (created with its folder on first use)."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise NoCatalog(
                f"{self.path}: no catalog here: nothing has been built or imported under this "
                "data root (--home DIR or SYNTH_HOME picks another)"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SynthError(
                f"{self.path.parent}: cannot create the data folder ({err.strerror or err})"
            ) from None
        if self.path.exists() and not self.path.is_file():
            raise SynthError(f"{self.path}: cannot open the catalog (not a file)")
        try:
            self.db = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except sqlite3.Error as err:
            raise SynthError(f"{self.path}: cannot open the catalog ({err})") from None
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as err:
            # A file that is not an SQLite database, a read-only folder, a full disk.
            self.db.close()
            raise SynthError(f"{self.path}: cannot open the catalog ({err})") from None
        except BaseException:
            self.db.close()
            raise

    def _migrate(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SynthError(
                    f"{self.path}: catalog schema {version} is newer than this synth "
                    f"({SCHEMA_VERSION}); upgrade synth"
                )
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[v].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {v}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()

    # -- builds in progress ----------------------------------------------------------------------
    def start_build(self, fingerprint: str, name: str, kind: str, path: str) -> None:
        self.db.execute(
            "INSERT INTO builds (fingerprint, name, kind, path, status, started) "
            "VALUES (?, ?, ?, ?, 'building', ?) ON CONFLICT(fingerprint) DO UPDATE SET "
            "status = CASE WHEN builds.status = 'complete' THEN 'complete' ELSE 'building' END, "
            "error = NULL",
            (fingerprint, name, kind, path, _now()),
        )

    def end_build(
        self, fingerprint: str, status: str, dataset_id: str | None = None, error: str | None = None
    ) -> None:
        self.db.execute(
            "UPDATE builds SET status = ?, finished = ?, dataset_id = COALESCE(?, dataset_id), "
            "error = ? WHERE fingerprint = ?",
            (status, _now(), dataset_id, error, fingerprint),
        )

    def builds(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM builds ORDER BY started").fetchall()
        return [dict(r) for r in rows]

    # -- dataset versions ------------------------------------------------------------------------
    def register(self, info: dict[str, Any], path: str) -> tuple[DatasetRecord, bool]:
        """Record a complete dataset version from its ``dataset.json`` content."""
        for key in ("count", "seed"):
            value = info[key]
            if not isinstance(value, int) or not 0 <= value <= _MAX_INTEGER:
                raise SynthError(
                    f"{key}: {value!r} cannot be stored in the catalog "
                    f"(expected a whole number from 0 to {_MAX_INTEGER})"
                )
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.db.execute(
                f"INSERT INTO datasets ({DATASET_COLUMNS}) VALUES ({', '.join('?' * 18)}) "  # noqa: S608
                "ON CONFLICT(id) DO NOTHING",
                dataset_row(info, path),
            )
            created = cur.rowcount == 1
            if created:
                self.db.executemany(
                    f"INSERT OR IGNORE INTO dataset_inputs ({INPUT_COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    input_rows(info),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self.get(info["id"]), created

    def _record(self, row: sqlite3.Row) -> DatasetRecord:
        inputs = self.db.execute(
            "SELECT role, name, uri, sha256, licence, attribution, personal_data "
            "FROM dataset_inputs WHERE dataset_id = ? ORDER BY role, name",
            (row["id"],),
        ).fetchall()
        return record(row, inputs)

    def get(self, ref: str) -> DatasetRecord:
        """A version by full id or unique id prefix (at least 4 hex digits)."""
        ref = id_prefix(ref)
        rows = self.db.execute(
            "SELECT * FROM datasets WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
            (ref, ref + "\U0010ffff"),
        ).fetchall()
        return self._record(prefix_match(ref, rows, self.path))

    def list(
        self, kind: str | None = None, name: str | None = None, licence: str | None = None
    ) -> list[DatasetRecord]:
        query, args = list_filters(kind, name, "?")
        query += " ORDER BY created, id"
        records = [self._record(r) for r in self.db.execute(query, args).fetchall()]
        if licence:
            records = [r for r in records if licence in r.licences]
        return records
