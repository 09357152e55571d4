"""Check a dataset folder against its manifests: every file's hash and size, and the content id.

The full check rehashes every file; the quick check (``verify_quick``) reads the file index
written at assembly, checks every file's size and hashes only a random subset of samples. Both
hash the folder's own files (the card, its pictures, ``dataset.json``, everything under
``__synth__/``) against the seal the catalog keeps (``synth.engine.assemble.seal_folder``), and
name each file that changed, is missing or is not the dataset's.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synth.engine.assemble import (
    CARD,
    DATASET_JSON,
    FILES_INDEX,
    INDEX_JSON,
    INDEX_VERSION,
    METADATA,
    PLAN_JSON,
    RECIPES,
    SEAL,
    SortedFiles,
    content_id_sorted,
    dataset_json_sha256,
    internal_files,
    split_record,
)
from synth.engine.plan import INTERNAL_DIR
from synth.errors import SynthError
from synth.hashing import canonical_json, content_id, sha256_bytes, sha256_file


@dataclass
class VerifyReport:
    expected_id: str
    actual_id: str | None = None
    mode: str = "full"  # "full": every file hashed; "quick": every file's size, sampled hashes
    checked_files: int = 0
    hashed_files: int = 0
    checked_inputs: int = 0
    own_files: int = 0  # the card, dataset.json and the rest beside the samples, all hashed
    rerendered: list[int] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # files that are not the dataset's
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was not checked, and why: no failure
    info: dict[str, Any] | None = field(default=None, repr=False, compare=False)  # dataset.json

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra or self.problems) and (
            self.actual_id == self.expected_id
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "expected_id": self.expected_id,
            "actual_id": self.actual_id,
            "mode": self.mode,
            "checked_files": self.checked_files,
            "hashed_files": self.hashed_files,
            "checked_inputs": self.checked_inputs,
            "own_files": self.own_files,
            "rerendered": self.rerendered,
            "missing": self.missing,
            "changed": self.changed,
            "extra": self.extra,
            "problems": self.problems,
            "notes": self.notes,
        }


def _read_info(root: Path, report: VerifyReport) -> dict[str, Any] | None:
    """``dataset.json``, or None with the problem named: missing, not JSON, or a key the checks
    read holding a value of the wrong shape (named with the file and the key)."""
    info_path = root / DATASET_JSON
    if not info_path.is_file():
        report.problems.append(f"{info_path}: missing")
        return None
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        report.problems.append(f"{info_path}: not valid JSON ({err})")
        return None
    except (OSError, UnicodeDecodeError) as err:
        report.problems.append(f"{info_path}: cannot be read ({err})")
        return None
    shape = info_shape_problems(info, info_path)
    report.problems += shape
    if not isinstance(info, dict) or any(
        line.split(": ", 2)[1] in _NEEDED for line in shape
    ):  # the file checks cannot run without these
        return None
    report.info = info
    return info


_NEEDED = frozenset({"kind", "count", "spec", "shards", "inputs", "statistics"})


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def info_shape_problems(info: Any, where: str | Path = DATASET_JSON) -> list[str]:
    """One line per key of ``dataset.json`` whose value has the wrong shape for the checks: a
    hand-edited file is a named problem, never a traceback."""
    if not isinstance(info, dict):
        return [f"{where}: expected a JSON object, got {_show(info)}"]
    out: list[str] = []

    def bad(key: str, expected: str) -> None:
        out.append(f"{where}: {key}: expected {expected}, got {_show(info.get(key))}")

    if not isinstance(info.get("kind"), str):
        bad("kind", "the dataset kind (a string)")
    if not (_is_int(info.get("count")) and info["count"] >= 0):
        bad("count", "a whole number of samples")
    if not isinstance(info.get("spec"), dict):
        bad("spec", "an object")
    shards = info.get("shards")
    keys = ("number", "start", "stop")
    if not isinstance(shards, list) or not all(
        isinstance(s, dict) and all(_is_int(s.get(k)) for k in keys) for s in shards
    ):
        bad("shards", "a list of {number, start, stop} whole numbers")
    inputs = info.get("inputs")
    if not isinstance(inputs, list) or not all(
        isinstance(i, dict) and isinstance(i.get("uri"), str) for i in inputs
    ):
        bad("inputs", "a list of objects with a uri")
    parent = info.get("parent")
    if parent is not None and not (isinstance(parent, dict) and isinstance(parent.get("id"), str)):
        bad("parent", "null or an object with the parent's id")
    licences = info.get("licences")
    if not (isinstance(licences, list) and all(isinstance(x, str) for x in licences)):
        bad("licences", "a list of licence names")
    version = info.get("renderer_version")
    if version is not None and not (_is_int(version) and version >= 0):
        bad("renderer_version", "a whole number")
    if not isinstance(info.get("statistics", {}), dict):
        bad("statistics", "an object")
    return out


def verify_files(path: str | Path, expected_id: str) -> VerifyReport:
    """Rehash every sample file listed in the shard manifests and recompute the content id.

    Streams: each shard's manifest is read once and its sorted entries spilled to a temporary
    run file, so memory stays flat however large the dataset."""
    root = Path(path)
    report = VerifyReport(expected_id)
    info = _read_info(root, report)
    if info is None:
        return report
    labels = hashlib.sha256()
    metadata = hashlib.sha256()
    recipes = hashlib.sha256()
    sample_dirs: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="synth-verify-") as scratch:
        runs = SortedFiles(Path(scratch))
        for shard in info["shards"]:
            manifest = root / INTERNAL_DIR / "shards" / f"{shard['number']:05d}.jsonl"
            if not manifest.is_file():
                report.problems.append(f"{manifest.relative_to(root)}: shard manifest missing")
                continue
            shard_files: list[tuple[str, str, int]] = []
            with open(manifest, encoding="utf-8") as f:
                for line in f:
                    rec, label_line, recipe_line = split_record(line)
                    labels.update(label_line.encode())
                    labels.update(b"\n")
                    metadata.update((json.dumps(rec["row"], ensure_ascii=False) + "\n").encode())
                    recipes.update((recipe_line + "\n").encode())
                    for rel, digest, size in rec["files"]:
                        shard_files.append((rel, digest, size))
                        sample_dirs.add(rel.partition("/")[0])
                        report.checked_files += 1
                        report.hashed_files += 1
                        p = root / rel
                        if not p.is_file():
                            report.missing.append(rel)
                        elif p.stat().st_size != size or sha256_file(p) != digest:
                            report.changed.append(rel)
            runs.add(shard_files)
        if report.problems:
            return report
        report.actual_id = content_id_sorted(runs.merged(), labels.hexdigest())
    _check_label_files(root, metadata.hexdigest(), recipes.hexdigest(), report)
    recorded = _index_json(root)  # the folder's index, read once for every check
    if recorded and recorded.get("recipes_sha256") not in (None, recipes.hexdigest()):
        # The content id does not cover the recipes; the index (sealed) records them.
        report.problems.append(
            f"{INTERNAL_DIR}/shards/: the recipes the shard manifests hold differ from those "
            "recorded at assembly (a shard manifest was edited)"
        )
    derived = _derived(recorded)
    _check_derived(root, derived, report)
    present = sum(1 for rel in (derived or {}) if (root / rel).is_file())
    _check_extra(
        root,
        info,
        derived,
        sample_dirs,
        report.checked_files - len(report.missing) - present,
        report,
    )
    if report.actual_id != expected_id and not (report.missing or report.changed):
        report.problems.append(
            f"content id {report.actual_id[:12]} differs from the catalog's {expected_id[:12]} "
            "(labels or manifests were edited)"
        )
    return report


def _check_label_files(
    root: Path, metadata_sha256: str, recipes_sha256: str | None, report: VerifyReport
) -> None:
    """``metadata.jsonl`` and ``recipes.jsonl`` must hash as the shard manifests give them (a
    folder assembled before recipes were hashed has no ``recipes_sha256``)."""
    for name, digest, what in (
        (METADATA, metadata_sha256, "labels"),
        (RECIPES, recipes_sha256, "recipes"),
    ):
        if digest is None:
            continue
        p = root / name
        if not p.is_file():
            report.missing.append(name)
        elif sha256_file(p) != digest:
            report.changed.append(f"{name} ({what} differ from the shard manifests)")


def _check_derived(root: Path, derived: dict[str, str] | None, report: VerifyReport) -> None:
    """Files derived from the labels after assembly (a NeMo manifest, a Kaldi folder) must hash
    as they did when written; their hashes are in the folder's index (``derived``)."""
    for rel, digest in (derived or {}).items():
        p = root / rel
        report.checked_files += 1
        report.hashed_files += 1
        if not p.is_file():
            report.missing.append(rel)
        elif sha256_file(p) != digest:
            report.changed.append(f"{rel} (derived from {METADATA}: edited since the build)")


_OWN_FILES = frozenset({DATASET_JSON, METADATA, RECIPES, "README.md"})


def _index_json(root: Path) -> dict[str, Any] | None:
    """The folder's ``__synth__/index.json``, or None (no index, or unreadable)."""
    try:
        index = json.loads((root / INTERNAL_DIR / INDEX_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return index if isinstance(index, dict) else None


def _derived(index: dict[str, Any] | None) -> dict[str, str] | None:
    """The derived files' hashes from the folder's index; None when it records none (a folder
    assembled before they were recorded, or no index)."""
    derived = (index or {}).get("derived")
    return derived if isinstance(derived, dict) else None


def _candidates(root: Path, sample_dirs: set[str], derived: dict[str, str] | None) -> list[str]:
    """Files a loader would see that are neither the folder's own nor derived: every file under
    the folders that hold samples, and (when the index records the derived files) every other
    file of the folder too. Hidden files and the internal folder (which the seal covers) are
    left out, as loaders leave them."""
    found = []
    tops = set(sample_dirs)
    if derived is not None:
        own = _OWN_FILES | set(derived)
        for e in os.scandir(root):
            if e.name.startswith(".") or e.name == INTERNAL_DIR:
                continue
            if e.is_dir():
                tops.add(e.name)
            elif e.name not in own:
                found.append(e.name)
    skip = set(derived or ())
    for top in sorted(tops):
        for dirpath, dirnames, filenames in os.walk(root / top):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            found += [
                rel
                for n in filenames
                if not n.startswith(".") and (rel := f"{rel_dir}/{n}") not in skip
            ]
    return found


def _check_extra(
    root: Path,
    info: dict[str, Any],
    derived: dict[str, str] | None,
    sample_dirs: set[str],
    sample_files: int,
    report: VerifyReport,
) -> None:
    """Name the files no manifest lists (a stray image or clip that ``load_dataset`` would
    pick up, or fail on). Counts first; the manifests are read again only when the counts
    differ, so memory stays flat for an intact folder."""
    candidates = _candidates(root, sample_dirs, derived)
    if len(candidates) <= sample_files:
        return
    listed = set(derived or {})
    for shard in info["shards"]:
        manifest = root / INTERNAL_DIR / "shards" / f"{shard['number']:05d}.jsonl"
        with open(manifest, encoding="utf-8") as f:
            for line in f:
                listed.update(rel for rel, _, _ in json.loads(line)["files"])
    report.extra += sorted(rel for rel in candidates if rel not in listed)


def _read_index(root: Path) -> dict[str, Any] | None:
    """The quick-check index written at assembly, or None (an older folder, or unreadable)."""
    path = root / INTERNAL_DIR / INDEX_JSON
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(index, dict) or index.get("version") != INDEX_VERSION:
        return None
    if not (root / INTERNAL_DIR / FILES_INDEX).is_file():
        return None
    return index


def _choose(count: int, samples: int, seed: int | None) -> list[int]:
    import numpy as np

    if samples <= 0 or count == 0:
        return []
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(count, size=min(samples, count), replace=False))


def _shard_of(shards: list[dict[str, Any]], index: int) -> dict[str, Any] | None:
    starts = [s["start"] for s in shards]
    k = bisect.bisect_right(starts, index) - 1
    if k >= 0 and shards[k]["start"] <= index < shards[k]["stop"]:
        return shards[k]
    return None


def _manifest_records(
    root: Path, shards: list[dict[str, Any]], indices: list[int]
) -> dict[int, dict[str, Any]]:
    """The shard-manifest records of ``indices``, reading only the shards that hold them."""
    by_shard: dict[int, list[int]] = {}
    for i in indices:
        shard = _shard_of(shards, i)
        if shard is not None:
            by_shard.setdefault(shard["number"], []).append(i)
    found: dict[int, dict[str, Any]] = {}
    for shard in shards:
        wanted = set(by_shard.get(shard["number"], ()))
        if not wanted:
            continue
        manifest = root / INTERNAL_DIR / "shards" / f"{shard['number']:05d}.jsonl"
        if not manifest.is_file():
            continue
        last = max(wanted)
        with open(manifest, encoding="utf-8") as f:
            for position, line in enumerate(f, start=shard["start"]):
                if position in wanted:
                    rec = json.loads(line)
                    found[int(rec.get("index", position))] = rec
                if position >= last:
                    break
    return found


def verify_quick(
    path: str | Path, expected_id: str, samples: int = 8, seed: int | None = None
) -> VerifyReport:
    """The sampled check, in about a second on 100,000 samples: the file index written at
    assembly must give the catalog's content id; every file must exist with its recorded size;
    ``metadata.jsonl``, ``recipes.jsonl`` and the derived files must hash as recorded; a file
    that is not the dataset's is named; ``samples`` random samples have their files hashed and
    are re-rendered from their recipes; recorded inputs are rehashed (``verify_dataset`` adds
    the card and the other sealed files, hashed in full in both checks).

    What it skips: the hashes of the samples not drawn (their sizes are checked), and reading
    the shard manifests (the content id is recomputed from the file index, which the full check
    rebuilds from the manifests, and the manifests' recipes are not compared with the recorded
    ones). A folder without the index (built by an older synth) gets the full check instead."""
    root = Path(path)
    report = VerifyReport(expected_id, mode="quick")
    info = _read_info(root, report)
    if info is None:
        return report
    index = _read_index(root)
    if index is None:
        return _verify_full(path, expected_id, samples, seed)
    chosen = _choose(int(info["count"]), samples, seed)
    records = _manifest_records(root, info["shards"], chosen)
    wanted: dict[str, str] = {}
    for i in chosen:
        rec = records.get(i)
        if rec is None:
            report.problems.append(f"sample {i}: not found in its shard manifest")
            continue
        for rel, digest, _size in rec["files"]:
            wanted[rel] = digest
    # Re-rendering (mostly building the generator: fonts, photos, corpora) runs in a thread
    # beside the pass over the file index, which waits on a stat per file most of its time.
    rerendered = VerifyReport(expected_id)
    failure: list[BaseException] = []

    def rerender() -> None:
        try:
            rerendered.rerendered = _rerender(root, info, rerendered, chosen, index)
        except BaseException as err:  # raised again in the caller's thread
            failure.append(err)

    worker = threading.Thread(target=rerender, name="verify-rerender", daemon=True)
    worker.start()
    try:
        tops = _check_index(root, index, wanted, report)
    finally:
        worker.join()
    if failure:
        raise failure[0]
    report.notes.extend(rerendered.notes)
    if report.actual_id is None:  # a malformed index
        return report
    if report.actual_id != expected_id:
        report.problems.append(
            f"content id {report.actual_id[:12]} of the file index differs from the catalog's "
            f"{expected_id[:12]} (files or labels were edited; run verify without --quick)"
        )
    _check_label_files(root, index["metadata_sha256"], index.get("recipes_sha256"), report)
    derived = _derived(index)
    _check_derived(root, derived, report)
    missing = set(report.missing)
    present = sum(1 for rel in derived or {} if rel not in missing)
    _check_extra(root, info, derived, tops, report.checked_files - len(missing) - present, report)
    report.checked_inputs = verify_inputs(path, report)
    report.changed.extend(rerendered.changed)
    report.problems.extend(rerendered.problems)
    report.rerendered = rerendered.rerendered
    return report


def _check_index(
    root: Path, index: dict[str, Any], wanted: dict[str, str], report: VerifyReport
) -> set[str]:
    """One pass over the file index: its content id (into ``report.actual_id``), every file's
    existence and size, and the hashes of the ``wanted`` files. Returns the top-level folders
    that hold samples."""
    # The content id is the SHA-256 of the file index's bytes and the labels line, so the index
    # is hashed as read; each line's file gets one stat (bytes paths: no decoding, no Path).
    wanted_b = {rel.encode(): digest.encode() for rel, digest in wanted.items()}
    prefix = os.fsencode(root) + b"/"
    h = hashlib.sha256()
    stat = os.stat
    checked = 0
    tops: set[bytes] = set()
    with open(root / INTERNAL_DIR / FILES_INDEX, "rb") as f:
        for line in f:
            h.update(line)
            checked += 1
            try:
                rel, digest, size = line.rstrip(b"\n").split(b"\t")
                size_n = int(size)
            except ValueError:
                report.problems.append(f"{INTERNAL_DIR}/{FILES_INDEX}: line {checked} is malformed")
                return set()
            tops.add(rel.partition(b"/")[0])
            try:
                st = stat(prefix + rel)
            except OSError:
                report.missing.append(rel.decode())
                continue
            if st.st_size != size_n:
                report.changed.append(rel.decode())
            elif rel in wanted_b:
                report.hashed_files += 1
                if wanted_b[rel] != digest:
                    report.problems.append(f"{rel.decode()}: shard manifest and file index differ")
                elif sha256_file(prefix + rel) != digest.decode():
                    report.changed.append(rel.decode())
    report.checked_files = checked
    h.update(f"labels\t{index['labels_sha256']}\n".encode())
    report.actual_id = h.hexdigest()
    return {os.fsdecode(t) for t in tops}


def verify_dataset(
    path: str | Path,
    expected_id: str,
    samples: int = 8,
    seed: int | None = None,
    quick: bool = False,
    record: dict[str, Any] | None = None,
) -> VerifyReport:
    """The deep check: file hashes and content id, recorded inputs, and a re-rendered subset.
    ``quick``: the sampled check of ``verify_quick`` instead of hashing every file. With the
    catalog's ``record``, the folder's ``dataset.json`` must also say what the catalog says."""
    if quick:
        report = verify_quick(path, expected_id, samples=samples, seed=seed)
    else:
        report = _verify_full(path, expected_id, samples, seed)
    if report.info is not None:
        stats = (record if record is not None else report.info).get("statistics") or {}
        check_sealed(Path(path), report.info, stats.get(SEAL), report)
    if record is not None:
        check_record(Path(path), record, report)
    return report


def check_sealed_files(
    root: Path, sealed: dict[str, str], report: VerifyReport, what: str, since: str
) -> None:
    """Each sealed file (relative path -> sha256) against the folder: missing or changed ones
    go into ``report``, named as ``what`` (the card as the dataset card), edited since ``since``."""
    for rel, digest in sorted(sealed.items()):
        report.own_files += 1
        p = root / rel
        if not p.is_file():
            report.missing.append(rel)
        elif sha256_file(p) != digest:
            kind = "the dataset card" if rel == CARD else what
            report.changed.append(f"{rel} ({kind}: edited since {since})")


def _plan_fingerprint(path: Path) -> str | None:
    """The fingerprint the plan at ``path`` gives (None when it is not a plan)."""
    from synth.engine.plan import BuildPlan

    try:
        return BuildPlan.from_json(json.loads(path.read_text(encoding="utf-8"))).fingerprint
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _verify_full(
    path: str | Path, expected_id: str, samples: int, seed: int | None
) -> VerifyReport:
    report = verify_files(path, expected_id)
    if report.info is not None:
        report.checked_inputs = verify_inputs(path, report)
        report.rerendered = verify_rerender(path, report, samples, seed)
    return report


def check_sealed(root: Path, info: dict[str, Any], seal: str | None, report: VerifyReport) -> None:
    """The folder's own files against the seal written with the card (``seal``: the hash of
    ``__synth__/index.json`` the catalog keeps): the card and every file under ``__synth__/``
    must hash as the index records, ``dataset.json`` must say what it said, and a file under
    ``__synth__/`` the index does not know is named unexpected. Every file is hashed in the
    quick check too: they are a few small ones. A folder assembled before the seal existed gets
    a note, not a failure."""
    if seal is None:
        report.notes.append(
            f"the card ({CARD}) and the files under {INTERNAL_DIR}/ were not hashed when this "
            "dataset was built (an older synth): they are not checked"
        )
        return
    index_rel = f"{INTERNAL_DIR}/{INDEX_JSON}"
    try:
        data = (root / index_rel).read_bytes()
    except OSError:
        report.missing.append(index_rel)
        return
    if sha256_bytes(data) != seal:
        report.changed.append(
            f"{index_rel} (edited since the build: the hashes it holds are not the ones sealed)"
        )
    try:
        index = json.loads(data)
        sealed = index["sealed"]
        if not isinstance(sealed, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        report.problems.append(f"{index_rel}: not the index written at assembly")
        return
    check_sealed_files(root, sealed, report, "written with the card", "the build")
    report.own_files += 1
    if dataset_json_sha256(info) != index.get("dataset_json_sha256"):
        report.changed.append(f"{DATASET_JSON} (edited since the build)")
    plan_rel = f"{INTERNAL_DIR}/{PLAN_JSON}"
    report.own_files += 1
    if not (root / plan_rel).is_file():
        report.missing.append(plan_rel)
    elif _plan_fingerprint(root / plan_rel) != info.get("fingerprint"):
        report.changed.append(f"{plan_rel} (edited since the build: not the dataset's plan)")
    known = set(sealed) | {index_rel, f"{INTERNAL_DIR}/{FILES_INDEX}", plan_rel}
    known |= {f"{INTERNAL_DIR}/shards/{s['number']:05d}.jsonl" for s in info["shards"]}
    report.extra += [rel for rel in internal_files(root) if rel not in known]


_RECORD_FIELDS = (
    "id",
    "fingerprint",
    "name",
    "kind",
    "count",
    "seed",
    "spec",
    "code_version",
    "statistics",
)


def check_record(root: Path, record: dict[str, Any], report: VerifyReport) -> None:
    """The lineage ``dataset.json`` states (id, spec, seed, code and renderer versions,
    statistics, licences, inputs with their hashes, licences and personal-data marks, parent)
    must be the catalog's: an edited one would tell a reader of the folder another history than
    the catalog's. Each differing field is named; a value of the wrong shape is named with its
    key (``info_shape_problems``), never a traceback."""
    try:
        info = json.loads((root / DATASET_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # named by the file checks already
    shape = info_shape_problems(info, root / DATASET_JSON)
    for problem in shape:
        if problem not in report.problems:
            report.problems.append(problem)
    if not isinstance(info, dict):
        return
    malformed = {line.split(": ", 2)[1] for line in shape}

    def same(a: Any, b: Any) -> bool:  # as JSON, so that NaN equals NaN
        return canonical_json(a) == canonical_json(b)

    differ = [key for key in _RECORD_FIELDS if not same(info.get(key), record.get(key))]
    stats = record.get("statistics") or {}
    if "renderer_version" not in malformed and not same(
        info.get("renderer_version"), stats.get("renderer_version")
    ):
        differ.append("renderer_version")
    if "licences" not in malformed and sorted(info.get("licences") or []) != sorted(
        record.get("licences") or []
    ):
        differ.append("licences")
    if "parent" not in malformed and (info.get("parent") or {}).get("id") != record.get(
        "parent_id"
    ):
        differ.append("parent")

    def described(items: Any) -> set[tuple[str, str, str, bool]]:
        return {
            (
                str(i.get("uri")),
                str(i.get("sha256")),
                str(i.get("licence")),
                bool(i.get("personal_data")),
            )
            for i in items or []
        }

    if "inputs" not in malformed and described(info.get("inputs")) != described(
        record.get("inputs")
    ):
        differ.append("inputs")
    if differ:
        report.problems.append(
            f"{DATASET_JSON}: {', '.join(differ)} differ from the catalog's record "
            "(edited since the build?)"
        )


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
    for item in info["inputs"] if isinstance(info.get("inputs"), list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("uri"), str):
            continue  # named by the shape check of dataset.json
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
    root = Path(path)
    info = json.loads((root / DATASET_JSON).read_text(encoding="utf-8"))
    chosen = _choose(int(info["count"]), samples, seed)
    return _rerender(root, info, report, chosen, _read_index(root))


def _recipes_at(
    root: Path, indices: list[int], index: dict[str, Any] | None
) -> Iterator[tuple[int, str]]:
    """``(sample index, recipes.jsonl line)`` of each wanted sample. Seeks to each shard's
    recorded offset when the index is there and still fits the file; else reads every line."""
    wanted = sorted(set(indices))
    if not wanted:
        return
    shards = index["shards"] if index else []
    lines: dict[int, str] = {}
    if shards:
        with open(root / RECIPES, "rb") as f:
            for i in wanted:
                shard = _shard_of(shards, i)
                if shard is None:
                    lines = {}
                    break
                offset = int(shard["recipes_offset"])
                if offset > 0:
                    f.seek(offset - 1)
                    if f.read(1) != b"\n":
                        lines = {}
                        break
                f.seek(offset)
                line = b""
                for _ in range(i - shard["start"] + 1):
                    line = f.readline()
                try:
                    first_ok = json.loads(line).get("index") == i
                except ValueError:
                    first_ok = False
                if not first_ok:  # recipes.jsonl was edited since assembly: read it all
                    lines = {}
                    break
                lines[i] = line.decode("utf-8")
        if len(lines) == len(wanted):
            yield from sorted(lines.items())
            return
    wanted_set = set(wanted)
    with open(root / RECIPES, encoding="utf-8") as f:
        for position, line in enumerate(f):
            if position in wanted_set:
                yield position, line
            if position >= wanted[-1]:
                break


def _rerender(
    root: Path,
    info: dict[str, Any],
    report: VerifyReport,
    chosen: list[int],
    index: dict[str, Any] | None,
) -> list[int]:
    from synth.engine.generator import make_generator

    if not chosen:
        return []
    built = built_renderer_version(info)
    current = renderer_version(info["kind"])
    if current is not None and built != current:
        why = " (v0: built before renderer versions were recorded)" if built == 0 else ""
        report.notes.append(
            f"built by renderer v{built}, this code renders v{current}: files and inputs "
            f"checked, re-render skipped{why}"
        )
        return []
    try:
        gen = make_generator(info["kind"], info["spec"])
    except (SynthError, ValueError) as err:  # a bad spec, or a kind this install lacks
        report.problems.append(f"cannot re-render: {err}")
        return []
    if not (root / RECIPES).is_file():  # named once, whichever check met it first
        if RECIPES not in report.missing:
            report.missing.append(RECIPES)
        return []
    for _position, line in _recipes_at(root, chosen, index):
        rec = json.loads(line)
        stem = rec["file_name"].rsplit(".", 1)[0]
        drawn = rec["recipe"].get("renderer_version", 0) if isinstance(rec["recipe"], dict) else 0
        if current is not None and drawn != built:
            report.changed.append(
                f"{rec['file_name']} (its recipe says renderer v{drawn}, the dataset v{built})"
            )
            continue
        try:
            rendered = gen.render(rec["recipe"], stem)
        except Exception as err:  # a tampered or foreign recipe: report, don't crash
            report.changed.append(f"{rec['file_name']} (its recipe does not render: {err})")
            continue
        for rel, data in rendered.files.items():
            p = root / rel
            if not p.is_file():
                continue  # reported as missing by the hash check
            if p.read_bytes() != data:
                report.changed.append(f"{rel} (re-rendered from its recipe: differs)")
    return chosen


def renderer_version(kind: str) -> int | None:
    """The ``RENDERER_VERSION`` this code renders ``kind`` with; None for a kind without one
    (or one this install lacks)."""
    from synth.engine.generator import _BUILTIN

    module = _BUILTIN.get(kind)
    if module is None:
        return None
    import importlib

    try:
        version = getattr(importlib.import_module(module), "RENDERER_VERSION", None)
    except ImportError:
        return None
    return version if _is_int(version) else None


def built_renderer_version(info: dict[str, Any]) -> int:
    """The renderer version a dataset records (``dataset.json``, else its statistics); 0 for
    one built before renderer versions were recorded, whose rendering is not known to be any
    numbered version's."""
    version = info.get("renderer_version")
    if version is None:
        version = (info.get("statistics") or {}).get("renderer_version")
    return int(version) if _is_int(version) else 0


def verify_import(
    home: str | Path,
    root: str | Path,
    expected_id: str,
    record: dict[str, Any] | None = None,
) -> VerifyReport:
    """Rehash an imported dataset's files in place against the manifest taken at import, read
    its labels again from the folder (the recorded layout and manifest), and check the files
    beside the samples: each label file must hash as at import, and a file added since is named
    unexpected. The seal of the import's record (``folder.json``) comes from the catalog's
    ``record`` when given, else from the import's own ``dataset.json``. An import recorded
    before label files and stray files were checked gets a note for what it cannot check."""
    from synth.engine.importer import FOLDER_JSON, import_dir

    report = VerifyReport(expected_id)
    own = import_dir(Path(home), expected_id)
    manifest = own / "files.jsonl"
    if not manifest.is_file():
        report.problems.append(f"{manifest}: import manifest missing")
        return report
    root = Path(root)
    files: list[tuple[str, str, int]] = []
    texts: dict[str, str] = {}
    now: list[tuple[str, str, int]] = []  # the files as hashed now, for the leak check
    labels = hashlib.sha256()
    with open(manifest, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            rel, digest, size = rec["file_name"], rec["sha256"], rec["size"]
            texts[rel] = rec["text"]
            labels.update(canonical_json([{"file_name": rel, "text": rec["text"]}, {}]).encode())
            labels.update(b"\n")
            files.append((rel, digest, size))
            report.checked_files += 1
            report.hashed_files += 1
            p = root / rel
            if not p.is_file():
                report.missing.append(rel)
                continue
            current = sha256_file(p) if p.stat().st_size == size else ""
            now.append((rel, current or digest, size))
            if current != digest:
                report.changed.append(rel)
    report.actual_id = content_id(files, labels.hexdigest())
    try:
        info = json.loads((own / DATASET_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    stats = (record if record is not None else info).get("statistics") or {}
    if isinstance(stats.get("splits"), dict):
        _check_import_splits(now, texts, stats["splits"], report)
    folder = _import_folder(own / FOLDER_JSON, stats.get(SEAL), report)
    source = ((info.get("spec") or {}).get("imported") or {}) if isinstance(info, dict) else {}
    layout = folder.get("layout") if folder else source.get("layout")
    _check_import_labels(root, str(info.get("kind", "")), layout, folder, texts, report)
    if folder:
        known = set(texts) | set(folder["label_files"]) | set(folder["other_files"])
        for rel, digest in sorted(folder["other_files"].items()):
            report.own_files += 1
            if not (root / rel).is_file():
                report.missing.append(rel)
            elif sha256_file(root / rel) != digest:
                report.changed.append(f"{rel} (beside the samples: edited since the import)")
        from synth.engine.importer import folder_files

        report.extra += [rel for rel in folder_files(root) if rel not in known]
    return report


def _import_folder(path: Path, seal: str | None, report: VerifyReport) -> dict[str, Any] | None:
    """The import's ``folder.json`` when the record seals it; None (with a note) for an import
    recorded before it existed."""
    if seal is None:
        report.notes.append(
            "the label files and the files beside the samples were not recorded when this "
            "dataset was imported (an older synth): the labels are read again, stray files are "
            "not checked"
        )
        return None
    try:
        data = path.read_bytes()
        folder = json.loads(data)
        if not all(isinstance(folder.get(k), dict) for k in ("label_files", "other_files")):
            raise ValueError
    except OSError:
        report.problems.append(f"{path}: missing (the import's record of the folder)")
        return None
    except (ValueError, AttributeError):
        report.problems.append(f"{path}: not the record written at import")
        return None
    if sha256_bytes(data) != seal:
        report.problems.append(f"{path}: edited since the import (not the catalog's seal)")
    return folder


def _check_import_labels(
    root: Path,
    kind: str,
    layout: str | None,
    folder: dict[str, Any] | None,
    texts: dict[str, str],
    report: VerifyReport,
) -> None:
    """Each label file hashes as at import (one line per file), and the labels read again from
    the folder are the ones imported (the content id's labels)."""
    from synth.engine.importer import read_labelled_from, read_recorded

    named: set[str] = set()
    for rel, digest in sorted(((folder or {}).get("label_files") or {}).items()):
        report.own_files += 1
        p = root / rel
        if not p.is_file():
            report.missing.append(rel)
            named.add(rel)
        elif sha256_file(p) != digest:
            report.changed.append(f"{rel} (labels: edited since the import)")
            named.add(rel)
    try:
        if folder is not None and layout:
            items = read_recorded(root, kind, layout, folder.get("manifest"))
        else:
            _layout, _root, items, _manifest = read_labelled_from(root, kind)
    except SynthError as err:
        if not named:
            report.problems.append(f"labels cannot be read again: {err}")
        return
    now = {i.relpath: i.text for i in items}
    differ = sorted(set(now) ^ set(texts) | {r for r in now if r in texts and now[r] != texts[r]})
    if differ and not named:
        where = folder.get("manifest") if folder else None
        report.changed.append(
            f"{where or 'labels'} (labels of {len(differ)} sample(s) differ from the import's, "
            f"first {differ[0]})"
        )


def _check_import_splits(
    now: list[tuple[str, str, int]],
    texts: dict[str, str],
    splits: dict[str, Any],
    report: VerifyReport,
) -> None:
    """The leak check of an import with its own splits, repeated over the files as they are now:
    more files shared between splits than the import recorded fails, each group named."""
    from synth.engine.import_splits import import_split_statistics, split_of

    folders = splits.get("folders") or {}
    found = import_split_statistics(now, [texts[rel] for rel, _, _ in now], folders)
    recorded = int(splits.get("shared_groups") or 0)
    if found["shared_groups"] <= recorded:
        report.notes.append(
            f"leak check: {found['shared_groups']} file(s) in more than one of its splits "
            f"(the import recorded {recorded})"
        )
    if found["shared_groups"] > recorded:
        paths: dict[str, list[str]] = {}
        for rel, digest, _size in now:
            paths.setdefault(digest, []).append(rel)
        for digest, rels in sorted(paths.items(), key=lambda kv: sorted(kv[1])):
            if len({split_of(r, folders) for r in rels}) > 1:
                report.problems.append(
                    f"leak: {' and '.join(sorted(rels))} are the same bytes (sha256 "
                    f"{digest[:12]}) in more than one split"
                )
        report.problems.append(
            f"leak check: {found['shared_groups']} file(s) in more than one split, the import "
            f"recorded {recorded}"
        )
