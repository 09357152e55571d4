"""Leak-free splits: a new version of a dataset with ``train/``, ``validation/`` and ``test/``.

Each split folder is an imagefolder/audiofolder of its own (its samples' files, hard-linked from
the parent, and its ``metadata.jsonl``), so ``load_dataset("imagefolder", data_dir=...)`` on the
version's folder reads the three splits. Whole groups go to one split (``split_assign``); the
record's ``statistics["splits"]`` holds the seed, ratios, group and stratify fields, per-split
counts, groups and label balance, and the leak check (``shared_groups``: 0), which ``synth
datasets verify`` repeats (``split_verify``).

The version's content id is ``synth.hashing.content_id`` over its files (paths under the split
folders) and its labels: each split's rows in order, each line ``canonical_json([split, row])``.
``__synth__/files.tsv`` holds the file manifest, ``__synth__/index.json`` the labels hash and the
seal of the card and ``dataset.json`` (``synth.engine.assemble.seal_folder``), as for a build.

A split version is not expanded: new samples drawn from the same clean clips or texts as the
validation and test samples would leak into train. Expand the parent and split the expansion.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth.catalog import Catalog, DatasetRecord
from synth.engine.assemble import DATASET_JSON, FILES_INDEX, INDEX_JSON, METADATA, seal_folder
from synth.engine.plan import INTERNAL_DIR
from synth.engine.split_assign import (
    SPLITS,
    assign,
    balance_field,
    check_fields,
    check_ratios,
    split_statistics,
)
from synth.errors import NotFound, SynthError
from synth.hashing import canonical_json, content_id, sha256_file, sha256_json
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


@dataclass(frozen=True)
class Sample:
    index: int
    row: dict[str, Any]
    files: list[tuple[str, str, int]]  # (path relative to the parent's folder, sha256, size)


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


def _synthetic(record: DatasetRecord) -> bool:
    return record.trigger.get("type") != "import" and record.code_version != "import"


def parent_samples(record: DatasetRecord, home: Path) -> list[Sample]:
    """Every sample of ``record`` with its row and files: from the shard manifests of a built
    dataset, from the import's manifest of an imported one."""
    root = Path(record.path)
    if not root.is_dir():
        raise SynthError(f"{root}: the folder of dataset {record.id[:12]} is missing")
    if not _synthetic(record):
        from synth.engine.importer import import_dir

        manifest = import_dir(home, record.id) / "files.jsonl"
        if not manifest.is_file():
            raise SynthError(f"{manifest}: the import's manifest is missing")
        out = []
        with open(manifest, encoding="utf-8") as f:
            for n, line in enumerate(f):
                rec = json.loads(line)
                row = {"file_name": rec["file_name"], "text": rec["text"]}
                out.append(Sample(n, row, [(rec["file_name"], rec["sha256"], rec["size"])]))
        return out
    from synth.engine.expand import check_parent_folder
    from synth.engine.shard import manifest_in

    info = check_parent_folder(record)
    out = []
    for shard in info["shards"]:
        path = manifest_in(root, shard["number"])
        if not path.is_file():
            raise SynthError(f"{path}: shard manifest missing (verify the dataset)")
        with open(path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                files = [(rel, digest, int(size)) for rel, digest, size in rec["files"]]
                out.append(Sample(int(rec["index"]), rec["row"], files))
    out.sort(key=lambda s: s.index)
    return out


def _link(src: Path, dst: Path) -> bool:
    """Hard-link ``src`` to ``dst``; copy when a link is impossible (another device, a file
    system without links). True when linked."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
        return True
    except OSError as err:
        if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
            raise SynthError(f"{src}: cannot link into the split ({err.strerror})") from None
    shutil.copyfile(src, dst)
    return False


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
    if is_split(parent):
        instead = (
            f"split its parent {parent.parent_id[:12]} instead"
            if parent.parent_id
            else "they were kept at import: use them as they are"
        )
        raise SynthError(f"{parent.id[:12]} already has train/validation/test splits; {instead}")
    fields = list(group_by or DEFAULT_GROUP_BY.get(parent.kind, ["text"]))
    if not _synthetic(parent) and not group_by:
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
    warnings = [SYNTHETIC_WARNING] if _synthetic(parent) else []
    existing = _existing(out)
    if existing is not None:
        try:
            return SplitResult(catalog.get(existing), False, warnings)
        except NotFound:
            pass
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    emitter = LineageEmitter(_SplitRun(parent, name, spec, seed, fingerprint, str(home), out))
    emitter.start()
    try:
        written = _write_split(tmp, Path(parent.path), by_split)
        same = _registered(catalog, written.id)
        if same is not None:  # other arguments that draw the same splits: the first stands
            shutil.rmtree(tmp)
            emitter.plan = dataclasses.replace(emitter.plan, out_dir=Path(same.path))
            emitter.complete(json.loads((Path(same.path) / DATASET_JSON).read_text("utf-8")))
            return SplitResult(same, False, warnings)
        write_derived(tmp, parent)
        info = _info(parent, written, fingerprint, name, spec, splits_stats)
        info["run"]["openlineage_run_id"] = emitter.run_id
        _write_own_files(tmp, info, parent, out.name)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        record, created = catalog.register(info, str(out))
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        emitter.fail(err)
        raise
    emitter.complete(info)
    return SplitResult(record, created, warnings, written.linked, written.copied)


@dataclass(frozen=True)
class _SplitRun:
    """What the OpenLineage events say of a split (``synth.lineage.openlineage.BuildPlan``):
    its one input is the parent, its output the split version's folder."""

    record: DatasetRecord
    name: str
    spec: dict[str, Any]
    seed: int
    fingerprint: str
    home: str
    out_dir: Path
    inputs: tuple[()] = ()
    libraries: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def count(self) -> int:
        return self.record.count

    @property
    def code_version(self) -> str:
        from synth.version import code_version

        return code_version()

    @property
    def parent(self) -> dict[str, Any]:
        return {"id": self.record.id, "path": self.record.path}

    @property
    def trigger(self) -> dict[str, Any]:
        split = self.spec["split"]
        return split_trigger(self.record.id, split["ratios"], split["seed"])


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


def labels_line(split: str, row: dict[str, Any]) -> str:
    """One line of the labels hash of a split version."""
    return canonical_json([split, row])


@dataclass(frozen=True)
class Written:
    """What ``_write_split`` wrote: the content id, the files (count, bytes) and how many were
    linked or copied."""

    id: str
    files: int
    bytes: int
    linked: int
    copied: int


def _write_split(out: Path, source: Path, by_split: dict[str, list[Sample]]) -> Written:
    """Link every sample's files under its split's folder and write each ``metadata.jsonl``, the
    file manifest and the index."""
    (out / INTERNAL_DIR).mkdir(parents=True)
    files: list[tuple[str, str, int]] = []
    labels = hashlib.sha256()
    linked = copied = 0
    for split, samples in by_split.items():
        folder = out / split
        folder.mkdir()
        with open(folder / METADATA, "w", encoding="utf-8", newline="\n") as meta:
            for sample in samples:
                for rel, digest, size in sample.files:
                    src = source / rel
                    if not src.is_file():
                        raise SynthError(f"{src}: a sample file of the dataset is missing")
                    if _link(src, folder / rel):
                        linked += 1
                    else:
                        copied += 1
                    files.append((f"{split}/{rel}", digest, size))
                meta.write(json.dumps(sample.row, ensure_ascii=False) + "\n")
                labels.update((labels_line(split, sample.row) + "\n").encode())
    files.sort()
    with open(out / INTERNAL_DIR / FILES_INDEX, "w", encoding="utf-8", newline="\n") as f:
        for rel, digest, size in files:
            f.write(f"{rel}\t{digest}\t{size}\n")
    dataset_id = content_id(files, labels.hexdigest())
    index = {
        "version": 1,
        "id": dataset_id,
        "labels_sha256": labels.hexdigest(),
        "files": len(files),
        "layout": "splits",
    }
    (out / INTERNAL_DIR / INDEX_JSON).write_text(json.dumps(index) + "\n", encoding="utf-8")
    return Written(dataset_id, len(files), sum(f[2] for f in files), linked, copied)


def write_derived(out: Path, parent: DatasetRecord) -> None:
    """The parent kind's views of the labels in each split folder, as its build wrote them at
    its top (speech: the NeMo manifest, and Kaldi and Lhotse files when its spec asks for them),
    their hashes recorded in the index (``derived``) for ``verify``; not part of the content
    id."""
    if not _synthetic(parent):
        return
    from synth.engine.generator import label_views

    write = label_views(parent.kind)
    if write is None:  # a kind without views of its labels (OCR)
        return
    derived: dict[str, str] = {}
    for split in SPLITS:
        with open(out / split / METADATA, encoding="utf-8") as f:
            written = write(out / split, (json.loads(line) for line in f), parent.spec)
        derived |= {Path(p).relative_to(out).as_posix(): sha256_file(p) for p in written}
    index_path = out / INTERNAL_DIR / INDEX_JSON
    index = json.loads(index_path.read_text(encoding="utf-8"))
    index["derived"] = dict(sorted(derived.items()))
    index_path.write_text(json.dumps(index) + "\n", encoding="utf-8")


def split_trigger(parent_id: str, ratios: list[int], seed: int) -> dict[str, Any]:
    """The trigger a split version records."""
    return {"type": "split", "parent": parent_id, "ratios": ratios, "seed": seed}


def _info(
    parent: DatasetRecord,
    written: Written,
    fingerprint: str,
    name: str,
    spec: dict[str, Any],
    splits_stats: dict[str, Any],
) -> dict[str, Any]:
    """The version's ``dataset.json``: the parent's statistics (the same samples) with the
    splits', and the parent's inputs (so licences and personal-data marks pass on); the parent
    itself is the ``parent`` link."""
    from synth.version import code_version

    statistics = {k: v for k, v in parent.statistics.items() if k != "index_sha256"}
    statistics["splits"] = splits_stats
    inputs = [dict(i) for i in parent.inputs]  # with their licences and personal-data marks
    info: dict[str, Any] = {
        "id": written.id,
        "fingerprint": fingerprint,
        "name": name,
        "kind": parent.kind,
        "count": sum(splits_stats["counts"].values()),
        "seed": splits_stats["seed"],
        "spec": spec,
        "code_version": code_version(),
    }
    if "renderer_version" in statistics:
        info["renderer_version"] = statistics["renderer_version"]
    info |= {
        "inputs": inputs,
        "licences": list(parent.licences),
        "parent": {
            "id": parent.id,
            "path": parent.path,
            "count": parent.count,
            "name": parent.name,
        },
        "trigger": split_trigger(parent.id, splits_stats["ratios"], splits_stats["seed"]),
        "run": {"files_copied": written.copied},  # files that could not be linked
        "statistics": statistics,
        "files": {
            "metadata": {s: f"{s}/{METADATA}" for s in SPLITS},
            "count": written.files,
            "bytes": written.bytes,
        },
        "shards": [],  # no shards of its own: the samples were rendered in the parent
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return info


def _write_own_files(out: Path, info: dict[str, Any], parent: DatasetRecord, name: str) -> None:
    """``dataset.json``, the card (naming the folder ``name``, where ``out`` will be moved), and
    the seal over both (kept in the statistics)."""
    from synth.engine.assemble import write_dataset_json
    from synth.engine.split_card import write_split_card

    write_dataset_json(out, info)
    write_split_card(out, name, info, parent, synthetic=_synthetic(parent))
    seal_folder(out, info)
