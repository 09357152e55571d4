"""The catalog's SQL, written once (synth/catalog/sql.py), on both backends: idempotent
registration, what a record holds, lineage, id prefixes, filters, storable numbers and builds.
Every test here runs on a fresh SQLite file and on a fresh database of a real PostgreSQL server."""

from __future__ import annotations

from typing import Any

import pytest

from synth.catalog import sql
from synth.catalog.sql import translate
from synth.errors import NotFound, SynthError
from tests.catalog.helpers import hex_id, info


def _count(catalog: Any, table: str) -> int:
    return catalog.db.execute(f"SELECT COUNT(*) AS n FROM {table}").fetchone()["n"]


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


def test_inputs_are_stored_with_sha256_and_licence(catalog, place):
    rec, _ = catalog.register(info(hex_id("abc2")), "/data/ds")
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
    again = place.open()  # a fresh connection reads the same lineage back
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
    assert catalog.get(hex_id("aaaa")).parent_id is None
    row = catalog.dialect.execute(
        "SELECT trigger_type FROM datasets WHERE id = ?", (child.id,)
    ).fetchone()
    assert dict(row) == {"trigger_type": "diagnosis"}


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


def test_unknown_and_too_short_ids_are_clear_errors(catalog, place):
    catalog.register(info(hex_id("12ab")), "/data/a")
    with pytest.raises(NotFound) as err:
        catalog.get("ffff")
    assert str(err.value) == f"dataset id 'ffff': no such dataset in {place.where}"
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


def test_list_reads_the_inputs_of_many_datasets(catalog, monkeypatch):
    """More datasets than one IN (...) list holds: each record still gets its own inputs."""
    monkeypatch.setattr(sql, "_IN_CHUNK", 2)  # 7 datasets: lists of 2, 2, 2 and 1
    ids = [hex_id(f"{n:04x}") for n in range(1, 8)]
    for dataset_id in ids:
        font = info("x")["inputs"][0] | {"name": f"font-{dataset_id[:4]}.ttf"}
        catalog.register(info(dataset_id, inputs=[font]), "/data")
    records = catalog.list()
    assert [r.id for r in records] == ids
    assert [[i["name"] for i in r.inputs] for r in records] == [[f"font-{i[:4]}.ttf"] for i in ids]


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


# -- the statements' placeholders ----------------------------------------------------------------
def test_placeholders_become_the_drivers_and_quoted_text_stays():
    text = "SELECT * FROM t WHERE a = ? AND b = '?' AND j ?? ? AND c = 'it''s ?'"
    assert (
        translate(text, "?")
        == "SELECT * FROM t WHERE a = ? AND b = '?' AND j ? ? AND c = 'it''s ?'"
    )
    assert translate(text, "%s") == (
        "SELECT * FROM t WHERE a = %s AND b = '?' AND j ? %s AND c = 'it''s ?'"
    )
    # psycopg reads % as the start of a placeholder: a literal one is doubled
    assert translate("SELECT '100%' WHERE x = ?", "%s") == "SELECT '100%%' WHERE x = %s"
