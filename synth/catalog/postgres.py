"""A team catalog on PostgreSQL, with the same tables, records and semantics as the SQLite one.

Chosen with ``SYNTH_CATALOG_URL=postgresql://user:pass@host:port/db``. The schema version lives in
a ``schema_version`` table (one row per applied migration); migrations run in one transaction
under an advisory lock, so processes that start at once neither race nor migrate twice.
Text columns use the "C" collation so ids, names and dates sort byte by byte, as in SQLite,
whatever the database's locale, and so id prefixes can use the primary key's index.

The tables, queries and their behaviour are ``synth.catalog.sql``'s; this module connects and
says how PostgreSQL does what differs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar

import psycopg
import psycopg.errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from synth.catalog.pg_access import EXTRA_MIGRATIONS
from synth.catalog.rows import now
from synth.catalog.sql import SCHEMA_VERSION, Dialect, SqlCatalog, marks, translate
from synth.catalog.urls import redact_url
from synth.errors import AccessDenied, SynthError

__all__ = ["SCHEMA_VERSION", "PostgresCatalog", "PostgresDialect", "redact_url"]

# Held (per database) while migrating: pg_advisory_xact_lock takes one signed 64-bit key.
_MIGRATION_LOCK = 0x73796E7468_01  # "synth", 1

_CONNECT_TIMEOUT_S = 10  # libpq waits forever by default for a host that does not answer


def _one_line(err: BaseException, secret: str | None) -> str:
    """The first line of a driver error, whitespace collapsed and never showing the password."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    text = " ".join(lines[0].split()) if lines else type(err).__name__
    if secret and len(secret) >= 4:  # a shorter one would blot out ordinary words
        text = text.replace(secret, "***")
    return text


class PostgresDialect(Dialect):
    """PostgreSQL's placeholders, "C"-collated keys, ``ON CONFLICT DO NOTHING``, transactions,
    an advisory lock and a ``schema_version`` table for migrations, and one-line errors."""

    placeholder = "%s"
    types: ClassVar[Mapping[str, str]] = {
        "key": 'TEXT COLLATE "C"',
        "int64": "BIGINT",
        "json": "TEXT",
        "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    }
    enforces_access = True
    # jsonb's "has this string as an element" (?? is the operator's literal question mark), as
    # `licence in record.licences`, so a whole licence matches and never a substring
    licence_condition = "licences_json::jsonb ?? ?"
    role_query = "SELECT current_user AS role"

    def __init__(self, db: psycopg.Connection, where: str, secret: str | None) -> None:
        super().__init__(db, where)
        self._secret = secret
        self._has_version_table = False

    def extra_migration(self, version: int) -> list[str]:
        return EXTRA_MIGRATIONS.get(version, [])

    def whoami(self) -> str:
        return self.execute("SELECT current_user AS me").fetchone()["me"]

    def right_on(self, dataset_id: str) -> str | None:
        # A superuser or a role that bypasses row-level security reads and uses every row.
        row = self.execute(
            "SELECT r.rolsuper OR r.rolbypassrls AS bypass, synth_right(?, current_user) AS r "
            "FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
            (dataset_id,),
        ).fetchone()
        return "use" if row["bypass"] else row["r"]

    def role_exists(self, role: str) -> bool:
        found = self.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ?", (role,))
        return found.fetchone() is not None

    def executemany(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.db.cursor() as many:
            many.executemany(translate(text, self.placeholder), rows)

    def insert_new(self, table: str, columns: str, n: int) -> str:
        return f"INSERT INTO {table} ({columns}) VALUES ({marks(n)}) ON CONFLICT DO NOTHING"  # noqa: S608

    def transaction(self) -> AbstractContextManager[Any]:
        return self.db.transaction()

    @contextmanager
    def errors(self) -> Iterator[None]:
        """A lost connection or an unreachable server is a one-line error naming the catalog."""
        try:
            yield
        except psycopg.OperationalError as err:
            raise SynthError(
                f"{self.where}: catalog unavailable ({_one_line(err, self._secret)})"
            ) from None
        except psycopg.errors.InsufficientPrivilege as err:
            # No privilege on a table, or a row the policies of synth.catalog.pg_access refuse
            raise AccessDenied(
                f"{self.where}: not allowed ({_one_line(err, self._secret)})"
            ) from None

    def schema_version(self) -> int:
        # Every process that opens the catalog queues here; the first one migrates, the
        # others then find the current version. The lock ends with the transaction.
        self.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
        self._has_version_table = self.execute(
            "SELECT to_regclass('schema_version') IS NOT NULL AS exists"
        ).fetchone()["exists"]
        if not self._has_version_table:
            return 0
        version = self.execute("SELECT MAX(version) AS version FROM schema_version").fetchone()[
            "version"
        ]
        if version is None:  # an emptied table: start from the beginning
            return 0
        if not isinstance(version, int):  # e.g. an old Flyway table of the same name
            raise SynthError(
                f"{self.where}: cannot open the catalog (its schema_version table belongs "
                "to something else; give the catalog a database or schema of its own)"
            )
        return version

    def set_schema_version(self, version: int) -> None:
        if not self._has_version_table:
            self.execute(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)"
            )
            self._has_version_table = True
        self.execute(
            "INSERT INTO schema_version (version, applied) VALUES (?, ?)", (version, now())
        )


def connect(url: str, role: str | None = None) -> psycopg.Connection:
    """An autocommit connection to ``url`` whose rows read as mappings, acting as ``role``
    when given (``SET ROLE`` from the start); a one-line error naming the URL without its
    password."""
    secret: str | None = None
    try:
        params = conninfo_to_dict(url)
        secret = params.get("password") or None
        params.setdefault("connect_timeout", _CONNECT_TIMEOUT_S)
        params.setdefault("application_name", "synth")
        if role:
            params["options"] = f"{params.get('options', '')} -c role={role}".strip()
        return psycopg.connect(autocommit=True, row_factory=dict_row, **params)
    except psycopg.Error as err:
        raise SynthError(
            f"{redact_url(url)}: cannot open the catalog ({_one_line(err, secret)})"
        ) from None


class PostgresCatalog(SqlCatalog):
    """The catalog in a PostgreSQL database (its tables are created on first use); ``role``:
    act as that role (``synth catalog init-roles`` migrates as the tables' owner)."""

    def __init__(self, url: str, role: str | None = None) -> None:
        self.url = redact_url(url)  # what messages show
        try:
            secret = conninfo_to_dict(url).get("password") or None
        except psycopg.Error:
            secret = None  # connect names the bad URL
        db = connect(url, role)
        try:
            super().__init__(PostgresDialect(db, self.url, secret))
        except psycopg.errors.InsufficientPrivilege as err:
            db.close()  # a login role finding migrations to run: they are the owner's
            raise SynthError(
                f"{self.url}: cannot open the catalog ({_one_line(err, secret)}); its schema "
                f"needs migrating to version {SCHEMA_VERSION}, which its owner does: an "
                "administrator runs `synth catalog init-roles`"
            ) from None
        except psycopg.Error as err:
            # Not allowed to create tables, a clashing table of another application, ...
            db.close()
            raise SynthError(
                f"{self.url}: cannot open the catalog ({_one_line(err, secret)})"
            ) from None
        except BaseException:
            db.close()
            raise
