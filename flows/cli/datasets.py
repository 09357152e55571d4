"""The catalog commands: ``synth datasets list|show|lineage|diff|import|verify``.

They read and write the catalog and dataset folders only: none of them imports Prefect.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from flows.cli.args import _non_negative, _Parser, add_common
from flows.cli.output import EXIT_CHECK_FAILED, _emit, _fail


def _catalog(args: argparse.Namespace, create: bool = False):
    """The catalog of ``--home``; a look-up (``create=False``) never creates one."""
    from synth.catalog import open_catalog

    return open_catalog(args.home, create=create)


def cmd_list(args: argparse.Namespace) -> int:
    from synth.errors import NoCatalog

    try:
        records = _catalog(args).list(kind=args.kind, name=args.name, licence=args.licence)
    except NoCatalog:
        records = []
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "kind": r.kind,
            "count": r.count,
            "created": r.created,
            "trigger": r.trigger.get("type"),
            "parent_id": r.parent_id,
            "licences": r.licences,
            "path": r.path,
            "owner": r.owner,
            "access": r.access,
        }
        for r in records
    ]
    if args.json:
        print(json.dumps({"datasets": rows}, ensure_ascii=False))
        return 0
    if not rows:
        filters = [
            f"--{flag} {value}"
            for flag, value in (("kind", args.kind), ("name", args.name), ("licence", args.licence))
            if value
        ]
        if filters:
            print(f"no dataset matches {' '.join(filters)}")
        else:
            print(
                "no datasets yet: make one with `synth ocr --count 100` or "
                "`synth speech --count 100`"
            )
        return 0
    print(f"{'id':12}  {'kind':6}  {'count':>7}  {'trigger':9}  {'created':25}  name")
    for r in rows:
        print(
            f"{r['id'][:12]}  {r['kind']:6}  {r['count']:>7}  {r['trigger']:9}  "
            f"{r['created']:25}  {r['name']}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from synth.engine.retention import deleted_sources

    catalog = _catalog(args)
    try:
        rec = catalog.get(args.id)
        gone = deleted_sources(catalog, rec)
    finally:
        catalog.close()
    obj = rec.to_json()
    if gone:  # inputs of it that were deleted since, each with its tombstone
        obj["deleted_inputs"] = [t.to_json() | {"inputs": len(t.inputs)} for t in gone.values()]
    if args.json:
        print(json.dumps(obj, ensure_ascii=False))
        return 0
    print(f"id           {rec.id}")
    print(f"name         {rec.name} ({rec.kind}, {rec.count} samples)")
    print(f"path         {rec.path}")
    print(f"created      {rec.created}")
    print(f"fingerprint  {rec.fingerprint}")
    print(f"seed         {rec.seed}")
    print(f"code version {rec.code_version}")
    print(f"trigger      {json.dumps(rec.trigger)}")
    print(f"flow run     {rec.flow_run_id or '-'}")
    print(f"parent       {rec.parent_id or '-'}")
    print(f"licences     {', '.join(rec.licences)}")
    splits = rec.statistics.get("splits")
    if isinstance(splits, dict):
        counts, groups = splits.get("counts") or {}, splits.get("groups") or {}
        shown = ", ".join(
            f"{s} {counts[s]} ({groups.get(s, '?')} groups)"
            for s in ("train", "validation", "test")
            if s in counts
        )
        print(
            f"splits       {shown}; grouped by {', '.join(splits.get('group_by') or [])}, "
            f"shared groups {splits.get('shared_groups')}"
        )
    from synth.catalog.access import access_lines

    for line in access_lines(rec):
        print(line)
    rej = rec.statistics.get("rejections") or {}
    print(f"rejections   {json.dumps(rej) if rej else 'none'}")
    print(f"inputs       {len(rec.inputs)}")
    for item in rec.inputs:
        digest = item["sha256"][:12] or "-"
        print(f"  {item['role']:11} {item['name']:40} {digest:12}  {item['licence']}")
        if item["uri"].startswith("dataset:") and (t := gone.get(item["uri"][8:])):
            print(f"  {'':11} dataset {t.id[:12]} ({t.name}) was {t.summary()}")
    if rec.parent_id and (t := gone.get(rec.parent_id)):
        print(f"parent {t.id[:12]} ({t.name}) was {t.summary()}")
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    from synth.lineage.trace import render_dot, render_mermaid, render_tree, trace

    catalog = _catalog(args)
    try:
        lineage = trace(catalog, args.id)
    finally:
        catalog.close()
    if args.json:
        print(json.dumps(lineage, ensure_ascii=False))
    else:
        render = {"tree": render_tree, "mermaid": render_mermaid, "dot": render_dot}[args.format]
        print(render(lineage))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from synth.lineage.trace import diff

    catalog = _catalog(args)
    try:
        d = diff(catalog.get(args.a), catalog.get(args.b))
    finally:
        catalog.close()
    if args.json:
        print(json.dumps(d, ensure_ascii=False))
        return 0
    a, b = d["a"]["id"][:12], d["b"]["id"][:12]
    print(f"{'':28}{a:>24}  {b:>24}")
    for key in ("count", "seed", "code_version"):
        print(f"{key:28}{d[key][0]!s:>24}  {d[key][1]!s:>24}")
    print(f"{'trigger':28}{d['trigger'][0].get('type')!s:>24}  {d['trigger'][1].get('type')!s:>24}")
    for key, (va, vb) in d["spec"].items():
        print(f"spec {key:23}{json.dumps(va):>24}  {json.dumps(vb):>24}")
    for side in ("only_in_a", "only_in_b", "changed_hash"):
        for item in d["inputs"][side]:
            print(f"input {side:22}{item}")
    for key, (va, vb) in d["numbers"].items():
        ma = va["mean"] if va else "-"
        mb = vb["mean"] if vb else "-"
        print(f"mean {key:23}{ma!s:>24}  {mb!s:>24}")
    for key, (sa, sb) in d["distributions"].items():
        top = sorted(set(sa) | set(sb), key=lambda v: -(sa.get(v, 0) + sb.get(v, 0)))[:5]
        for value in top:
            label = f"share {key}={value}"
            if len(label) > 27:  # in full on a line of its own: a cut could merge two values
                print(label)
                label = ""
            print(f"{label:28}{sa.get(value, 0):>24}  {sb.get(value, 0):>24}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from synth.catalog.base import data_home
    from synth.engine.importer import import_dataset
    from synth.licences import licence_problem

    if problem := licence_problem(args.licence):
        _fail(f"--licence: {problem}")

    catalog = _catalog(args, create=True)
    try:
        record, created = import_dataset(
            args.path,
            args.kind,
            catalog,
            data_home(args.home),
            name=args.name,
            licence=args.licence,
            personal_data=args.personal_data,
        )
    finally:
        catalog.close()
    obj = {
        "id": record.id,
        "path": record.path,
        "count": record.count,
        "name": record.name,
        "kind": record.kind,
        "new": created,
    }
    splits = record.statistics.get("splits")
    if isinstance(splits, dict):  # the dataset came with its own train/validation/test
        from synth.engine.import_splits import shared_warning

        warning = shared_warning(splits)
        obj |= {"splits": splits, "warnings": [warning] if warning else []}
        if warning:
            print(f"synth: warning: {warning}", file=sys.stderr)
    state = "imported" if created else "already in the catalog"
    if isinstance(splits, dict):
        state += " with its own splits: " + ", ".join(
            f"{s} {splits['counts'][s]}"
            for s in ("train", "validation", "test")
            if s in splits["counts"]
        )
    _emit(args, obj, f"{record.kind} dataset {record.id[:12]} ({record.count} samples) {state}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from synth.engine.verify import VerifyReport, verify_dataset

    rec = _catalog(args).get(args.id)
    if Path(rec.path).is_dir() and rec.trigger.get("type") == "split":
        from synth.engine.split_verify import verify_split

        report = verify_split(rec.path, rec.to_json())
    elif Path(rec.path).is_dir() and rec.trigger.get("type") == "import":
        from synth.catalog.base import data_home
        from synth.engine.verify import verify_import

        report = verify_import(data_home(args.home), rec.path, rec.id, record=rec.to_json())
    elif Path(rec.path).is_dir():
        report = verify_dataset(
            rec.path, rec.id, samples=args.samples, quick=args.quick, record=rec.to_json()
        )
    else:  # a registered dataset whose folder is gone is a failed check, not a bad input
        report = VerifyReport(rec.id, problems=[f"{rec.path}: dataset folder not found"])
    if args.json:
        print(json.dumps({"id": rec.id, "path": rec.path, **report.to_json()}))
    else:
        for rel in report.missing:
            print(f"missing: {rel}")
        for rel in report.changed:
            print(f"changed: {rel}")
        for rel in report.extra:
            print(f"unexpected: {rel} (not in the dataset's manifests)")
        for problem in report.problems:
            print(f"problem: {problem}")
        for note in report.notes:
            print(f"note: {note}")
        verdict = "ok" if report.ok else "FAILED"
        files = f"{report.checked_files} files"
        if report.mode == "quick":
            files += f" sized, {report.hashed_files} hashed"
        print(
            f"{verdict}: {rec.id[:12]} ({files}, "
            f"{report.checked_inputs} inputs checked, {len(report.rerendered)} samples "
            f"re-rendered) at {rec.path}"
        )
    return 0 if report.ok else EXIT_CHECK_FAILED


# -- the parsers ----------------------------------------------------------------------------------
def register(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add ``datasets`` and its sub-commands to the ``synth`` parser's sub-commands; the
    ``datasets`` sub-commands, for other command modules to add theirs to."""
    ds = sub.add_parser("datasets", help="list, show, trace, diff, import and verify datasets")
    dsub = ds.add_subparsers(dest="datasets_command", required=True, parser_class=_Parser)
    ls = dsub.add_parser("list", help="list dataset versions")
    ls.add_argument("--kind", choices=("ocr", "speech"))
    ls.add_argument("--name")
    ls.add_argument("--licence", help="only datasets with an input under this licence")
    add_common(ls)
    ls.set_defaults(func=cmd_list)
    show = dsub.add_parser("show", help="one version with its lineage")
    show.add_argument("id", help="dataset id or a unique prefix of it")
    add_common(show)
    show.set_defaults(func=cmd_show)
    lin = dsub.add_parser("lineage", help="ancestry, inputs and descendants of a version")
    lin.add_argument("id", help="dataset id or a unique prefix of it")
    lin.add_argument("--format", choices=("tree", "mermaid", "dot"), default="tree")
    add_common(lin)
    lin.set_defaults(func=cmd_lineage)
    dif = dsub.add_parser("diff", help="spec, inputs, counts and distributions side by side")
    dif.add_argument("a", help="dataset id or prefix")
    dif.add_argument("b", help="dataset id or prefix")
    add_common(dif)
    dif.set_defaults(func=cmd_diff)

    imp = dsub.add_parser(
        "import",
        help="register an existing (real) dataset, in place",
        description=(
            "Register the dataset at PATH (an imagefolder/audiofolder with metadata.jsonl or "
            "metadata.csv, a NeMo manifest, or files with same-named .txt labels) with the hash of "
            "every file, so synthetic builds can take it as input. Nothing in PATH is changed."
        ),
    )
    imp.add_argument("path", help="the dataset folder or its manifest")
    imp.add_argument("--kind", choices=("ocr", "speech"), required=True)
    imp.add_argument("--name", help="dataset name (default: the folder's name)")
    imp.add_argument("--licence", default="unknown", help="the data's licence (SPDX id)")
    imp.add_argument(
        "--personal-data",
        action="store_true",
        help="mark the data as possibly holding personal data",
    )
    add_common(imp)
    imp.set_defaults(func=cmd_import)

    verify = dsub.add_parser("verify", help="recompute hashes; exit 1 on any mismatch")
    verify.add_argument("id", help="dataset id or a unique prefix of it")
    verify.add_argument(
        "--samples",
        type=_non_negative,
        default=8,
        help="samples to re-render from their recipes (default 8, 0: none)",
    )
    verify.add_argument(
        "--quick",
        action="store_true",
        help=(
            "the sampled check for large datasets: every file's size, the file index against the "
            "content id, and only the --samples samples hashed and re-rendered (about a second "
            "on 100,000 samples); without it every file is hashed"
        ),
    )
    add_common(verify)
    verify.set_defaults(func=cmd_verify)
    return dsub
