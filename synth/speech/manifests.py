"""Derived label files of a speech dataset: a NeMo manifest, a Kaldi data directory and Lhotse
manifests.

All are views of ``metadata.jsonl`` written after the folder is assembled (the engine's
``write_extras`` hook); they are not part of the content id, and rewriting them from the
metadata gives the same bytes wherever the folder is. Every path in them is relative to the
dataset folder, so a moved or copied folder keeps working manifests.

NeMo manifest (``manifest.nemo.jsonl``, always written)
    One JSON object per mix, in sample order: ``audio_filepath`` (relative to the dataset folder;
    NeMo resolves relative paths against the manifest's folder), ``duration`` (seconds, exactly
    frames / rate), ``text``, then ``speaker`` (when known), ``snr_db``, ``snr_reference`` and
    ``noise_kind``; with targets also ``target_filepath`` and ``noise_filepath``. Hugging Face's
    audiofolder loader only reads ``metadata.jsonl``/``metadata.csv`` and audio files, so the
    manifest does not disturb ``load_dataset("audiofolder", data_dir=...)``.

Kaldi data directory (``kaldi/``, when the spec sets ``kaldi: true``)
    ``wav.scp``, ``text``, ``utt2spk``, ``spk2utt``, ``utt2dur`` and ``reco2dur``, every file
    sorted by its first field in C-locale (byte) order, as ``utils/validate_data_dir.sh``
    requires. Each mix is one recording and one utterance (no ``segments`` file), so
    ``reco2dur`` and ``utt2dur`` hold the same exact durations: ``frames / rate`` in seconds,
    written with the digits of the shortest float that reads back as that value, so
    ``round(duration * rate)`` is the frame count (without ``reco2dur``, Lhotse's
    ``load_kaldi_data_dir`` floors each duration to a millisecond, a sample or more short).

    - Utterance ids are ``<speaker>-<index>`` (``index`` is the sample's 9-digit file stem), so
      sorting by utterance also groups and sorts by speaker, and ``spk2utt`` converted back
      with ``utils/spk2utt_to_utt2spk.pl`` equals ``utt2spk`` line for line. Speaker names are
      reduced to ``[A-Za-z0-9_]`` (a name that had to change, or is all digits, gets ``_`` and
      8 hex digits of its hash, so two speakers never merge). A mix without a speaker is its
      own speaker, as the Kaldi docs recommend (``spk == utt == index``), so per-speaker CMVN
      stays per utterance.
    - ``wav.scp`` holds paths **relative to the dataset folder** (``shard-00000/000000000.wav``),
      so moving the folder changes nothing. Kaldi opens a relative path against the working
      directory, so run the recipe's steps from the dataset folder (``cd DATASET`` with
      ``utils`` and ``steps`` linked in, or ``utils/validate_data_dir.sh kaldi`` from there);
      Lhotse's ``load_kaldi_data_dir`` reads them the same way. WAV files are listed as plain
      paths; FLAC files as a ``flac -c -d -s <path> |`` pipe (Kaldi reads RIFF WAV only), and a
      path with whitespace as a ``cat <path> |`` pipe, quoted for the shell.

Lhotse manifests (``recordings.jsonl.gz``, ``supervisions.jsonl.gz``, ``cuts.jsonl.gz``, when the
spec sets ``lhotse: true``): see ``synth.speech.lhotse_manifests``.

Sorting streams: records are sorted in memory in chunks of ``SORT_CHUNK`` and merged from
temporary files when there are more, so a dataset of any size is written in bounded memory.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import re
import shlex
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from synth.speech.lhotse_manifests import LHOTSE_FILES, GzipLines, lhotse_entries

NEMO_MANIFEST = "manifest.nemo.jsonl"
KALDI_DIR = "kaldi"
KALDI_FILES = ("wav.scp", "text", "utt2spk", "spk2utt", "utt2dur", "reco2dur")
SORT_CHUNK = 100_000
"""Kaldi records sorted in memory before spilling a sorted run to a temporary file."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_WHITESPACE = re.compile(r"\s")


class _AtomicFiles:
    """Text files written under temporary names and renamed into place together on success."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = list(paths)
        self.tmps = [p.with_name(f".{p.name}.tmp-{os.getpid()}") for p in self.paths]
        self.handles: list[Any] = []

    def __enter__(self) -> list[Any]:
        for tmp in self.tmps:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            self.handles.append(open(tmp, "w", encoding="utf-8", newline="\n"))
        return self.handles

    def __exit__(self, exc_type: object, *_: object) -> None:
        for f in self.handles:
            f.close()
        if exc_type is None:
            for tmp, path in zip(self.tmps, self.paths, strict=True):
                os.replace(tmp, path)
        else:
            for tmp in self.tmps:
                tmp.unlink(missing_ok=True)


def nemo_line(row: dict[str, Any]) -> dict[str, Any]:
    """The NeMo manifest entry of one ``metadata.jsonl`` row."""
    entry: dict[str, Any] = {
        "audio_filepath": row["file_name"],
        "duration": row["duration_s"],
        "text": row["text"],
    }
    if row.get("speaker"):
        entry["speaker"] = row["speaker"]
    for key in ("snr_db", "snr_reference", "noise_kind"):
        if key in row:
            entry[key] = row[key]
    if "target_file_name" in row:
        entry["target_filepath"] = row["target_file_name"]
        entry["noise_filepath"] = row["noise_file_name"]
    return entry


def kaldi_speaker(speaker: str) -> str:
    """A speaker name reduced to ``[A-Za-z0-9_]``, plus ``_`` and a hash prefix when it had to
    change or is all digits (the ids of mixes without a speaker are all digits)."""
    safe = _UNSAFE.sub("_", speaker)
    if safe != speaker or safe.isdigit():
        safe += "_" + hashlib.sha256(speaker.encode("utf-8")).hexdigest()[:8]
    return safe


def kaldi_ids(row: dict[str, Any]) -> tuple[str, str]:
    """(utterance id, speaker id) of one row; see the module notes."""
    stem = Path(row["file_name"]).stem
    if not stem.isdigit():  # the engine names every sample <shard>/<9-digit index>
        raise ValueError(f"{row['file_name']}: expected a numeric file stem for the Kaldi ids")
    speaker = str(row.get("speaker") or "")
    if not speaker:
        return stem, stem
    spk = kaldi_speaker(speaker)
    return f"{spk}-{stem}", spk


def kaldi_wav_entry(path: str | Path) -> str:
    """The ``wav.scp`` rxfilename of an audio path (relative to the dataset folder)."""
    text = Path(path).as_posix()
    if text.lower().endswith(".flac"):
        return f"flac -c -d -s {shlex.quote(text)} |"
    if _WHITESPACE.search(text):
        return f"cat {shlex.quote(text)} |"
    return text


class ExternalSorter:
    """Collects records (lists whose first item is the sort key) and yields them in key order
    in bounded memory: every ``chunk`` records are sorted and spilled to a temporary file, and
    the sorted runs are merged at the end. Use as a context manager (it owns the spill files)."""

    def __init__(self, chunk: int = SORT_CHUNK) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.chunk = chunk
        self._buffer: list[list[Any]] = []
        self._runs: list[Path] = []
        self._stack = ExitStack()
        self._spill: Path | None = None

    def __enter__(self) -> ExternalSorter:
        return self

    def __exit__(self, *_: object) -> None:
        self._stack.close()

    def add(self, record: list[Any]) -> None:
        self._buffer.append(record)
        if len(self._buffer) >= self.chunk:
            self._flush()

    def _flush(self) -> None:
        if self._spill is None:
            tmp = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="synth-sort-"))
            self._spill = Path(tmp)
        self._buffer.sort(key=_first)
        path = self._spill / f"{len(self._runs):05d}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in self._buffer)
        self._runs.append(path)
        self._buffer = []

    def sorted(self) -> Iterator[list[Any]]:
        """Every record added, in key order (stable for equal keys within a run)."""
        self._buffer.sort(key=_first)
        if not self._runs:
            yield from self._buffer
            return
        with ExitStack() as stack:
            files = [stack.enter_context(open(p, encoding="utf-8")) for p in self._runs]
            runs = [map(json.loads, f) for f in files]
            yield from heapq.merge(*runs, iter(self._buffer), key=_first)


def _first(record: list[Any]) -> Any:
    return record[0]


def write_nemo_and_kaldi(
    out_dir: Path,
    rows: Iterable[dict[str, Any]],
    kaldi: bool,
    sort_chunk: int = SORT_CHUNK,
    lhotse: bool = False,
    rate_hz: int | None = None,
) -> list[Path]:
    """Write ``manifest.nemo.jsonl``, with ``kaldi`` the ``kaldi/`` files and with ``lhotse``
    the Lhotse manifests (whose sample counts need the mixes' ``rate_hz``) from the rows of
    ``metadata.jsonl``, read once; returns the paths written."""
    out_dir = Path(out_dir)
    nemo_path = out_dir / NEMO_MANIFEST
    written = [nemo_path]
    lhotse_paths = [out_dir / name for name in LHOTSE_FILES] if lhotse else []
    if lhotse and rate_hz is None:
        raise ValueError("the Lhotse manifests need the mixes' sample rate (rate_hz)")
    with ExternalSorter(sort_chunk) as sorter:
        with ExitStack() as files:  # all renamed into place, or none, when the rows end
            (nemo,) = files.enter_context(_AtomicFiles([nemo_path]))
            gz = files.enter_context(GzipLines(lhotse_paths)) if rate_hz and lhotse else None
            for row in rows:
                nemo.write(json.dumps(nemo_line(row), ensure_ascii=False) + "\n")
                if gz is not None and rate_hz:
                    gz.write(lhotse_entries(row, rate_hz))
                if kaldi:
                    utt, spk = kaldi_ids(row)
                    entry = kaldi_wav_entry(row["file_name"])
                    sorter.add([utt, spk, entry, row["text"], row["duration_s"]])
        written += lhotse_paths
        if kaldi:
            written += write_kaldi_dir(out_dir / KALDI_DIR, sorter.sorted())
    return written


def write_kaldi_dir(folder: Path, records: Iterable[list[Any]]) -> list[Path]:
    """Write a Kaldi data directory from ``[utt, spk, wav entry, text, duration]`` records
    sorted by utterance id. Raises ``ValueError`` on unsorted or duplicate utterance ids, or on
    ids whose speaker order is not their utterance order (impossible with ``kaldi_ids``)."""
    paths = [folder / name for name in KALDI_FILES]
    with _AtomicFiles(paths) as (wav_scp, text, utt2spk, spk2utt, utt2dur, reco2dur):
        prev_utt: str | None = None
        prev_spk: str | None = None
        for utt, spk, entry, transcript, duration in records:
            if prev_utt is not None and utt <= prev_utt:
                problem = "duplicate" if utt == prev_utt else "unsorted"
                raise ValueError(f"Kaldi: {problem} utterance id '{utt}' after '{prev_utt}'")
            wav_scp.write(f"{utt} {entry}\n")
            text.write(f"{utt} {transcript}\n")
            utt2spk.write(f"{utt} {spk}\n")
            seconds = repr(float(duration))  # the shortest digits that read back exactly
            utt2dur.write(f"{utt} {seconds}\n")
            reco2dur.write(f"{utt} {seconds}\n")  # a recording per utterance: same id
            if spk != prev_spk:
                if prev_spk is not None:
                    if spk < prev_spk:
                        raise ValueError(
                            f"Kaldi: speaker '{spk}' sorts before '{prev_spk}' but its "
                            f"utterance '{utt}' sorts after; utterance ids must start with "
                            "the speaker id"
                        )
                    spk2utt.write("\n")
                spk2utt.write(spk)
                prev_spk = spk
            spk2utt.write(f" {utt}")
            prev_utt = utt
        if prev_spk is not None:
            spk2utt.write("\n")
    return paths
