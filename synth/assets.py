"""The embedded default assets (fonts, backgrounds, clean speech) and their manifest.

In a wheel the ``assets/`` folder is shipped as ``synth/_assets``; in a source checkout it sits
beside the package. ``MANIFEST.tsv`` records each file's source, licence, attribution and sha256.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from synth.errors import AssetError


@dataclass(frozen=True)
class AssetRecord:
    """One embedded file as the manifest lists it."""

    path: str  # relative to the asset root, e.g. "fonts/DejaVuSans.ttf"
    kind: str
    sha256: str
    bytes: int
    source: str
    licence: str
    attribution: str


@cache
def asset_root() -> Path:
    """The folder that holds the embedded assets."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_assets", here.parent / "assets"):
        if (candidate / "MANIFEST.tsv").is_file():
            return candidate
    raise AssetError(
        here / "_assets", "the embedded assets are missing (no MANIFEST.tsv); reinstall synth"
    )


@cache
def manifest() -> dict[str, AssetRecord]:
    """The embedded manifest, keyed by relative path."""
    path = asset_root() / "MANIFEST.tsv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return {
        r["path"]: AssetRecord(
            path=r["path"],
            kind=r["kind"],
            sha256=r["sha256"],
            bytes=int(r["bytes"]),
            source=r["source"],
            licence=r["licence"],
            attribution=r["attribution"],
        )
        for r in rows
    }


def embedded_record(path: str | Path) -> AssetRecord | None:
    """The manifest record of ``path`` when it is an embedded asset, else None."""
    try:
        rel = Path(path).resolve().relative_to(asset_root().resolve())
    except ValueError:
        return None
    return manifest().get(rel.as_posix())


def embedded_dir(kind: str) -> Path:
    """The embedded folder of one kind: "fonts", "backgrounds", "speech" or "noise"."""
    return asset_root() / kind
