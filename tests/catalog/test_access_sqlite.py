"""SQLite stays a one-user catalog: its file is created 0600 and its data root 0700; the access
columns, grants and audit trail are kept (so a catalog moved to PostgreSQL has them) but not
enforced, and the acting role is the OS user."""

from __future__ import annotations

import getpass
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from synth.catalog import open_catalog
from tests.catalog.helpers import hex_id, info
from tests.conftest import REPO


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_catalog_file_is_0600_and_the_data_root_0700(tmp_path):
    old = os.umask(0o022)  # the usual umask would leave both readable by everyone
    try:
        home = tmp_path / "new" / "root"
        catalog = open_catalog(home)
        catalog.register(info(hex_id("0600")), str(home))
        catalog.close()
    finally:
        os.umask(old)
    assert _mode(home) == 0o700
    assert _mode(home / "catalog.db") == 0o600
    for side in ("catalog.db-wal", "catalog.db-shm"):  # SQLite gives them the file's mode
        if (home / side).exists():
            assert _mode(home / side) == 0o600


def test_an_existing_data_root_keeps_its_mode(tmp_path):
    home = tmp_path / "shared"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    open_catalog(home).close()
    assert _mode(home) == 0o755  # the user's own folder: not changed behind their back
    assert _mode(home / "catalog.db") == 0o600


def test_access_is_recorded_but_not_enforced(tmp_path):
    catalog = open_catalog(tmp_path)
    try:
        me = getpass.getuser()
        assert catalog.whoami() == me
        rec, _ = catalog.register(info(hex_id("5ec1"), access="private"), "/p")
        assert (rec.owner, rec.access) == (me, "private")
        catalog.require(rec.id, "use")  # one user: every right is theirs
        catalog.set_access(rec.id, "restricted")
        granted = catalog.grant(rec.id, "anyone", "read")
        assert [(g["role"], g["right"], g["by"]) for g in granted.grants] == [
            ("anyone", "read", me)
        ]
        # personal data (the helper's texts) makes a registration restricted by default
        assert catalog.register(info(hex_id("5ec2")), "/q")[0].access == "restricted"
        trail = catalog.audit_log("5ec1")
        assert [(e["role"], e["action"]) for e in trail] == [
            (me, "register"),
            (me, "access"),
            (me, "grant"),
        ]
    finally:
        catalog.close()


def test_the_commands_on_sqlite(tmp_path):
    catalog = open_catalog(tmp_path)
    rec, _ = catalog.register(info(hex_id("c11a"), access="restricted"), "/c")
    catalog.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SYNTH_"))}

    def synth(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "flows.cli", *args, "--home", str(tmp_path)],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
        )

    assert synth("datasets", "grant", "c11a", "bob", "--use").returncode == 0
    shown = json.loads(synth("datasets", "show", "c11a", "--json").stdout)
    assert [(g["role"], g["right"]) for g in shown["grants"]] == [("bob", "use")]
    assert synth("datasets", "revoke", "c11a", "bob").returncode == 0
    again = synth("datasets", "revoke", "c11a", "bob")
    assert again.returncode == 2
    assert again.stderr == f"synth: error: dataset {rec.id[:12]}: role 'bob' holds no grant on it\n"
    team = synth("datasets", "grant", "c11a", "bob")
    assert team.returncode == 0  # restricted: grants apply
    synth("datasets", "access", "c11a", "team")
    refused = synth("datasets", "grant", "c11a", "carol")
    assert refused.returncode == 2
    assert "is team (every catalog user may use it)" in refused.stderr
    audit = json.loads(synth("datasets", "audit", "--json").stdout)["audit"]
    assert [e["action"] for e in audit] == ["register", "grant", "revoke", "grant", "access"]
    init = synth("catalog", "init-roles")
    assert init.returncode == 2
    assert "init-roles needs the PostgreSQL catalog's URL" in init.stderr


def test_an_import_of_personal_data_is_restricted_unless_access_says_otherwise(tmp_path):
    from PIL import Image

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SYNTH_"))}
    levels = []
    for n, extra in enumerate(([], ["--access", "team"], ["--access", "private"])):
        data = tmp_path / f"real{n}"
        data.mkdir()
        Image.new("RGB", (40, 12), (n * 40, 0, 0)).save(data / "a.png")
        (data / "a.txt").write_text(f"line {n}\n")
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "flows.cli", "datasets", "import", str(data)),
                *("--kind", "ocr", "--personal-data", "--licence", "CC0-1.0", "--json"),
                *("--home", str(tmp_path), *extra),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        catalog = open_catalog(tmp_path)
        levels.append(catalog.get(json.loads(proc.stdout)["id"]).access)
        catalog.close()
    assert levels == ["restricted", "team", "private"]
