"""``open_catalog``: the backend a URL names, else the SQLite file under the data root."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.catalog import open_catalog
from synth.catalog.sqlite import SqliteCatalog
from synth.errors import ConfigError, NoCatalog
from tests.catalog.helpers import hex_id, info


def test_an_unsupported_catalog_url_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"unsupported catalog URL 'mysql://x'"):
        open_catalog(tmp_path, url="mysql://x")
    c = open_catalog(url=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert isinstance(c, SqliteCatalog) and c.path == tmp_path / "elsewhere.db"
    c.close()


def test_an_unsupported_url_is_shown_without_its_password(tmp_path):
    with pytest.raises(ConfigError) as err:
        open_catalog(tmp_path, url="mysql://team:hunter22@db.example/cat")
    assert str(err.value) == (
        "SYNTH_CATALOG_URL: unsupported catalog URL 'mysql://team@db.example/cat' "
        "(use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB)"
    )


def test_without_a_url_the_catalog_is_the_file_under_the_data_root(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTH_CATALOG_URL", raising=False)
    with pytest.raises(NoCatalog, match=r"no catalog here"):
        open_catalog(tmp_path / "home", create=False)
    assert not (tmp_path / "home").exists()  # a look-up creates nothing
    c = open_catalog(tmp_path / "home")
    try:
        assert isinstance(c, SqliteCatalog) and c.path == tmp_path / "home" / "catalog.db"
    finally:
        c.close()
    monkeypatch.setenv("SYNTH_HOME", str(tmp_path / "from-env"))
    c = open_catalog()
    try:
        assert c.path == tmp_path / "from-env" / "catalog.db"
    finally:
        c.close()


def test_open_catalog_picks_postgres_from_the_url(pg_url, monkeypatch, tmp_path: Path):
    from synth.catalog.postgres import PostgresCatalog  # psycopg only where a server runs

    c = open_catalog(url=pg_url)  # ConfigError "unsupported catalog URL" until it is wired
    assert isinstance(c, PostgresCatalog)
    c.register(info(hex_id("c0de")), "/data")
    c.close()
    monkeypatch.setenv("SYNTH_CATALOG_URL", pg_url)
    again = open_catalog(tmp_path)  # $SYNTH_CATALOG_URL wins over the data root
    try:
        assert isinstance(again, PostgresCatalog)
        assert [r.id for r in again.list()] == [hex_id("c0de")]
    finally:
        again.close()
