"""Tombstones and lineage links in SQL, for deletion and ``where-used``: written once, in
``synth.catalog.sql``'s style (``?`` placeholders, run through the backend's dialect).

``RetentionSql`` is a part of ``SqlCatalog``: it reads ``self.dialect``. The table is schema
version 4 (``tombstones``). Deleting is one transaction: the check that nothing outside the set
was built from it, the tombstones and the removal of the records (their inputs go with them).
The files are the caller's (``synth.engine.retention``), before and after that transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from synth.catalog.base import DATASET_INPUT, DatasetRecord, Link, Tombstone, id_prefix
from synth.catalog.rows import now
from synth.errors import Deleted, SynthError

TOMBSTONE_COLUMNS = (
    "id, deleted, name, kind, path, created, count, trigger_type, parent_id, licences_json, "
    "personal_data, inputs_json, deleted_by, deleted_role, reason, files, owner, access"
)
_IN_CHUNK = 500  # values per IN (...) list, far below either database's limit on parameters


def marks(n: int) -> str:
    return ", ".join(["?"] * n)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


class RetentionSql:
    """Tombstones, the links between datasets and input look-ups (a part of ``SqlCatalog``)."""

    dialect: Any  # synth.catalog.sql.Dialect

    def db_role(self) -> str | None:
        """The database role this catalog acts as (None where there are none: SQLite)."""
        query = getattr(self.dialect, "role_query", None)
        if not query:
            return None
        with self.dialect.errors():
            return self.dialect.execute(query).fetchone()["role"]

    def tombstones(self, ids: Sequence[str] | None = None) -> dict[str, Tombstone]:
        """The newest tombstone of each deleted id (of ``ids``; None: all)."""
        rows: list[Any] = []
        with self.dialect.errors():
            if ids is None:
                rows = self.dialect.execute(
                    "SELECT * FROM tombstones ORDER BY id, deleted"
                ).fetchall()
            else:
                for chunk in _chunks(list(ids)):
                    rows += self.dialect.execute(
                        f"SELECT * FROM tombstones WHERE id IN ({marks(len(chunk))}) "  # noqa: S608
                        "ORDER BY id, deleted",
                        chunk,
                    ).fetchall()
        return {t.id: t for t in map(Tombstone.from_row, rows)}  # the newest one wins

    def tombstone(self, ref: str) -> Tombstone | None:
        """The newest tombstone of the id ``ref`` names (full or a prefix), if exactly one id."""
        ref = id_prefix(ref)
        with self.dialect.errors():
            rows = self.dialect.execute(
                "SELECT * FROM tombstones WHERE id >= ? ORDER BY id, deleted LIMIT 50", (ref,)
            ).fetchall()
        found = [Tombstone.from_row(r) for r in rows if r["id"].startswith(ref)]
        if len({t.id for t in found}) != 1:
            return None
        return found[-1]

    def _raise_if_deleted(self, ref: str) -> None:
        """Called by ``get`` when no live record matches: a tombstone's one line, if any."""
        gone = self.tombstone(ref)
        if gone is not None:
            raise Deleted(f"dataset {gone.id[:12]} ({gone.name}) was {gone.summary()}")

    def _check_parent_live(self, info: dict[str, Any]) -> None:
        """In ``register``'s transaction: an expansion whose parent was deleted while it was
        built is a one-line error naming the tombstone, not a foreign-key failure."""
        parent = (info.get("parent") or {}).get("id")
        if not parent:
            return
        found = self.dialect.execute("SELECT id FROM datasets WHERE id = ?", (parent,)).fetchone()
        if found is None and (gone := self.tombstone(parent)) is not None:
            raise Deleted(
                f"dataset {info['id'][:12]}: its parent {gone.id[:12]} ({gone.name}) was "
                f"{gone.summary()} while it was built; not registered"
            )

    def links(self) -> list[Link]:
        """Every lineage edge between live datasets: expansions (parent) and dataset inputs."""
        with self.dialect.errors():
            parents = self.dialect.execute(
                "SELECT id, parent_id FROM datasets WHERE parent_id IS NOT NULL ORDER BY id"
            ).fetchall()
            inputs = self.dialect.execute(
                "SELECT dataset_id, role, uri FROM dataset_inputs "
                "WHERE substr(uri, 1, 8) = 'dataset:' ORDER BY dataset_id, role, uri"
            ).fetchall()
        return [Link(r["id"], r["parent_id"], "parent") for r in parents] + [
            Link(r["dataset_id"], r["uri"][len(DATASET_INPUT) :], "input", r["role"])
            for r in inputs
        ]

    def children(self, ids: Sequence[str]) -> list[Link]:
        """The live datasets built directly from any of ``ids`` (by parent or dataset input)."""
        wanted = set(ids)
        return [link for link in self.links() if link.source in wanted and link.child not in wanted]

    def inputs_matching(
        self,
        uris: Sequence[str] = (),
        under: Sequence[str] = (),
        sha256_prefix: str | None = None,
    ) -> list[dict[str, Any]]:
        """Input rows (with ``dataset_id``) whose uri is one of ``uris``, starts with one of
        ``under``, or whose sha256 starts with ``sha256_prefix``."""
        conditions: list[str] = []
        args: list[Any] = []
        if uris:
            conditions.append(f"uri IN ({marks(len(uris))})")
            args += list(uris)
        for prefix in under:
            conditions.append("substr(uri, 1, ?) = ?")
            args += [len(prefix), prefix]
        if sha256_prefix:
            conditions.append("substr(sha256, 1, ?) = ?")
            args += [len(sha256_prefix), sha256_prefix]
        if not conditions:
            return []
        with self.dialect.errors():
            rows = self.dialect.execute(
                "SELECT dataset_id, role, name, uri, sha256 FROM dataset_inputs "  # noqa: S608
                f"WHERE {' OR '.join(conditions)} ORDER BY dataset_id, role, uri",
                args,
            ).fetchall()
        return [dict(r) for r in rows]

    def delete(self, records: Sequence[DatasetRecord], tombstones: Sequence[Tombstone]) -> None:
        """Remove ``records`` (descendants before their sources) and write their
        ``tombstones``, in one transaction. Refused, with nothing changed, when a live dataset
        outside ``records`` was built from one of them (registered since the caller looked)."""
        d = self.dialect
        ids = [r.id for r in records]
        for rec in records:  # where the database enforces access, only the owner deletes
            self._check_owner(rec, "delete it")  # type: ignore[attr-defined]
        with d.errors(), d.transaction():
            left = self.children(ids)
            if left:
                names = ", ".join(sorted({link.child[:12] for link in left}))
                raise SynthError(
                    f"dataset {left[0].source[:12]}: datasets were built from it meanwhile "
                    f"({names}); nothing deleted"
                )
            d.executemany(
                f"INSERT INTO tombstones ({TOMBSTONE_COLUMNS}) VALUES ({marks(18)})",  # noqa: S608
                [t.row() for t in tombstones],
            )
            for chunk in _chunks(ids):
                d.execute(
                    f"UPDATE builds SET status = 'deleted', finished = ? "  # noqa: S608
                    f"WHERE dataset_id IN ({marks(len(chunk))})",
                    [now(), *chunk],
                )
            for rec in records:  # children first: a parent_id must never name a missing row
                cur = d.execute("DELETE FROM datasets WHERE id = ?", (rec.id,))
                if cur.rowcount != 1:
                    raise SynthError(f"dataset {rec.id[:12]}: deleted meanwhile; nothing deleted")
            for t in tombstones:  # the audit trail, in the same transaction
                self._append_audit(  # type: ignore[attr-defined]
                    "delete", t.id, {"name": t.name, "reason": t.reason, "files": t.files}
                )


# PostgreSQL's row-level security for the tombstones, run with migration 4 (access rights),
# after its shared statements (``Dialect.extra_migration``): a role reads the tombstone of a
# dataset it could read when it was deleted (a team one, its own) or that it deleted, and writes
# only tombstones stamped with its own role. No UPDATE or DELETE policy: tombstones are
# append-only for every role but the tables' owner. Each is one statement.
TOMBSTONE_POLICIES: list[str] = [
    "ALTER TABLE tombstones ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY tombstones_read ON tombstones FOR SELECT
       USING (access = 'team' OR owner = current_user OR deleted_role = current_user)""",
    """CREATE POLICY tombstones_write ON tombstones FOR INSERT
       WITH CHECK (deleted_role = current_user)""",
]
