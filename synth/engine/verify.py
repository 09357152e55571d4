"""Check a dataset folder against its manifests: every file's hash and size, and the content id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synth.engine.assemble import DATASET_JSON, METADATA
from synth.engine.plan import INTERNAL_DIR
from synth.errors import SynthError
from synth.hashing import canonical_json, content_id, sha256_file


@dataclass
class VerifyReport:
    expected_id: str
    actual_id: str | None = None
    checked_files: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.problems) and (
            self.actual_id == self.expected_id
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "expected_id": self.expected_id,
            "actual_id": self.actual_id,
            "checked_files": self.checked_files,
            "missing": self.missing,
            "changed": self.changed,
            "problems": self.problems,
        }


def verify_files(path: str | Path, expected_id: str) -> VerifyReport:
    """Rehash every sample file listed in the shard manifests and recompute the content id."""
    root = Path(path)
    report = VerifyReport(expected_id)
    info_path = root / DATASET_JSON
    if not info_path.is_file():
        report.problems.append(f"{info_path}: missing")
        return report
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        report.problems.append(f"{info_path}: not valid JSON ({err})")
        return report
    files: list[tuple[str, str, int]] = []
    labels = hashlib.sha256()
    metadata = hashlib.sha256()
    for shard in info["shards"]:
        manifest = root / INTERNAL_DIR / "shards" / f"{shard['number']:05d}.jsonl"
        if not manifest.is_file():
            report.problems.append(f"{manifest.relative_to(root)}: shard manifest missing")
            continue
        with open(manifest, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                labels.update(canonical_json([rec["row"], rec["outputs"]]).encode())
                labels.update(b"\n")
                metadata.update((json.dumps(rec["row"], ensure_ascii=False) + "\n").encode())
                for rel, digest, size in rec["files"]:
                    files.append((rel, digest, size))
                    report.checked_files += 1
                    p = root / rel
                    if not p.is_file():
                        report.missing.append(rel)
                    elif p.stat().st_size != size or sha256_file(p) != digest:
                        report.changed.append(rel)
    if report.problems:
        return report
    meta_path = root / METADATA
    if not meta_path.is_file():
        report.missing.append(METADATA)
    elif sha256_file(meta_path) != metadata.hexdigest():
        report.changed.append(f"{METADATA} (labels differ from the shard manifests)")
    report.actual_id = content_id(files, labels.hexdigest())
    if report.actual_id != expected_id and not (report.missing or report.changed):
        report.problems.append(
            f"content id {report.actual_id[:12]} differs from the catalog's {expected_id[:12]} "
            "(labels or manifests were edited)"
        )
    return report


def require_folder(path: str | Path) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise SynthError(f"{root}: dataset folder not found (moved or deleted?)")
    return root
