"""The PostgreSQL catalog's own parts against a real server: the same records as SQLite, its
migrations, catalogs written by earlier code, and one-line errors that never show the password.
What both backends share is in test_sql.py."""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing as mp
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from synth.catalog.sqlite import SqliteCatalog
from synth.errors import SynthError
from tests.catalog.conftest import PostgresServer, _free_port
from tests.catalog.helpers import hex_id, info, later_tables, v1_records

V1_DUMP = Path(__file__).parent / "data" / "postgres-v1.sql"


def _postgres():
    from synth.catalog import postgres

    return postgres


def _redacted(url: str) -> str:
    return _postgres().redact_url(url)


@pytest.fixture
def catalog(pg_url: str):
    c = _postgres().PostgresCatalog(pg_url)
    yield c
    c.close()


def test_records_and_builds_round_trip_exactly_as_in_sqlite(catalog, tmp_path):
    """The same registrations give equal records, lists and build rows in both backends."""
    lite = SqliteCatalog(tmp_path / "catalog.db")
    try:
        extra = {
            "role": "background",
            "name": "Zebra.png",  # sorts before "apple.png" byte by byte, as in SQLite
            "uri": "asset:backgrounds/Zebra.png",
            "sha256": "c" * 64,
            "licence": "CC0-1.0",
        }
        apple = extra | {"name": "apple.png", "uri": "asset:backgrounds/apple.png"}
        entries = [
            info(
                hex_id("beef"),
                created="2025-03-01T10:00:00+00:00",
                inputs=[*info("x")["inputs"], apple, extra],
                spec={"b": [1, 2.5, None], "a": {"z": "é", "y": True}},
            ),
            info(
                hex_id("b0ef"),
                name="Other",
                created="2025-03-01T10:00:00+00:00",
                run=None,
                licences=[],
                inputs=[],
                parent={"id": hex_id("beef")},
            ),
            info(hex_id("0a0a"), created="2024-12-31T23:59:59+00:00", seed=2**63 - 1),
        ]
        for entry in entries:
            for c in (catalog, lite):
                c.register(entry, f"/data/{entry['id'][:4]}")
                c.start_build(entry["id"], entry["name"], entry["kind"], "/data")
                c.end_build(entry["id"], "complete", entry["id"])

        def ownerless(records: list[Any]) -> list[Any]:  # a database role, or the OS user
            assert {r.owner for r in records} <= {catalog.whoami(), lite.whoami()}
            return [dataclasses.replace(r, owner="") for r in records]

        assert ownerless(catalog.list()) == ownerless(lite.list())
        assert [r.id for r in catalog.list()] == [hex_id("0a0a"), hex_id("b0ef"), hex_id("beef")]
        assert ownerless([catalog.get("beef")]) == ownerless([lite.get("beef")])
        assert [i["name"] for i in catalog.get("beef").inputs] == [
            "Zebra.png",
            "apple.png",
            "DejaVuSans.ttf",
            "lines.txt",
        ]

        def strip_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [
                {k: v for k, v in r.items() if k not in ("started", "finished", "owner")}
                for r in rows
            ]

        assert strip_times(catalog.builds()) == strip_times(lite.builds())
    finally:
        lite.close()


def test_the_tables_have_the_same_columns_as_sqlite(catalog, tmp_path):
    lite = sqlite3.connect(tmp_path / "catalog.db")
    SqliteCatalog(tmp_path / "catalog.db").close()
    try:
        for table in ("datasets", "dataset_inputs", "builds"):
            columns = [
                r["column_name"]
                for r in catalog.db.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = %s ORDER BY ordinal_position",
                    (table,),
                )
            ]
            assert columns == [r[1] for r in lite.execute(f"PRAGMA table_info({table})")]
    finally:
        lite.close()


# -- migrations -----------------------------------------------------------------------------------
def _sql():
    from synth.catalog import sql

    return sql


def _versions(url: str) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row) as db:
        return db.execute("SELECT version, applied FROM schema_version ORDER BY version").fetchall()


def test_a_fresh_database_gets_every_schema_version_in_order(pg_url):
    from synth.catalog.sql import MIGRATIONS

    assert max(MIGRATIONS) == _postgres().SCHEMA_VERSION
    _postgres().PostgresCatalog(pg_url).close()
    rows = _versions(pg_url)
    assert [r["version"] for r in rows] == sorted(MIGRATIONS)
    assert all(r["applied"] for r in rows)


def test_opening_again_keeps_records_and_does_not_migrate_again(pg_url):
    first = _postgres().PostgresCatalog(pg_url)
    first.register(info(hex_id("5555")), "/data")
    first.close()
    before = _versions(pg_url)
    second = _postgres().PostgresCatalog(pg_url)
    try:
        assert [r.id for r in second.list()] == [hex_id("5555")]
    finally:
        second.close()
    assert _versions(pg_url) == before  # same single row, same time: nothing ran again


def _open_at_once(url: str, barrier: Any, out: Any) -> None:
    try:
        barrier.wait(timeout=60)
        _postgres().PostgresCatalog(url).close()
        out.put("ok")
    except BaseException as err:
        out.put(f"{type(err).__name__}: {err}")


def test_processes_opening_a_fresh_database_at_once_migrate_it_once(pg_url):
    ctx = mp.get_context("spawn")
    n = 6
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_open_at_once, args=(pg_url, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert results == ["ok"] * n
    assert [r["version"] for r in _versions(pg_url)] == sorted(_sql().MIGRATIONS)


def test_a_newer_schema_is_refused(pg_url):
    _postgres().PostgresCatalog(pg_url).close()
    newer = _postgres().SCHEMA_VERSION + 1
    import psycopg

    with psycopg.connect(pg_url) as db:
        db.execute("INSERT INTO schema_version (version, applied) VALUES (%s, 'later')", (newer,))
    with pytest.raises(SynthError) as err:
        _postgres().PostgresCatalog(pg_url)
    assert str(err.value) == (
        f"{_redacted(pg_url)}: catalog schema {newer} is newer than this synth "
        f"({newer - 1}); upgrade synth"
    )


def test_tables_of_another_application_are_a_clear_error(pg_url):
    import psycopg

    with psycopg.connect(pg_url) as db:
        db.execute("CREATE TABLE datasets (x INTEGER)")
    with pytest.raises(SynthError) as err:
        _postgres().PostgresCatalog(pg_url)
    assert str(err.value) == (
        f'{_redacted(pg_url)}: cannot open the catalog (relation "datasets" already exists)'
    )
    with psycopg.connect(pg_url) as db:  # and nothing was half-created
        assert db.execute("SELECT to_regclass('schema_version')").fetchone() == (None,)


def test_a_schema_version_table_of_another_tool_is_refused(pg_url):
    import psycopg

    with psycopg.connect(pg_url) as db:
        db.execute("CREATE TABLE schema_version (version TEXT)")
        db.execute("INSERT INTO schema_version VALUES ('1.0.3')")
    with pytest.raises(SynthError, match=r"schema_version table belongs to something else"):
        _postgres().PostgresCatalog(pg_url)


# -- catalogs written by earlier code ------------------------------------------------------------
def _restore_v1(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(V1_DUMP.read_text())


def _schema(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Columns (type, collation, default, nullability), indexes and constraints of the tables."""
    import psycopg

    with psycopg.connect(url) as db:
        return {
            "columns": db.execute(
                "SELECT table_name, column_name, ordinal_position, data_type, collation_name, "
                "column_default, is_nullable FROM information_schema.columns "
                "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
            ).fetchall(),
            "indexes": db.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = 'public' ORDER BY indexname"
            ).fetchall(),
            "constraints": db.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY conname"
            ).fetchall(),
        }


def test_a_catalog_written_by_schema_1_code_reads_the_same_records(pg_url):
    _restore_v1(pg_url)
    catalog = _postgres().PostgresCatalog(pg_url)
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
    versions = _versions(pg_url)  # schema 1 as it was, the later ones applied on opening
    assert versions[0] == {"version": 1, "applied": "2026-12-04T01:38:21+00:00"}
    assert [v["version"] for v in versions] == sorted(_sql().MIGRATIONS)


def test_a_new_database_gets_schema_1_as_it_was_released(pg_url, postgres_server):
    """The same columns, types, collations, defaults, indexes and constraints as schema 1's
    code created (the frozen dump holds them)."""
    _postgres().PostgresCatalog(pg_url).close()
    name = f"synth_v1_{next(_v1_numbers)}"
    restored = postgres_server.create_database(name)
    try:
        _restore_v1(restored)
        new, released = _schema(pg_url), _schema(restored)
        for part, rows in released.items():  # schema 1 as released ...
            assert [r for r in new[part] if r in rows] == rows
        # ... and beyond it, exactly the tables the later migrations create
        tables = {r[0] for r in new["columns"]} - {r[0] for r in released["columns"]}
        assert tables == later_tables()
        assert ("datasets", "id", 1, "text", "C", None, "NO") in _schema(pg_url)["columns"]
    finally:
        postgres_server.drop_database(name)


_v1_numbers = itertools.count(1)


# -- connection errors: one line, naming the URL without the password ----------------------------
def _assert_one_line_without_password(message: str, server: PostgresServer) -> None:
    assert "\n" not in message
    assert server.password not in message
    assert quote(server.password, safe="") not in message


def test_a_server_that_is_not_there_is_a_one_line_error(postgres_server: PostgresServer):
    port = _free_port()
    with pytest.raises(SynthError) as err:
        _postgres().PostgresCatalog(postgres_server.url("synth", port=port))
    message = str(err.value)
    assert message.startswith(
        f"postgresql://synth@127.0.0.1:{port}/synth: cannot open the catalog ("
    )
    assert "Connection refused" in message
    _assert_one_line_without_password(message, postgres_server)


def test_a_wrong_password_is_a_one_line_error(postgres_server: PostgresServer):
    url = postgres_server.url("postgres", password="wrong-secret")
    with pytest.raises(SynthError) as err:
        _postgres().PostgresCatalog(url)
    message = str(err.value)
    assert message.startswith(
        f"postgresql://synth@127.0.0.1:{postgres_server.port}/postgres: cannot open the catalog ("
    )
    assert 'password authentication failed for user "synth"' in message
    assert "wrong-secret" not in message
    _assert_one_line_without_password(message, postgres_server)


def test_a_missing_database_is_a_one_line_error(postgres_server: PostgresServer):
    with pytest.raises(SynthError) as err:
        _postgres().PostgresCatalog(postgres_server.url("no_such_db"))
    message = str(err.value)
    assert 'database "no_such_db" does not exist' in message
    _assert_one_line_without_password(message, postgres_server)


def test_a_malformed_url_is_a_one_line_error():
    with pytest.raises(SynthError) as err:
        _postgres().PostgresCatalog("postgresql://synth:hunter22@127.0.0.1:notaport/db")
    message = str(err.value)
    assert message.startswith("postgresql://synth@127.0.0.1:notaport/db: cannot open the catalog (")
    assert "\n" not in message and "hunter22" not in message


def test_a_lost_connection_is_a_one_line_error(catalog, postgres_server: PostgresServer, pg_url):
    with postgres_server.admin() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (catalog.db.info.backend_pid,))
    with pytest.raises(SynthError) as err:
        catalog.list()
    message = str(err.value)
    assert message.startswith(f"{_redacted(pg_url)}: catalog unavailable (")
    _assert_one_line_without_password(message, postgres_server)


def test_two_catalogs_can_share_a_database_in_schemas_of_their_own(pg_url):
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute("CREATE SCHEMA team_a")
        db.execute("CREATE SCHEMA team_b")
    a = _postgres().PostgresCatalog(f"{pg_url}?options=-csearch_path%3Dteam_a")
    b = _postgres().PostgresCatalog(f"{pg_url}?options=-csearch_path%3Dteam_b")
    try:
        a.register(info(hex_id("aaaa")), "/data/a")
        b.register(info(hex_id("bbbb")), "/data/b")
        assert [r.id for r in a.list()] == [hex_id("aaaa")]
        assert [r.id for r in b.list()] == [hex_id("bbbb")]
    finally:
        a.close()
        b.close()
    with psycopg.connect(pg_url) as db:
        tables = db.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_name = 'schema_version' ORDER BY 1"
        ).fetchall()
    assert tables == [("team_a", "schema_version"), ("team_b", "schema_version")]
