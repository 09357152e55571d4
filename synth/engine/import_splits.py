"""A real dataset's own splits, kept at import (read by ``synth.engine.importer``):
``train/`` with ``validation/`` (or ``val/``, ``valid/``, ``dev/``) and/or ``test/``, each an
imagefolder/audiofolder (or NeMo manifest, or ``.txt`` pairs) of its own.

The import records ``statistics["splits"]`` in the shape a split version has. Its groups are the
files' contents (``file_sha256``): the same bytes in two splits is a leak, which the import warns
of and ``verify`` checks again; the same label in two splits is not (every digit is in every
split of a digits set).
"""

from __future__ import annotations

from typing import Any

from synth.engine.split_assign import SPLITS, balance_field, split_statistics

IMPORT_GROUP_BY = ["file_sha256"]


def split_of(rel: str, folders: dict[str, str]) -> str | None:
    """The split a path relative to the dataset's root lies in."""
    top = rel.partition("/")[0]
    return next((s for s, f in folders.items() if f == top), None)


def import_split_statistics(
    files: list[tuple[str, str, int]], texts: list[str], folders: dict[str, str]
) -> dict[str, Any]:
    """``statistics["splits"]`` of an import with its own splits, from its file manifest
    ``(relpath, sha256, size)`` and labels (in the same order)."""
    rows_by_split: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS if s in folders}
    for (rel, digest, _size), text in zip(files, texts, strict=True):
        split = split_of(rel, folders)
        if split is not None:
            rows_by_split[split].append({"file_name": rel, "text": text, "file_sha256": digest})
    every = [r for rows in rows_by_split.values() for r in rows]
    found = split_statistics(rows_by_split, IMPORT_GROUP_BY, balance_field(every, None))
    total = max(1, len(every))
    return {
        "seed": None,
        "ratios": [round(100 * found["counts"].get(s, 0) / total) for s in SPLITS],
        "group_by": IMPORT_GROUP_BY,
        "stratify_by": None,
        "counts": found["counts"],
        "balance": found["balance"],
        "balance_by": found["balance_by"],
        "shared_groups": found["shared_groups"],
        "groups": found["groups"],
        "folders": folders,
        "source": "import",
    }


def shared_warning(splits: dict[str, Any]) -> str | None:
    """The import's warning when the same file is in more than one of its splits."""
    n = splits.get("shared_groups") or 0
    if not n:
        return None
    return (
        f"{n} file(s) of this dataset are in more than one of its own splits (the same bytes): "
        "results on them are not independent of training"
    )
