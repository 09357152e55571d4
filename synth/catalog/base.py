"""The catalog interface, its record type and the helpers every backend shares.

Nothing here knows a backend: ``synth.catalog.open`` picks one, and the backends import this.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from synth.errors import NotFound

DEFAULT_HOME = "./synth-data"


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

    def close(self) -> None: ...


def id_prefix(ref: str) -> str:
    """A dataset reference as the catalogs look it up: trimmed, lower case, without a
    ``sha256:`` prefix; one line naming it when it is too short to be a prefix."""
    ref = ref.strip().lower().removeprefix("sha256:")
    if len(ref) < 4:
        raise NotFound(f"dataset id '{ref}': give at least 4 characters of the id")
    return ref


def prefix_match(ref: str, rows: Sequence[Any], where: object) -> Any:
    """The one row (sorted by id, at most a few) whose id is ``ref`` or starts with it."""
    if not rows:
        raise NotFound(f"dataset id '{ref}': no such dataset in {where}")
    if len(rows) > 1 and rows[0]["id"] != ref:
        shown = ", ".join(r["id"][:12] for r in rows[:5])
        raise NotFound(f"dataset id '{ref}' is ambiguous: it matches {shown}")
    return rows[0]
