"""``synth datasets split``: a leak-free train/validation/test version of a dataset.

It reads and writes the catalog and dataset folders only (no Prefect). Warnings (a synthetic
validation and test set) go to stderr, and under ``--json`` into the object's ``warnings``.
"""

from __future__ import annotations

import argparse
import sys

from flows.cli.args import _non_negative, _seed, add_common
from flows.cli.output import _emit


def cmd_split(args: argparse.Namespace) -> int:
    from synth.catalog import open_catalog
    from synth.catalog.base import data_home
    from synth.engine.split import make_split
    from synth.engine.split_assign import SPLITS, check_ratios

    check_ratios(args.ratios)  # before the catalog is opened: nothing is created on bad input
    catalog = open_catalog(args.home, create=False)
    try:
        result = make_split(
            catalog,
            data_home(args.home),
            args.id,
            args.ratios,
            group_by=args.group_by,
            stratify_by=args.stratify_by,
            seed=args.seed,
        )
    finally:
        catalog.close()
    rec = result.record
    splits = rec.statistics["splits"]
    for warning in result.warnings:
        print(f"synth: warning: {warning}", file=sys.stderr)
    obj = {
        "id": rec.id,
        "path": rec.path,
        "parent_id": rec.parent_id,
        "kind": rec.kind,
        "count": rec.count,
        "new": result.created,
        "splits": splits,
        "files_linked": result.linked,
        "files_copied": result.copied,
        "warnings": result.warnings,
    }
    counts = ", ".join(f"{s} {splits['counts'][s]} ({splits['groups'][s]} groups)" for s in SPLITS)
    state = "made" if result.created else "already in the catalog"
    human = (
        f"split {rec.id[:12]} of {(rec.parent_id or '')[:12]} {state}: {counts}; grouped by "
        f"{', '.join(splits['group_by'])}, shared groups {splits['shared_groups']}, at {rec.path}"
    )
    _emit(args, obj, human)
    return 0


def register_datasets(dsub: argparse._SubParsersAction) -> None:
    """Add ``split`` to the ``datasets`` sub-commands."""
    sp = dsub.add_parser(
        "split",
        help="a new version with leak-free train/, validation/ and test/ folders",
        description=(
            "Make a new version of dataset ID whose folder holds train/, validation/ and test/ "
            "(each an imagefolder/audiofolder; files hard-linked), with whole groups in one "
            "split: speech by clean clip, OCR by text, unless --group-by says otherwise."
        ),
    )
    sp.add_argument("id", help="dataset id or a unique prefix of it")
    sp.add_argument(
        "--ratios",
        nargs=3,
        type=_non_negative,
        metavar=("TRAIN", "VALIDATION", "TEST"),
        default=[70, 15, 15],
        help="percentages of the samples, summing to 100 (default 70 15 15)",
    )
    sp.add_argument(
        "--group-by",
        nargs="+",
        metavar="FIELD",
        help="metadata fields whose values make a group (default: clean_id for speech, text "
        "for OCR)",
    )
    sp.add_argument(
        "--stratify-by",
        metavar="FIELD",
        help="a metadata field whose balance each split keeps, as far as whole groups allow",
    )
    sp.add_argument("--seed", type=_seed, default=0, help="seed of the assignment (default 0)")
    add_common(sp)
    sp.set_defaults(func=cmd_split)
