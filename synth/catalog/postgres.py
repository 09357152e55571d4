"""A team catalog on PostgreSQL, with the same tables, records and semantics as the SQLite one.

Chosen with ``SYNTH_CATALOG_URL=postgresql://user:pass@host:port/db``. The schema version lives in
a ``schema_version`` table (one row per applied migration); migrations run in one transaction
under an advisory lock, so processes that start at once neither race nor migrate twice.
Text columns use the "C" collation so ids, names and dates sort byte by byte, as in SQLite,
whatever the database's locale, and so id prefixes can use the primary key's index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from synth.catalog.base import DatasetRecord, id_prefix, list_filters, prefix_match
from synth.catalog.rows import DATASET_COLUMNS, INPUT_COLUMNS, dataset_row, input_rows, record
from synth.errors import SynthError

SCHEMA_VERSION = 1

# Held (per database) while migrating: pg_advisory_xact_lock takes one signed 64-bit key.
_MIGRATION_LOCK = 0x73796E7468_01  # "synth", 1

_MIGRATIONS = {
    1: """
    CREATE TABLE datasets (
        id TEXT COLLATE "C" PRIMARY KEY,
        fingerprint TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        kind TEXT COLLATE "C" NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL,
        created TEXT COLLATE "C" NOT NULL,
        count BIGINT NOT NULL,
        seed BIGINT NOT NULL,
        spec_json TEXT NOT NULL,
        code_version TEXT NOT NULL,
        statistics_json TEXT NOT NULL,
        trigger_type TEXT NOT NULL,
        trigger_json TEXT NOT NULL,
        flow_run_id TEXT,
        parent_id TEXT COLLATE "C" REFERENCES datasets(id),
        licences_json TEXT NOT NULL,
        personal_data INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX datasets_name ON datasets(name);
    CREATE INDEX datasets_fingerprint ON datasets(fingerprint);
    CREATE TABLE dataset_inputs (
        dataset_id TEXT COLLATE "C" NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        role TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        uri TEXT COLLATE "C" NOT NULL,
        sha256 TEXT NOT NULL,
        licence TEXT NOT NULL,
        attribution TEXT NOT NULL DEFAULT '',
        personal_data INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (dataset_id, role, uri)
    );
    CREATE TABLE builds (
        fingerprint TEXT COLLATE "C" PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL,
        started TEXT COLLATE "C" NOT NULL,
        finished TEXT,
        dataset_id TEXT,
        error TEXT
    );
    """,
}

_MAX_INTEGER = 2**63 - 1  # the same bound as SQLite's INTEGER (PostgreSQL's BIGINT)
_CONNECT_TIMEOUT_S = 10  # libpq waits forever by default for a host that does not answer


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def redact_url(url: str) -> str:
    """``url`` without its password (in the user part or a ``password=`` parameter)."""
    if "://" not in url:  # a libpq "key=value" string
        return re.sub(r"(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S*)\s*", "", url).strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("://", 1)[0] + "://…"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{hostport}" if user else hostport
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, v) for k, v in pairs if k.lower() != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _one_line(err: BaseException, secret: str | None) -> str:
    """The first line of a driver error, whitespace collapsed and never showing the password."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    text = " ".join(lines[0].split()) if lines else type(err).__name__
    if secret and len(secret) >= 4:  # a shorter one would blot out ordinary words
        text = text.replace(secret, "***")
    return text


class PostgresCatalog:
    """The catalog in a PostgreSQL database (its tables are created on first use)."""

    def __init__(self, url: str) -> None:
        self.url = redact_url(url)  # what messages show
        secret: str | None = None
        try:
            params = conninfo_to_dict(url)
            secret = params.get("password") or None
            params.setdefault("connect_timeout", _CONNECT_TIMEOUT_S)
            params.setdefault("application_name", "synth")
            self.db = psycopg.connect(autocommit=True, row_factory=dict_row, **params)
        except psycopg.Error as err:
            raise SynthError(
                f"{self.url}: cannot open the catalog ({_one_line(err, secret)})"
            ) from None
        self._secret = secret
        try:
            self._migrate()
        except psycopg.Error as err:
            # Not allowed to create tables, a clashing table of another application, ...
            self.db.close()
            raise SynthError(
                f"{self.url}: cannot open the catalog ({_one_line(err, secret)})"
            ) from None
        except BaseException:
            self.db.close()
            raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """A lost connection or an unreachable server is a one-line error naming the catalog."""
        try:
            yield
        except psycopg.OperationalError as err:
            raise SynthError(
                f"{self.url}: catalog unavailable ({_one_line(err, self._secret)})"
            ) from None

    def _migrate(self) -> None:
        with self.db.transaction():
            # Every process that opens the catalog queues here; the first one migrates, the
            # others then find the current version. The lock ends with the transaction.
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            exists = self.db.execute(
                "SELECT to_regclass('schema_version') IS NOT NULL AS exists"
            ).fetchone()["exists"]
            version = 0
            if exists:
                version = self.db.execute(
                    "SELECT MAX(version) AS version FROM schema_version"
                ).fetchone()["version"]
                if version is None:  # an emptied table: start from the beginning
                    version = 0
                if not isinstance(version, int):  # e.g. an old Flyway table of the same name
                    raise SynthError(
                        f"{self.url}: cannot open the catalog (its schema_version table belongs "
                        "to something else; give the catalog a database or schema of its own)"
                    )
            if version > SCHEMA_VERSION:
                raise SynthError(
                    f"{self.url}: catalog schema {version} is newer than this synth "
                    f"({SCHEMA_VERSION}); upgrade synth"
                )
            if version == SCHEMA_VERSION:
                return
            if not exists:
                self.db.execute(
                    "CREATE TABLE schema_version ("
                    "version INTEGER PRIMARY KEY, applied TEXT NOT NULL)"
                )
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[v].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(
                    "INSERT INTO schema_version (version, applied) VALUES (%s, %s)", (v, _now())
                )

    def close(self) -> None:
        self.db.close()

    # -- builds in progress ----------------------------------------------------------------------
    def start_build(self, fingerprint: str, name: str, kind: str, path: str) -> None:
        with self._errors():
            self.db.execute(
                "INSERT INTO builds (fingerprint, name, kind, path, status, started) "
                "VALUES (%s, %s, %s, %s, 'building', %s) ON CONFLICT (fingerprint) DO UPDATE SET "
                "status = CASE WHEN builds.status = 'complete' THEN 'complete' "
                "ELSE 'building' END, error = NULL",
                (fingerprint, name, kind, path, _now()),
            )

    def end_build(
        self, fingerprint: str, status: str, dataset_id: str | None = None, error: str | None = None
    ) -> None:
        with self._errors():
            self.db.execute(
                "UPDATE builds SET status = %s, finished = %s, "
                "dataset_id = COALESCE(%s, dataset_id), error = %s WHERE fingerprint = %s",
                (status, _now(), dataset_id, error, fingerprint),
            )

    def builds(self) -> list[dict[str, Any]]:
        with self._errors():
            return self.db.execute("SELECT * FROM builds ORDER BY started").fetchall()

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
        with self._errors(), self.db.transaction():
            # A concurrent insert of the same id waits for the other transaction, then does
            # nothing: exactly one caller sees created == True.
            cur = self.db.execute(
                f"INSERT INTO datasets ({DATASET_COLUMNS}) VALUES ({', '.join(['%s'] * 18)}) "  # noqa: S608
                "ON CONFLICT (id) DO NOTHING",
                dataset_row(info, path),
            )
            created = cur.rowcount == 1
            rows = input_rows(info)
            if created and rows:
                with self.db.cursor() as many:
                    many.executemany(
                        f"INSERT INTO dataset_inputs ({INPUT_COLUMNS}) "  # noqa: S608
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        rows,
                    )
        return self.get(info["id"]), created

    def _records(self, rows: list[dict[str, Any]]) -> list[DatasetRecord]:
        """Records for dataset rows, their inputs read in one query."""
        inputs: dict[str, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
        if rows:
            for r in self.db.execute(
                "SELECT dataset_id, role, name, uri, sha256, licence, attribution, personal_data "
                "FROM dataset_inputs WHERE dataset_id = ANY(%s) ORDER BY role, name",
                ([r["id"] for r in rows],),
            ):
                dataset_id = r.pop("dataset_id")
                inputs[dataset_id].append(r)
        return [record(row, inputs[row["id"]]) for row in rows]

    def get(self, ref: str) -> DatasetRecord:
        """A version by full id or unique id prefix (at least 4 hex digits)."""
        ref = id_prefix(ref)
        pattern = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._errors():
            rows = self.db.execute(
                "SELECT * FROM datasets WHERE id LIKE %s ORDER BY id LIMIT 6", (pattern,)
            ).fetchall()
            return self._records([prefix_match(ref, rows, self.url)])[0]

    def list(
        self, kind: str | None = None, name: str | None = None, licence: str | None = None
    ) -> list[DatasetRecord]:
        query, args = list_filters(kind, name, "%s")
        if licence:
            # membership of a string in the JSON list, as `licence in record.licences`
            query += " AND licences_json::jsonb ? %s"
            args.append(licence)
        query += " ORDER BY created, id"
        with self._errors():
            return self._records(self.db.execute(query, args).fetchall())
