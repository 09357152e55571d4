"""``where-used``: every dataset version whose lineage holds an input file or a dataset.

The answer to "which datasets hold this speaker's recording": a reference (a file or folder path,
a ``file://`` or ``asset:`` uri, a sha256 or a prefix of at least 8 hex digits, or a dataset id)
is matched against every recorded input, then followed down the lineage (expansions and dataset
inputs, at any depth, through deleted versions too), so a dataset built from a dataset built from
a corpus that holds the file is found, with the chain of versions by which it holds it.

A file inside an imported folder is matched against the import's file list
(``<data root>/imports/<id>/files.jsonl``) when this data root holds it, else by the folder.
"""

from __future__ import annotations

import json
import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes, unquote

from synth.catalog import Catalog
from synth.catalog.base import DATASET_INPUT, Tombstone
from synth.engine.importer import FOLDER_JSON, IMPORT_DIR
from synth.errors import SynthError

MIN_HEX = 8  # hex digits of a sha256 or id prefix: fewer would match by chance
_HEX = re.compile(r"[0-9a-f]+")
_URI = re.compile(r"[a-z][a-z0-9+.-]*:", re.IGNORECASE)


@dataclass(frozen=True)
class Ref:
    """What ``where-used`` looks for: a path, another uri, or a hex prefix (sha256 or id)."""

    kind: str  # "path", "uri" or "hex"
    value: str  # the absolute path, the uri, or the lower-case hex digits

    def describe(self) -> str:
        return {"path": self.value, "uri": self.value, "hex": f"sha256/id {self.value}"}[self.kind]


def parse_ref(text: str, cwd: Path | None = None) -> Ref:
    """A ``where-used`` reference: an existing path wins; then a ``file://`` uri, another uri
    (``asset:fonts/X.ttf``), hex digits (``sha256:`` allowed), or a path that is gone."""
    raw = text.strip()
    if not raw:
        raise SynthError("REF: empty; give a file or folder path, a sha256 or a dataset id")
    base = cwd or Path.cwd()
    path = Path(raw).expanduser()
    if (base / path).exists():
        return Ref("path", str((base / path).resolve()))
    if raw.lower().startswith("file://"):
        return Ref("path", os.path.normpath(unquote(raw[len("file://") :])))
    digits = raw.lower().removeprefix("sha256:")
    if _HEX.fullmatch(digits) and not raw.startswith(("/", ".", "~")):
        if len(digits) < MIN_HEX:
            raise SynthError(
                f"REF '{raw}': give at least {MIN_HEX} hex digits of a sha256 or dataset id"
            )
        return Ref("hex", digits)
    if _URI.match(raw) and not raw.startswith(("/", ".", "~")):
        return Ref("uri", raw)
    # a path that no longer exists (the recording already removed): as the builds recorded it
    return Ref("path", os.path.normpath(os.path.abspath(base / path)))


def _file_uris(path: str) -> list[str]:
    """The ways a build may have written ``path`` as a uri: percent-encoded (speech inputs,
    ``Path.as_uri``) and as it is (OCR inputs, imports)."""
    return sorted({"file://" + quote_from_bytes(os.fsencode(path)), "file://" + path})


def _uri_path(uri: str) -> str | None:
    return os.path.normpath(unquote(uri[len("file://") :])) if uri.startswith("file://") else None


def _path_relation(ref: str, held: str, role: str) -> str | None:
    """How an input at ``held`` holds the path ``ref``: the same file, a folder around it, or a
    file inside the folder ``ref``; None when it does not."""
    if held == ref:
        return f"{role} input"
    if ref.startswith(held.rstrip(os.sep) + os.sep):
        return f"{role} input {held} holds it"
    if held.startswith(ref.rstrip(os.sep) + os.sep):
        return f"{role} input {os.path.relpath(held, ref)} is in it"
    return None


def _import_files(home: Path | None, dataset_id: str) -> list[dict[str, Any]] | None:
    """The files an import listed (``file_name``, ``sha256``), label and other files too; None
    when this data root does not hold its index."""
    if home is None:
        return None
    index = home / IMPORT_DIR / dataset_id
    try:
        with open(index / "files.jsonl", encoding="utf-8") as f:
            files = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return None
    try:
        folder = json.loads((index / FOLDER_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        folder = {}
    for group in ("label_files", "other_files"):
        files += [{"file_name": k, "sha256": v} for k, v in (folder.get(group) or {}).items()]
    return files


def _in_import(ref: Ref, folder: str, files: list[dict[str, Any]] | None) -> str | None:
    """How an imported folder holds ``ref``: by its file list when known, else by the path."""
    if ref.kind == "hex":
        for f in files or []:
            if str(f.get("sha256", "")).startswith(ref.value):
                return f"imported file {f['file_name']}"
        return None
    if ref.kind != "path":
        return None
    if files is None:
        return _path_relation(ref.value, folder, "import")
    if ref.value == folder:
        return "imported folder"
    prefix = folder.rstrip(os.sep) + os.sep
    if ref.value.startswith(prefix):
        rel = ref.value[len(prefix) :].replace(os.sep, "/")
        if any(f["file_name"] == rel for f in files):
            return f"imported file {rel}"
        return None
    inner = ref.value.rstrip(os.sep) + os.sep
    if folder.startswith(inner):
        return f"imported folder {os.path.relpath(folder, ref.value)} is in it"
    return None


def _input_relation(ref: Ref, item: dict[str, Any]) -> str | None:
    """How one recorded input holds ``ref``, or None."""
    role, uri = item["role"], item["uri"]
    if ref.kind == "hex":
        if str(item.get("sha256", "")).startswith(ref.value) and not uri.startswith(DATASET_INPUT):
            return f"{role} input {item.get('name') or uri} (sha256 {item['sha256'][:12]})"
        return None
    if ref.kind == "uri":
        return f"{role} input" if uri == ref.value else None
    held = _uri_path(uri)
    return _path_relation(ref.value, held, role) if held is not None else None


def _step(node: dict[str, Any], relation: str) -> dict[str, Any]:
    return {
        "id": node["id"],
        "name": node["name"],
        "kind": node["kind"],
        "relation": relation,
        "deleted": node["deleted"],
    }


def where_used(catalog: Catalog, text: str, home: Path | None = None) -> dict[str, Any]:
    """Every version whose lineage holds ``text`` (see ``parse_ref``): ``datasets`` (live) and
    ``deleted`` (tombstones), each with ``direct`` (how its own inputs hold the reference, if
    they do) and ``chain``: the versions from the first that holds the reference down to it
    through the lineage, each with how it holds the one before (the longest such chain: the whole
    way from where the reference entered)."""
    ref = parse_ref(text)
    records = {r.id: r for r in catalog.list()}
    graves: dict[str, Tombstone] = {
        i: t for i, t in catalog.tombstones().items() if i not in records
    }
    nodes: dict[str, dict[str, Any]] = {
        i: {"id": i, "name": r.name, "kind": r.kind, "path": r.path, "deleted": None}
        for i, r in records.items()
    } | {
        i: {"id": i, "name": t.name, "kind": t.kind, "path": t.path, "deleted": t.summary()}
        for i, t in graves.items()
    }

    # the versions that hold the reference themselves, and how
    direct: dict[str, list[str]] = {}
    roots: set[str] = set()  # a dataset id given: found through what was built from it
    if ref.kind == "path":
        parents = [str(p) for p in [Path(ref.value), *Path(ref.value).parents]]
        uris = [u for p in parents for u in _file_uris(p)]
        under = [u.rstrip("/") + "/" for u in _file_uris(ref.value)]
        rows = catalog.inputs_matching(uris=uris, under=under)
    elif ref.kind == "uri":
        rows = catalog.inputs_matching(uris=[ref.value])
    else:
        rows = catalog.inputs_matching(sha256_prefix=ref.value)
        roots = {i for i in nodes if i.startswith(ref.value)}
    candidates: list[tuple[str, dict[str, Any]]] = [(r["dataset_id"], r) for r in rows]
    candidates += [(t.id, item) for t in graves.values() for item in t.inputs]
    for dataset_id, item in candidates:
        if item["role"] == "import" and ref.kind != "uri":
            how = _in_import(ref, _uri_path(item["uri"]) or "", _import_files(home, dataset_id))
        else:
            how = _input_relation(ref, item)
        if how and how not in direct.get(dataset_id, []):
            direct.setdefault(dataset_id, []).append(how)
    if ref.kind == "hex":  # an import's files by sha256, beyond the folder's own input row
        for dataset_id, rec in records.items():
            if dataset_id not in direct and rec.trigger.get("type") == "import":
                how = _in_import(ref, rec.path, _import_files(home, dataset_id))
                if how:
                    direct[dataset_id] = [how]

    # down the lineage: every version built from one that holds it, at any depth
    children: dict[str, list[tuple[str, str]]] = {}
    for link in catalog.links():
        relation = "expansion" if link.relation == "parent" else f"{link.role} input"
        children.setdefault(link.source, []).append((link.child, relation))
    for t in graves.values():
        if t.parent_id:
            children.setdefault(t.parent_id, []).append((t.id, "expansion"))
        for item in t.inputs:
            if item["uri"].startswith(DATASET_INPUT):
                source = item["uri"][len(DATASET_INPUT) :]
                children.setdefault(source, []).append((t.id, f"{item['role']} input"))
    used: set[str] = set(roots) | {i for i in direct if i in nodes}
    queue: deque[str] = deque(sorted(used))
    sources: dict[str, list[tuple[str, str]]] = {}
    while queue:
        source = queue.popleft()
        for child, relation in sorted(set(children.get(source, []))):
            if child not in nodes:
                continue
            sources.setdefault(child, []).append((source, relation))
            if child not in used:
                used.add(child)
                queue.append(child)

    # each version's chain from where the reference entered its lineage: through the versions
    # it was built from when they hold it (an expansion holds its parent's samples), the
    # longest such way, else direct
    chains: dict[str, list[dict[str, Any]]] = {root: [] for root in roots}

    def chain(node: str, visiting: frozenset[str]) -> list[dict[str, Any]]:
        if node in chains:
            return chains[node]
        options = [
            [*chain(src, visiting | {node}), _step(nodes[node], relation)]
            for src, relation in sources.get(node, [])
            if src not in visiting
        ]
        if options:
            options.sort(key=lambda c: [s["id"] for s in c])
            best = max(options, key=len)  # the whole way down, the first of equals by id
        else:
            best = [_step(nodes[node], ", ".join(direct.get(node, [])) or "built from it")]
        chains[node] = best
        return best

    for node in sorted(used):
        chain(node, frozenset({node}))

    found = [
        {**nodes[i], "depth": len(c), "direct": direct.get(i, []), "chain": c}
        for i, c in chains.items()
        if c  # a dataset given as REF is not its own user
    ]
    found.sort(key=lambda d: (d["depth"], d["name"], d["id"]))
    return {
        "ref": {"kind": ref.kind, "value": ref.value},
        "matched_ids": sorted(roots),
        "datasets": [d for d in found if not d["deleted"]],
        "deleted": [d for d in found if d["deleted"]],
    }


def render_chain(chain: list[dict[str, Any]]) -> str:
    """``imported file a.wav: 1a2b3c4d5e6f -> clean_corpus input: 2b3c4d5e6f7a -> ...``."""
    return " -> ".join(
        f"{s['relation']}: {s['id'][:12]}{' (deleted)' if s['deleted'] else ''}" for s in chain
    )
