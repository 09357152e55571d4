"""``open_catalog``: the backend a catalog URL names, else the SQLite file under the data root."""

from __future__ import annotations

import os
from pathlib import Path

from synth.catalog.base import Catalog, data_home
from synth.catalog.sqlite import SqliteCatalog
from synth.catalog.urls import redact_url
from synth.errors import ConfigError


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
            return SqliteCatalog(Path(url[len("sqlite:///") :]), create=create)
        if url.startswith(("postgresql://", "postgres://")):
            # Imported here: psycopg takes most of a second to import, which only a team
            # catalog should pay.
            from synth.catalog.postgres import PostgresCatalog

            return PostgresCatalog(url)
        raise ConfigError(
            f"SYNTH_CATALOG_URL: unsupported catalog URL '{redact_url(url)}' "
            "(use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB)"
        )
    root = data_home(str(home) if home else None)
    return SqliteCatalog(root / "catalog.db", create=create)
