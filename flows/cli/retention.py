"""Deletion and where-used: ``synth datasets delete|where-used|tombstones``.

They read and write the catalog and dataset folders only: none of them imports Prefect.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from flows.cli.args import add_common

if TYPE_CHECKING:
    pass


def _catalog(args: argparse.Namespace):
    from synth.catalog import open_catalog

    return open_catalog(args.home, create=False)


def cmd_delete(args: argparse.Namespace) -> int:
    from synth.catalog.base import data_home
    from synth.engine.retention import delete_dataset, tombstone_json

    reason = " ".join((args.reason or "").split())
    catalog = _catalog(args)
    try:
        result = delete_dataset(
            catalog,
            args.id,
            data_home(args.home),
            reason=reason,
            with_descendants=args.with_descendants,
        )
    finally:
        catalog.close()
    if args.json:
        print(
            json.dumps(
                {
                    "deleted": [tombstone_json(t) for t in result.tombstones],
                    "problems": result.problems,
                },
                ensure_ascii=False,
            )
        )
        return 0
    for t in result.tombstones:
        print(f"deleted {t.id[:12]} {t.name} ({t.kind}): {t.files}")
    for problem in result.problems:
        print(f"problem: {problem}")
    last = result.tombstones[-1]
    print(f"tombstone kept: {last.summary()}")
    return 0


def cmd_where_used(args: argparse.Namespace) -> int:
    from synth.catalog.base import data_home
    from synth.engine.where_used import parse_ref, render_chain, where_used
    from synth.errors import NoCatalog

    parse_ref(args.ref)  # a malformed REF is an error even without a catalog
    try:
        catalog = _catalog(args)
    except NoCatalog:
        found = {"ref": {}, "matched_ids": [], "datasets": [], "deleted": []}
    else:
        try:
            found = where_used(catalog, args.ref, data_home(args.home))
        finally:
            catalog.close()
    if args.json:
        print(json.dumps(found, ensure_ascii=False))
        return 0
    live, gone = found["datasets"], found["deleted"]
    if not live and not gone:
        print(f"no dataset uses {args.ref}")
        return 0
    if live:
        print(f"{len(live)} dataset{'s' if len(live) != 1 else ''} use {args.ref}:")
    else:
        print(f"no dataset uses {args.ref} now")
    for d in live:
        print(f"  {d['id'][:12]}  {d['name']} ({d['kind']})  {d['path']}")
        print(f"      via {render_chain(d['chain'])}")
    if gone:
        print(f"deleted, with their tombstones ({len(gone)}):")
    for d in gone:
        print(f"  {d['id'][:12]}  {d['name']} ({d['kind']}): {d['deleted']}")
        print(f"      via {render_chain(d['chain'])}")
    return 0


def cmd_tombstones(args: argparse.Namespace) -> int:
    from synth.engine.retention import tombstone_json
    from synth.errors import NoCatalog

    try:
        catalog = _catalog(args)
    except NoCatalog:
        graves = []
    else:
        try:
            graves = sorted(catalog.tombstones().values(), key=lambda t: (t.deleted, t.id))
        finally:
            catalog.close()
    if args.json:
        print(json.dumps({"tombstones": [tombstone_json(t) for t in graves]}, ensure_ascii=False))
        return 0
    if not graves:
        print("no dataset has been deleted")
        return 0
    for t in graves:
        print(f"{t.id[:12]}  {t.name} ({t.kind}, {t.count} samples): {t.summary()}")
    return 0


def register_datasets(dsub: argparse._SubParsersAction) -> None:
    """Add ``delete``, ``where-used`` and ``tombstones`` to the ``datasets`` sub-commands."""
    delete = dsub.add_parser(
        "delete",
        help="delete a version's files and record, leaving a tombstone",
        description=(
            "Delete dataset ID: its folder under the data root goes (an imported dataset's "
            "folder is the user's and stays; only synth's index of it goes), its record becomes "
            "a tombstone (who, when, why, its content id, name, kind, path and inputs) that the "
            "lineage of versions built from it still names. Refused while versions built from "
            "it exist, unless --with-descendants deletes them too (descendants first)."
        ),
    )
    delete.add_argument("id", help="dataset id or a unique prefix of it")
    delete.add_argument("--reason", default="", help="why (kept in the tombstone)")
    delete.add_argument(
        "--with-descendants",
        action="store_true",
        help="also delete every version built from it, at any depth",
    )
    add_common(delete)
    delete.set_defaults(func=cmd_delete)

    used = dsub.add_parser(
        "where-used",
        help="every version whose lineage holds a file, a sha256 or a dataset",
        description=(
            "List every dataset version whose lineage includes REF, directly or through the "
            "versions it was built from (any depth), with the chain by which it holds it. REF: a "
            "file or folder path (a file://, asset: or other input uri), a sha256 or a prefix "
            "of at least 8 hex digits, or a dataset id (prefix)."
        ),
    )
    used.add_argument("ref", help="a path, a sha256 (prefix >= 8 hex digits) or a dataset id")
    add_common(used)
    used.set_defaults(func=cmd_where_used)

    graves = dsub.add_parser(
        "tombstones", help="the deleted versions: who deleted each, when and why"
    )
    add_common(graves)
    graves.set_defaults(func=cmd_tombstones)
