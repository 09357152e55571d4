"""The SQLite catalog: idempotent registration, id prefixes, schema, WAL, lineage, concurrency."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from synth.catalog import open_catalog
from synth.catalog.sqlite import SCHEMA_VERSION, SqliteCatalog
from synth.errors import ConfigError, NotFound, SynthError
from tests.catalog.helpers import hex_id, info


@pytest.fixture
def catalog(tmp_path: Path):
    c = open_catalog(tmp_path)
    yield c
    c.close()


def test_registering_twice_keeps_one_record_and_says_so(catalog, tmp_path):
    first, created1 = catalog.register(info(hex_id("1234")), str(tmp_path / "ds"))
    second, created2 = catalog.register(info(hex_id("1234")), str(tmp_path / "ds"))
    assert (created1, created2) == (True, False)
    assert second == first
    assert [r.id for r in catalog.list()] == [hex_id("1234")]
    rows = catalog.db.execute("SELECT COUNT(*) FROM dataset_inputs").fetchone()[0]
    assert rows == 2


def test_the_record_holds_what_was_registered(catalog, tmp_path):
    rec, _ = catalog.register(info(hex_id("abc1")), str(tmp_path / "ds"))
    assert rec.path == str(tmp_path / "ds")
    assert rec.status == "complete"
    assert (rec.count, rec.seed, rec.kind, rec.name) == (12, 7, "ocr", "ocr-test")
    assert rec.spec == {"shard_size": 500, "text": {"source": "faker"}}
    assert rec.statistics["rejections"] == {"low_contrast_background": 3}
    assert rec.flow_run_id == "00000000-0000-0000-0000-000000000001"
    assert rec.trigger == {"type": "manual"}
    assert rec.licences == ["OFL-1.1"]
    assert rec.personal_data is True  # one input holds personal data


def test_inputs_are_stored_with_sha256_and_licence(catalog, tmp_path):
    rec, _ = catalog.register(info(hex_id("abc2")), str(tmp_path))
    assert rec.inputs == [
        {
            "role": "font",
            "name": "DejaVuSans.ttf",
            "uri": "asset:fonts/DejaVuSans.ttf",
            "sha256": "a" * 64,
            "licence": "Bitstream-Vera",
            "attribution": "DejaVu fonts",
            "personal_data": False,
        },
        {
            "role": "texts",
            "name": "lines.txt",
            "uri": "file:///data/lines.txt",
            "sha256": "b" * 64,
            "licence": "unknown",
            "attribution": "",
            "personal_data": True,
        },
    ]
    # and a fresh connection reads the same lineage back
    again = open_catalog(tmp_path).get(rec.id)
    assert again.inputs == rec.inputs


def test_a_child_records_its_parent(catalog, tmp_path):
    parent, _ = catalog.register(info(hex_id("aaaa")), str(tmp_path / "p"))
    child, _ = catalog.register(
        info(hex_id("bbbb"), parent={"id": parent.id, "path": "p", "count": 12}),
        str(tmp_path / "c"),
    )
    assert child.parent_id == parent.id
    assert catalog.get(hex_id("aaaa")).parent_id is None


def test_get_accepts_the_full_id_and_unique_prefixes(catalog, tmp_path):
    for prefix in ("12ab", "12ac", "99ff"):
        catalog.register(info(hex_id(prefix)), str(tmp_path / prefix))
    assert catalog.get(hex_id("12ab")).id == hex_id("12ab")
    assert catalog.get("99ff").id == hex_id("99ff")
    assert catalog.get("12AB").id == hex_id("12ab")  # case does not matter
    assert catalog.get("sha256:12ac").id == hex_id("12ac")
    assert catalog.get("  99ff0  ").id == hex_id("99ff")


def test_an_ambiguous_prefix_names_the_candidates(catalog, tmp_path):
    catalog.register(info(hex_id("12ab1")), str(tmp_path / "a"))
    catalog.register(info(hex_id("12ab2")), str(tmp_path / "b"))
    with pytest.raises(NotFound) as err:
        catalog.get("12ab")
    message = str(err.value)
    assert message == (
        f"dataset id '12ab' is ambiguous: it matches {hex_id('12ab1')[:12]}, {hex_id('12ab2')[:12]}"
    )
    assert catalog.get("12ab2").id == hex_id("12ab2")  # a longer prefix settles it


def test_unknown_and_too_short_ids_are_clear_errors(catalog, tmp_path):
    catalog.register(info(hex_id("12ab")), str(tmp_path))
    with pytest.raises(NotFound, match=r"^dataset id 'ffff': no such dataset in .*catalog\.db$"):
        catalog.get("ffff")
    with pytest.raises(NotFound, match=r"^dataset id '12a': give at least 4 characters of the id$"):
        catalog.get("12a")


def test_list_filters_by_kind_name_and_licence(catalog, tmp_path):
    catalog.register(info(hex_id("0001"), name="a"), str(tmp_path / "1"))
    catalog.register(
        info(hex_id("0002"), name="b", kind="speech", licences=["CC0-1.0"]), str(tmp_path / "2")
    )
    assert [r.id for r in catalog.list()] == [hex_id("0001"), hex_id("0002")]
    assert [r.name for r in catalog.list(kind="speech")] == ["b"]
    assert [r.name for r in catalog.list(name="a")] == ["a"]
    assert [r.name for r in catalog.list(licence="CC0-1.0")] == ["b"]
    assert catalog.list(kind="speech", name="a") == []


def test_schema_version_wal_and_busy_timeout(catalog, tmp_path):
    db = sqlite3.connect(tmp_path / "catalog.db")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
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
    with pytest.raises(SynthError, match=r"catalog schema 2 is newer than this synth \(1\)"):
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


def test_an_unsupported_catalog_url_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"unsupported catalog URL 'mysql://x'"):
        open_catalog(tmp_path, url="mysql://x")
    c = open_catalog(url=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert isinstance(c, SqliteCatalog) and c.path == tmp_path / "elsewhere.db"
    c.close()


def test_a_seed_sqlite_cannot_hold_is_refused_and_nothing_is_stored(catalog, tmp_path):
    with pytest.raises(SynthError, match=r"^seed: 18446744073709551616 cannot be stored"):
        catalog.register(info(hex_id("7777"), seed=2**64), str(tmp_path))
    assert catalog.list() == []
    assert catalog.db.execute("SELECT COUNT(*) FROM dataset_inputs").fetchone()[0] == 0


def test_a_failed_build_is_tracked_but_never_listed(catalog, tmp_path):
    catalog.start_build("f" * 64, "ocr-test", "ocr", str(tmp_path / "ds"))
    catalog.end_build("f" * 64, "failed", error="fonts: no usable font")
    assert catalog.list() == []
    [build] = catalog.builds()
    assert (build["status"], build["error"], build["dataset_id"]) == (
        "failed",
        "fonts: no usable font",
        None,
    )
    # a later successful build of the same fingerprint completes it
    catalog.start_build("f" * 64, "ocr-test", "ocr", str(tmp_path / "ds"))
    assert catalog.builds()[0]["status"] == "building"
    rec, _ = catalog.register(info(hex_id("8888")), str(tmp_path / "ds"))
    catalog.end_build("f" * 64, "complete", rec.id)
    [build] = catalog.builds()
    assert (build["status"], build["dataset_id"], build["error"]) == ("complete", rec.id, None)


# -- several processes at once ----------------------------------------------------------------
def _register_in_process(home: str, dataset_id: str, barrier: Any, out: Any) -> None:
    try:
        catalog = open_catalog(home)  # every process may be the one that creates the schema
        barrier.wait(timeout=60)
        _, created = catalog.register(info(dataset_id, name=dataset_id[:4]), f"{home}/{dataset_id}")
        catalog.close()
        out.put((dataset_id, created))
    except BaseException as err:  # reported to the test rather than lost in the child
        out.put((dataset_id, f"{type(err).__name__}: {err}"))


def test_processes_registering_at_once_lose_nothing_and_duplicate_nothing(tmp_path):
    ctx = mp.get_context("spawn")
    shared = hex_id("5a5a")
    ids = [shared] * 4 + [hex_id(f"{n:04x}") for n in range(1, 5)]
    barrier = ctx.Barrier(len(ids))
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_register_in_process, args=(str(tmp_path), i, barrier, out)) for i in ids
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [r for r in results if not isinstance(r[1], bool)] == []
    created_for_shared = [created for i, created in results if i == shared]
    assert sorted(created_for_shared) == [False, False, False, True]
    assert all(created for i, created in results if i != shared)
    catalog = open_catalog(tmp_path)
    try:
        assert sorted(r.id for r in catalog.list()) == sorted(set(ids))
        per_dataset = catalog.db.execute(
            "SELECT dataset_id, COUNT(*) FROM dataset_inputs GROUP BY dataset_id"
        ).fetchall()
        assert sorted(tuple(r) for r in per_dataset) == sorted((i, 2) for i in set(ids))
    finally:
        catalog.close()
