"""The catalog interface and record type; ``open_catalog`` picks the backend from a URL."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from synth.errors import ConfigError, NotFound

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

    def start_build(self, fingerprint: str, name: str, kind: str, path: str) -> None: ...

    def end_build(
        self, fingerprint: str, status: str, dataset_id: str | None = None, error: str | None = None
    ) -> None: ...

    def builds(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


def open_catalog(
    home: str | Path | None = None, url: str | None = None, create: bool = True
) -> Catalog:
    """The catalog at ``url`` (``$SYNTH_CATALOG_URL``), else the SQLite file under the data root.

    ``create=False`` is for look-ups: a missing SQLite catalog raises ``NoCatalog`` instead of
    being created (with its folder) as a side effect.
    """
    url = url or os.environ.get("SYNTH_CATALOG_URL")
    if url:
        if url.startswith("sqlite:///"):
            from synth.catalog.sqlite import SqliteCatalog

            return SqliteCatalog(Path(url[len("sqlite:///") :]), create=create)
        if url.startswith(("postgresql://", "postgres://")):
            from synth.catalog.postgres import PostgresCatalog

            return PostgresCatalog(url)
        from synth.catalog.postgres import redact_url

        raise ConfigError(
            f"SYNTH_CATALOG_URL: unsupported catalog URL '{redact_url(url)}' "
            "(use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB)"
        )
    from synth.catalog.sqlite import SqliteCatalog

    root = data_home(str(home) if home else None)
    return SqliteCatalog(root / "catalog.db", create=create)


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


def list_filters(kind: str | None, name: str | None, mark: str) -> tuple[str, list[Any]]:
    """The ``datasets`` query of ``list`` for a kind and a name (``mark``: the driver's
    placeholder), ordered by creation; licence filters differ per database."""
    query, args = "SELECT * FROM datasets WHERE 1 = 1", []
    if kind:
        query += f" AND kind = {mark}"
        args.append(kind)
    if name:
        query += f" AND name = {mark}"
        args.append(name)
    return query, args
