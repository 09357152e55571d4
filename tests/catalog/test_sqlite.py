"""The SQLite catalog's own parts: WAL, busy timeout and the schema version in the file, files
that are not catalogs, and catalogs written by earlier code. What both backends share is in
test_sql.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from synth.catalog import open_catalog
from synth.catalog.sql import MIGRATIONS
from synth.catalog.sqlite import SCHEMA_VERSION
from synth.errors import SynthError
from tests.catalog.helpers import hex_id, info, later_tables, v1_records

V1_DUMP = Path(__file__).parent / "data" / "catalog-v1.sql"


@pytest.fixture
def catalog(tmp_path: Path):
    c = open_catalog(tmp_path)
    yield c
    c.close()


def test_schema_version_wal_and_busy_timeout(catalog, tmp_path):
    db = sqlite3.connect(tmp_path / "catalog.db")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == max(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    assert catalog.db.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    assert catalog.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_reopening_keeps_records_and_does_not_migrate_again(tmp_path):
    first = open_catalog(tmp_path)
    first.register(info(hex_id("5555")), str(tmp_path))
    first.close()
    second = open_catalog(tmp_path)
    assert [r.id for r in second.list()] == [hex_id("5555")]
    second.close()


def test_a_newer_schema_is_refused(tmp_path):
    db = sqlite3.connect(tmp_path / "catalog.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    newer = rf"catalog schema {SCHEMA_VERSION + 1} is newer than this synth \({SCHEMA_VERSION}\)"
    with pytest.raises(SynthError, match=newer):
        open_catalog(tmp_path)


def test_a_file_that_is_not_a_database_is_named(tmp_path):
    (tmp_path / "catalog.db").write_bytes(b"\x89garbage" * 500)
    with pytest.raises(SynthError) as err:
        open_catalog(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'catalog.db'}: cannot open the catalog (file is not a database)"
    )


def test_a_data_root_under_a_regular_file_is_named(tmp_path):
    (tmp_path / "plain-file").write_text("not a folder")
    home = tmp_path / "plain-file" / "sub"
    with pytest.raises(SynthError) as err:
        open_catalog(home)
    assert str(err.value) == f"{home}: cannot create the data folder (Not a directory)"


# -- catalogs written by earlier code ------------------------------------------------------------
def _restore_v1(path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript(V1_DUMP.read_text())
    finally:
        db.close()


def _schema(path: Path) -> list[tuple[str, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
        ).fetchall()
    finally:
        db.close()


def test_a_catalog_written_by_schema_1_code_reads_the_same_records(tmp_path):
    _restore_v1(tmp_path / "catalog.db")
    catalog = open_catalog(tmp_path)
    try:
        assert [r.to_json() for r in catalog.list()] == v1_records()
        assert catalog.get("0a1c").to_json() == v1_records()[1]
        assert [r.name for r in catalog.list(licence="CC0-1.0")] == ["ocr-test-more"]
        assert [(b["fingerprint"][:4], b["status"], b["error"]) for b in catalog.builds()] == [
            ("ffff", "complete", None),
            ("0a1c", "complete", None),
            ("5e5e", "complete", None),
            ("eeee", "failed", "fonts: no usable font"),
        ]
        # and it takes new versions beside the old ones
        _, created = catalog.register(info(hex_id("7e57"), parent={"id": hex_id("0a1b")}), "/n")
        assert created
        assert catalog.get("7e57").parent_id == hex_id("0a1b")
    finally:
        catalog.close()
    db = sqlite3.connect(tmp_path / "catalog.db")
    try:
        # brought up to the newest schema, its records as they were
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        db.close()


def _schema_of_dump(tmp_path: Path) -> list[tuple[str, ...]]:
    path = tmp_path / "restored.db"
    _restore_v1(path)
    return _schema(path)


def _as_released(row: tuple[str, ...], released: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    """``row`` of sqlite_master as schema 1 wrote it, or None for one it did not write. A later
    migration's ALTER TABLE ... ADD COLUMN appends ``, column ...`` to the CREATE statement
    before its last parenthesis: schema 1's text, up to that parenthesis, stays as it was."""
    for old in released:
        if row == old:
            return old
        if row[:3] == old[:3] and old[3].endswith(")") and row[3].startswith(old[3][:-1]):
            added = row[3][len(old[3]) - 1 :]
            if added.lstrip().startswith(",") and added.endswith(")"):
                return old
    return None


def test_a_new_catalog_gets_schema_1_as_it_was_released(tmp_path):
    """The same tables, indexes and CREATE statements, byte for byte, as schema 1's code
    wrote (the frozen dump holds them), and the same version."""
    open_catalog(tmp_path / "new").close()
    new = _schema(tmp_path / "new" / "catalog.db")
    released = _schema_of_dump(tmp_path)
    assert [_as_released(x, released) for x in new if _as_released(x, released)] == released
    # and beyond schema 1, exactly what the later migrations create
    assert {x[2] for x in new if not _as_released(x, released)} == later_tables()
    db = sqlite3.connect(tmp_path / "restored.db")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        db.close()
