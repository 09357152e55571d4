"""Access rights and the audit trail against a real PostgreSQL server, with two login roles that
are neither superusers nor table owners, set up as an administrator would (``init_roles``).

Alice registers; Bob tries to read through synth and through plain SQL, is granted rights,
builds from Alice's data (through the catalog here; with the real command in
test_access_cli.py) and cannot touch the audit trail.
"""

from __future__ import annotations

from typing import Any

import pytest

from synth.catalog.roles import USERS
from synth.errors import AccessDenied, NotFound, SynthError
from tests.catalog.conftest import PostgresServer
from tests.catalog.helpers import hex_id, info
from tests.catalog.team import _PASSWORD, ALICE, BOB, Team, make_team


@pytest.fixture
def team(pg_url: str, postgres_server: PostgresServer) -> Team:
    return make_team(pg_url, postgres_server)


def _team_info(dataset_id: str, **changes: Any) -> dict[str, Any]:
    """A registration without personal data (so its default level is team)."""
    entry = info(dataset_id, **changes)
    if "inputs" not in changes:
        entry["inputs"] = [dict(i, personal_data=False) for i in entry["inputs"]]
    return entry


def _from(source: str, dataset_id: str, **changes: Any) -> dict[str, Any]:
    """A registration built from catalog dataset ``source`` (as --texts-from records it)."""
    text = {
        "role": "texts",
        "name": source[:12],
        "uri": f"dataset:{source}",
        "sha256": source,
        "licence": "CC0-1.0",
    }
    return _team_info(dataset_id, inputs=[text], **changes)


def test_the_login_roles_are_neither_superusers_nor_owners(team: Team):
    [(superuser, bypass)] = team.sql(
        BOB, "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    assert (superuser, bypass) == (False, False)
    owners = team.sql(
        BOB,
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename IN ('datasets', 'dataset_inputs', 'builds', 'grants', 'audit')",
    )
    assert owners == [("synth_owner",)]
    forced = team.sql(
        BOB,
        "SELECT relname FROM pg_class WHERE relrowsecurity AND relname IN "
        "('datasets', 'dataset_inputs', 'builds', 'grants', 'audit') ORDER BY relname",
    )
    assert forced == [("audit",), ("builds",), ("dataset_inputs",), ("datasets",), ("grants",)]


def test_bob_cannot_see_alices_restricted_dataset_through_synth_or_sql(team: Team):
    secret, shared = hex_id("5ec2"), hex_id("7ea7")
    alice = team.open(ALICE)
    alice.start_build("a" * 64, "secret", "ocr", "/data/secret")
    rec, created = alice.register(_team_info(secret, name="secret", access="restricted"), "/s")
    alice.end_build("a" * 64, "complete", secret)
    alice.register(_team_info(shared, name="shared"), "/t")
    assert created and (rec.owner, rec.access, rec.grants) == (ALICE, "restricted", [])
    alice.close()

    bob = team.open(BOB)
    try:
        assert bob.whoami() == BOB
        assert [r.id for r in bob.list()] == [shared]
        with pytest.raises(NotFound):
            bob.get("5ec2")
        with pytest.raises(AccessDenied) as err:
            bob.require(secret, "read")
        assert str(err.value).startswith("dataset '5ec2")
        assert "synth_bob may not read it (the 'read' right is needed)" in str(err.value)
        assert bob.builds() == []
        assert bob.audit_log("5ec2") == []
    finally:
        bob.close()
    # and plain SQL sees no more: not the record, its inputs, its build or its audit rows
    assert team.sql(BOB, "SELECT id FROM datasets ORDER BY id") == [(shared,)]
    assert team.sql(BOB, "SELECT count(*) FROM dataset_inputs WHERE dataset_id = %s", (secret,))
    assert team.sql(
        BOB, "SELECT count(*) FROM dataset_inputs WHERE dataset_id = %s", (secret,)
    ) == [(0,)]
    assert team.sql(BOB, "SELECT count(*) FROM builds") == [(0,)]
    assert team.sql(BOB, "SELECT count(*) FROM audit WHERE dataset_id = %s", (secret,)) == [(0,)]
    # nor can Bob write a row under Alice's name, or change hers
    import psycopg

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        team.sql(
            BOB,
            "INSERT INTO datasets (id, fingerprint, name, kind, path, status, created, count, "
            "seed, spec_json, code_version, statistics_json, trigger_type, trigger_json, "
            "licences_json, owner) VALUES ('ab', 'f', 'n', 'ocr', '/', 'complete', 't', 0, 0, "
            "'{}', 'x', '{}', 'manual', '{}', '[]', %s)",
            (ALICE,),
        )
    team.sql(BOB, "UPDATE datasets SET access = 'team' WHERE id = %s", (secret,))
    team.sql(BOB, "UPDATE datasets SET name = 'mine' WHERE id = %s", (shared,))
    assert team.sql(ALICE, "SELECT name, access FROM datasets ORDER BY id") == [
        ("secret", "restricted"),
        ("shared", "team"),
    ]


def test_after_a_grant_bob_reads_then_uses_and_a_revoke_takes_it_back(team: Team):
    secret = hex_id("5ec3")
    alice, bob = team.open(ALICE), team.open(BOB)
    try:
        alice.register(_team_info(secret, name="secret", access="restricted"), "/s")
        with pytest.raises(NotFound):  # Bob cannot even see it
            bob.grant(secret, BOB, "use")
        with pytest.raises(SynthError, match="role 'nobody_here': no such role"):
            alice.grant(secret, "nobody_here", "read")

        rec = alice.grant(secret, BOB, "read")
        with pytest.raises(AccessDenied, match="only its owner \\(synth_alice\\) may grant"):
            bob.grant(secret, BOB, "use")
        assert [(g["role"], g["right"], g["by"]) for g in rec.grants] == [(BOB, "read", ALICE)]
        seen = bob.get("5ec3")
        assert seen.name == "secret" and len(seen.inputs) == 2
        bob.require(secret, "read")
        with pytest.raises(AccessDenied) as err:
            bob.require(secret, "use")
        assert str(err.value) == (
            f"dataset {secret[:12]} (secret): synth_bob has only the 'read' right on it and "
            "needs 'use' (it is restricted, owned by synth_alice; its owner can give it with "
            f"`synth datasets grant {secret[:12]} synth_bob --use`)"
        )

        alice.grant(secret, BOB, "use")
        bob.require(secret, "use")
        assert team.sql(BOB, "SELECT access_right FROM grants WHERE dataset_id = %s", (secret,))
        assert team.sql(
            BOB, "SELECT access_right FROM grants WHERE dataset_id = %s", (secret,)
        ) == [("use",)]

        alice.revoke(secret, BOB)
        with pytest.raises(NotFound):
            bob.get(secret)
        with pytest.raises(NotFound, match="role 'synth_bob' holds no grant"):
            alice.revoke(secret, BOB)
    finally:
        alice.close()
        bob.close()


def test_a_grant_to_a_group_role_reaches_its_members(team: Team):
    secret = hex_id("5ec4")
    alice, bob = team.open(ALICE), team.open(BOB)
    try:
        alice.register(_team_info(secret, access="restricted"), "/s")
        alice.grant(secret, USERS, "use")  # every member of synth_users
        bob.require(secret, "use")
    finally:
        alice.close()
        bob.close()


def test_a_derived_dataset_inherits_the_strictest_level_and_the_grants(team: Team):
    source, shared, derived = hex_id("50c0"), hex_id("7ea8"), hex_id("de01")
    alice, bob = team.open(ALICE), team.open(BOB)
    try:
        alice.register(_team_info(source, name="voices", access="restricted"), "/s")
        alice.register(_team_info(shared, name="fonts"), "/t")
        alice.grant(source, BOB, "use")
        both = _from(source, derived, name="derived", access="team")
        both["parent"] = {"id": shared}
        rec, created = bob.register(both, "/d")
        assert created
        # Bob owns it; it is restricted (team asked for, a source is restricted); the union of
        # the sources' grants (Bob's own falls away) and their owner Alice
        assert (rec.owner, rec.access) == (BOB, "restricted")
        assert [(g["role"], g["right"], g["by"]) for g in rec.grants] == [(ALICE, "use", BOB)]
        assert alice.get(derived).name == "derived"  # the source's owner still reaches it
        [entry] = [e for e in bob.audit_log(derived) if e["action"] == "register"]
        assert entry["detail"] == {
            "access": "restricted",
            "from": [shared, source],
            "kind": "ocr",
            "name": "derived",
        }
        # private wins over restricted; and personal data makes a build restricted by default
        alice.set_access(source, "private")
        personal = _from(shared, hex_id("de02"), name="personal")
        personal["inputs"][0]["personal_data"] = True
        assert alice.register(personal, "/p")[0].access == "restricted"
        private = alice.register(_from(source, hex_id("de03"), name="p2"), "/q")[0]
        assert private.access == "private"
        # Bob sees the team dataset, his own, and Alice's personal one only with a grant
        assert [r.id for r in bob.list()] == [shared, derived]
    finally:
        alice.close()
        bob.close()


def test_the_audit_trail_names_each_action_and_role_and_bob_cannot_edit_it(team: Team):
    import psycopg

    secret = hex_id("5ec5")
    alice, bob = team.open(ALICE), team.open(BOB)
    try:
        alice.register(_team_info(secret, name="secret", access="restricted"), "/s")
        alice.grant(secret, BOB, "use")
        bob.audit("read", secret, {"by": "f" * 8})
        alice.revoke(secret, BOB)
        trail = alice.audit_log(secret)
        assert [(e["role"], e["action"]) for e in trail] == [
            (ALICE, "register"),
            (ALICE, "grant"),
            (BOB, "read"),
            (ALICE, "revoke"),
        ]
        assert trail[1]["detail"] == {"role": BOB, "right": "use"}
        assert all(e["time"].endswith("+00:00") and e["dataset_id"] == secret for e in trail)
    finally:
        alice.close()
        bob.close()
    for statement in ("UPDATE audit SET role = 'x'", "DELETE FROM audit", "TRUNCATE audit"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            team.sql(BOB, statement)
    # a row Bob writes by hand is stamped with his role and the server's time, whatever he says
    team.sql(
        BOB,
        "INSERT INTO audit (time, role, action, dataset_id, detail_json) "
        "VALUES ('1999-01-01', %s, 'forged', NULL, '{}')",
        (ALICE,),
    )
    [(role, time)] = team.sql(ALICE, "SELECT role, time FROM audit WHERE action = 'forged'")
    assert role == BOB and time > "2020"
    assert len(team.sql(ALICE, "SELECT id FROM audit")) == 5  # nothing was changed or removed


def test_init_roles_is_idempotent_and_hands_an_existing_catalog_to_the_owner(
    pg_url, postgres_server
):
    from synth.catalog.postgres import PostgresCatalog

    PostgresCatalog(pg_url).close()  # migrated by the administrator, before the roles
    team = make_team(pg_url, postgres_server)
    make_team(pg_url, postgres_server)  # again: nothing fails, nothing changes
    alice = team.open(ALICE)
    try:
        alice.register(_team_info(hex_id("1d1d")), "/i")
        assert alice.get("1d1d").owner == ALICE
    finally:
        alice.close()
    owners = team.sql(
        BOB,
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
    )
    assert owners == [("synth_owner",)]


def test_a_login_role_that_finds_a_migration_to_run_is_sent_to_the_administrator(team: Team):
    """Only the tables' owner migrates: a login role opening a catalog whose schema is older
    than its synth gets one line saying who does it, and the catalog is left as it was."""
    import psycopg

    from synth.catalog.sql import SCHEMA_VERSION

    with psycopg.connect(team.admin_url, autocommit=True) as db:  # as if synth were newer
        db.execute("DELETE FROM schema_version WHERE version = %s", (SCHEMA_VERSION,))
    with pytest.raises(SynthError) as err:
        team.open(BOB)
    message = str(err.value)
    assert "\n" not in message and _PASSWORD not in message
    assert message.startswith(f"postgresql://{BOB}@")
    assert message.endswith(
        f"its schema needs migrating to version {SCHEMA_VERSION}, which its owner does: an "
        "administrator runs `synth catalog init-roles`"
    )
    with psycopg.connect(team.admin_url, autocommit=True) as db:  # nothing was half-applied
        db.execute(
            "INSERT INTO schema_version (version, applied) VALUES (%s, 'now')", (SCHEMA_VERSION,)
        )
    team.open(BOB).close()


def test_two_roles_building_the_same_fingerprint_do_not_stop_each_other(team: Team):
    """The same spec and seed give the same fingerprint whoever builds it: Bob's build of
    one that Alice tracks runs untracked rather than failing, and leaves her row alone."""
    alice, bob = team.open(ALICE), team.open(BOB)
    try:
        alice.start_build("e" * 64, "same", "ocr", "/alice/same")
        bob.start_build("e" * 64, "same", "ocr", "/bob/same")
        bob.end_build("e" * 64, "failed", error="bob's")
        [row] = alice.builds()
        assert (row["owner"], row["path"], row["status"], row["error"]) == (
            ALICE,
            "/alice/same",
            "building",
            None,
        )
        assert bob.builds() == []
    finally:
        alice.close()
        bob.close()


def test_lineage_names_a_source_bob_may_no_longer_read_only_by_its_id(team: Team):
    from synth.lineage.trace import trace

    source, derived = hex_id("50c1"), hex_id("de11")
    alice, bob = team.open(ALICE), team.open(BOB)
    try:
        alice.register(_team_info(source, name="voices", access="restricted"), "/s")
        alice.grant(source, BOB, "use")
        bob.register(_from(source, derived, name="derived"), "/d")
        assert trace(bob, derived)["ancestors"][0]["name"] == "voices"
        alice.set_access(source, "private")  # the inert grant is not Bob's to see either
        assert team.sql(BOB, "SELECT count(*) FROM grants WHERE dataset_id = %s", (source,)) == [
            (0,)
        ]
        [ancestor] = trace(bob, derived)["ancestors"]
        assert ancestor == {"id": source, "relation": "input", "missing": True}
        assert trace(alice, derived)["ancestors"][0]["name"] == "voices"
    finally:
        alice.close()
        bob.close()
