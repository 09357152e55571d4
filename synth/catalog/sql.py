"""The catalog in SQL, written once for every database: its tables and their migrations,
registration, look-ups and build tracking.

Statements use ``?`` placeholders (``??`` stands for a literal question mark, such as
PostgreSQL's jsonb operator), and the schema names its column types ``{key}``, ``{int64}`` and
``{json}``. A :class:`Dialect` turns them into its database's form and supplies what differs:
the driver's placeholder, the column types, "insert unless present", transactions and their
locks, where the schema version is kept, and how driver errors read. A new table or query is
written here once and runs on every backend.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar

from synth.catalog.access import RIGHTS, inherited, requested_level, source_ids
from synth.catalog.base import DatasetRecord, id_prefix, prefix_match
from synth.catalog.retention import RetentionSql
from synth.catalog.rows import DATASET_COLUMNS, INPUT_COLUMNS, dataset_row, input_rows, now, record
from synth.catalog.runs import RUNS_MIGRATION, RUNS_OWNER_MIGRATION, RunsMixin
from synth.errors import AccessDenied, NotFound, SynthError

# Each version's statements, applied in order in one transaction. Existing catalogs hold exactly
# these tables, so a released version's text never changes: a change is a new version.
# {key}: text compared byte by byte whatever the locale (ids, names, ISO-8601 UTC times), so it
# sorts as in Python and id prefixes can use the index; {int64}: a signed 64-bit integer; {json}:
# a JSON document kept as the text it was written as; {serial}: an integer primary key the database
# numbers in order of insertion.
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE datasets (
        id {key} PRIMARY KEY,
        fingerprint {key} NOT NULL,
        name {key} NOT NULL,
        kind {key} NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL,
        created {key} NOT NULL,
        count {int64} NOT NULL,
        seed {int64} NOT NULL,
        spec_json {json} NOT NULL,
        code_version TEXT NOT NULL,
        statistics_json {json} NOT NULL,
        trigger_type TEXT NOT NULL,
        trigger_json {json} NOT NULL,
        flow_run_id TEXT,
        parent_id {key} REFERENCES datasets(id),
        licences_json {json} NOT NULL,
        personal_data INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX datasets_name ON datasets(name);
    CREATE INDEX datasets_fingerprint ON datasets(fingerprint);
    CREATE TABLE dataset_inputs (
        dataset_id {key} NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        role {key} NOT NULL,
        name {key} NOT NULL,
        uri {key} NOT NULL,
        sha256 TEXT NOT NULL,
        licence TEXT NOT NULL,
        attribution TEXT NOT NULL DEFAULT '',
        personal_data INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (dataset_id, role, uri)
    );
    CREATE TABLE builds (
        fingerprint {key} PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL,
        started {key} NOT NULL,
        finished TEXT,
        dataset_id TEXT,
        error TEXT
    );
    """,
    2: RUNS_MIGRATION,  # training runs: synth.catalog.runs
    # 3: retention. A deleted dataset's tombstone: what it was (id, name, kind, path, its
    # parent, inputs and licences) so that the lineage of what was built from it still names
    # it, and who deleted it (the OS user; on PostgreSQL also the database role), when and why.
    # Keyed by (id, deleted): a version rebuilt and deleted again gets a second tombstone.
    # owner and access: the record's, where the catalog keeps them (access rights), so a tombstone
    # of a restricted dataset can be kept from those who could not read the dataset.
    3: """
    CREATE TABLE tombstones (
        id {key} NOT NULL,
        deleted {key} NOT NULL,
        name {key} NOT NULL,
        kind {key} NOT NULL,
        path TEXT NOT NULL,
        created {key} NOT NULL,
        count {int64} NOT NULL,
        trigger_type TEXT NOT NULL,
        parent_id {key},
        licences_json {json} NOT NULL,
        personal_data INTEGER NOT NULL DEFAULT 0,
        inputs_json {json} NOT NULL,
        deleted_by TEXT NOT NULL,
        deleted_role TEXT,
        reason TEXT NOT NULL,
        files TEXT NOT NULL,
        owner {key} NOT NULL DEFAULT '',
        access {key} NOT NULL DEFAULT 'team',
        PRIMARY KEY (id, deleted)
    );
    CREATE INDEX tombstones_parent ON tombstones(parent_id);
    """,
    # Access rights and the audit trail (synth.catalog.access; docs/access.md). The columns and
    # tables are on every backend; PostgreSQL adds its row-level security policies to them
    # (Dialect.extra_migration, synth.catalog.pg_access). Rows from before keep the level team
    # and no owner.
    4: """
    ALTER TABLE datasets ADD COLUMN owner {key} NOT NULL DEFAULT '';
    ALTER TABLE datasets ADD COLUMN access {key} NOT NULL DEFAULT 'team'
        CHECK (access IN ('team', 'restricted', 'private'));
    ALTER TABLE builds ADD COLUMN owner {key} NOT NULL DEFAULT '';
    CREATE TABLE grants (
        dataset_id {key} NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        role {key} NOT NULL,
        access_right {key} NOT NULL CHECK (access_right IN ('read', 'use')),
        granted_by {key} NOT NULL,
        granted {key} NOT NULL,
        PRIMARY KEY (dataset_id, role)
    );
    CREATE TABLE audit (
        id {serial},
        time {key} NOT NULL,
        role {key} NOT NULL,
        action {key} NOT NULL,
        dataset_id {key},
        detail_json {json} NOT NULL
    );
    CREATE INDEX audit_dataset ON audit(dataset_id, id);
    """,
    5: RUNS_OWNER_MIGRATION,  # a run's owner: runs are as visible as the datasets they used
}

SCHEMA_VERSION = max(MIGRATIONS)

MAX_INTEGER = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's BIGINT are signed 64-bit numbers
_IN_CHUNK = 500  # ids per IN (...) list, far below either database's limit on parameters


def migration(version: int, types: Mapping[str, str]) -> list[str]:
    """The statements of schema ``version`` with a dialect's column ``types``."""
    text = MIGRATIONS[version].format_map(types)
    return [s for s in text.split(";") if s.strip()]


def marks(n: int) -> str:
    """``n`` placeholders for a VALUES or IN list."""
    return ", ".join(["?"] * n)


_TOKENS = re.compile(r"'(?:[^']|'')*'|\?\?|\?")


@functools.cache
def translate(text: str, placeholder: str) -> str:
    """``text`` with its ``?`` placeholders as ``placeholder`` and ``??`` as ``?``; quoted
    literals stay as they are. For ``%s`` (psycopg) a literal ``%`` is doubled."""
    if placeholder == "%s":
        text = text.replace("%", "%%")

    def one(match: re.Match[str]) -> str:
        part = match.group()
        if part == "??":
            return "?"
        return placeholder if part == "?" else part

    return _TOKENS.sub(one, text)


class Dialect(ABC):
    """One database's connection and its way of saying what the catalog's SQL says."""

    placeholder: ClassVar[str] = "?"
    types: ClassVar[Mapping[str, str]]  # the schema's {key}, {int64}, {json} and {serial}
    # Whether the database itself keeps a role from what it may not read (row-level security);
    # where it does not (SQLite, one user), the access columns are kept but not enforced.
    enforces_access: ClassVar[bool] = False
    # A condition, in this module's ``?`` style, that a row's licences_json holds the licence
    # given; None: ``list`` keeps the records whose licences hold it after reading them.
    licence_condition: ClassVar[str | None] = None
    # A query of one row whose ``role`` is the database role acting; None: no roles (SQLite).
    role_query: ClassVar[str | None] = None

    def __init__(self, db: Any, where: object) -> None:
        self.db = db  # a DB-API connection whose rows read as mappings
        self.where = where  # what messages name: the file, or the URL without its password

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement written in this module's style; the driver's cursor."""
        return self.db.execute(translate(text, self.placeholder), params)

    def executemany(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.executemany(translate(text, self.placeholder), rows)

    @abstractmethod
    def insert_new(self, table: str, columns: str, n: int) -> str:
        """An INSERT of ``n`` values that does nothing for a row already there."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """A write transaction, holding the write lock from its start so that writers queue
        rather than deadlock; committed at the end, rolled back on any exception."""

    def errors(self) -> AbstractContextManager[Any]:
        """Where driver errors of a catalog in use become one-line errors (here: none do)."""
        return nullcontext()

    @abstractmethod
    def schema_version(self) -> int:
        """The schema version applied (0: none yet), read inside the migration transaction
        after waiting for any other process migrating the same catalog."""

    @abstractmethod
    def set_schema_version(self, version: int) -> None:
        """Record ``version`` as applied, inside the migration transaction."""

    def extra_migration(self, version: int) -> list[str]:
        """Statements of this database alone for schema ``version``, run after the shared
        ones in the same transaction (PostgreSQL's row-level security policies)."""
        return []

    def whoami(self) -> str:
        """The acting role: here the OS user (the catalog has one user), or its uid where the
        system names none (a container without a passwd entry)."""
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return str(os.getuid())

    def right_on(self, dataset_id: str) -> str | None:
        """The right the acting role holds on a dataset it can read (here: always use)."""
        return "use"

    def role_exists(self, role: str) -> bool:
        """Whether ``role`` names a role the database knows (here: any name does)."""
        return True

    def close(self) -> None:
        self.db.close()


class SqlCatalog(RunsMixin, RetentionSql):
    """The catalog over a :class:`Dialect`: a backend connects, then hands its dialect here,
    which brings the schema up to date."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.db = dialect.db
        self._migrate()

    def _migrate(self) -> None:
        d = self.dialect
        with d.transaction():
            version = d.schema_version()
            if version > SCHEMA_VERSION:
                raise SynthError(
                    f"{d.where}: catalog schema {version} is newer than this synth "
                    f"({SCHEMA_VERSION}); upgrade synth"
                )
            for v in sorted(v for v in MIGRATIONS if v > version):
                for statement in migration(v, d.types):
                    d.execute(statement)
                for statement in d.extra_migration(v):
                    d.execute(statement)
                d.set_schema_version(v)

    def close(self) -> None:
        self.dialect.close()

    # -- builds in progress ----------------------------------------------------------------------
    def start_build(self, fingerprint: str, name: str, kind: str, path: str) -> None:
        # Another role may track a build of this very fingerprint, whose row the policies keep
        # from this role: this build then runs untracked (its dataset is registered all the
        # same, and end_build changes no row).
        with contextlib.suppress(AccessDenied):
            self._start_build(fingerprint, name, kind, path)

    def _start_build(self, fingerprint: str, name: str, kind: str, path: str) -> None:
        with self.dialect.errors():
            self.dialect.execute(
                "INSERT INTO builds (fingerprint, name, kind, path, status, started, owner) "
                "VALUES (?, ?, ?, ?, 'building', ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET "
                "status = CASE WHEN builds.status = 'complete' THEN 'complete' "
                "ELSE 'building' END, error = NULL",
                (fingerprint, name, kind, path, now(), self.whoami()),
            )

    def end_build(
        self, fingerprint: str, status: str, dataset_id: str | None = None, error: str | None = None
    ) -> None:
        with self.dialect.errors():
            self.dialect.execute(
                "UPDATE builds SET status = ?, finished = ?, dataset_id = COALESCE(?, dataset_id), "
                "error = ? WHERE fingerprint = ?",
                (status, now(), dataset_id, error, fingerprint),
            )

    def builds(self) -> list[dict[str, Any]]:
        with self.dialect.errors():
            rows = self.dialect.execute("SELECT * FROM builds ORDER BY started").fetchall()
        return [dict(r) for r in rows]

    # -- dataset versions ------------------------------------------------------------------------
    def register(self, info: dict[str, Any], path: str) -> tuple[DatasetRecord, bool]:
        """Record a complete dataset version from its ``dataset.json`` content."""
        for key in ("count", "seed"):
            value = info[key]
            if not isinstance(value, int) or not 0 <= value <= MAX_INTEGER:
                raise SynthError(
                    f"{key}: {value!r} cannot be stored in the catalog "
                    f"(expected a whole number from 0 to {MAX_INTEGER})"
                )
        d = self.dialect
        with d.errors():
            owner = self.whoami()
            sources = [a for a in map(self._access_of, source_ids(info)) if a is not None]
            personal = any(i.get("personal_data") for i in info.get("inputs", []))
            level, grants = inherited(requested_level(info), personal, owner, sources)
        with d.errors(), d.transaction():
            self._check_parent_live(info)
            # A concurrent insert of the same id waits for the other transaction, then does
            # nothing: exactly one caller sees created == True.
            cur = d.execute(
                f"INSERT INTO datasets ({DATASET_COLUMNS}, owner, access) "  # noqa: S608
                f"VALUES ({marks(20)}) ON CONFLICT (id) DO NOTHING",
                (*dataset_row(info, path), owner, level),
            )
            created = cur.rowcount == 1
            rows = input_rows(info)
            if created and rows:
                d.executemany(d.insert_new("dataset_inputs", INPUT_COLUMNS, 8), rows)
            if created and grants:
                stamp = now()
                d.executemany(
                    "INSERT INTO grants (dataset_id, role, access_right, granted_by, granted) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(info["id"], r, right, owner, stamp) for r, right in sorted(grants.items())],
                )
            if created:
                detail = {"name": info["name"], "kind": info["kind"], "access": level}
                if sources:
                    detail["from"] = [s["id"] for s in sources]
                self._append_audit("register", info["id"], detail)
        try:
            return self.get(info["id"]), created
        except NotFound:
            if d.enforces_access:  # the same content registered before by a role that keeps it
                raise AccessDenied(
                    f"dataset {info['id'][:12]}: this content is in the catalog already, "
                    f"registered by a role that has not given {owner} the 'read' right"
                ) from None
            raise

    def _access_of(self, dataset_id: str) -> dict[str, Any] | None:
        """A source dataset's id, owner, level and grants (None: not in the catalog, or not
        readable by the acting role)."""
        row = self.dialect.execute(
            "SELECT id, owner, access FROM datasets WHERE id = ?", (dataset_id,)
        ).fetchone()
        if row is None:
            return None
        found = self.dialect.execute(
            "SELECT role, access_right FROM grants WHERE dataset_id = ?", (dataset_id,)
        ).fetchall()
        grants = [{"role": g["role"], "right": g["access_right"]} for g in found]
        return {"id": row["id"], "owner": row["owner"], "access": row["access"], "grants": grants}

    def _records(self, rows: Sequence[Mapping[str, Any]]) -> list[DatasetRecord]:
        """Records for ``datasets`` rows, their inputs read a few hundred datasets at a time."""
        inputs: dict[str, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
        grants: dict[str, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
        ids = list(inputs)
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            found = self.dialect.execute(
                "SELECT dataset_id, role, name, uri, sha256, licence, attribution, personal_data "  # noqa: S608
                f"FROM dataset_inputs WHERE dataset_id IN ({marks(len(chunk))}) "
                "ORDER BY role, name, uri",
                chunk,
            ).fetchall()
            for row in found:
                entry = dict(row)
                inputs[entry.pop("dataset_id")].append(entry)
            for row in self.dialect.execute(
                "SELECT dataset_id, role, access_right, granted_by, granted FROM grants "  # noqa: S608
                f"WHERE dataset_id IN ({marks(len(chunk))}) ORDER BY role",
                chunk,
            ).fetchall():
                grants[row["dataset_id"]].append(
                    {
                        "role": row["role"],
                        "right": row["access_right"],
                        "by": row["granted_by"],
                        "time": row["granted"],
                    }
                )
        return [record(row, inputs[row["id"]], grants[row["id"]]) for row in rows]

    def get(self, ref: str) -> DatasetRecord:
        """A version by full id or unique id prefix (at least 4 hex digits)."""
        ref = id_prefix(ref)
        with self.dialect.errors():
            # The ids that start with ref are the first ones from ref on, in byte order.
            rows = self.dialect.execute(
                "SELECT * FROM datasets WHERE id >= ? ORDER BY id LIMIT 6", (ref,)
            ).fetchall()
            rows = [r for r in rows if r["id"].startswith(ref)]
            if not rows:
                self._raise_if_deleted(ref)
            return self._records([prefix_match(ref, rows, self.dialect.where)])[0]

    def list(
        self, kind: str | None = None, name: str | None = None, licence: str | None = None
    ) -> list[DatasetRecord]:
        d = self.dialect
        query, args = "SELECT * FROM datasets WHERE 1 = 1", []
        if kind:
            query += " AND kind = ?"
            args.append(kind)
        if name:
            query += " AND name = ?"
            args.append(name)
        if licence and d.licence_condition:
            query += f" AND {d.licence_condition}"
            args.append(licence)
        query += " ORDER BY created, id"
        with d.errors():
            records = self._records(d.execute(query, args).fetchall())
        if licence and not d.licence_condition:
            records = [r for r in records if licence in r.licences]
        return records

    # -- access rights and the audit trail (synth.catalog.access) ------------------------------
    def whoami(self) -> str:
        """The acting role: the database role on PostgreSQL, the OS user on SQLite."""
        if not hasattr(self, "_whoami"):
            with self.dialect.errors():
                self._whoami = self.dialect.whoami()
        return self._whoami

    def require(self, dataset_id: str, right: str) -> None:
        """Raise ``AccessDenied``, one line naming the dataset and the right, unless the acting
        role holds ``right`` ("read" or "use") on the dataset. Where the database does not
        enforce access (SQLite), holding the record is enough."""
        if right not in RIGHTS:
            raise ValueError(f"right must be one of {RIGHTS}, not {right!r}")
        d = self.dialect
        try:
            rec = self.get(dataset_id)
        except NotFound as err:
            if d.enforces_access and "no such dataset" in str(err):
                raise AccessDenied(
                    f"dataset '{id_prefix(dataset_id)}': not in {d.where}, or {self.whoami()} "
                    f"may not read it (the '{right}' right is needed)"
                ) from None
            raise
        if not d.enforces_access:
            return
        with d.errors():
            have = d.right_on(rec.id)
        if have is None or RIGHTS.index(have) < RIGHTS.index(right):
            held = f"only the '{have}' right" if have else "no right"
            raise AccessDenied(
                f"dataset {rec.id[:12]} ({rec.name}): {self.whoami()} has {held} on it and "
                f"needs '{right}' (it is {rec.access}, owned by {rec.owner or 'nobody'}; its owner "
                f"can give it with `synth datasets grant {rec.id[:12]} {self.whoami()} --{right}`)"
            )

    def _check_owner(self, rec: DatasetRecord, what: str) -> None:
        """Only a dataset's owner may change who may do what with it (where enforced)."""
        me = self.whoami()
        if self.dialect.enforces_access and rec.owner != me:
            raise AccessDenied(
                f"dataset {rec.id[:12]}: only its owner ({rec.owner or 'nobody'}) may {what}; "
                f"{me} is not"
            )

    def grant(self, ref: str, role: str, right: str) -> DatasetRecord:
        """Give ``role`` the ``right`` ("read" or "use") on a ``restricted`` dataset (the
        owner only); a role's earlier grant on it is replaced."""
        if right not in RIGHTS:
            raise SynthError(f"right '{right}': expected one of {', '.join(RIGHTS)}")
        rec = self.get(ref)
        self._check_owner(rec, "grant rights on it")
        if rec.access != "restricted":
            reach = "only its owner" if rec.access == "private" else "every catalog user"
            raise SynthError(
                f"dataset {rec.id[:12]} is {rec.access} ({reach} may use it): a grant applies to "
                f"a restricted dataset; `synth datasets access {rec.id[:12]} restricted` first"
            )
        d = self.dialect
        with d.errors():
            if not d.role_exists(role):
                raise SynthError(f"role '{role}': no such role in {d.where}")
            with d.transaction():
                d.execute(
                    "INSERT INTO grants (dataset_id, role, access_right, granted_by, granted) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (dataset_id, role) DO UPDATE SET "
                    "access_right = excluded.access_right, granted_by = excluded.granted_by, "
                    "granted = excluded.granted",
                    (rec.id, role, right, self.whoami(), now()),
                )
                self._append_audit("grant", rec.id, {"role": role, "right": right})
        return self.get(rec.id)

    def revoke(self, ref: str, role: str) -> DatasetRecord:
        """Take back ``role``'s grant on a dataset (the owner only). Datasets already built
        from it keep the grants they inherited."""
        rec = self.get(ref)
        self._check_owner(rec, "revoke rights on it")
        d = self.dialect
        with d.errors(), d.transaction():
            cur = d.execute("DELETE FROM grants WHERE dataset_id = ? AND role = ?", (rec.id, role))
            if cur.rowcount == 0:
                raise NotFound(f"dataset {rec.id[:12]}: role '{role}' holds no grant on it")
            self._append_audit("revoke", rec.id, {"role": role})
        return self.get(rec.id)

    def set_access(self, ref: str, level: str) -> DatasetRecord:
        """Change a dataset's level (the owner only); its grants stay, and count while it is
        restricted."""
        from synth.catalog.access import check_level

        check_level(level, "level")
        rec = self.get(ref)
        self._check_owner(rec, "change its level")
        d = self.dialect
        with d.errors(), d.transaction():
            d.execute("UPDATE datasets SET access = ? WHERE id = ?", (level, rec.id))
            self._append_audit("access", rec.id, {"from": rec.access, "to": level})
        return self.get(rec.id)

    def _append_audit(self, action: str, dataset_id: str | None, detail: dict[str, Any]) -> None:
        self.dialect.execute(
            "INSERT INTO audit (time, role, action, dataset_id, detail_json) "
            "VALUES (?, ?, ?, ?, ?)",
            (now(), self.whoami(), action, dataset_id, json.dumps(detail, sort_keys=True)),
        )

    def audit(self, action: str, dataset_id: str | None, detail: dict[str, Any]) -> None:
        """Append one row to the audit trail: the acting role (the OS user on SQLite), the
        time, ``action``, the dataset and ``detail``. On PostgreSQL the database stamps the role
        and time itself, and no role but the table owner may change a row."""
        with self.dialect.errors():
            self._append_audit(action, dataset_id, detail)

    def audit_log(self, ref: str | None = None) -> list[dict[str, Any]]:
        """The audit rows the acting role may read, oldest first: all of them, or those of the
        dataset whose id is or starts with ``ref``."""
        query, args = "SELECT * FROM audit", []
        if ref:
            prefix = id_prefix(ref)
            query += " WHERE substr(dataset_id, 1, ?) = ?"
            args = [len(prefix), prefix]
        with self.dialect.errors():
            rows = self.dialect.execute(query + " ORDER BY id", args).fetchall()
        return [
            {
                "id": r["id"],
                "time": r["time"],
                "role": r["role"],
                "action": r["action"],
                "dataset_id": r["dataset_id"],
                "detail": json.loads(r["detail_json"]),
            }
            for r in rows
        ]
