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
    checked_inputs: int = 0
    rerendered: list[int] = field(default_factory=list)
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
            "checked_inputs": self.checked_inputs,
            "rerendered": self.rerendered,
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


def verify_dataset(
    path: str | Path, expected_id: str, samples: int = 8, seed: int | None = None
) -> VerifyReport:
    """The deep check: file hashes and content id, recorded inputs, and a re-rendered subset."""
    report = verify_files(path, expected_id)
    if (Path(path) / DATASET_JSON).is_file():
        report.checked_inputs = verify_inputs(path, report)
        report.rerendered = verify_rerender(path, report, samples, seed)
    return report


def require_folder(path: str | Path) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise SynthError(f"{root}: dataset folder not found (moved or deleted?)")
    return root


def _input_path(uri: str) -> Path | None:
    from synth.assets import asset_root

    if uri.startswith("asset:"):
        return asset_root() / uri[len("asset:") :]
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    return None


def verify_inputs(path: str | Path, report: VerifyReport) -> int:
    """Rehash every recorded input file; a changed or missing one is a problem. Returns how many
    were checked (generated inputs such as Faker text or procedural noise have no file)."""
    info = json.loads((Path(path) / DATASET_JSON).read_text(encoding="utf-8"))
    checked = 0
    for item in info["inputs"]:
        p = _input_path(item["uri"])
        if p is None or not item.get("sha256"):
            continue
        checked += 1
        if not p.is_file():
            report.problems.append(f"input {item['uri']}: missing")
        elif sha256_file(p) != item["sha256"]:
            report.problems.append(f"input {item['uri']}: content changed since the build")
    return checked


def verify_rerender(
    path: str | Path, report: VerifyReport, samples: int, seed: int | None = None
) -> list[int]:
    """Render ``samples`` randomly chosen samples again from their recipes and compare the bytes
    with the files; each mismatch is named. Returns the indices checked."""
    import numpy as np

    from synth.engine.assemble import RECIPES
    from synth.engine.generator import make_generator

    root = Path(path)
    info = json.loads((root / DATASET_JSON).read_text(encoding="utf-8"))
    count = int(info["count"])
    if samples <= 0 or count == 0:
        return []
    rng = np.random.default_rng(seed)
    chosen = sorted(int(i) for i in rng.choice(count, size=min(samples, count), replace=False))
    wanted = set(chosen)
    try:
        gen = make_generator(info["kind"], info["spec"])
    except SynthError as err:
        report.problems.append(f"cannot re-render: {err}")
        return []
    position = 0
    with open(root / RECIPES, encoding="utf-8") as f:
        for line in f:
            if position in wanted:
                rec = json.loads(line)
                stem = rec["file_name"].rsplit(".", 1)[0]
                try:
                    rendered = gen.render(rec["recipe"], stem)
                except Exception as err:  # a tampered or foreign recipe: report, don't crash
                    report.changed.append(f"{rec['file_name']} (its recipe does not render: {err})")
                    position += 1
                    continue
                for rel, data in rendered.files.items():
                    p = root / rel
                    if not p.is_file():
                        continue  # reported as missing by the hash check
                    if p.read_bytes() != data:
                        report.changed.append(f"{rel} (re-rendered from its recipe: differs)")
            position += 1
    return chosen


def verify_import(home: str | Path, root: str | Path, expected_id: str) -> VerifyReport:
    """Rehash an imported dataset's files in place against the manifest taken at import."""
    from synth.engine.importer import import_dir

    report = VerifyReport(expected_id)
    manifest = import_dir(Path(home), expected_id) / "files.jsonl"
    if not manifest.is_file():
        report.problems.append(f"{manifest}: import manifest missing")
        return report
    files: list[tuple[str, str, int]] = []
    labels = hashlib.sha256()
    with open(manifest, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            rel, digest, size = rec["file_name"], rec["sha256"], rec["size"]
            labels.update(canonical_json([{"file_name": rel, "text": rec["text"]}, {}]).encode())
            labels.update(b"\n")
            files.append((rel, digest, size))
            report.checked_files += 1
            p = Path(root) / rel
            if not p.is_file():
                report.missing.append(rel)
            elif p.stat().st_size != size or sha256_file(p) != digest:
                report.changed.append(rel)
    report.actual_id = content_id(files, labels.hexdigest())
    return report
