"""Assemble a built dataset folder: metadata, recipes, statistics, content id, dataset.json, card.

Everything is streamed shard by shard: the (relpath, sha256, size) manifest the content id is
computed over is sorted per shard and merged from run files, so memory does not grow with the
dataset.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth.engine.plan import INTERNAL_DIR, BuildPlan, Shard
from synth.engine.shard import shard_manifest_path, shard_stats_path
from synth.engine.stats import Stats
from synth.errors import SynthError
from synth.hashing import canonical_json, sha256_bytes, sha256_file, sha256_json

METADATA = "metadata.jsonl"
RECIPES = "recipes.jsonl"
DATASET_JSON = "dataset.json"
FILES_INDEX = "files.tsv"  # in __synth__/: the sorted file manifest, "relpath<TAB>sha256<TAB>size"
INDEX_JSON = "index.json"  # in __synth__/: hashes and recipes.jsonl offsets for quick checks
INDEX_VERSION = 1
PLAN_JSON = "plan.json"  # in __synth__/: the build plan (written again by a rerun)
CARD = "README.md"
SEAL = "index_sha256"
"""The key, in the dataset's statistics, of the hash of ``__synth__/index.json`` once the card is
written (``seal_folder``): the catalog keeps it, so verify trusts the hashes the index records."""
UNSEALED = ("statistics", "created", "run")
"""``dataset.json`` keys the seal leaves out: the statistics hold the seal itself (and the
catalog holds them); when and how the last run went changes with an idempotent rerun."""


class IncompleteBuild(SynthError):
    """Some shards have no manifest: the build was interrupted; run it again to resume."""


@dataclass(frozen=True)
class Assembled:
    id: str
    path: Path
    count: int
    statistics: dict[str, Any]
    info: dict[str, Any]  # the content of dataset.json


def all_shards(plan: BuildPlan) -> list[Shard]:
    """Every shard of the dataset: the parent's (linked) and the new ones."""
    shards: list[Shard] = []
    if plan.parent:
        source = Path(plan.parent["path"]) / DATASET_JSON
        try:
            parent_info = json.loads(source.read_text())
        except FileNotFoundError:  # e.g. the parent deleted while this expansion was built
            raise SynthError(
                f"{source.parent}: the parent dataset's folder is gone; the expansion cannot be "
                "assembled (`synth datasets show "
                f"{str(plan.parent.get('id', ''))[:12]}` says whether it was deleted)"
            ) from None
        shards = [Shard(s["number"], s["start"], s["stop"]) for s in parent_info["shards"]]
    return shards + plan.shards()


def missing_shards(plan: BuildPlan) -> list[Shard]:
    return [s for s in all_shards(plan) if not shard_manifest_path(plan, s).exists()]


COUNTED_AS = {"clean_transcript": "clean_speech"}
"""Roles used exactly when an input of another role with the same name is (a clip's own
transcript file and the clip)."""


ALSO_NAMED_IN = {"font": "font_fallback"}
"""Categories that name more inputs of a role, ``+``-joined (the fallback fonts of a line drawn
in several: each drew some of its characters, so each is an input)."""


def used_inputs(inputs: list[dict[str, Any]], stats: Stats) -> list[dict[str, Any]]:
    """Inputs the samples actually drew on: a role that ``describe`` counts keeps only the names
    that occur; roles it does not count (a text corpus, a parent) are kept whole."""
    out = []
    for item in inputs:
        role = item["role"]
        counted = stats.counts.get(COUNTED_AS.get(role, role))
        if counted is None or item["name"] in counted or _also_named(stats, role, item["name"]):
            out.append(item)
    return out


def _also_named(stats: Stats, role: str, name: str) -> bool:
    category = ALSO_NAMED_IN.get(role)
    notes = stats.counts.get(category, {}) if category else {}
    return any(name in note.split("+") for note in notes)


class SortedFiles:
    """The file manifest ``(relpath, sha256, size)`` of a dataset, sorted in bounded memory.

    Each shard's entries (a few thousand at most) are sorted and spilled to a run file; ``merged``
    yields every entry in sorted order by merging the runs (``heapq.merge``, at most ``fan_in``
    files open at a time). Memory stays flat however many samples the dataset holds.
    """

    def __init__(self, folder: Path, fan_in: int = 64) -> None:
        self.folder = Path(folder)
        self.fan_in = max(2, fan_in)
        self.runs: list[Path] = []
        self.count = 0
        self.bytes = 0  # total size of the files

    def add(self, files: list[tuple[str, str, int]]) -> None:
        files = sorted(files)
        path = self.folder / f"run-{len(self.runs):06d}.tsv"
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for rel, digest, size in files:
                if "\t" in rel or "\n" in rel or "\r" in rel:
                    raise SynthError(f"{rel!r}: a sample path may not hold tabs or line breaks")
                f.write(f"{rel}\t{digest}\t{size}\n")
                self.bytes += size
        self.runs.append(path)
        self.count += len(files)

    def _merge_to(self, paths: list[Path], out: Path) -> None:
        with contextlib.ExitStack() as stack:
            runs = [read_files_tsv(stack.enter_context(open(p, encoding="utf-8"))) for p in paths]
            with open(out, "w", encoding="utf-8", newline="\n") as f:
                for rel, digest, size in heapq.merge(*runs):
                    f.write(f"{rel}\t{digest}\t{size}\n")
        for p in paths:
            p.unlink()

    def merged(self) -> Iterator[tuple[str, str, int]]:
        paths = list(self.runs)
        level = 0
        while len(paths) > self.fan_in:
            level += 1
            merged: list[Path] = []
            for i in range(0, len(paths), self.fan_in):
                out = self.folder / f"merge-{level}-{i:06d}.tsv"
                self._merge_to(paths[i : i + self.fan_in], out)
                merged.append(out)
            paths = merged
        with contextlib.ExitStack() as stack:
            runs = [read_files_tsv(stack.enter_context(open(p, encoding="utf-8"))) for p in paths]
            yield from heapq.merge(*runs)


def read_files_tsv(lines: Iterable[str]) -> Iterator[tuple[str, str, int]]:
    """Parse ``relpath<TAB>sha256<TAB>size`` lines."""
    for line in lines:
        rel, digest, size = line.rstrip("\n").split("\t")
        yield rel, digest, int(size)


def content_id_sorted(
    files: Iterable[tuple[str, str, int]], labels_sha256: str, copy_to: Any = None
) -> str:
    """``synth.hashing.content_id`` of a manifest that is already sorted, streamed; each entry is
    also written to the text file ``copy_to`` when given (the dataset's file index)."""
    h = hashlib.sha256()
    previous: tuple[str, str, int] | None = None
    for entry in files:
        if previous is not None and entry < previous:
            raise ValueError("content_id_sorted: the file manifest is not sorted")
        previous = entry
        line = "{}\t{}\t{}\n".format(*entry)
        h.update(line.encode())
        if copy_to is not None:
            copy_to.write(line)
    h.update(f"labels\t{labels_sha256}\n".encode())
    return h.hexdigest()


_DECODER = json.JSONDecoder()
_RECORD_KEYS = ("files", "index", "outputs", "recipe", "row")  # a manifest line's keys, sorted


def _label_and_recipe(rec: dict[str, Any]) -> tuple[str, str]:
    label = canonical_json([rec["row"], rec["outputs"]])
    recipe = {
        "index": rec["index"],
        "file_name": rec["row"]["file_name"],
        "recipe": rec["recipe"],
        "outputs": rec["outputs"],
    }
    return label, canonical_json(recipe)


def split_record(line: str) -> tuple[dict[str, Any], str, str]:
    """A shard-manifest line's ``files``, ``index``, ``outputs`` and ``row`` (the recipe is not
    decoded when it can be spliced), with its labels line (``canonical_json([row, outputs])``)
    and its ``recipes.jsonl`` line.

    The manifest line is canonical JSON, and canonical JSON encodes a nested value exactly as it
    encodes that value alone, so both lines are spliced from the manifest's own text instead of
    being encoded again (the costliest step of assembling). A line of any other shape takes the
    encoding path; both give the same strings (tested).
    """
    rec: dict[str, Any] = {}
    spans: dict[str, tuple[int, int]] = {}
    pos = 0
    for n, key in enumerate(_RECORD_KEYS[:3]):  # files, index, outputs
        head = ('{"' if n == 0 else ',"') + key + '":'
        if not line.startswith(head, pos):
            break
        start = pos + len(head)
        rec[key], pos = _DECODER.raw_decode(line, start)
        spans[key] = (start, pos)
    else:
        # The recipe (the longest part) is spliced, not decoded: it runs up to the top-level
        # ',"row":', the last one in the line whose value ends at the closing brace (a quote
        # inside a string is escaped, and one nested in the row would end before that brace).
        body = line.rstrip()
        recipe_head, row_head = ',"recipe":', ',"row":'
        at = body.rfind(row_head)
        if line.startswith(recipe_head, pos) and at > pos and body.endswith("}"):
            rec["row"], end = _DECODER.raw_decode(body, at + len(row_head))
            if end == len(body) - 1:
                spans["recipe"] = (pos + len(recipe_head), at)
                spans["row"] = (at + len(row_head), end)
                pos = len(body) - 1
        if "row" in spans and line[pos:].strip() == "}":
            outputs = line[slice(*spans["outputs"])]
            label = "[" + line[slice(*spans["row"])] + "," + outputs + "]"
            recipe = (
                '{"file_name":'
                + json.dumps(rec["row"]["file_name"], ensure_ascii=False)
                + ',"index":'
                + line[slice(*spans["index"])]
                + ',"outputs":'
                + outputs
                + ',"recipe":'
                + line[slice(*spans["recipe"])]
                + "}"
            )
            return rec, label, recipe
    rec = json.loads(line)
    return (rec, *_label_and_recipe(rec))


def assemble(
    plan: BuildPlan,
    run: dict[str, Any] | None = None,
    extra: dict[str, Any] | Callable[[Stats], dict[str, Any]] | None = None,
) -> Assembled:
    """Write ``metadata.jsonl``, ``recipes.jsonl`` and ``dataset.json`` from the shard manifests.

    ``run`` holds facts about the run that made it (Prefect flow-run id, worker count); they go
    into ``dataset.json`` but not into the content id; so do ``extra`` entries (skipped inputs),
    given as a dict or made from the merged statistics by a callable.
    Also writes the file index (``__synth__/files.tsv``: the sorted manifest the content id is
    computed over) and ``__synth__/index.json`` (labels, metadata and recipes hashes, the byte
    offset of each shard's first record in ``recipes.jsonl``), which quick checks read instead of
    every shard manifest. Every step streams: memory does not grow with the dataset.
    """
    missing = missing_shards(plan)
    if missing:
        names = ", ".join(s.name for s in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise IncompleteBuild(
            f"{plan.out_dir}: {len(missing)} shard(s) not finished ({names}); run the build again"
        )
    shards = all_shards(plan)
    out = plan.out_dir
    internal = plan.internal_dir
    labels = hashlib.sha256()
    metadata_hash = hashlib.sha256()
    recipes_hash = hashlib.sha256()
    stats = Stats()
    count = 0
    offsets: list[int] = []
    pid = os.getpid()
    meta_tmp = out / f".{METADATA}.tmp-{pid}"
    recipes_tmp = out / f".{RECIPES}.tmp-{pid}"
    files_tmp = internal / f".{FILES_INDEX}.tmp-{pid}"
    with tempfile.TemporaryDirectory(prefix=".assemble-", dir=internal) as scratch:
        sorted_files = SortedFiles(Path(scratch))
        with open(meta_tmp, "wb") as meta, open(recipes_tmp, "wb") as recipes:
            for shard in shards:
                offsets.append(recipes.tell())
                shard_files: list[tuple[str, str, int]] = []
                with open(shard_manifest_path(plan, shard), encoding="utf-8") as f:
                    for line in f:
                        rec, label_line, recipe_line = split_record(line)
                        shard_files.extend((p, h, n) for p, h, n in rec["files"])
                        labels.update(label_line.encode())
                        labels.update(b"\n")
                        count += 1
                        recipe_bytes = (recipe_line + "\n").encode()
                        recipes_hash.update(recipe_bytes)
                        recipes.write(recipe_bytes)
                        row = (json.dumps(rec["row"], ensure_ascii=False) + "\n").encode()
                        metadata_hash.update(row)
                        meta.write(row)
                sorted_files.add(shard_files)
                stats.merge(json.loads(shard_stats_path(plan, shard).read_text()))
        if count != plan.count:
            meta_tmp.unlink()
            recipes_tmp.unlink()
            raise IncompleteBuild(f"{out}: expected {plan.count} samples, found {count}")
        with open(files_tmp, "w", encoding="utf-8", newline="\n") as index:
            dataset_id = content_id_sorted(sorted_files.merged(), labels.hexdigest(), index)
        file_count, file_bytes = sorted_files.count, sorted_files.bytes
    os.replace(meta_tmp, out / METADATA)
    os.replace(recipes_tmp, out / RECIPES)
    os.replace(files_tmp, internal / FILES_INDEX)
    index_info = {
        "version": INDEX_VERSION,
        "id": dataset_id,
        "labels_sha256": labels.hexdigest(),
        "metadata_sha256": metadata_hash.hexdigest(),
        "recipes_sha256": recipes_hash.hexdigest(),
        "files": file_count,
        "shards": [
            {"number": s.number, "start": s.start, "stop": s.stop, "recipes_offset": o}
            for s, o in zip(shards, offsets, strict=True)
        ],
    }
    tmp = internal / f".{INDEX_JSON}.tmp-{pid}"
    tmp.write_text(json.dumps(index_info) + "\n", encoding="utf-8")
    os.replace(tmp, internal / INDEX_JSON)
    statistics = stats.summary()
    if plan.renderer_version is not None:
        # Also here, not only at the top level: the catalog keeps the statistics.
        statistics["renderer_version"] = plan.renderer_version
    info = {
        "id": dataset_id,
        "fingerprint": plan.fingerprint,
        "name": plan.name,
        "kind": plan.kind,
        "count": count,
        "seed": plan.seed,
        "shard_size": plan.shard_size,
        "spec": plan.spec,
        "code_version": plan.code_version,
        **(
            {"renderer_version": plan.renderer_version} if plan.renderer_version is not None else {}
        ),
        "libraries": plan.libraries,
        "inputs": used_inputs(plan.inputs, stats),
        "licences": sorted({i["licence"] for i in used_inputs(plan.inputs, stats)}),
        "parent": plan.parent,
        "trigger": plan.trigger,
        "run": run or {},
        "statistics": statistics,
        "files": {
            "metadata": METADATA,
            "recipes": RECIPES,
            "count": file_count,
            "bytes": file_bytes,
        },
        "shards": [{"number": s.number, "start": s.start, "stop": s.stop} for s in shards],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **((extra(stats) if callable(extra) else extra) or {}),
    }
    earlier = _earlier_info(out)
    if earlier.get("id") == dataset_id:
        # A rerun of a complete build: the catalog keeps the first registration (no second
        # record), so the folder keeps describing it; only the run's own facts are new.
        for key in ("trigger", "created"):
            if key in earlier:
                info[key] = earlier[key]
    write_dataset_json(out, info)
    return Assembled(dataset_id, out, count, statistics, info)


def _earlier_info(out: Path) -> dict[str, Any]:
    try:
        info = json.loads((out / DATASET_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def write_dataset_json(out: Path, info: dict[str, Any]) -> None:
    tmp = out / f".{DATASET_JSON}.tmp"
    tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out / DATASET_JSON)


def dataset_json_sha256(info: dict[str, Any]) -> str:
    """The hash the seal records of ``dataset.json``: its content without the ``UNSEALED`` keys,
    as canonical JSON (so a rewrite with other indentation is not a change)."""
    return sha256_json({k: v for k, v in info.items() if k not in UNSEALED})


def unsealed_internal(rel: str) -> bool:
    """Files under ``__synth__/`` the seal does not hash, being checked otherwise: the file index
    and the shard manifests (the content id and the label hashes cover them), the index, and
    the plan (which a rerun writes again with its own trigger; verify checks that it gives the
    dataset's fingerprint)."""
    head = f"{INTERNAL_DIR}/"
    name = rel[len(head) :]
    return name in (INDEX_JSON, FILES_INDEX, PLAN_JSON) or (
        name.startswith("shards/") and name.endswith(".jsonl") and name.count("/") == 1
    )


def own_files(out: Path) -> list[str]:
    """The folder's own files the seal hashes: the card (``README.md``) and every file under
    ``__synth__/`` but ``unsealed_internal`` ones (the card's pictures, the shard statistics,
    and whatever a kind writes there). Hidden files (temporary ones) are left out."""
    found = [CARD] if (out / CARD).is_file() else []
    return found + [rel for rel in internal_files(out) if not unsealed_internal(rel)]


def internal_files(out: Path) -> list[str]:
    """Every file under ``__synth__/`` (relative to the folder, sorted), hidden ones left out."""
    found = []
    for dirpath, dirnames, filenames in os.walk(out / INTERNAL_DIR):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(out).as_posix()
        found += [f"{rel_dir}/{n}" for n in sorted(filenames) if not n.startswith(".")]
    return found


def seal_folder(out: Path, info: dict[str, Any]) -> str:
    """Record, once the card is written, the hash of every file of the folder the content id does
    not cover: ``own_files`` and ``dataset.json`` (``dataset_json_sha256``) go into
    ``__synth__/index.json``, whose own hash goes into ``info["statistics"]`` (key ``SEAL``, and
    ``dataset.json`` is written again with it) for the catalog to keep. Returns that hash.

    The card holds the dataset's id, so it can only be hashed after the content id is known; the
    seal is the catalog's, so an edited index cannot vouch for an edited card."""
    index_path = out / INTERNAL_DIR / INDEX_JSON
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except FileNotFoundError:  # a card written outside an assembly
        index = {}
    index["sealed"] = {rel: sha256_file(out / rel) for rel in own_files(out)}
    index["dataset_json_sha256"] = dataset_json_sha256(info)
    data = (json.dumps(index) + "\n").encode()
    tmp = index_path.with_name(f".{INDEX_JSON}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, index_path)
    digest = sha256_bytes(data)
    info["statistics"][SEAL] = digest
    write_dataset_json(out, info)
    return digest


def iter_records(path: Path) -> Any:
    """Stream the full per-sample records (recipe and outputs) of a dataset folder."""
    with open(Path(path) / RECIPES, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)
