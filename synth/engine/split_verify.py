"""Verify a split version: every file's hash, the content id, the seal, the record, and the leak
check repeated from the rows as they are now.

Every file under the split folders is hashed and the content id recomputed from those files and
the split folders' ``metadata.jsonl`` (so an edited label, a moved sample or a stray file changes
it); the file manifest names which file changed, is missing or is not the dataset's. The groups
are read again from the rows with the recorded group fields: a group found in two splits fails
the check, naming it, whatever else holds.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from synth.engine.assemble import (
    CARD,
    DATASET_JSON,
    FILES_INDEX,
    INDEX_JSON,
    METADATA,
    SEAL,
    dataset_json_sha256,
    internal_files,
    read_files_tsv,
)
from synth.engine.plan import INTERNAL_DIR
from synth.engine.split_assign import SPLITS, split_statistics
from synth.engine.split_write import labels_line
from synth.engine.verify import VerifyReport, check_record, check_sealed_files
from synth.hashing import content_id, sha256_bytes, sha256_file


def _rows(path: Path, report: VerifyReport) -> list[dict[str, Any]]:
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                try:
                    row = json.loads(line)
                except ValueError:
                    report.problems.append(f"{path.parent.name}/{METADATA}: line {n} is not JSON")
                    continue
                if not isinstance(row, dict) or not isinstance(row.get("file_name"), str):
                    report.problems.append(
                        f"{path.parent.name}/{METADATA}: line {n} has no file_name"
                    )
                    continue
                rows.append(row)
    except OSError:
        report.missing.append(f"{path.parent.name}/{METADATA}")
    return rows


def _split_files(root: Path, split: str, derived: dict[str, str]) -> list[str]:
    """Every file under one split's folder but its ``metadata.jsonl`` and the ``derived``
    label views (relative to ``root``), hidden ones left out."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root / split):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        found += [f"{rel_dir}/{n}" for n in sorted(filenames) if not n.startswith(".")]
    return [rel for rel in found if rel != f"{split}/{METADATA}" and rel not in derived]


def _derived(root: Path) -> dict[str, str]:
    """The derived label views' hashes the index records (none when unreadable: the seal
    check names the index)."""
    try:
        derived = json.loads((root / INTERNAL_DIR / INDEX_JSON).read_text("utf-8"))["derived"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return derived if isinstance(derived, dict) else {}


def leak_check(
    rows_by_split: dict[str, list[dict[str, Any]]],
    splits: dict[str, Any],
    report: VerifyReport,
) -> dict[str, Any]:
    """The recorded leak check, repeated: groups in more than one split (each named), and the
    per-split counts against the record's. Returns the statistics found."""
    group_by = splits.get("group_by") or []
    found = split_statistics(rows_by_split, group_by, splits.get("balance_by"))
    for example in found["shared_examples"]:
        report.problems.append(
            f"leak: group {example['group']} of {', '.join(group_by)} is in "
            f"{' and '.join(example['splits'])}"
        )
    if found["shared_groups"]:
        report.problems.append(
            f"leak check: {found['shared_groups']} group(s) of {', '.join(group_by)} in more "
            "than one split (the record says 0)"
        )
    if not found["shared_groups"]:
        report.notes.append(
            f"leak check: no group of {', '.join(group_by)} in more than one split ("
            + ", ".join(f"{s} {found['groups'][s]} groups" for s in found["groups"])
            + ")"
        )
    recorded = splits.get("counts") or {}
    for split, n in found["counts"].items():
        if recorded.get(split) != n:
            report.problems.append(
                f"{split}/{METADATA}: {n} samples, the record says {recorded.get(split)}"
            )
    return found


def verify_split(root: str | Path, record: dict[str, Any]) -> VerifyReport:
    """The full check of the split version whose catalog record is ``record`` at ``root``."""
    root = Path(root)
    expected = str(record["id"])
    report = VerifyReport(expected)
    splits = (record.get("statistics") or {}).get("splits") or {}
    files: list[tuple[str, str, int]] = []
    labels = hashlib.sha256()
    rows_by_split: dict[str, list[dict[str, Any]]] = {}
    recorded: dict[str, tuple[str, int]] | None = None  # the manifest; None: unreadable
    derived = _derived(root)
    for rel, digest in sorted(derived.items()):
        report.checked_files += 1
        report.hashed_files += 1
        if not (root / rel).is_file():
            report.missing.append(rel)
        elif sha256_file(root / rel) != digest:
            report.changed.append(f"{rel} (derived from {METADATA}: edited since the split)")
    try:
        with open(root / INTERNAL_DIR / FILES_INDEX, encoding="utf-8") as f:
            recorded = {rel: (digest, size) for rel, digest, size in read_files_tsv(f)}
    except (OSError, ValueError):
        report.problems.append(f"{INTERNAL_DIR}/{FILES_INDEX}: missing or malformed")
    for split in SPLITS:
        if not (root / split).is_dir():
            report.missing.append(f"{split}/")
            continue
        rows = _rows(root / split / METADATA, report)
        rows_by_split[split] = rows
        for row in rows:
            labels.update((labels_line(split, row) + "\n").encode())
        present = set()
        for rel in _split_files(root, split, derived):
            p = root / rel
            digest, size = sha256_file(p), p.stat().st_size
            files.append((rel, digest, size))
            present.add(rel)
            report.checked_files += 1
            report.hashed_files += 1
            if recorded is None:
                continue  # named once above; the content id still covers every file
            if rel not in recorded:
                report.extra.append(rel)
            elif recorded[rel] != (digest, size):
                report.changed.append(rel)
        for row in rows:
            if f"{split}/{row['file_name']}" not in present:
                report.missing.append(f"{split}/{row['file_name']}")
    for rel in sorted(recorded or {}):
        top = rel.partition("/")[0]
        here = top in SPLITS and (root / top).is_dir()
        if here and not (root / rel).is_file() and rel not in report.missing:
            report.missing.append(rel)
    report.actual_id = content_id(files, labels.hexdigest())
    if report.actual_id != expected and not (report.missing or report.changed or report.extra):
        report.problems.append(
            f"content id {report.actual_id[:12]} differs from the catalog's {expected[:12]} "
            "(labels in a split's metadata.jsonl were edited or moved)"
        )
    if rows_by_split:
        leak_check(rows_by_split, splits, report)
    _check_seal(root, (record.get("statistics") or {}).get(SEAL), report)
    check_record(root, record, report)
    report.notes.append(
        "the samples' recipes and inputs are the parent's: verify the parent to re-render them"
    )
    return report


def _check_seal(root: Path, seal: str | None, report: VerifyReport) -> None:
    """The card and ``dataset.json`` against the index the catalog's seal vouches for; a file
    under ``__synth__/`` the index does not know, or beside the splits, is named."""
    index_rel = f"{INTERNAL_DIR}/{INDEX_JSON}"
    try:
        data = (root / index_rel).read_bytes()
        index = json.loads(data)
        sealed = index["sealed"]
        if not isinstance(sealed, dict):
            raise TypeError
    except OSError:
        report.missing.append(index_rel)
        return
    except (ValueError, KeyError, TypeError):
        report.problems.append(f"{index_rel}: not the index written with the split")
        return
    if seal is None or sha256_bytes(data) != seal:
        report.changed.append(f"{index_rel} (edited since the split: not the catalog's seal)")
    check_sealed_files(root, sealed, report, "sealed", "the split")
    try:
        info = json.loads((root / DATASET_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report.problems.append(f"{DATASET_JSON}: missing or not JSON")
        info = None
    report.own_files += 1
    if isinstance(info, dict) and dataset_json_sha256(info) != index.get("dataset_json_sha256"):
        report.changed.append(f"{DATASET_JSON} (edited since the split)")
    known = set(sealed) | {index_rel, f"{INTERNAL_DIR}/{FILES_INDEX}"}
    report.extra += [rel for rel in internal_files(root) if rel not in known]
    own = {CARD, DATASET_JSON, INTERNAL_DIR, *SPLITS}
    report.extra += sorted(
        e.name for e in os.scandir(root) if not e.name.startswith(".") and e.name not in own
    )
