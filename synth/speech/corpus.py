"""Clean speech corpora: read one of four common layouts into (id, path, text, sha256) items.

Layouts, detected automatically from a folder (or from the manifest file itself):

- ``tsv``: ``transcripts.tsv`` with columns ``file``, ``text`` and optionally ``speaker`` (the
  embedded set in ``assets/speech`` uses it);
- ``audiofolder``: a Hugging Face audiofolder, ``metadata.jsonl`` or ``metadata.csv`` with
  ``file_name`` and a ``text`` (or ``transcription``, ``transcript``, ``sentence``) column;
- ``nemo``: a NeMo manifest, JSON lines with ``audio_filepath`` and ``text``;
- ``text_pairs``: audio files with a same-named ``.txt`` transcript beside each.

Paths in a manifest are relative to the manifest's folder and must stay inside it (checked on the
path's text, so symlinks inside the folder are allowed). Errors name the file and line.

A clip without a transcript (no ``.txt`` beside it, an empty text, a row without a text field)
is skipped like an unusable recording: it is left out of ``Corpus.items`` and listed in
``Corpus.skipped`` with its reason, and a corpus none of whose clips is usable is a one-line
error naming why (``no_usable_clean``). A malformed manifest (bad JSON or CSV, a missing
``file_name``, a transcript that is a number, a listed audio file that is not there) stays an
error naming the file and line.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from synth.assets import embedded_dir
from synth.errors import AssetError
from synth.hashing import sha256_file
from synth.speech.audio_io import AUDIO_SUFFIXES

TEXT_COLUMNS = ("text", "transcription", "transcript", "sentence")
LAYOUTS = ("tsv", "audiofolder", "nemo", "text_pairs")
_EXPECTED = (
    "expected transcripts.tsv (file, text), metadata.jsonl/metadata.csv (Hugging Face "
    "audiofolder: file_name, text), a NeMo manifest (.jsonl: audio_filepath, text), or audio "
    "files with same-named .txt transcripts"
)


@dataclass(frozen=True)
class CleanItem:
    """One clean utterance: a stable id (relative path without extension) and its transcript.

    ``transcript`` is the clip's own ``.txt`` file in the ``text_pairs`` layout (None when a
    manifest lists the texts), with its ``transcript_sha256``: a label is an input like the audio.
    """

    id: str
    path: Path
    text: str
    sha256: str
    speaker: str = ""
    transcript: Path | None = None
    transcript_sha256: str = ""


NO_TRANSCRIPT = "clean_no_transcript"
"""The skip reason of a clip listed without a usable transcript."""
PROBLEM_LABELS = {
    "clean_unreadable": "unreadable",
    "clean_not_finite": "not finite",
    "clean_too_short": "too short",
    "clean_silent": "silent",
    NO_TRANSCRIPT: "without transcript",
}
"""Short words for each reason a clean clip is skipped, for one-line summaries."""


@dataclass(frozen=True)
class SkippedClip:
    """A clean clip left out of the draw: the audio file, why in words, and the reason code
    (one of ``PROBLEM_LABELS``)."""

    file: str
    reason: str
    problem: str

    def to_json(self) -> dict[str, str]:
        """The ``skipped_inputs`` entry of ``dataset.json``."""
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class Corpus:
    """The items of a corpus and where they were listed (``manifest`` is None for text pairs);
    ``skipped`` are the clips listed without a usable transcript, in listing order."""

    layout: str
    root: Path
    manifest: Path | None
    items: tuple[CleanItem, ...]
    skipped: tuple[SkippedClip, ...] = ()


def no_usable_clean(where: str | Path, root: Path, skipped: Sequence[SkippedClip]) -> AssetError:
    """The one-line error of a corpus none of whose clips is usable: how many were skipped for
    which reason, and the first one with its reason (relative to ``root`` when inside it)."""
    counts = Counter(s.problem for s in skipped)
    summary = ", ".join(
        f"{counts[p]} {label}" for p, label in PROBLEM_LABELS.items() if p in counts
    )
    first = skipped[0]
    _, prefix = _base(root)
    name = first.file[len(prefix) :] if first.file.startswith(prefix) else first.file
    return AssetError(
        where,
        f"no usable clean clip: all {len(skipped)} skipped ({summary}); first: {name}: "
        f"{first.reason}",
    )


@lru_cache(maxsize=65536)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, cached per (path, size, mtime) within the process."""
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=64)
def _base_of(absolute: str) -> tuple[str, str]:
    base = os.path.normpath(absolute)
    return base, base if base.endswith(os.sep) else base + os.sep


def _base(root: Path) -> tuple[str, str]:
    """The normalised absolute form of a corpus folder, and that form ending in a separator."""
    text = os.fspath(root)
    return _base_of(text if os.path.isabs(text) else os.path.join(os.getcwd(), text))


def _inside(root: Path, value: str, where: str, anywhere: bool = False) -> Path:
    """``value`` (relative to ``root``, or absolute) as a path that must lie inside ``root``,
    or with ``anywhere`` (a NeMo manifest, whose paths are usually absolute) anywhere."""
    if not isinstance(value, str) or not value.strip():
        raise AssetError(where, f"expected a file path, got {json.dumps(value)}")
    base, prefix = _base(root)
    full = os.path.normpath(os.path.join(base, value))
    # Both normalised: a prefix test is commonpath's answer.
    if not anywhere and not full.startswith(prefix):
        raise AssetError(where, f"path '{value}' points outside the corpus folder {base}; refused")
    if not os.path.isfile(full):
        raise AssetError(where, f"audio file not found: {value}")
    return Path(full)


def _clip_id(root: Path, path: Path) -> str:
    """The path relative to ``root`` without its suffix, with ``/`` separators (the same as
    ``Path(os.path.relpath(path, root)).with_suffix("").as_posix()``, without the cost); a file
    outside ``root`` (a NeMo manifest's absolute path) keeps its absolute path, which does not
    change when the manifest moves."""
    full, (_, prefix) = os.fspath(path), _base(root)
    rel = full[len(prefix) :] if full.startswith(prefix) else full
    rel = rel.replace(os.sep, "/")
    folder, _, name = rel.rpartition("/")
    dot = name.rfind(".")
    if 0 < dot < len(name) - 1:  # pathlib's rule for a suffix
        name = name[:dot]
    return f"{folder}/{name}" if folder else name


class _Listing:
    """The clips a reader found: usable items, and clips skipped for want of a transcript."""

    def __init__(self) -> None:
        self.items: list[CleanItem] = []
        self.skipped: list[SkippedClip] = []

    def add(self, root: Path, path: Path, text: Any, speaker: Any, where: str) -> CleanItem | None:
        """Add the clip at ``path`` with transcript ``text`` (None: the listing has none);
        returns the item, or None when the clip was skipped."""
        if text is not None and not isinstance(text, str):
            raise AssetError(
                where, f"the transcript of {path.name} is not text ({json.dumps(text)}): quote it"
            )
        if text is None or not text.strip():
            self.skip(path, f"empty or missing transcript ({where})")
            return None
        rel = _clip_id(root, path)
        item = CleanItem(rel, path, " ".join(text.split()), file_sha256(path), str(speaker or ""))
        self.items.append(item)
        return item

    def skip(self, path: Path, reason: str) -> None:
        self.skipped.append(SkippedClip(str(path), reason, NO_TRANSCRIPT))


def _check_unique(
    items: list[CleanItem], source: Path, root: Path, skipped: Sequence[SkippedClip] = ()
) -> tuple[CleanItem, ...]:
    seen: dict[str, Path] = {}
    for it in items:
        if it.id in seen:
            raise AssetError(
                source, f"two clips share the id '{it.id}': {seen[it.id]} and {it.path}"
            )
        seen[it.id] = it.path
    if not items:
        if skipped:
            raise no_usable_clean(source, root, skipped)
        raise AssetError(source, "the corpus lists no clips")
    return tuple(items)


def _read_text(path: Path) -> str:
    """A UTF-8 text file, without the byte-order mark some editors (Excel's "CSV UTF-8",
    Notepad) put first."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise AssetError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from None


def _table(path: Path, **dialect: Any) -> Iterator[tuple[int, list[str]]]:
    """The records of a CSV/TSV file with the line each ends on; quoted fields may hold line
    breaks (the csv module's own line handling, not ``str.splitlines``), and bad quoting is an
    error naming the line."""
    reader = csv.reader(io.StringIO(_read_text(path), newline=""), strict=True, **dialect)
    try:
        for values in reader:
            yield reader.line_num, values
    except csv.Error as err:
        raise AssetError(f"{path}:{reader.line_num}", f"not valid CSV/TSV ({err})") from None


def _read_tsv(manifest: Path) -> _Listing:
    root = manifest.parent
    table = list(_table(manifest, delimiter="\t", quoting=csv.QUOTE_NONE))
    header = table[0][1] if table else []
    for col in ("file", "text"):
        if col not in header:
            raise AssetError(manifest, f"missing column '{col}' (expected file, text[, speaker])")
    listing = _Listing()
    for i, values in table[1:]:
        if not any(v.strip() for v in values):
            continue
        where = f"{manifest}:{i}"
        if len(values) != len(header):
            raise AssetError(
                where, f"expected {len(header)} tab-separated fields, got {len(values)}"
            )
        row = dict(zip(header, values, strict=True))
        path = _inside(root, row["file"], where)
        listing.add(root, path, row["text"], row.get("speaker"), where)
    return listing


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    # Lines end at "\n" only: str.splitlines would also cut at U+2028 and other separators
    # that JSON allows unescaped inside a string.
    for i, line in enumerate(_read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise AssetError(f"{path}:{i}", f"not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise AssetError(f"{path}:{i}", "expected a JSON object per line")
        yield i, row


def _read_audiofolder(manifest: Path) -> _Listing:
    root = manifest.parent
    if manifest.suffix == ".csv":
        table = list(_table(manifest))
        header = table[0][1] if table else []
        rows = []
        for i, values in table[1:]:
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise AssetError(
                    f"{manifest}:{i}",
                    f"expected {len(header)} comma-separated fields, got {len(values)}",
                )
            rows.append((i, dict(zip(header, values, strict=True))))
    else:
        rows = list(_jsonl_rows(manifest))
    listing = _Listing()
    for i, row in rows:
        where = f"{manifest}:{i}"
        if "file_name" not in row:
            raise AssetError(where, f"missing field 'file_name' (found: {', '.join(row)})")
        path = _inside(root, row["file_name"], where)
        col = next((c for c in TEXT_COLUMNS if c in row), None)
        if col is None:
            found = ", ".join(row)
            listing.skip(
                path,
                f"no transcript field: expected one of {', '.join(TEXT_COLUMNS)} "
                f"(found: {found}; {where})",
            )
            continue
        listing.add(root, path, row[col], row.get("speaker") or row.get("speaker_id"), where)
    return listing


def _read_nemo(manifest: Path) -> _Listing:
    root = manifest.parent
    listing = _Listing()
    for i, row in _jsonl_rows(manifest):
        where = f"{manifest}:{i}"
        if "audio_filepath" not in row:
            raise AssetError(
                where,
                "missing field 'audio_filepath' (a NeMo manifest line needs audio_filepath, text)",
            )
        if row.get("offset") not in (None, 0, 0.0):
            raise AssetError(
                where,
                f"offset={row['offset']}: segments of longer files are not supported; "
                "cut the clips first",
            )
        path = _inside(root, row["audio_filepath"], where, anywhere=True)
        listing.add(root, path, row.get("text"), row.get("speaker"), where)
    return listing


def _read_text_pairs(root: Path) -> _Listing:
    listing = _Listing()
    for path in sorted(p for p in _visible_files(root) if p.suffix.lower() in AUDIO_SUFFIXES):
        txt = path.with_suffix(".txt")
        if not txt.is_file():
            listing.skip(path, f"no transcript: expected {txt.name} beside it")
            continue
        item = listing.add(root, path, _read_text(txt), "", str(txt))
        if item is not None:
            with_txt = replace(item, transcript=txt, transcript_sha256=file_sha256(txt))
            listing.items[-1] = with_txt
    return listing


def _first_row(path: Path) -> dict[str, Any] | None:
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    return None
                return row if isinstance(row, dict) else None
    return None


def detect_layout(path: str | Path) -> tuple[str, Path]:
    """The layout of a corpus folder or manifest file, and the file (or folder) to read."""
    p = Path(path)
    if p.is_file():
        if p.name in ("metadata.jsonl", "metadata.csv"):
            return "audiofolder", p
        if p.suffix == ".tsv":
            return "tsv", p
        if p.suffix in (".json", ".jsonl"):
            return "nemo", p
        raise AssetError(p, f"unknown corpus manifest: {_EXPECTED}")
    if not p.is_dir():
        raise AssetError(p, "clean speech corpus not found")
    if (p / "transcripts.tsv").is_file():
        return "tsv", p / "transcripts.tsv"
    for name in ("metadata.jsonl", "metadata.csv"):
        if (p / name).is_file():
            return "audiofolder", p / name
    nemo = [m for m in sorted(p.glob("*.json*")) if m.suffix in (".json", ".jsonl")]
    nemo = [m for m in nemo if "audio_filepath" in (_first_row(m) or {})]
    if len(nemo) > 1:
        names = ", ".join(m.name for m in nemo)
        raise AssetError(p, f"several NeMo manifests ({names}); pass the one to use")
    if nemo:
        return "nemo", nemo[0]
    splits = sorted(
        {m.parent.name for m in [*p.glob("*/metadata.jsonl"), *p.glob("*/metadata.csv")]}
    )
    if splits:
        raise AssetError(
            p,
            f"an audiofolder with splits ({', '.join(splits)}) and no metadata file of its own; "
            f"pass one split folder, e.g. {p / splits[0]}",
        )
    if any(q.suffix.lower() in AUDIO_SUFFIXES for q in _visible_files(p)):
        return "text_pairs", p
    raise AssetError(p, f"no clean speech corpus found: {_EXPECTED}")


def _visible_files(root: Path) -> Iterator[Path]:
    """Files below ``root``, leaving out hidden ones and hidden folders (macOS ``._*`` resource
    forks, ``.git``, editor backups), as the noise folder does."""
    for q in root.rglob("*"):
        if not any(part.startswith(".") for part in q.relative_to(root).parts) and q.is_file():
            yield q


_READERS = {
    "tsv": _read_tsv,
    "audiofolder": _read_audiofolder,
    "nemo": _read_nemo,
    "text_pairs": _read_text_pairs,
}


def read_corpus(path: str | Path | None = None) -> Corpus:
    """Read the corpus at ``path`` (a folder or a manifest); None reads the embedded clips."""
    target = embedded_dir("speech") if path is None else Path(path)
    layout, source = detect_layout(target)
    listing = _READERS[layout](source)
    root = source if layout == "text_pairs" else source.parent
    manifest = None if layout == "text_pairs" else source
    items = _check_unique(listing.items, source, root, listing.skipped)
    return Corpus(layout, root, manifest, items, tuple(listing.skipped))
