"""Native Lhotse manifests of a speech dataset, written with json and gzip (no Lhotse needed).

With ``spec.lhotse`` the dataset folder gets three gzipped JSON-lines files that
``lhotse.load_manifest`` (and ``RecordingSet/SupervisionSet/CutSet.from_file``) read as they are,
one entry per mix in sample order:

- ``recordings.jsonl.gz``: a ``Recording`` per mix: ``id`` (the mix's 9-digit index, unique in
  the dataset), one ``file`` source with channel 0, ``sampling_rate``, ``num_samples`` (the exact
  frame count) and ``duration`` (``num_samples / sampling_rate`` as a float that Lhotse turns back
  into exactly ``num_samples``);
- ``supervisions.jsonl.gz``: a ``SupervisionSegment`` per mix covering the whole recording, with
  ``text``, ``speaker`` when the corpus names one (language is not known and is left out), and
  ``custom`` holding ``snr_db``, ``snr_reference``, ``noise_kind``, ``level_dbfs``, ``clean_id``,
  ``clean_source_rate_hz`` and ``reverb`` from ``metadata.jsonl``;
- ``cuts.jsonl.gz``: a ``MonoCut`` per mix joining the two; with targets, its ``custom`` holds
  ``target_recording`` and ``noise_recording`` (``Recording`` entries of the clean target and the
  noise component, so ``cut.load_target_recording()`` works).

Paths. Sources are relative to the dataset folder (``shard-00000/000000000.wav``), as in
``metadata.jsonl``, so the files stay right when the folder is moved. Lhotse opens a relative
source against the working directory: run from the dataset folder, or prefix the paths once,
``CutSet.from_file(p).with_recording_path_prefix(folder)`` (``RecordingSet.with_path_prefix``).

Bytes. Each file is gzip with ``mtime`` 0 and no file name in its header, at level 9, so the same
rows give the same bytes (with the same zlib; another zlib build may compress differently, the
JSON inside is the same).
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

RECORDINGS = "recordings.jsonl.gz"
SUPERVISIONS = "supervisions.jsonl.gz"
CUTS = "cuts.jsonl.gz"
LHOTSE_FILES = (RECORDINGS, SUPERVISIONS, CUTS)

_CUSTOM = (
    "snr_db",
    "snr_reference",
    "noise_kind",
    "level_dbfs",
    "clean_id",
    "clean_source_rate_hz",
    "reverb",
)


def _recording(rec_id: str, path: str, rate_hz: int, num_samples: int) -> dict[str, Any]:
    return {
        "id": rec_id,
        "sources": [{"type": "file", "channels": [0], "source": path}],
        "sampling_rate": rate_hz,
        "num_samples": num_samples,
        "duration": num_samples / rate_hz,
        "channel_ids": [0],
    }


def lhotse_entries(
    row: dict[str, Any], rate_hz: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The (recording, supervision, cut) entries of one ``metadata.jsonl`` row at ``rate_hz``."""
    name = row["file_name"]
    rec_id = Path(name).stem
    num_samples = round(row["duration_s"] * rate_hz)  # duration_s is frames / rate exactly
    recording = _recording(rec_id, name, rate_hz, num_samples)
    supervision: dict[str, Any] = {
        "id": rec_id,
        "recording_id": rec_id,
        "start": 0.0,
        "duration": recording["duration"],
        "channel": 0,
        "text": row["text"],
    }
    if row.get("speaker"):
        supervision["speaker"] = row["speaker"]
    custom = {k: row[k] for k in _CUSTOM if row.get(k) is not None}
    if custom:
        supervision["custom"] = custom
    cut: dict[str, Any] = {
        "id": rec_id,
        "start": 0.0,
        "duration": recording["duration"],
        "channel": 0,
        "supervisions": [supervision],
        "recording": recording,
    }
    if "target_file_name" in row:
        cut["custom"] = {
            "target_recording": _recording(
                f"{rec_id}_target", row["target_file_name"], rate_hz, num_samples
            ),
            "noise_recording": _recording(
                f"{rec_id}_noise", row["noise_file_name"], rate_hz, num_samples
            ),
        }
    cut["type"] = "MonoCut"
    return recording, supervision, cut


class GzipLines:
    """Gzipped JSON-lines files with deterministic bytes, written under temporary names and
    renamed into place together when the block ends without an error."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.tmps = [p.with_name(f".{p.name}.tmp-{os.getpid()}") for p in paths]
        self._raw: list[Any] = []
        self._gz: list[gzip.GzipFile] = []

    def __enter__(self) -> GzipLines:
        for tmp in self.tmps:
            raw = open(tmp, "wb")  # closed in __exit__
            self._raw.append(raw)
            self._gz.append(gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0))
        return self

    def write(self, entries: tuple[dict[str, Any], ...]) -> None:
        """One JSON line per file, in the order of ``paths``."""
        for gz, entry in zip(self._gz, entries, strict=True):
            gz.write((json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))

    def __exit__(self, exc_type: object, *_: object) -> None:
        for gz, raw in zip(self._gz, self._raw, strict=True):
            gz.close()
            raw.close()
        if exc_type is None:
            for tmp, path in zip(self.tmps, self.paths, strict=True):
                os.replace(tmp, path)
        else:
            for tmp in self.tmps:
                tmp.unlink(missing_ok=True)
