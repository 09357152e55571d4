"""Leak-free splits: a new version of a dataset with ``train/``, ``validation/`` and ``test/``.

Each split folder is an imagefolder/audiofolder of its own (its samples' files, hard-linked from
the parent, and its ``metadata.jsonl``), so ``load_dataset("imagefolder", data_dir=...)`` on the
version's folder reads the three splits. Whole groups go to one split (``split_assign``); the
record's ``statistics["splits"]`` holds the seed, ratios, group and stratify fields, per-split
counts, groups and label balance, and the leak check (``shared_groups``: 0), which ``synth
datasets verify`` repeats (``split_verify``). ``split_write`` writes the folder.

The version's content id is ``synth.hashing.content_id`` over its files (paths under the split
folders) and its labels: each split's rows in order, each line ``canonical_json([split, row])``.
``__synth__/files.tsv`` holds the file manifest, ``__synth__/index.json`` the labels hash and the
seal of the card and ``dataset.json`` (``synth.engine.assemble.seal_folder``), as for a build.

A split version is not expanded: new samples drawn from the same clean clips or texts as the
validation and test samples would leak into train. Expand the parent and split the expansion.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from synth.catalog import Catalog, DatasetRecord
from synth.engine.assemble import DATASET_JSON, INDEX_JSON
from synth.engine.plan import INTERNAL_DIR
from synth.engine.split_assign import (
    SPLITS,
    assign,
    balance_field,
    check_fields,
    check_ratios,
    split_statistics,
)
from synth.engine.split_write import (
    SplitRun,
    is_synthetic,
    parent_samples,
    version_info,
    write_derived,
    write_own_files,
    write_split,
)
from synth.errors import NotFound, SynthError
from synth.hashing import sha256_json
from synth.lineage.openlineage import LineageEmitter

SPLIT_VERSION = 1  # the assignment rule's version: part of the fingerprint
DEFAULT_GROUP_BY = {"speech": ["clean_id"], "ocr": ["text"]}
"""Speech mixes of one clean clip are one group (one utterance under several noises); OCR lines
of one text are one group (the same words in another font)."""
SYNTHETIC_WARNING = (
    "validation and test are synthetic here: they measure how well a model fits synth's "
    "distribution, not the one it will meet; take validation and test sets from real data "
    "(`synth datasets import`, and `--val`/`--test` of another dataset)"
)


@dataclass
class SplitResult:
    record: DatasetRecord
    created: bool
    warnings: list[str] = field(default_factory=list)
    linked: int = 0
    copied: int = 0


def split_dir(record: DatasetRecord, split: str) -> Path:
    """The folder of one split (``train``, ``validation``, ``test``) of a split version or of an
    imported dataset that came with its own splits; NotFound (one line) for a split it lacks,
    SynthError when the folder is gone."""
    splits = record.statistics.get("splits")
    if not isinstance(splits, dict):
        raise NotFound(
            f"dataset {record.id[:12]} has no splits: make them with "
            f"`synth datasets split {record.id[:12]} --ratios 70 15 15`"
        )
    counts = splits.get("counts") or {}
    if split not in counts:
        raise NotFound(
            f"dataset {record.id[:12]}: no split '{split}' "
            f"(it has {', '.join(s for s in SPLITS if s in counts) or 'none'})"
        )
    path = Path(record.path) / (splits.get("folders") or {}).get(split, split)
    if not path.is_dir():
        raise SynthError(
            f"{path}: the {split} folder of dataset {record.id[:12]} is missing "
            f"(`synth datasets verify {record.id[:12]}`)"
        )
    return path


def is_split(record: DatasetRecord) -> bool:
    return isinstance(record.statistics.get("splits"), dict)


def make_split(
    catalog: Catalog,
    home: str | Path,
    ref: str,
    ratios: Sequence[int],
    group_by: Sequence[str] | None = None,
    stratify_by: str | None = None,
    seed: int = 0,
) -> SplitResult:
    """Split dataset ``ref`` into a new version (parent ``ref``, trigger ``split``) and register
    it; the same dataset, ratios, fields and seed give the same content id. Every bad input is
    refused before anything is written."""
    ratios = check_ratios(ratios)
    if not 0 <= seed < 2**63:
        raise SynthError(f"--seed: must be a whole number from 0 to 2**63 - 1, got {seed}")
    home = Path(home)
    parent = catalog.get(ref)
    catalog.require(parent.id, "use")  # before anything is written
    if is_split(parent):
        instead = (
            f"split its parent {parent.parent_id[:12]} instead"
            if parent.parent_id
            else "they were kept at import: use them as they are"
        )
        raise SynthError(f"{parent.id[:12]} already has train/validation/test splits; {instead}")
    fields = list(group_by or DEFAULT_GROUP_BY.get(parent.kind, ["text"]))
    if not is_synthetic(parent) and not group_by:
        fields = ["text"]  # an import's rows hold its file name and label only
    samples = parent_samples(parent, home)
    rows = [s.row for s in samples]
    where = f"{parent.id[:12]}'s metadata.jsonl"
    check_fields(rows, fields, "--group-by", where)
    if stratify_by is not None:
        check_fields(rows, [stratify_by], "--stratify-by", where)
    assignment = assign(rows, ratios, fields, stratify_by, seed)
    by_split = {name: [samples[i] for i in assignment.members(k)] for k, name in enumerate(SPLITS)}
    balance_by = balance_field(rows, stratify_by)
    stats = split_statistics(
        {k: [s.row for s in v] for k, v in by_split.items()}, fields, balance_by
    )
    if stats["shared_groups"]:  # the assignment is by group: this would be a bug
        raise SynthError(f"split of {parent.id[:12]}: {stats['shared_groups']} groups crossed")
    spec = {
        "split": {
            "parent": parent.id,
            "ratios": ratios,
            "group_by": fields,
            "stratify_by": stratify_by,
            "seed": seed,
            "version": SPLIT_VERSION,
        }
    }
    fingerprint = sha256_json(spec)
    name = f"{parent.name}-split"
    out = home / "datasets" / f"{name}-{fingerprint[:12]}"
    splits_stats = {
        "seed": seed,
        "ratios": ratios,
        "group_by": fields,
        "stratify_by": stratify_by,
        "counts": stats["counts"],
        "balance": stats["balance"],
        "balance_by": balance_by,
        "shared_groups": 0,
        "groups": stats["groups"],
    }
    warnings = [SYNTHETIC_WARNING] if is_synthetic(parent) else []
    existing = _existing(out)
    if existing is not None:
        try:
            return SplitResult(catalog.get(existing), False, warnings)
        except NotFound:
            pass
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    emitter = LineageEmitter(SplitRun(parent, name, spec, seed, fingerprint, str(home), out))
    emitter.start()
    try:
        written = write_split(tmp, Path(parent.path), by_split)
        same = _registered(catalog, written.id)
        if same is not None:  # other arguments that draw the same splits: the first stands
            shutil.rmtree(tmp)
            emitter.plan = dataclasses.replace(emitter.plan, out_dir=Path(same.path))
            emitter.complete(json.loads((Path(same.path) / DATASET_JSON).read_text("utf-8")))
            return SplitResult(same, False, warnings)
        write_derived(tmp, parent)
        info = version_info(parent, written, fingerprint, name, spec, splits_stats)
        info["run"]["openlineage_run_id"] = emitter.run_id
        write_own_files(tmp, info, parent, out.name)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        record, created = catalog.register(info, str(out))
        catalog.audit("read", parent.id, {"build": name, "fingerprint": fingerprint})
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        emitter.fail(err)
        raise
    emitter.complete(info)
    return SplitResult(record, created, warnings, written.linked, written.copied)


def _registered(catalog: Catalog, dataset_id: str) -> DatasetRecord | None:
    """The catalog's record of ``dataset_id`` when its folder is still there, else None."""
    try:
        record = catalog.get(dataset_id)
    except NotFound:
        return None
    return record if (Path(record.path) / DATASET_JSON).is_file() else None


def _existing(out: Path) -> str | None:
    """The id of a complete split already at ``out`` (same fingerprint), else None."""
    try:
        info = json.loads((out / DATASET_JSON).read_text(encoding="utf-8"))
        return str(info["id"]) if (out / INTERNAL_DIR / INDEX_JSON).is_file() else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
