"""The access commands as people run them: real ``synth`` processes, one per role, against a
real PostgreSQL team catalog. Alice builds a restricted dataset; Bob can neither see nor build
from it until she grants him a right, and each refusal is one line with nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.catalog.conftest import PostgresServer
from tests.catalog.team import ALICE, BOB, Team, make_team
from tests.conftest import REPO

pytestmark = pytest.mark.slow


class Person:
    """``synth`` as one login role, with a data root of its own."""

    def __init__(self, url: str, home: Path) -> None:
        self.home = home
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SYNTH_"))}
        self.env = {**env, "SYNTH_CATALOG_URL": url, "SYNTH_HOME": str(home)}

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        # this checkout's synth (``-m`` from its root), whichever one is installed
        return subprocess.run(
            [sys.executable, "-m", "flows.cli", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=REPO,
            timeout=300,
        )

    def json(self, *args: str) -> dict:
        proc = self(*args, "--json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def refused(self, *args: str) -> str:
        """The one-line error of a command that must fail as bad input (exit 2)."""
        proc = self(*args)
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        [line] = proc.stderr.splitlines()
        return line


@pytest.fixture
def team(pg_url: str, postgres_server: PostgresServer) -> Team:
    return make_team(pg_url, postgres_server)


def _counts(team: Team) -> tuple[int, int]:
    """Datasets and builds in the catalog, as its administrator sees them."""
    import psycopg

    with psycopg.connect(team.admin_url) as db:
        datasets = db.execute("SELECT count(*) FROM datasets").fetchone()[0]
        builds = db.execute("SELECT count(*) FROM builds").fetchone()[0]
    return datasets, builds


def test_bob_builds_from_alices_dataset_only_with_the_use_right(team: Team, tmp_path: Path):
    alice = Person(team.urls[ALICE], tmp_path / "alice")
    bob = Person(team.urls[BOB], tmp_path / "bob")
    made = alice.json(
        "ocr", "--count", "2", "--seed", "1", "--preset", "clean", "--access", "restricted"
    )
    source, short = made["id"], made["id"][:12]
    shown = alice.json("datasets", "show", short)
    assert (shown["owner"], shown["access"], shown["grants"]) == (ALICE, "restricted", [])

    # Bob sees nothing of it, and building from it fails before anything is written
    assert bob.json("datasets", "list") == {"datasets": []}
    assert "no such dataset" in bob.refused("datasets", "show", short)
    hidden = f"synth: error: dataset '{short}': not in {team.urls[BOB].split(':')[0]}://{BOB}@"
    line = bob.refused("ocr", "--count", "2", "--texts-from", short)
    assert line.startswith(hidden) and line.endswith("may not read it (the 'use' right is needed)")
    assert bob.refused("expand", short, "--count", "1").startswith(hidden)
    assert bob.refused("speech", "--count", "1", "--clean", short).startswith(hidden)
    assert not bob.home.exists()
    assert _counts(team) == (1, 1)

    # with the read right: he sees it, its inputs and its owner, but may not build from it
    alice.json("datasets", "grant", short, BOB, "--read")
    seen = bob.json("datasets", "show", short)
    assert seen["id"] == source and seen["inputs"]
    assert [(g["role"], g["right"], g["by"]) for g in seen["grants"]] == [(BOB, "read", ALICE)]
    human = bob("datasets", "show", short).stdout
    assert f"owner        {ALICE}\n" in human
    assert "access       restricted (its owner and the roles granted below)\n" in human
    assert f"  read  {BOB}" in human
    needs_use = (
        f"synth: error: dataset {short} (ocr-clean): {BOB} has only the 'read' right on it and "
        f"needs 'use' (it is restricted, owned by {ALICE}; its owner can give it with "
        f"`synth datasets grant {short} {BOB} --use`)"
    )
    assert bob.refused("ocr", "--count", "2", "--texts-from", short) == needs_use
    assert bob.refused("expand", short, "--count", "1") == needs_use
    assert "only its owner (synth_alice) may grant" in bob.refused(
        "datasets", "grant", short, BOB, "--use"
    )
    assert not bob.home.exists()
    assert _counts(team) == (1, 1)

    # with the use right he builds; what he makes inherits the level and Alice's reach
    alice.json("datasets", "grant", short, BOB, "--use")
    derived = bob.json("ocr", "--count", "2", "--seed", "2", "--texts-from", short)
    mine = bob.json("datasets", "show", derived["id"])
    assert (mine["owner"], mine["access"]) == (BOB, "restricted")
    assert [(g["role"], g["right"]) for g in mine["grants"]] == [(ALICE, "use")]
    assert f"dataset:{source}" in [i["uri"] for i in mine["inputs"]]
    assert alice.json("datasets", "show", derived["id"][:12])["owner"] == BOB

    # the trail: who did what to Alice's dataset, the read by Bob's build included
    assert alice("datasets", "verify", short).returncode == 0
    trail = alice.json("datasets", "audit", short)["audit"]
    assert [(e["role"], e["action"]) for e in trail] == [
        (ALICE, "register"),
        (ALICE, "grant"),
        (ALICE, "grant"),
        (BOB, "read"),
        (ALICE, "verify"),
    ]
    assert trail[3]["detail"]["build"] == "ocr-default"  # the build that read it
    assert trail[4]["detail"] == {"ok": True, "quick": False}
    table = alice("datasets", "audit").stdout
    assert f"{BOB:16}  read      {short}" in table

    # a revoke takes the dataset out of Bob's sight again (what he built stays his)
    alice.json("datasets", "revoke", short, BOB)
    assert "no such dataset" in bob.refused("datasets", "show", short)
    assert bob.json("datasets", "show", derived["id"])["owner"] == BOB


def test_init_roles_on_the_command_line_sets_up_a_catalog_twice_alike(pg_url, tmp_path):
    admin = Person(pg_url, tmp_path / "admin")
    first = admin.json("catalog", "init-roles")  # the URL from SYNTH_CATALOG_URL
    again = admin.json("catalog", "init-roles", "--url", pg_url)
    assert (first["owner"], first["users"]) == ("synth_owner", "synth_users")
    assert first["statements"][-4:] == again["statements"][-4:]
    grant = 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "public" TO "synth_users"'
    assert grant in again["statements"]
    import psycopg

    with psycopg.connect(pg_url) as db:
        owners = db.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        audit = db.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = 'synth_users' AND table_name = 'audit' ORDER BY privilege_type"
        ).fetchall()
    assert owners == [("synth_owner",)]
    assert audit == [("INSERT",), ("SELECT",)]
    printed = admin("catalog", "init-roles", "--print")
    assert printed.returncode == 0
    assert 'REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM "synth_users";' in printed.stdout
    assert pg_url.split("@")[0] not in printed.stdout  # nothing of the URL, password included


def _runs(team: Team) -> int:
    import psycopg

    with psycopg.connect(team.admin_url) as db:
        return db.execute("SELECT count(*) FROM runs").fetchone()[0]


def test_bob_trains_on_alices_dataset_only_with_the_use_right(team: Team, tmp_path: Path):
    alice = Person(team.urls[ALICE], tmp_path / "alice")
    bob = Person(team.urls[BOB], tmp_path / "bob")
    made = alice.json(
        "ocr", "--count", "2", "--seed", "3", "--preset", "clean", "--access", "restricted"
    )
    short = made["id"][:12]
    train = [sys.executable, "-c", "print('train_error=1 val_error=2')"]
    line = bob.refused("run", short, "--", *train)
    assert f"dataset '{short}'" in line and "the 'use' right is needed" in line
    assert _runs(team) == 0  # nothing recorded
    # Alice's own run on it is hers: Bob sees it neither through synth nor through SQL
    proc = alice("run", short, "--json", "--", *train)
    assert proc.returncode == 0, proc.stderr
    hers = json.loads(proc.stdout)["id"]
    assert bob.json("runs", "list") == {"runs": []}
    assert "no such run" in bob.refused("runs", "show", hers[:12])
    import psycopg

    with psycopg.connect(team.urls[BOB]) as db:
        for table in ("runs", "run_datasets", "run_steps"):
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor writes one as Alice
            db.execute(
                "INSERT INTO runs (id, model, command_json, status, started, log_path, "
                "trigger_type, trigger_json, metrics_json, hp_json, owner) VALUES "
                "('ff', 'm', '[]', 'succeeded', 't', 'l', 'manual', '{}', '{}', '{}', %s)",
                (ALICE,),
            )
    alice.json("datasets", "grant", short, BOB, "--use")
    assert [r["id"] for r in bob.json("runs", "list")["runs"]] == [hers]  # now he may
    proc = bob("run", short, "--json", "--", *train)
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)
    assert run["status"] == "succeeded" and run["metrics"] == {"train_error": 1, "val_error": 2}
    assert _runs(team) == 2
    trail = alice.json("datasets", "audit", short)["audit"]
    assert (trail[-1]["role"], trail[-1]["action"]) == (BOB, "read")
    assert trail[-1]["detail"] == {"run": run["id"], "role": "train", "split": None}
    # the run's OpenLineage events name the restricted dataset by id and level, not its folder
    events = (bob.home / "lineage" / "openlineage.jsonl").read_text()
    assert made["path"] not in events
    [_, complete] = [json.loads(x) for x in events.splitlines()]
    assert [i["name"] for i in complete["inputs"]] == [made["id"]]
    assert complete["run"]["facets"]["synthRun"]["access"] == "restricted"


def test_only_the_owner_deletes_and_the_delete_is_in_the_audit_trail(team: Team, tmp_path: Path):
    alice = Person(team.urls[ALICE], tmp_path / "alice")
    bob = Person(team.urls[BOB], tmp_path / "bob")
    made = alice.json("ocr", "--count", "2", "--seed", "4", "--preset", "clean")  # team level
    short = made["id"][:12]
    # the same shared data root, another role
    line = bob.refused("datasets", "delete", short, "--reason", "x", "--home", str(alice.home))
    assert line == (
        f"synth: error: dataset {short}: only its owner ({ALICE}) may delete it; {BOB} is not"
    )
    assert Path(made["path"]).is_dir()
    gone = alice.json("datasets", "delete", short, "--reason", "consent withdrawn")
    assert not Path(made["path"]).exists() and gone
    import psycopg

    with psycopg.connect(team.admin_url) as db:
        rows = db.execute(
            "SELECT role, action, detail_json FROM audit WHERE dataset_id = %s ORDER BY id",
            (made["id"],),
        ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(ALICE, "register"), (ALICE, "delete")]
    assert json.loads(rows[-1][2])["reason"] == "consent withdrawn"
