"""The catalog interface, its record type and the helpers every backend shares.

Nothing here knows a backend: ``synth.catalog.open`` picks one, and the backends import this.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from synth.errors import NotFound

DEFAULT_HOME = "./synth-data"
DATASET_INPUT = "dataset:"  # the uri prefix of an input that is a catalog dataset


def data_home(home: str | None = None) -> Path:
    """The data root: ``home``, else ``$SYNTH_HOME``, else ``./synth-data``."""
    return Path(home or os.environ.get("SYNTH_HOME") or DEFAULT_HOME).expanduser().resolve()


@dataclass
class DatasetRecord:
    id: str  # content id: SHA-256 of the file manifest and labels
    fingerprint: str
    name: str
    kind: str
    path: str
    status: str  # "complete" (only complete versions get a record)
    created: str
    count: int
    seed: int
    spec: dict[str, Any]
    code_version: str
    statistics: dict[str, Any]
    trigger: dict[str, Any]
    flow_run_id: str | None
    parent_id: str | None
    licences: list[str]
    personal_data: bool
    inputs: list[dict[str, Any]] = field(default_factory=list)
    owner: str = ""  # the role (OS user on SQLite) that registered it; "" before access rights
    access: str = "team"  # team | restricted | private (synth.catalog.access)
    grants: list[dict[str, Any]] = field(default_factory=list)  # [{role, right, by, time}]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Tombstone:
    """What is left of a deleted dataset version."""

    id: str
    deleted: str  # ISO-8601 UTC time of the deletion
    name: str
    kind: str
    path: str  # the folder the record named
    created: str
    count: int
    trigger_type: str
    parent_id: str | None
    licences: list[str]
    personal_data: bool
    inputs: list[dict[str, Any]]  # as DatasetRecord.inputs
    deleted_by: str  # the OS user that ran the delete
    deleted_role: str | None  # the database role (PostgreSQL), None on SQLite
    reason: str
    files: str  # what became of the files: removed, kept (imported in place), already gone
    owner: str = ""  # the record's owner and access level, where the catalog keeps them
    access: str = "team"

    @classmethod
    def of(
        cls, rec: DatasetRecord, *, by: str, role: str | None, reason: str, files: str, when: str
    ) -> Tombstone:
        return cls(
            id=rec.id,
            deleted=when,
            name=rec.name,
            kind=rec.kind,
            path=rec.path,
            created=rec.created,
            count=rec.count,
            trigger_type=str(rec.trigger.get("type", "manual")),
            parent_id=rec.parent_id,
            licences=list(rec.licences),
            personal_data=rec.personal_data,
            inputs=[dict(i) for i in rec.inputs],
            deleted_by=by,
            deleted_role=role,
            reason=reason,
            files=files,
            owner=str(getattr(rec, "owner", "") or ""),
            access=str(getattr(rec, "access", "") or "team"),
        )

    @property
    def who(self) -> str:
        return self.deleted_by + (f" (role {self.deleted_role})" if self.deleted_role else "")

    def summary(self) -> str:
        """``deleted on <time> by <user> (role <role>): <reason>``."""
        return f"deleted on {self.deleted} by {self.who}: {self.reason or 'no reason given'}"

    def dataset_links(self) -> list[tuple[str, str]]:
        """(ancestor id, relation) of its parent and dataset inputs, as a record has them."""
        links = [(self.parent_id, "parent")] if self.parent_id else []
        return links + [
            (i["uri"][len(DATASET_INPUT) :], "input")
            for i in self.inputs
            if i["uri"].startswith(DATASET_INPUT)
        ]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def row(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.deleted,
            self.name,
            self.kind,
            self.path,
            self.created,
            self.count,
            self.trigger_type,
            self.parent_id,
            json.dumps(self.licences),
            int(self.personal_data),
            json.dumps(self.inputs, sort_keys=True),
            self.deleted_by,
            self.deleted_role,
            self.reason,
            self.files,
            self.owner,
            self.access,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Tombstone:
        return cls(
            id=row["id"],
            deleted=row["deleted"],
            name=row["name"],
            kind=row["kind"],
            path=row["path"],
            created=row["created"],
            count=row["count"],
            trigger_type=row["trigger_type"],
            parent_id=row["parent_id"],
            licences=json.loads(row["licences_json"]),
            personal_data=bool(row["personal_data"]),
            inputs=json.loads(row["inputs_json"]),
            deleted_by=row["deleted_by"],
            deleted_role=row["deleted_role"],
            reason=row["reason"],
            files=row["files"],
            owner=row["owner"],
            access=row["access"],
        )


@dataclass
class Link:
    """One lineage edge between live datasets: ``child`` was built from ``source``."""

    child: str
    source: str
    relation: str  # "parent" (an expansion) or "input"
    role: str = ""  # the input's role (clean_corpus, texts); "" for a parent


class Catalog(Protocol):
    """What every backend offers. Registration is idempotent: a second identical build (same
    content id) adds no record and returns the first."""

    def register(self, info: dict[str, Any], path: str) -> tuple[DatasetRecord, bool]: ...

    def get(self, ref: str) -> DatasetRecord: ...

    def list(
        self, kind: str | None = None, name: str | None = None, licence: str | None = None
    ) -> list[DatasetRecord]: ...

    # access rights and the audit trail (synth.catalog.access; docs/access.md)
    def whoami(self) -> str:
        """The acting role: the database role on PostgreSQL, the OS user on SQLite."""
        ...

    def require(self, dataset_id: str, right: str) -> None:
        """Raise ``AccessDenied`` (one line naming the dataset and the right) unless the acting
        role holds ``right`` ("read" or "use") on the dataset."""
        ...

    def grant(self, ref: str, role: str, right: str) -> DatasetRecord: ...

    def revoke(self, ref: str, role: str) -> DatasetRecord: ...

    def set_access(self, ref: str, level: str) -> DatasetRecord: ...

    def audit(self, action: str, dataset_id: str | None, detail: dict[str, Any]) -> None:
        """Append one row to the audit trail, stamped with the acting role and the time."""
        ...

    def audit_log(self, ref: str | None = None) -> list[dict[str, Any]]: ...

    def start_build(self, fingerprint: str, name: str, kind: str, path: str) -> None: ...

    def end_build(
        self, fingerprint: str, status: str, dataset_id: str | None = None, error: str | None = None
    ) -> None: ...

    def builds(self) -> list[dict[str, Any]]: ...

    # training runs (synth.catalog.runs)
    def add_run(self, run: Any) -> None: ...

    def get_run(self, ref: str) -> Any: ...

    def list_runs(self, dataset_id: str | None = None) -> list[Any]: ...

    def close(self) -> None: ...

    # -- retention (synth.catalog.retention) --
    def db_role(self) -> str | None: ...

    def tombstones(self, ids: Sequence[str] | None = None) -> dict[str, Tombstone]: ...

    def tombstone(self, ref: str) -> Tombstone | None: ...

    def links(self) -> list[Link]: ...

    def children(self, ids: Sequence[str]) -> list[Link]: ...

    def inputs_matching(
        self,
        uris: Sequence[str] = (),
        under: Sequence[str] = (),
        sha256_prefix: str | None = None,
    ) -> list[dict[str, Any]]: ...

    def delete(self, records: Sequence[DatasetRecord], tombstones: Sequence[Tombstone]) -> None: ...


def id_prefix(ref: str, what: str = "dataset") -> str:
    """A dataset (or run) reference as the catalogs look it up: trimmed, lower case, without a
    ``sha256:`` prefix; one line naming it when it is too short to be a prefix."""
    ref = ref.strip().lower().removeprefix("sha256:")
    if len(ref) < 4:
        raise NotFound(f"{what} id '{ref}': give at least 4 characters of the id")
    return ref


def prefix_match(ref: str, rows: Sequence[Any], where: object, what: str = "dataset") -> Any:
    """The one row (sorted by id, at most a few) whose id is ``ref`` or starts with it."""
    if not rows:
        raise NotFound(f"{what} id '{ref}': no such {what} in {where}")
    if len(rows) > 1 and rows[0]["id"] != ref:
        shown = ", ".join(r["id"][:12] for r in rows[:5])
        raise NotFound(f"{what} id '{ref}' is ambiguous: it matches {shown}")
    return rows[0]
