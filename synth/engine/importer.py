"""Import an existing (real) dataset into the catalog, in place, with hashes.

Layouts: a Hugging Face imagefolder/audiofolder (``metadata.jsonl`` or ``metadata.csv`` with
``file_name`` and a text column), a NeMo manifest (speech), files with same-named ``.txt``
labels, or a folder of the dataset's own splits (``train/`` with ``validation/`` and/or
``test/``, each of those layouts), whose splits are kept (``synth.engine.import_splits``).
Nothing in the user's folder is written: the file manifest and labels go to
``<data root>/imports/<id>/``. Paths that point outside the dataset's folder are refused.
``folder.json`` there records the label files' hashes and every other file the folder holds,
for ``verify``; its hash is in the record's statistics.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth.catalog import Catalog, DatasetRecord
from synth.engine.import_splits import import_split_statistics
from synth.errors import AssetError, NotFound, SynthError
from synth.hashing import canonical_json, content_id, sha256_bytes, sha256_file, sha256_json

TEXT_COLUMNS = ("text", "transcription", "transcript", "sentence", "label")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".opus"}
SUFFIXES = {"ocr": IMAGE_SUFFIXES, "speech": AUDIO_SUFFIXES}
IMPORT_DIR = "imports"


@dataclass(frozen=True)
class Item:
    relpath: str  # relative to the dataset root, POSIX
    text: str


def _inside(root: Path, value: str, where: str) -> str:
    p = Path(value)
    full = p if p.is_absolute() else root / p
    rel = os.path.relpath(os.path.normpath(full), os.path.normpath(root))
    if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
        raise AssetError(where, f"path '{value}' points outside the dataset folder {root}; refused")
    return Path(rel).as_posix()


def _text_of(row: dict[str, Any], where: str) -> str:
    for col in TEXT_COLUMNS:
        if col in row and row[col] is not None:
            return str(row[col])
    raise AssetError(where, f"no label column (expected one of {', '.join(TEXT_COLUMNS)})")


def _read_metadata(path: Path) -> list[Item]:
    root = path.parent
    items = []
    if path.suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(enumerate(csv.DictReader(f), start=2))
    else:
        rows = []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        rows.append((n, json.loads(line)))
                    except json.JSONDecodeError as err:
                        raise AssetError(f"{path}:{n}", f"not valid JSON ({err.msg})") from None
    for n, row in rows:
        where = f"{path}:{n}"
        if "file_name" not in row:
            raise AssetError(where, "no 'file_name' column")
        items.append(Item(_inside(root, row["file_name"], where), _text_of(row, where)))
    return items


def _read_nemo(path: Path) -> list[Item]:
    root = path.parent
    items = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise AssetError(where, f"not valid JSON ({err.msg})") from None
            if "audio_filepath" not in row:
                raise AssetError(where, "no 'audio_filepath' field")
            items.append(Item(_inside(root, row["audio_filepath"], where), _text_of(row, where)))
    return items


def _read_pairs(root: Path, suffixes: set[str]) -> list[Item]:
    items = []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in suffixes and p.is_file():
            label = p.with_suffix(".txt")
            if not label.is_file():
                raise AssetError(p, f"no label file {label.name} beside it")
            text = label.read_text(encoding="utf-8").strip()
            items.append(Item(p.relative_to(root).as_posix(), text))
    return items


SPLIT_FOLDERS = {
    "train": ("train",),
    "validation": ("validation", "val", "valid", "dev"),
    "test": ("test",),
}


def split_folders(root: Path) -> dict[str, str] | None:
    """``{split: folder name}`` when ``root`` holds ``train/`` and a validation or test folder
    (names matched without regard to case); None otherwise."""
    try:
        names = {p.name.lower(): p.name for p in Path(root).iterdir() if p.is_dir()}
    except OSError:
        return None
    found: dict[str, str] = {}
    for split, aliases in SPLIT_FOLDERS.items():
        hits = [names[a] for a in aliases if a in names]
        if len(hits) > 1:
            raise AssetError(
                root, f"both {hits[0]}/ and {hits[1]}/: which one is the {split} split?"
            )
        if hits:
            found[split] = hits[0]
    return found if "train" in found and len(found) > 1 else None


def read_splits(root: Path, kind: str, folders: dict[str, str]) -> tuple[list[Item], list[str]]:
    """The labelled items of every split folder (paths relative to ``root``), and the files their
    labels were read from."""
    items: list[Item] = []
    labels: list[str] = []
    for folder in folders.values():
        layout, sub, sub_items, manifest = read_labelled_from(Path(root) / folder, kind)
        if layout == "splits":
            raise AssetError(sub, "split folders inside a split folder are not supported")
        items += [Item(f"{folder}/{i.relpath}", i.text) for i in sub_items]
        labels += [f"{folder}/{rel}" for rel in label_files(sub, layout, manifest, sub_items)]
    return items, sorted(labels)


def read_labelled(path: str | Path, kind: str) -> tuple[str, Path, list[Item]]:
    """The layout, the root folder and the labelled items of the dataset at ``path``."""
    layout, root, items, _manifest = read_labelled_from(path, kind)
    return layout, root, items


def read_labelled_from(path: str | Path, kind: str) -> tuple[str, Path, list[Item], Path | None]:
    """``read_labelled`` and the label manifest read (None for ``.txt`` pairs)."""
    if kind not in SUFFIXES:
        raise SynthError(f"--kind: expected ocr or speech, got '{kind}'")
    p = Path(path).expanduser().resolve()
    if p.is_file():
        manifest: Path | None = p
        if p.name in ("metadata.jsonl", "metadata.csv"):
            layout, root, items = "metadata", p.parent, _read_metadata(p)
        elif p.suffix in (".json", ".jsonl") and kind == "speech":
            layout, root, items = "nemo", p.parent, _read_nemo(p)
        else:
            raise AssetError(p, "unknown manifest (expected metadata.jsonl/.csv or a NeMo .jsonl)")
    elif p.is_dir():
        meta = [p / n for n in ("metadata.jsonl", "metadata.csv") if (p / n).is_file()]
        nemo = [m for m in sorted(p.glob("*.json*")) if kind == "speech" and _is_nemo(m)]
        if meta:
            layout, root, items, manifest = "metadata", p, _read_metadata(meta[0]), meta[0]
        elif nemo:
            layout, root, items, manifest = "nemo", p, _read_nemo(nemo[0]), nemo[0]
        elif (folders := split_folders(p)) is not None:  # train/, validation/, test/
            layout, root, manifest = "splits", p, None
            items = read_splits(p, kind, folders)[0]
        else:
            layout, root, items = "text_pairs", p, _read_pairs(p, SUFFIXES[kind])
            manifest = None
    else:
        raise AssetError(p, "dataset to import not found")
    if not items:
        raise AssetError(p, f"no labelled {kind} samples found")
    wrong = [i.relpath for i in items if Path(i.relpath).suffix.lower() not in SUFFIXES[kind]]
    if wrong:
        raise AssetError(root / wrong[0], f"not a {kind} sample file (by extension)")
    return layout, root, items, manifest


def read_recorded(root: Path, kind: str, layout: str, manifest: str | None) -> list[Item]:
    """The labelled items of an imported folder read again as they were at import: the same
    layout from the same manifest (relative to ``root``)."""
    if layout == "text_pairs":
        return _read_pairs(root, SUFFIXES[kind])
    if layout == "splits":
        folders = split_folders(root)
        if folders is None:
            raise AssetError(root, "the split folders read at import are gone")
        return read_splits(root, kind, folders)[0]
    if manifest is None:
        raise SynthError(f"{root}: the import recorded no label manifest")
    path = root / manifest
    if not path.is_file():
        raise AssetError(path, "the label manifest read at import is missing")
    return _read_nemo(path) if layout == "nemo" else _read_metadata(path)


FOLDER_JSON = "folder.json"  # in the import's own folder: the files beside the samples
FOLDER_VERSION = 1


def folder_files(root: Path) -> list[str]:
    """Every file under ``root`` (relative, POSIX, sorted); hidden files and folders left out,
    as loaders leave them."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        found += [prefix + n for n in sorted(filenames) if not n.startswith(".")]
    return found


def label_files(
    root: Path, layout: str, manifest: Path | None, items: list[Item], kind: str = "ocr"
) -> list[str]:
    """The files the labels were read from: the manifest, each sample's ``.txt``, or those of
    every split folder."""
    if layout == "splits":
        return read_splits(root, kind, split_folders(root) or {})[1]
    if layout == "text_pairs":
        return sorted(Path(i.relpath).with_suffix(".txt").as_posix() for i in items)
    return [manifest.relative_to(root).as_posix()] if manifest is not None else []


def folder_record(
    root: Path,
    layout: str,
    manifest: Path | None,
    items: list[Item],
    samples: set[str],
    kind: str = "ocr",
) -> dict[str, Any]:
    """What ``verify`` checks beside the samples: the label files' hashes, and every other file
    the folder held at import (a README, a licence) with its hash, so that a changed label file
    or a file added since is named."""
    labels = label_files(root, layout, manifest, items, kind)
    known = samples | set(labels)
    return {
        "version": FOLDER_VERSION,
        "layout": layout,
        "manifest": labels[0] if manifest is not None else None,
        "label_files": {rel: sha256_file(root / rel) for rel in labels},
        "other_files": {
            rel: sha256_file(root / rel) for rel in folder_files(root) if rel not in known
        },
    }


def _is_nemo(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            return "audio_filepath" in json.loads(f.readline() or "{}")
    except (OSError, json.JSONDecodeError):
        return False


def import_dir(home: Path, dataset_id: str) -> Path:
    return Path(home) / IMPORT_DIR / dataset_id


def import_dataset(
    path: str | Path,
    kind: str,
    catalog: Catalog,
    home: str | Path,
    *,
    name: str | None = None,
    licence: str = "unknown",
    personal_data: bool = False,
) -> tuple[DatasetRecord, bool]:
    """Hash every file and label of the dataset at ``path`` and register it as a version.

    The content id is computed exactly as for a synthetic dataset, so the same files and labels
    give the same id however they are laid out on disk.
    """
    layout, root, items, manifest = read_labelled_from(path, kind)
    files: list[tuple[str, str, int]] = []
    labels = hashlib.sha256()
    for item in items:
        p = root / item.relpath
        if not p.is_file():
            raise AssetError(p, "listed in the manifest but missing")
        files.append((item.relpath, sha256_file(p), p.stat().st_size))
        row = {"file_name": item.relpath, "text": item.text}
        labels.update(canonical_json([row, {}]).encode())
        labels.update(b"\n")
    dataset_id = content_id(files, labels.hexdigest())
    out = import_dir(Path(home), dataset_id)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "files.jsonl", "w", encoding="utf-8") as f:
        for (rel, digest, size), item in zip(files, items, strict=True):
            f.write(
                canonical_json(
                    {"file_name": rel, "sha256": digest, "size": size, "text": item.text}
                )
                + "\n"
            )
    with open(out / "texts.txt", "w", encoding="utf-8") as f:
        for item in items:
            f.write(" ".join(item.text.split()) + "\n")
    try:  # imported before: the first import's record (and its seal of folder.json) stands
        return catalog.get(dataset_id), False
    except NotFound:
        pass
    folder = folder_record(root, layout, manifest, items, {rel for rel, _, _ in files}, kind)
    folder_bytes = (json.dumps(folder, indent=2, ensure_ascii=False) + "\n").encode()
    (out / FOLDER_JSON).write_bytes(folder_bytes)
    source = {
        "layout": layout,
        "path": str(root),
        "licence": licence,
        "personal_data": personal_data,
    }
    info = {
        "id": dataset_id,
        "fingerprint": sha256_json({"import": dataset_id}),
        "name": name or root.name,
        "kind": kind,
        "count": len(items),
        "seed": 0,
        "spec": {"imported": source},
        "code_version": "import",
        "statistics": {
            "samples": len(items),
            "counts": {"layout": {layout: len(items)}},
            "numbers": {},
            "rejections": {},
            # The seal of folder.json (see synth.engine.assemble.SEAL), kept by the catalog.
            "index_sha256": sha256_bytes(folder_bytes),
        },
        "trigger": {"type": "import", "source": str(root)},
        "run": {},
        "parent": None,
        "licences": [licence],
        "inputs": [
            {
                "role": "import",
                "name": root.name,
                "uri": f"file://{root}",
                "sha256": dataset_id,
                "licence": licence,
                "attribution": "",
                "personal_data": personal_data,
            }
        ],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if layout == "splits":  # the dataset's own splits, in the shape of a split version's
        folders = split_folders(root) or {}
        texts = [item.text for item in items]
        info["statistics"]["splits"] = import_split_statistics(files, texts, folders)
    (out / "dataset.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    return catalog.register(info, str(root))


def labels_file(record: DatasetRecord, home: str | Path) -> Path:
    """A file with the dataset's labels, one per line: for ``--texts-from``."""
    imported = import_dir(Path(home), record.id) / "texts.txt"
    if imported.is_file():
        return imported
    meta = Path(record.path) / "metadata.jsonl"
    if not meta.is_file():
        raise SynthError(f"{record.path}: no labels found for dataset {record.id[:12]}")
    out = Path(home) / "texts" / f"{record.id}.txt"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        with open(meta, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
            for line in src:
                dst.write(" ".join(json.loads(line)["text"].split()) + "\n")
        os.replace(tmp, out)
    return out
