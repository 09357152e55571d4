"""The folder of a split version: the parent's samples read, linked (or copied) under
``train/``, ``validation/`` and ``test/`` with each split's ``metadata.jsonl``, the file
manifest and index, the kind's label views per split, ``dataset.json``, the card and the seal;
and what the OpenLineage events say of a split. ``synth.engine.split`` decides what goes where.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth.catalog import DatasetRecord
from synth.engine.assemble import (
    FILES_INDEX,
    INDEX_JSON,
    METADATA,
    seal_folder,
    write_dataset_json,
)
from synth.engine.plan import INTERNAL_DIR
from synth.engine.split_assign import SPLITS
from synth.errors import SynthError
from synth.hashing import canonical_json, content_id, sha256_file


@dataclass(frozen=True)
class Sample:
    index: int
    row: dict[str, Any]
    files: list[tuple[str, str, int]]  # (path relative to the parent's folder, sha256, size)


def is_synthetic(record: DatasetRecord) -> bool:
    return record.trigger.get("type") != "import" and record.code_version != "import"


def parent_samples(record: DatasetRecord, home: Path) -> list[Sample]:
    """Every sample of ``record`` with its row and files: from the shard manifests of a built
    dataset, from the import's manifest of an imported one."""
    root = Path(record.path)
    if not root.is_dir():
        raise SynthError(f"{root}: the folder of dataset {record.id[:12]} is missing")
    if not is_synthetic(record):
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


def link_or_copy(src: Path, dst: Path) -> bool:
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


@dataclass(frozen=True)
class SplitRun:
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


def write_split(out: Path, source: Path, by_split: dict[str, list[Sample]]) -> Written:
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
                    if Path(rel).is_absolute() or ".." in Path(rel).parts:
                        raise SynthError(
                            f"{source}: sample path '{rel}' points outside the dataset folder; "
                            "refused (verify the dataset)"
                        )
                    src = source / rel
                    if not src.is_file():
                        raise SynthError(f"{src}: a sample file of the dataset is missing")
                    if link_or_copy(src, folder / rel):
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
    if not is_synthetic(parent):
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


def version_info(
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


def write_own_files(out: Path, info: dict[str, Any], parent: DatasetRecord, name: str) -> None:
    """``dataset.json``, the card (naming the folder ``name``, where ``out`` will be moved), and
    the seal over both (kept in the statistics)."""
    from synth.engine.split_card import write_split_card

    write_dataset_json(out, info)
    write_split_card(out, name, info, parent, synthetic=is_synthetic(parent))
    seal_folder(out, info)
