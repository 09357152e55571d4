"""A team catalog as an administrator sets it up (docs/access.md): ``init_roles``, then two
login roles, Alice and Bob, in the users' group; neither is a superuser or a table owner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from synth.catalog.roles import USERS, init_roles
from tests.catalog.conftest import PostgresServer

_PASSWORD = "login-pw:42"
ALICE, BOB = "synth_alice", "synth_bob"


@dataclass
class Team:
    admin_url: str
    urls: dict[str, str]  # login role -> its URL

    def open(self, role: str) -> Any:
        from synth.catalog.postgres import PostgresCatalog

        return PostgresCatalog(self.urls[role])

    def sql(self, role: str, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Plain SQL as ``role``, as any client would send it (rows, or [] for none)."""
        import psycopg

        with psycopg.connect(self.urls[role], autocommit=True) as db:
            cur = db.execute(text, params)
            return cur.fetchall() if cur.description else []


def make_team(pg_url: str, server: PostgresServer) -> Team:
    """Roles as docs/access.md sets them up: ``init_roles`` as the administrator, then one
    login role per person in the users' group (roles belong to the server, so they may exist
    from an earlier test)."""
    from psycopg import sql

    init_roles(pg_url)
    database = pg_url.rsplit("/", 1)[1]
    urls = {}
    with server.admin() as db:
        for role in (ALICE, BOB):
            exists = db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if not exists:
                db.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                        sql.Identifier(role), sql.Literal(_PASSWORD), sql.Identifier(USERS)
                    )
                )
            urls[role] = (
                f"postgresql://{role}:{quote(_PASSWORD, safe='')}@{server.host}:{server.port}/"
                f"{database}"
            )
    return Team(pg_url, urls)
