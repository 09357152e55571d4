"""The PostgreSQL roles a team catalog runs under, and ``init_roles`` that an administrator
runs once (``synth catalog init-roles``).

- ``synth_owner`` (NOLOGIN) owns the tables and the functions of ``synth.catalog.pg_access``;
  it is the one role the row-level security policies do not bind, and the one that runs
  migrations.
- ``synth_users`` (NOLOGIN) is the group every person's login role joins: it may read and write
  the catalog's tables through the policies, and only append to ``audit``.
- each person logs in as their own role, a member of ``synth_users`` and never of
  ``synth_owner``, neither a superuser nor a table owner:
  ``CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE synth_users``.
"""

from __future__ import annotations

import re

from synth.catalog.sql import MIGRATIONS

OWNER = "synth_owner"
USERS = "synth_users"

_TABLE = re.compile(r"CREATE TABLE (\w+)")
_FUNCTIONS = ("synth_right(text, text)", "synth_audit_stamp()")


def quote(name: str) -> str:
    """``name`` as a PostgreSQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def catalog_tables() -> list[str]:
    """The tables the migrations create, and ``schema_version``."""
    tables = [t for text in MIGRATIONS.values() for t in _TABLE.findall(text)]
    return [*dict.fromkeys(tables), "schema_version"]


def role_statements(schema: str, owner: str = OWNER, users: str = USERS) -> list[str]:
    """Create the two group roles (when absent) and let them into ``schema``."""
    out = []
    for role in (owner, users):
        literal = role.replace("'", "''")
        out.append(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = "  # noqa: S608
            f"'{literal}') THEN CREATE ROLE {quote(role)} NOLOGIN; END IF; END $$"
        )
    out += [
        f"GRANT USAGE, CREATE ON SCHEMA {quote(schema)} TO {quote(owner)}",
        f"GRANT USAGE ON SCHEMA {quote(schema)} TO {quote(users)}",
    ]
    return out


def ownership_statements(existing: list[str], functions: list[str], owner: str = OWNER):
    """Hand tables and functions created before (by another role) to ``owner``."""
    return [f"ALTER TABLE {quote(t)} OWNER TO {quote(owner)}" for t in existing] + [
        f"ALTER FUNCTION {f} OWNER TO {quote(owner)}" for f in functions
    ]


def privilege_statements(schema: str, owner: str = OWNER, users: str = USERS) -> list[str]:
    """What ``users`` may do with the tables: read and write through the policies, append to
    the audit trail, read the schema version; tables of later migrations get the same."""
    s, o, u = quote(schema), quote(owner), quote(users)
    return [
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {u}",
        f"REVOKE INSERT, UPDATE, DELETE ON schema_version FROM {u}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM {u}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {u}",
    ]


def init_roles(url: str, owner: str = OWNER, users: str = USERS) -> list[str]:
    """As the administrator at ``url`` (a superuser, or a role that may create roles and is a
    member of ``owner``): create the roles, hand existing catalog tables to ``owner``, migrate
    the catalog as ``owner`` and grant ``users`` their privileges. Idempotent. Returns the
    statements run (the migrations apart)."""
    from synth.catalog.postgres import PostgresCatalog, connect

    ran: list[str] = []
    with connect(url) as db:
        schema = db.execute("SELECT current_schema() AS s").fetchone()["s"]
        names = catalog_tables()
        existing = [
            r["tablename"]
            for r in db.execute(
                "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = %s "
                "AND tablename = ANY(%s) AND tableowner <> %s",
                (schema, names, owner),
            ).fetchall()
        ]
        functions = [
            f
            for f in _FUNCTIONS
            if db.execute("SELECT to_regprocedure(%s) AS f", (f,)).fetchone()["f"]
        ]
        for statement in role_statements(schema, owner, users) + ownership_statements(
            existing, functions, owner
        ):
            db.execute(statement)
            ran.append(statement)
    PostgresCatalog(url, role=owner).close()  # the tables, policies and functions: owner's
    with connect(url) as db:
        for statement in privilege_statements(schema, owner, users):
            db.execute(statement)
            ran.append(statement)
    return ran
