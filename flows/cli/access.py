"""Access rights and the audit trail on the command line: ``synth datasets grant|revoke|access|
audit``, ``--access`` on the commands that register a dataset, the audit of ``verify``, and
``synth catalog init-roles`` (docs/access.md).

``register_datasets(dsub)`` adds the ``datasets`` sub-commands; ``register(sub)`` adds the
``catalog`` group and, once the build and ``datasets`` commands are registered, their
``--access`` flag and the verify audit (``wrap_commands``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from collections.abc import Callable
from typing import Any

from flows.cli.args import _Parser, add_common
from flows.cli.output import _emit

_LEVELS = ("team", "restricted", "private")


def _catalog(args: argparse.Namespace, create: bool = False) -> Any:
    from synth.catalog import open_catalog

    return open_catalog(args.home, create=create)


def _grant_obj(rec: Any) -> dict[str, Any]:
    return {"id": rec.id, "owner": rec.owner, "access": rec.access, "grants": rec.grants}


def cmd_grant(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    try:
        rec = catalog.grant(args.id, args.role, args.right)
    finally:
        catalog.close()
    _emit(args, _grant_obj(rec), f"{args.role} may now {args.right} dataset {rec.id[:12]}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    try:
        rec = catalog.revoke(args.id, args.role)
    finally:
        catalog.close()
    _emit(args, _grant_obj(rec), f"{args.role} no longer holds a grant on {rec.id[:12]}")
    return 0


def cmd_access(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    try:
        rec = catalog.set_access(args.id, args.level)
    finally:
        catalog.close()
    _emit(args, _grant_obj(rec), f"dataset {rec.id[:12]} is now {rec.access}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from synth.errors import NoCatalog

    try:
        catalog = _catalog(args)
    except NoCatalog:
        rows: list[dict[str, Any]] = []
    else:
        try:
            rows = catalog.audit_log(args.id)
        finally:
            catalog.close()
    if args.json:
        print(json.dumps({"audit": rows}, ensure_ascii=False))
        return 0
    if not rows:
        print("no audit entries" + (f" for {args.id}" if args.id else ""))
        return 0
    print(f"{'time':25}  {'role':16}  {'action':8}  {'dataset':12}  detail")
    for r in rows:
        dataset = (r["dataset_id"] or "-")[:12]
        detail = json.dumps(r["detail"], ensure_ascii=False, sort_keys=True)
        print(f"{r['time']:25}  {r['role']:16}  {r['action']:8}  {dataset:12}  {detail}")
    return 0


def cmd_init_roles(args: argparse.Namespace) -> int:
    from synth.catalog.roles import init_roles, privilege_statements, role_statements
    from synth.errors import ConfigError

    if args.print:
        statements = [
            *role_statements(args.schema, args.owner, args.users),
            f"-- then, as {args.owner}: synth's migrations (any synth command run with "
            f"SYNTH_CATALOG_URL pointing at a role acting as {args.owner}); then:",
            *privilege_statements(args.schema, args.owner, args.users),
            f"-- each person: CREATE ROLE name LOGIN PASSWORD '...' IN ROLE {args.users};",
        ]
        for statement in statements:
            print(statement if statement.startswith("--") else f"{statement.strip()};")
        return 0
    url = args.url or os.environ.get("SYNTH_CATALOG_URL")
    if not url or not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "--url: init-roles needs the PostgreSQL catalog's URL, as an administrator "
            "(or SYNTH_CATALOG_URL); SQLite has one user and no roles"
        )
    ran = init_roles(url, args.owner, args.users)
    _emit(
        args,
        {"owner": args.owner, "users": args.users, "statements": ran},
        f"roles ready: {args.owner} owns the catalog's tables, members of {args.users} use "
        f"it; add a person with CREATE ROLE name LOGIN PASSWORD '...' IN ROLE {args.users}",
    )
    return 0


# -- --access on the commands that register, and the verify audit -------------------------------
def _with_access(func: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """``func`` with ``--access`` passed on to the registration (``SYNTH_ACCESS``)."""
    from synth.catalog.access import ACCESS_ENV

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        if getattr(args, "access", None):
            os.environ[ACCESS_ENV] = args.access  # read by the catalog's register
        return func(args)

    return run


def _audited_verify(func: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """``verify`` that leaves an audit row with its verdict."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        code = func(args)
        catalog = _catalog(args)
        try:
            rec = catalog.get(args.id)
            catalog.audit("verify", rec.id, {"ok": code == 0, "quick": bool(args.quick)})
        finally:
            catalog.close()
        return code

    return run


def _add_access_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--access",
        choices=_LEVELS,
        help=(
            f"who may read and use {what}: team (every catalog user), restricted (its owner "
            "and the roles granted) or private (its owner); default team, restricted for "
            "personal data, and never more open than the datasets it is built from"
        ),
    )


def wrap_commands(sub: argparse._SubParsersAction, dsub: argparse._SubParsersAction) -> None:
    """Add ``--access`` to ``ocr``, ``speech``, ``expand`` and ``datasets import``, and the
    audit row to ``datasets verify``."""
    targets = [sub.choices.get(n) for n in ("ocr", "speech", "expand")]
    targets.append(dsub.choices.get("import"))
    for p in (t for t in targets if t is not None):
        _add_access_flag(p, "the new dataset")
        p.set_defaults(func=_with_access(p.get_default("func")))
    verify = dsub.choices.get("verify")
    if verify is not None:
        verify.set_defaults(func=_audited_verify(verify.get_default("func")))


# -- the parsers ----------------------------------------------------------------------------------
def register_datasets(dsub: argparse._SubParsersAction) -> None:
    """Add ``grant``, ``revoke``, ``access`` and ``audit`` to the ``datasets`` sub-commands."""
    g = dsub.add_parser(
        "grant",
        help="let a role read or use a restricted dataset (its owner only)",
        description=(
            "Give ROLE a right on restricted dataset ID: --read (see its record, inputs and "
            "lineage; the default) or --use (also build from it). A role's earlier grant is "
            "replaced. Datasets built from it later inherit its grants."
        ),
    )
    g.add_argument("id", help="dataset id or a unique prefix of it")
    g.add_argument("role", help="a database role (a login role or a group role)")
    right = g.add_mutually_exclusive_group()
    right.add_argument("--use", dest="right", action="store_const", const="use")
    right.add_argument("--read", dest="right", action="store_const", const="read")
    g.set_defaults(right="read", func=cmd_grant)
    add_common(g)

    r = dsub.add_parser("revoke", help="take back a role's grant on a dataset (its owner only)")
    r.add_argument("id", help="dataset id or a unique prefix of it")
    r.add_argument("role")
    add_common(r)
    r.set_defaults(func=cmd_revoke)

    a = dsub.add_parser("access", help="change a dataset's access level (its owner only)")
    a.add_argument("id", help="dataset id or a unique prefix of it")
    a.add_argument("level", choices=_LEVELS)
    add_common(a)
    a.set_defaults(func=cmd_access)

    au = dsub.add_parser(
        "audit",
        help="the audit trail: registrations, grants, revocations, verifications and reads",
    )
    au.add_argument("id", nargs="?", help="only this dataset (an id or a prefix of it)")
    add_common(au)
    au.set_defaults(func=cmd_audit)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``catalog`` group (``init-roles``) to the ``synth`` parser's sub-commands."""
    from synth.catalog.roles import OWNER, USERS

    cat = sub.add_parser("catalog", help="set up a team catalog on PostgreSQL")
    csub = cat.add_subparsers(dest="catalog_command", required=True, parser_class=_Parser)
    init = csub.add_parser(
        "init-roles",
        help="create the roles of a team catalog and migrate it as its owner",
        description=(
            f"As an administrator: create {OWNER} (owns the tables; the row-level security "
            f"policies do not bind it) and {USERS} (the group each person's login role joins), "
            f"migrate the catalog as {OWNER} and grant {USERS} its privileges. Idempotent. "
            "--print shows the SQL instead of running it."
        ),
    )
    init.add_argument("--url", help="the catalog's URL as an administrator (SYNTH_CATALOG_URL)")
    init.add_argument("--owner", default=OWNER, help=f"the owner role (default {OWNER})")
    init.add_argument("--users", default=USERS, help=f"the users' group role (default {USERS})")
    init.add_argument("--schema", default="public", help="the schema, for --print")
    init.add_argument("--print", action="store_true", help="print the SQL, run nothing")
    add_common(init)
    init.set_defaults(func=cmd_init_roles)
