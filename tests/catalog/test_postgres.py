"""The PostgreSQL catalog against a real server: the SQLite catalog's behaviours, its migrations,
and one-line errors that never show the password."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from synth.catalog.sqlite import SqliteCatalog
from synth.errors import NotFound, SynthError
from tests.catalog.conftest import PostgresServer, _free_port
from tests.catalog.helpers import hex_id, info


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


def _count(catalog: Any, table: str) -> int:
    return catalog.db.execute(f"SELECT COUNT(*) AS n FROM {table}").fetchone()["n"]


# -- the same behaviours as the SQLite catalog ----------------------------------------------------
def test_registering_twice_keeps_one_record_and_says_so(catalog):
    first, created1 = catalog.register(info(hex_id("1234")), "/data/ds")
    second, created2 = catalog.register(info(hex_id("1234")), "/data/ds")
    assert (created1, created2) == (True, False)
    assert second == first
    assert [r.id for r in catalog.list()] == [hex_id("1234")]
    assert _count(catalog, "datasets") == 1
    assert _count(catalog, "dataset_inputs") == 2


def test_the_record_holds_what_was_registered(catalog):
    rec, _ = catalog.register(info(hex_id("abc1")), "/data/ds")
    assert rec.path == "/data/ds"
    assert rec.status == "complete"
    assert (rec.count, rec.seed, rec.kind, rec.name) == (12, 7, "ocr", "ocr-test")
    assert rec.spec == {"shard_size": 500, "text": {"source": "faker"}}
    assert rec.statistics["rejections"] == {"low_contrast_background": 3}
    assert rec.flow_run_id == "00000000-0000-0000-0000-000000000001"
    assert rec.trigger == {"type": "manual"}
    assert rec.licences == ["OFL-1.1"]
    assert rec.personal_data is True  # one input holds personal data
    assert rec.parent_id is None


def test_inputs_are_stored_with_sha256_and_licence(catalog, pg_url):
    rec, _ = catalog.register(info(hex_id("abc2")), "/data/ds")
    assert rec.inputs == info("x")["inputs"]
    again = _postgres().PostgresCatalog(pg_url)  # a fresh connection reads the same lineage
    try:
        assert again.get(rec.id).inputs == rec.inputs
    finally:
        again.close()


def test_a_child_records_its_parent_and_an_event_trigger(catalog):
    parent, _ = catalog.register(info(hex_id("aaaa")), "/data/p")
    trigger = {"type": "diagnosis", "payload": {"variance": 0.12, "dataset": parent.id}}
    child, _ = catalog.register(
        info(hex_id("bbbb"), parent={"id": parent.id, "path": "p", "count": 12}, trigger=trigger),
        "/data/c",
    )
    assert child.parent_id == parent.id
    assert child.trigger == trigger
    assert catalog.db.execute(
        "SELECT trigger_type FROM datasets WHERE id = %s", (child.id,)
    ).fetchone() == {"trigger_type": "diagnosis"}


def test_get_accepts_the_full_id_and_unique_prefixes(catalog):
    for prefix in ("12ab", "12ac", "99ff"):
        catalog.register(info(hex_id(prefix)), f"/data/{prefix}")
    assert catalog.get(hex_id("12ab")).id == hex_id("12ab")
    assert catalog.get("99ff").id == hex_id("99ff")
    assert catalog.get("12AB").id == hex_id("12ab")  # case does not matter
    assert catalog.get("sha256:12ac").id == hex_id("12ac")
    assert catalog.get("  99ff0  ").id == hex_id("99ff")


def test_like_wildcards_in_a_prefix_match_nothing(catalog):
    catalog.register(info(hex_id("12ab")), "/data/a")
    for ref in ("12a_", "12a%", "%%%%", "____"):
        with pytest.raises(NotFound, match="no such dataset"):
            catalog.get(ref)


def test_an_ambiguous_prefix_names_the_candidates(catalog):
    catalog.register(info(hex_id("12ab1")), "/data/a")
    catalog.register(info(hex_id("12ab2")), "/data/b")
    with pytest.raises(NotFound) as err:
        catalog.get("12ab")
    assert str(err.value) == (
        f"dataset id '12ab' is ambiguous: it matches {hex_id('12ab1')[:12]}, {hex_id('12ab2')[:12]}"
    )
    assert catalog.get("12ab2").id == hex_id("12ab2")  # a longer prefix settles it


def test_unknown_and_too_short_ids_are_clear_errors(catalog, pg_url):
    catalog.register(info(hex_id("12ab")), "/data/a")
    with pytest.raises(NotFound) as err:
        catalog.get("ffff")
    assert str(err.value) == f"dataset id 'ffff': no such dataset in {_redacted(pg_url)}"
    assert "pa%3Ass" not in str(err.value) and "pa:ss" not in str(err.value)
    with pytest.raises(NotFound, match=r"^dataset id '12a': give at least 4 characters of the id$"):
        catalog.get("12a")


def test_list_filters_by_kind_name_and_licence(catalog):
    catalog.register(info(hex_id("0001"), name="a", created="2025-01-01T00:00:00+00:00"), "/1")
    catalog.register(
        info(
            hex_id("0002"),
            name="b",
            kind="speech",
            licences=["CC0-1.0", "CC-BY-4.0"],
            created="2025-01-02T00:00:00+00:00",
        ),
        "/2",
    )
    assert [r.id for r in catalog.list()] == [hex_id("0001"), hex_id("0002")]
    assert [r.name for r in catalog.list(kind="speech")] == ["b"]
    assert [r.name for r in catalog.list(name="a")] == ["a"]
    assert [r.name for r in catalog.list(licence="CC0-1.0")] == ["b"]
    assert [r.name for r in catalog.list(licence="CC-BY-4.0")] == ["b"]
    assert [r.name for r in catalog.list(licence="OFL-1.1")] == ["a"]
    assert catalog.list(licence="CC0") == []  # a whole licence, not a substring
    assert catalog.list(kind="speech", name="a") == []
    assert [r.name for r in catalog.list(kind="", name="")] == ["a", "b"]  # empty: no filter


def test_a_seed_the_catalog_cannot_hold_is_refused_and_nothing_is_stored(catalog):
    with pytest.raises(SynthError, match=r"^seed: 18446744073709551616 cannot be stored"):
        catalog.register(info(hex_id("7777"), seed=2**64), "/data")
    assert catalog.list() == []
    assert _count(catalog, "dataset_inputs") == 0
    rec, _ = catalog.register(info(hex_id("7778"), seed=2**63 - 1), "/data")  # the largest
    assert catalog.get(rec.id).seed == 2**63 - 1


def test_a_failed_build_is_tracked_but_never_listed(catalog):
    catalog.start_build("f" * 64, "ocr-test", "ocr", "/data/ds")
    catalog.end_build("f" * 64, "failed", error="fonts: no usable font")
    assert catalog.list() == []
    [build] = catalog.builds()
    assert (build["status"], build["error"], build["dataset_id"]) == (
        "failed",
        "fonts: no usable font",
        None,
    )
    # a later successful build of the same fingerprint completes it
    catalog.start_build("f" * 64, "ocr-test", "ocr", "/data/ds")
    assert catalog.builds()[0]["status"] == "building"
    rec, _ = catalog.register(info(hex_id("8888")), "/data/ds")
    catalog.end_build("f" * 64, "complete", rec.id)
    [build] = catalog.builds()
    assert (build["status"], build["dataset_id"], build["error"]) == ("complete", rec.id, None)
    catalog.start_build("f" * 64, "ocr-test", "ocr", "/data/ds")  # a rerun of a complete build
    assert catalog.builds()[0]["status"] == "complete"


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
        assert catalog.list() == lite.list()
        assert [r.id for r in catalog.list()] == [hex_id("0a0a"), hex_id("b0ef"), hex_id("beef")]
        assert catalog.get("beef") == lite.get("beef")
        assert [i["name"] for i in catalog.get("beef").inputs] == [
            "Zebra.png",
            "apple.png",
            "DejaVuSans.ttf",
            "lines.txt",
        ]

        def strip_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: v for k, v in r.items() if k not in ("started", "finished")} for r in rows]

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
def _versions(url: str) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row) as db:
        return db.execute("SELECT version, applied FROM schema_version ORDER BY version").fetchall()


def test_a_fresh_database_gets_schema_version_1(pg_url):
    assert _postgres().SCHEMA_VERSION == 1
    _postgres().PostgresCatalog(pg_url).close()
    [row] = _versions(pg_url)
    assert row["version"] == 1
    assert row["applied"]


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
    assert [r["version"] for r in _versions(pg_url)] == [1]


def test_a_newer_schema_is_refused(pg_url):
    _postgres().PostgresCatalog(pg_url).close()
    import psycopg

    with psycopg.connect(pg_url) as db:
        db.execute("INSERT INTO schema_version (version, applied) VALUES (2, 'later')")
    with pytest.raises(SynthError) as err:
        _postgres().PostgresCatalog(pg_url)
    assert str(err.value) == (
        f"{_redacted(pg_url)}: catalog schema 2 is newer than this synth (1); upgrade synth"
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


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p%40ss@db.example:5433/cat", "postgresql://u@db.example:5433/cat"),
        ("postgresql://u@h/cat", "postgresql://u@h/cat"),
        ("postgresql://:secret@h/cat", "postgresql://h/cat"),
        (
            "postgresql://h/cat?password=secret&sslmode=require",
            "postgresql://h/cat?sslmode=require",
        ),
        ("host=h dbname=cat password='se cret' user=u", "host=h dbname=cat user=u"),
    ],
)
def test_urls_are_shown_without_the_password(url, shown):
    assert _redacted(url) == shown


# -- chosen by URL ---------------------------------------------------------------------------------
def test_open_catalog_picks_postgres_from_the_url(pg_url, monkeypatch, tmp_path: Path):
    from synth.catalog import open_catalog

    c = open_catalog(url=pg_url)  # ConfigError "unsupported catalog URL" until it is wired
    assert isinstance(c, _postgres().PostgresCatalog)
    c.register(info(hex_id("c0de")), "/data")
    c.close()
    monkeypatch.setenv("SYNTH_CATALOG_URL", pg_url)
    again = open_catalog(tmp_path)  # $SYNTH_CATALOG_URL wins over the data root
    try:
        assert isinstance(again, _postgres().PostgresCatalog)
        assert [r.id for r in again.list()] == [hex_id("c0de")]
    finally:
        again.close()


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
