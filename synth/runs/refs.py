"""Dataset references as ``synth run`` and ``synth improve`` take them: ``ID`` (a full id or a
unique prefix), ``ID:SPLIT``, or a split name alone (``validation``, ``val``, ``test``,
``train``), meaning that split of the training dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synth.catalog import Catalog, DatasetRecord
from synth.engine.split import split_dir
from synth.errors import AccessDenied, NotFound, SynthError

SPLITS = ("train", "validation", "test")
_ALIASES = {"val": "validation", "valid": "validation", "dev": "validation"}


@dataclass(frozen=True)
class DataRef:
    record: DatasetRecord
    split: str | None
    path: Path  # the dataset's folder, or its split's

    def to_json(self, role: str) -> dict[str, str | None]:
        return {"dataset_id": self.record.id, "role": role, "split": self.split}


def split_name(text: str) -> str | None:
    """The split ``text`` names (aliases such as ``val`` included), else None."""
    text = text.strip().lower()
    text = _ALIASES.get(text, text)
    return text if text in SPLITS else None


def split_folder(record: DatasetRecord, split: str, label: str) -> Path:
    """The folder of ``split`` in a split version or an import with its own splits (an
    import's ``val/`` is its validation split); one line naming ``label`` and what is missing."""
    try:
        return split_dir(record, split)
    except SynthError as err:
        raise type(err)(f"{label}: {err}") from None


def resolve_ref(
    catalog: Catalog, ref: str, default: DatasetRecord | None = None, label: str = "dataset"
) -> DataRef:
    """The dataset (and split) ``ref`` names; ``default`` is the dataset a bare split name is a
    split of. An unknown id or split is a one-line error naming ``label``."""
    text = ref.strip()
    split = split_name(text)
    if split is not None:
        if default is None:
            raise NotFound(f"{label} '{ref}': a split name needs a dataset: give ID:{split}")
        return DataRef(default, split, split_folder(default, split, label))
    ident, sep, part = text.partition(":")
    try:
        catalog.require(ident, "use")  # a dataset hidden from the acting role says so
        record = catalog.get(ident)
    except (NotFound, AccessDenied) as err:
        raise type(err)(f"{label}: {err}") from None
    if not sep:
        folder = Path(record.path)
        if not folder.is_dir():
            raise NotFound(f"{label}: {folder}: dataset folder not found")
        return DataRef(record, None, folder)
    split = split_name(part)
    if split is None:
        raise NotFound(
            f"{label} '{ref}': unknown split '{part}' (expected one of {', '.join(SPLITS)})"
        )
    return DataRef(record, split, split_folder(record, split, label))
