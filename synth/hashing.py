"""Content hashes and canonical JSON, the basis of fingerprints and content ids."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_json(value: Any) -> str:
    return sha256_bytes(canonical_json(value).encode("utf-8"))


def content_id(files: Iterable[tuple[str, str, int]], labels_sha256: str) -> str:
    """SHA-256 over the sorted file manifest (relpath, sha256, size) and the labels' hash.

    This is the content id: it changes when any sample file or label changes, and only then.
    """
    h = hashlib.sha256()
    for relpath, digest, size in sorted(files):
        h.update(f"{relpath}\t{digest}\t{size}\n".encode())
    h.update(f"labels\t{labels_sha256}\n".encode())
    return h.hexdigest()
